"""Memory of the sampler: a loaded model, its adapter, and one generation's key/value cache and logits."""

from __future__ import annotations

import math

from .model_facts import ModelFacts
from .workload import KV_CACHE_STEP

FLOAT32_BYTES = 4
LOGITS_COPIES = 2  # the last position's logits and their log-softmax, in float32


def sampler_memory_bytes(model: ModelFacts, context_tokens: int, adapter_bytes: int = 0) -> int:
    """Peak memory of one model in the sampler generating (or scoring) `context_tokens` positions."""
    positions = KV_CACHE_STEP * math.ceil(max(context_tokens, 1) / KV_CACHE_STEP)
    kv_cache = 2 * model.num_layers * model.kv_dim * model.dtype_bytes * positions
    logits = LOGITS_COPIES * model.vocab_size * FLOAT32_BYTES * context_tokens
    return model.weights_bytes + adapter_bytes + kv_cache + logits
