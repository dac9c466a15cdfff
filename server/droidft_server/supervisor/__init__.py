"""Server-process code that starts, watches and stops worker processes (never imports MLX)."""
