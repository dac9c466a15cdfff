"""Code that runs inside a worker process: training, calibration, BLAS set-up.

The only package that imports MLX. Its modules import MLX at the top, except the ones the
supervisor reaches from the server process, which keep it out: `entry` (the process's entry point,
importing the trainers once it runs in the child), `protocol` (the messages sent over the pipe),
`blas` (which library MLX will load) and `trainers` (the method table, trainers loaded on first use).
"""
