"""A tiny random reward model: the tiny llama as a LlamaForSequenceClassification with one label, in the layout
transformers saves (backbone under "model.", the head as "score.weight"), for tests of reward-model jobs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

WEIGHTS = "model.safetensors"


def build_tiny_reward_model(tiny_model: Path, output_dir: Path, seed: int = 0) -> Path:
    """A copy of the tiny model directory `tiny_model` with a random score head and a classifier config."""
    shutil.copytree(tiny_model, output_dir)
    config = json.loads((output_dir / "config.json").read_text(encoding="utf-8"))
    weights = load_file(str(output_dir / WEIGHTS))
    head = np.random.default_rng(seed).normal(0.0, 1.0, (1, config["hidden_size"])).astype(np.float32)
    weights = {k: v for k, v in weights.items() if not k.startswith("lm_head.")} | {"score.weight": head}
    save_file(weights, str(output_dir / WEIGHTS))
    config |= {"architectures": ["LlamaForSequenceClassification"], "num_labels": 1}
    (output_dir / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return output_dir
