"""Memory of the sampler: a loaded model, its adapter, and one generation's key/value cache and logits."""

from __future__ import annotations

import math

from .backends import CPU
from .model_facts import ModelFacts
from .workload import KV_CACHE_STEP

FLOAT32_BYTES = 4
LOGITS_COPIES = 2  # logits and their log-softmax, in float32


def sampler_memory_bytes(model: ModelFacts, context_tokens: int, scored_tokens: int, adapter_bytes: int = 0) -> int:
    """Peak memory of one model in the sampler holding `context_tokens` positions in its key/value cache, with
    logits over `scored_tokens` positions at once (a generation: its prompt; an evaluation: whole records)."""
    positions = KV_CACHE_STEP * math.ceil(max(context_tokens, 1) / KV_CACHE_STEP)
    kv_cache = 2 * model.num_layers * model.kv_dim * model.dtype_bytes * positions
    logits = LOGITS_COPIES * model.vocab_size * FLOAT32_BYTES * scored_tokens
    # A forward pass keeps one block's activations at a time: the copies training measured, without the backward's
    # (the CPU's: the sampler's memory check has no device profile).
    copies = CPU.copies
    per_token = (
        copies.hidden * model.hidden_size * model.dtype_bytes
        + copies.intermediate * model.intermediate_size * model.dtype_bytes
        + copies.attention_probabilities * model.num_heads * scored_tokens * model.dtype_bytes
        + copies.framework_bytes
    )
    activations = math.ceil(per_token * scored_tokens)
    return model.weights_bytes + adapter_bytes + kv_cache + logits + activations
