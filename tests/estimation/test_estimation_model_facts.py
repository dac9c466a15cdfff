import json
import struct

import pytest
from estimation_helpers import LLAMA_CONFIG, write_llama

from droidft_server.domain.estimation import ModelFactsError, read_model_facts
from droidft_server.domain.estimation.safetensors_header import HeaderError, read_header

BLOCK_LINEAR = 2 * 64 * 64 + 2 * 32 * 64 + 3 * 64 * 128  # q, o, k, v, gate, up, down
EMBEDDING = 512 * 64
NORMS = 2 * 2 * 64 + 64


def test_llama_facts_from_config_and_headers(tmp_path):
    facts = read_model_facts(write_llama(tmp_path / "m"))
    assert (facts.hidden_size, facts.num_layers, facts.num_heads, facts.num_kv_heads) == (64, 2, 4, 2)
    assert (facts.head_dim, facts.kv_dim, facts.intermediate_size, facts.vocab_size) == (16, 32, 128, 512)
    assert facts.tie_word_embeddings and facts.quantization is None
    assert facts.total_parameters == EMBEDDING + 2 * BLOCK_LINEAR + NORMS
    assert facts.block_parameters == BLOCK_LINEAR + 2 * 64
    assert facts.weights_bytes == 4 * facts.total_parameters
    assert facts.dtype_bytes == 4
    names = {p.name: (p.in_features, p.out_features) for p in facts.projections}
    assert names == {
        "self_attn.q_proj": (64, 64),
        "self_attn.k_proj": (64, 32),
        "self_attn.v_proj": (64, 32),
        "self_attn.o_proj": (64, 64),
        "mlp.gate_proj": (64, 128),
        "mlp.up_proj": (64, 128),
        "mlp.down_proj": (128, 64),
    }


def test_quantised_weights_count_unpacked_and_weigh_packed(tmp_path):
    facts = read_model_facts(write_llama(tmp_path / "q", quantized_bits=4, group_size=32))
    assert facts.quantization.bits == 4 and facts.quantization.group_size == 32
    # Parameters as if unpacked (scales and biases are not parameters), like mlx-lm counts them.
    assert facts.total_parameters == EMBEDDING + 2 * BLOCK_LINEAR + NORMS
    assert {p.name: p.in_features for p in facts.projections}["mlp.down_proj"] == 128
    linear = EMBEDDING + 2 * BLOCK_LINEAR
    packed = linear // 8 * 4  # 4 bits a weight, stored in uint32 words
    scales_and_biases = 2 * (linear // 32) * 2  # one float16 scale and bias per group of 32
    assert facts.weights_bytes == packed + scales_and_biases + NORMS * 2
    assert facts.dtype_bytes == 2  # activations follow the float16 scales


def test_only_the_header_is_read(tmp_path):
    """A header that declares 40 GB of weights, with no tensor bytes behind it, is enough."""
    directory = tmp_path / "huge"
    directory.mkdir()
    (directory / "config.json").write_text(json.dumps(LLAMA_CONFIG | {"hidden_size": 100_000, "vocab_size": 100_000}))
    header = {
        "model.embed_tokens.weight": {"dtype": "F32", "shape": [100_000, 100_000], "data_offsets": [0, 40_000_000_000]},
        "model.layers.0.mlp.up_proj.weight": {"dtype": "BF16", "shape": [10, 100_000], "data_offsets": [0, 0]},
    }
    raw = json.dumps(header).encode()
    (directory / "model.safetensors").write_bytes(struct.pack("<Q", len(raw)) + raw)
    facts = read_model_facts(directory)
    assert facts.weights_bytes == 40_000_000_000 + 2_000_000
    assert facts.total_parameters == 10**10 + 10**6


def test_unreadable_inputs_are_reported(tmp_path):
    (tmp_path / "bad.safetensors").write_bytes(b"\x05\x00")
    with pytest.raises(HeaderError):
        read_header(tmp_path / "bad.safetensors")
    with pytest.raises(ModelFactsError, match=r"config\.json"):
        read_model_facts(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps(LLAMA_CONFIG))
    with pytest.raises(ModelFactsError):
        read_model_facts(tmp_path)  # a bad weights file


def test_tiny_model_facts_match_mlx_lm_counts(tiny_model):
    facts = read_model_facts(tiny_model)
    assert facts.total_parameters == EMBEDDING + 2 * BLOCK_LINEAR + NORMS
