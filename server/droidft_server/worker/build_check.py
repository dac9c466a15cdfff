"""The build-check worker: one long-lived process that builds each model directory a create names, as the training
worker's mlx-lm load builds it, so that a model mlx-lm cannot build is refused at create (domain/model_check.py).

It loads lazily: the architecture from config.json, each weight file's header, and every weight's name and shape
checked against the architecture, with no weight's data read or evaluated. That takes milliseconds a model here,
where importing mlx-lm takes over a second, so the process stays up for the server's life.
"""

from __future__ import annotations

import re
from multiprocessing.connection import Connection
from pathlib import Path

from ..domain.checkpoints import WORKER_LOG

REASON_CHARS = 600  # of mlx-lm's message, at most (a list of missing weights can run long)


def run_build_checker(connection: Connection, log_dir: str) -> None:
    """Process entry point: answers each (model_dir, strict) it receives with None when mlx-lm builds the model,
    else mlx-lm's reason, until the server closes its end."""
    from .process import die_with_the_server, quiet_mlx_lm, redirect_output

    die_with_the_server()
    redirect_output(Path(log_dir) / WORKER_LOG)
    quiet_mlx_lm()
    from mlx_lm.utils import load_model

    while True:
        try:
            model_dir, strict = connection.recv()
        except EOFError:
            return
        try:
            load_model(Path(model_dir), lazy=True, strict=strict)
        except Exception as error:  # mlx-lm's own: TypeError, KeyError, ValueError, RuntimeError from MLX
            connection.send(reason(error))
        else:
            connection.send(None)


def reason(error: Exception) -> str:
    """mlx-lm's message on one line ("Missing 1 parameters: \\nmodel.norm.weight."), its type named."""
    text = re.sub(r"\s+", " ", str(error)).strip()
    if len(text) > REASON_CHARS:
        text = text[:REASON_CHARS] + "..."
    return f"{type(error).__name__}: {text}"
