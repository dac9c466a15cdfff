"""droidft server: fine-tune language models with MLX over gRPC."""
