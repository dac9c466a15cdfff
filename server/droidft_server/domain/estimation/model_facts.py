"""What the estimator needs to know about a model, read from its directory without loading weights."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .safetensors_header import DTYPE_BYTES, HeaderError, TensorInfo, read_header

FLOAT_DTYPES = ("F32", "F16", "BF16", "F64")
_BLOCK_TENSOR = re.compile(r"(?:^|\.)layers\.(\d+)\.(.+)\.weight$")


class ModelFactsError(ValueError):
    """The model directory lacks what the estimator needs."""


@dataclass(frozen=True)
class Quantization:
    bits: int
    group_size: int


@dataclass(frozen=True)
class Projection:
    """A linear layer inside a transformer block (name relative to the block)."""

    name: str
    in_features: int
    out_features: int


@dataclass(frozen=True)
class ModelFacts:
    model_type: str
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    intermediate_size: int
    vocab_size: int
    tie_word_embeddings: bool
    quantization: Quantization | None
    dtype_bytes: int  # element size of activations (the model's float dtype)
    weights_bytes: int  # every tensor as stored (quantised weights packed)
    total_parameters: int  # quantised weights counted unpacked; scales and biases not counted
    block_parameters: int  # parameters of one transformer block (the last one)
    projections: tuple[Projection, ...]  # linear layers of one block (the last one)
    weight_blocks: int  # transformer blocks the weights hold (num_layers is what config.json declares)
    embedding_shape: tuple[int, ...] | None  # embed_tokens.weight, unpacked when quantised; None: not stored

    @property
    def kv_dim(self) -> int:
        return self.num_kv_heads * self.head_dim


def safetensors_files(model_dir: Path) -> list[Path]:
    return sorted(p for p in Path(model_dir).glob("*.safetensors"))


def read_model_facts(model_dir: Path) -> ModelFacts:
    """Model facts from config.json and the safetensors headers of model_dir."""
    model_dir = Path(model_dir)
    config_path = model_dir / "config.json"
    if not config_path.is_file():
        raise ModelFactsError(f"{model_dir}: no config.json")
    config = json.loads(config_path.read_text())
    files = safetensors_files(model_dir)
    if not files:
        raise ModelFactsError(f"{model_dir}: no .safetensors weights")
    try:
        tensors = [t for f in files for t in read_header(f)]
    except HeaderError as error:
        raise ModelFactsError(str(error)) from error
    return facts_from(config, tensors)


def _quantization(config: dict) -> Quantization | None:
    block = config.get("quantization") or config.get("quantization_config")
    if not block or "bits" not in block:
        return None
    return Quantization(bits=int(block["bits"]), group_size=int(block.get("group_size", 64)))


def _logical_shape(tensor: TensorInfo, by_name: dict[str, TensorInfo], quantization: Quantization | None):
    """The unpacked (out, in) shape of a weight, or its stored shape when it is not quantised."""
    base = tensor.name[: -len(".weight")] if tensor.name.endswith(".weight") else None
    if quantization and base and f"{base}.scales" in by_name and len(tensor.shape) >= 2:
        unpacked_in = tensor.shape[-1] * 32 // quantization.bits
        return (*tensor.shape[:-1], unpacked_in)
    return tensor.shape


def _is_quantisation_companion(name: str, by_name: dict[str, TensorInfo]) -> bool:
    for suffix in (".scales", ".biases"):
        if (
            name.endswith(suffix)
            and f"{name[: -len(suffix)]}.weight" in by_name
            and f"{name[: -len(suffix)]}.scales" in by_name
        ):
            return True
    return False


def _count(shape: tuple[int, ...]) -> int:
    total = 1
    for dim in shape:
        total *= dim
    return total


def facts_from(config: dict, tensors: list[TensorInfo]) -> ModelFacts:
    """Model facts from a parsed config and the tensors its weight files declare."""
    quantization = _quantization(config)
    by_name = {t.name: t for t in tensors}
    logical = {
        t.name: _logical_shape(t, by_name, quantization)
        for t in tensors
        if not _is_quantisation_companion(t.name, by_name)
    }
    blocks: dict[int, dict[str, tuple[int, ...]]] = {}
    block_params: Counter[int] = Counter()
    for name, shape in logical.items():
        match = re.search(r"(?:^|\.)layers\.(\d+)\.", name)
        if match:
            block_params[int(match.group(1))] += _count(shape)
        weight = _BLOCK_TENSOR.search(name)
        if weight:
            blocks.setdefault(int(weight.group(1)), {})[weight.group(2)] = shape
    if not blocks:
        raise ModelFactsError("no transformer blocks (tensors named '...layers.<n>....weight') in the weights")
    last = max(blocks)
    projections = tuple(
        Projection(name=name, in_features=shape[-1], out_features=shape[-2])
        for name, shape in sorted(blocks[last].items())
        if len(shape) == 2
    )
    float_elements: Counter[str] = Counter()
    for t in tensors:
        if t.dtype in FLOAT_DTYPES:
            float_elements[t.dtype] += t.elements
    dtype = float_elements.most_common(1)[0][0] if float_elements else "F32"

    embedding = next((shape for name, shape in logical.items() if name.endswith("embed_tokens.weight")), None)
    hidden = int(config.get("hidden_size") or (embedding[1] if embedding else 0))
    heads = int(config.get("num_attention_heads", 0))
    if not hidden or not heads:
        raise ModelFactsError("config.json lacks hidden_size or num_attention_heads")
    has_lm_head = any(name.endswith("lm_head.weight") for name in logical)
    return ModelFacts(
        model_type=str(config.get("model_type", "")),
        hidden_size=hidden,
        num_layers=int(config.get("num_hidden_layers") or len(blocks)),
        num_heads=heads,
        num_kv_heads=int(config.get("num_key_value_heads") or heads),
        head_dim=int(config.get("head_dim") or hidden // heads),
        intermediate_size=int(config.get("intermediate_size", 0)),
        vocab_size=int(config.get("vocab_size") or (embedding[0] if embedding else 0)),
        tie_word_embeddings=not has_lm_head,
        quantization=quantization,
        dtype_bytes=DTYPE_BYTES[dtype],
        weights_bytes=sum(t.nbytes for t in tensors),
        total_parameters=sum(_count(shape) for shape in logical.values()),
        block_parameters=block_params[last],
        projections=projections,
        weight_blocks=len(block_params),
        embedding_shape=embedding,
    )
