"""Specs and model facts for the estimator tests (no MLX)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from droidft.v1 import job_pb2
from droidft_server.domain.estimation import DeviceProfile
from droidft_server.domain.spec import JobSettings, resolve

DEVICE = DeviceProfile(
    name="cpu (test)",
    available_memory_bytes=64 * 1024**3,
    matmul_flops_per_second=5e9,
    half_matmul_flops_per_second=4e9,
    quantized_matmul_flops_per_second=3e8,
    quantized_backward_flops_per_second=1.4e9,
    memory_bytes_per_second=3e9,
    seconds_per_op=5e-6,
    mlx_version="test",
)


def settings(method: str = "sft", **fields) -> JobSettings:
    """A resolved spec: top-level fields by name, method fields as '<method>__<field>', adapter as
    'adapter__<field>'."""
    spec = job_pb2.TrainingJobSpec(model_path="model", train_data_path="train.jsonl")
    getattr(spec, method).SetInParent()
    for name, value in fields.items():
        target = spec
        *path, leaf = name.split("__")
        for part in path:
            target = getattr(target, part)
        setattr(target, leaf, value)
    return resolve(spec)


LLAMA_CONFIG = {
    "model_type": "llama",
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "intermediate_size": 128,
    "vocab_size": 512,
    "tie_word_embeddings": True,
}


def write_llama(directory: Path, *, quantized_bits: int | None = None, group_size: int = 32) -> Path:
    """A llama-shaped model directory (config.json + model.safetensors), optionally quantised like mlx-lm writes it."""
    directory.mkdir(parents=True, exist_ok=True)
    hidden, inter, vocab, kv = 64, 128, 512, 32
    shapes = {"model.embed_tokens": (vocab, hidden)}
    for i in range(2):
        prefix = f"model.layers.{i}"
        shapes |= {
            f"{prefix}.self_attn.q_proj": (hidden, hidden),
            f"{prefix}.self_attn.k_proj": (kv, hidden),
            f"{prefix}.self_attn.v_proj": (kv, hidden),
            f"{prefix}.self_attn.o_proj": (hidden, hidden),
            f"{prefix}.mlp.gate_proj": (inter, hidden),
            f"{prefix}.mlp.up_proj": (inter, hidden),
            f"{prefix}.mlp.down_proj": (hidden, inter),
        }
    tensors = {}
    for name, (rows, cols) in shapes.items():
        if quantized_bits:
            tensors[f"{name}.weight"] = np.zeros((rows, cols * quantized_bits // 32), np.uint32)
            tensors[f"{name}.scales"] = np.ones((rows, cols // group_size), np.float16)
            tensors[f"{name}.biases"] = np.zeros((rows, cols // group_size), np.float16)
        else:
            tensors[f"{name}.weight"] = np.zeros((rows, cols), np.float32)
    norm_dtype = np.float16 if quantized_bits else np.float32
    for i in range(2):
        tensors[f"model.layers.{i}.input_layernorm.weight"] = np.ones(hidden, norm_dtype)
        tensors[f"model.layers.{i}.post_attention_layernorm.weight"] = np.ones(hidden, norm_dtype)
    tensors["model.norm.weight"] = np.ones(hidden, norm_dtype)
    save_file(tensors, str(directory / "model.safetensors"))
    config = dict(LLAMA_CONFIG)
    if quantized_bits:
        config["quantization"] = {"group_size": group_size, "bits": quantized_bits}
    (directory / "config.json").write_text(json.dumps(config))
    return directory
