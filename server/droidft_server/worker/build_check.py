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

READY = "ready"  # sent once mlx-lm is imported: a worker that dies before it is the server's fault, not a model's
REASON_CHARS = 600  # of mlx-lm's message, at most (a list of missing weights can run long)


def run_build_checker(connection: Connection, log_dir: str) -> None:
    """Process entry point: answers each (model_dir, reward_model) it receives with None when mlx-lm builds the
    model as the training worker loads it, else why not, until the server closes its end."""
    from .process import die_with_the_server, quiet_mlx_lm, redirect_output

    die_with_the_server()
    redirect_output(Path(log_dir) / WORKER_LOG)
    quiet_mlx_lm()
    import mlx.core as mx
    from mlx_lm.utils import load_model

    from ..domain.estimation.model_facts import safetensors_files
    from ..domain.estimation.safetensors_header import read_header
    from .online.judges import backbone_lacks, unstored_backbone_weights

    def build_error(model_dir: Path, reward_model: bool) -> str | None:
        try:
            # The worker loads a reward model's backbone without its score head (strict=False), every other
            # model strictly (mlx_lm.load): every weight its architecture has is stored, and no other.
            model, _ = load_model(model_dir, lazy=True, strict=not reward_model)
            if reward_model:
                stored = (tensor.name for file in safetensors_files(model_dir) for tensor in read_header(file))
                if missing := unstored_backbone_weights(model, stored):
                    return backbone_lacks(missing)
            return None
        except Exception as error:  # mlx-lm's own: TypeError, KeyError, ValueError, RuntimeError from MLX
            return reason(error)
        finally:
            # Building initialises each layer from MLX's global random key, and a lazy build never evaluates it:
            # each build's key would hold on to the one before, about 1 MiB a 64-layer build (measured).
            mx.random.seed(0)

    connection.send(READY)
    while True:
        try:
            model_dir, reward_model = connection.recv()
        except EOFError:
            return
        connection.send(build_error(Path(model_dir), reward_model))


def reason(error: Exception) -> str:
    """mlx-lm's message on one line ("Missing 1 parameters: \\nmodel.norm.weight."), its type named."""
    text = re.sub(r"\s+", " ", str(error)).strip()
    if len(text) > REASON_CHARS:
        text = text[:REASON_CHARS] + "..."
    return f"{type(error).__name__}: {text}"
