"""A tiny random llama model with its own tokenizer, for demos and tests.

No model can be downloaded here, so tests and `make demo` train this one. It is a
regular Hugging Face layout directory (config.json, model.safetensors, tokenizer
files) that mlx_lm.load reads like any other model. Building it needs no MLX.
`droidft-server tiny-model OUTPUT_DIR` builds one. The same builder makes random models
of real families' shapes (Qwen2's biased q/k/v projections, untied output heads) for the
estimator's bench.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

EOS_TOKEN = "<|im_end|>"
BOS_TOKEN = "<|bos|>"
PAD_TOKEN = "<|pad|>"
TURN_START = "<|im_start|>"
SPECIAL_TOKENS = [PAD_TOKEN, BOS_TOKEN, TURN_START, EOS_TOKEN]

# ChatML: every message is <|im_start|>role\ncontent<|im_end|>\n. As in Qwen's templates, a tools
# list is a system turn of JSON schemas first, and each tool call a <tool_call> JSON line after the content.
CHAT_TEMPLATE = (
    "{% if tools %}{{ '<|im_start|>system\\n' }}"
    "{% for tool in tools %}{{ tool | tojson }}{{ '\\n' }}{% endfor %}{{ '<|im_end|>\\n' }}{% endif %}"
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + (message['content'] or '') }}"
    "{% for call in message['tool_calls'] or [] %}"
    "{% set function = call['function'] if call['function'] is defined else call %}"
    "{{ ('\\n' if message['content'] else '') + '<tool_call>' }}"
    "{{ {'name': function['name'], 'arguments': function['arguments'] or {}} | tojson + '</tool_call>' }}"
    "{% endfor %}"
    "{{ '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

_WORDS = [
    "the",
    "a",
    "an",
    "and",
    "or",
    "but",
    "if",
    "then",
    "so",
    "because",
    "answer",
    "question",
    "think",
    "step",
    "first",
    "second",
    "third",
    "next",
    "finally",
    "result",
    "total",
    "sum",
    "number",
    "numbers",
    "add",
    "plus",
    "minus",
    "times",
    "divided",
    "equals",
    "is",
    "are",
    "was",
    "were",
    "be",
    "been",
    "has",
    "have",
    "had",
    "do",
    "does",
    "did",
    "what",
    "which",
    "who",
    "when",
    "where",
    "why",
    "how",
    "many",
    "much",
    "more",
    "less",
    "than",
    "of",
    "to",
    "in",
    "on",
    "at",
    "for",
    "with",
    "from",
    "by",
    "about",
    "into",
    "over",
    "after",
    "before",
    "between",
    "model",
    "train",
    "data",
    "text",
    "word",
    "words",
    "sentence",
    "user",
    "assistant",
    "system",
    "tool",
    "call",
    "reply",
    "help",
    "please",
    "thank",
    "you",
    "yes",
    "no",
    "true",
    "false",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "hundred",
    "thousand",
    "apple",
    "banana",
    "cat",
    "dog",
    "house",
    "tree",
    "water",
    "fire",
    "earth",
    "air",
    "sun",
    "moon",
    "star",
    "book",
    "letter",
    "code",
]

_REASONING_TAGS = ("<think>", "</think>", "<answer>", "</answer>")


@dataclass(frozen=True)
class TinyModelShape:
    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 4
    num_kv_heads: int = 2
    intermediate_size: int = 128
    vocab_size: int = 512
    model_type: str = "llama"  # or "qwen2": the same blocks with biases on the q, k and v projections
    tie_word_embeddings: bool = True  # False: a separate lm_head


ARCHITECTURES = {"llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM"}


def _corpus() -> list[str]:
    """A fixed text corpus: words, arithmetic and reasoning markup (the tokenizer never depends on the seed)."""
    rng = np.random.default_rng(1234)
    lines = [" ".join(_WORDS), " ".join(w.capitalize() for w in _WORDS), "0 1 2 3 4 5 6 7 8 9"]
    for _ in range(400):
        a, b = (int(x) for x in rng.integers(0, 100, size=2))
        op = ["+", "-", "*"][int(rng.integers(0, 3))]
        value = a + b if op == "+" else a - b if op == "-" else a * b
        words = " ".join(_WORDS[int(i)] for i in rng.integers(0, len(_WORDS), size=6))
        step = int(rng.integers(1, 6))
        lines.append(
            f"<think>Step {step}: {a} {op} {b} = {value}. {words.capitalize()}.</think><answer>{value}</answer>"
        )
        lines.append(f"What is {a} {op} {b}? {a} {op} {b} = {value}")
    lines.extend(_REASONING_TAGS)
    return lines


def _train_tokenizer(vocab_size: int) -> Tokenizer:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_corpus(), trainer=trainer)
    return tokenizer


# Qwen2's pre-tokenizer (transformers' Qwen2Tokenizer: digits one by one, NFC). mlx-lm loads a qwen2 model's
# tokenizer through that class, which sets it whatever tokenizer.json says; a real Qwen2 tokenizer.json says
# the same, so a qwen2-shaped tiny model's file must too, or counting with the file disagrees with training.
QWEN2_PRETOKENIZE_REGEX = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
)


def _as_qwen2(tokenizer: Tokenizer) -> Tokenizer:
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    return tokenizer


def _model_config(shape: TinyModelShape, tokenizer: Tokenizer) -> dict:
    return {
        "architectures": [ARCHITECTURES[shape.model_type]],
        "model_type": shape.model_type,
        "hidden_size": shape.hidden_size,
        "num_hidden_layers": shape.num_layers,
        "num_attention_heads": shape.num_heads,
        "num_key_value_heads": shape.num_kv_heads,
        "head_dim": shape.hidden_size // shape.num_heads,
        "intermediate_size": shape.intermediate_size,
        "vocab_size": shape.vocab_size,
        "max_position_embeddings": 8192,
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "rope_traditional": False,
        "rope_scaling": None,
        "hidden_act": "silu",
        "attention_bias": False,
        "mlp_bias": False,
        "tie_word_embeddings": shape.tie_word_embeddings,
        "torch_dtype": "float32",
        "bos_token_id": tokenizer.token_to_id(BOS_TOKEN),
        "eos_token_id": tokenizer.token_to_id(EOS_TOKEN),
        "pad_token_id": tokenizer.token_to_id(PAD_TOKEN),
    }


def _weights(shape: TinyModelShape, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    head_dim = shape.hidden_size // shape.num_heads
    hidden, inter = shape.hidden_size, shape.intermediate_size

    def normal(*dims: int) -> np.ndarray:
        return (rng.standard_normal(dims) * 0.02).astype(np.float32)

    weights = {"model.embed_tokens.weight": normal(shape.vocab_size, hidden)}
    if not shape.tie_word_embeddings:
        weights["lm_head.weight"] = normal(shape.vocab_size, hidden)
    for i in range(shape.num_layers):
        prefix = f"model.layers.{i}"
        weights[f"{prefix}.self_attn.q_proj.weight"] = normal(shape.num_heads * head_dim, hidden)
        weights[f"{prefix}.self_attn.k_proj.weight"] = normal(shape.num_kv_heads * head_dim, hidden)
        weights[f"{prefix}.self_attn.v_proj.weight"] = normal(shape.num_kv_heads * head_dim, hidden)
        if shape.model_type == "qwen2":
            weights[f"{prefix}.self_attn.q_proj.bias"] = normal(shape.num_heads * head_dim)
            weights[f"{prefix}.self_attn.k_proj.bias"] = normal(shape.num_kv_heads * head_dim)
            weights[f"{prefix}.self_attn.v_proj.bias"] = normal(shape.num_kv_heads * head_dim)
        weights[f"{prefix}.self_attn.o_proj.weight"] = normal(hidden, shape.num_heads * head_dim)
        weights[f"{prefix}.mlp.gate_proj.weight"] = normal(inter, hidden)
        weights[f"{prefix}.mlp.up_proj.weight"] = normal(inter, hidden)
        weights[f"{prefix}.mlp.down_proj.weight"] = normal(hidden, inter)
        weights[f"{prefix}.input_layernorm.weight"] = np.ones(hidden, np.float32)
        weights[f"{prefix}.post_attention_layernorm.weight"] = np.ones(hidden, np.float32)
    weights["model.norm.weight"] = np.ones(hidden, np.float32)
    return weights


def _write_json(path: Path, value: dict) -> None:
    path.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def build_tiny_model(
    output_dir: Path,
    *,
    seed: int = 0,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    num_kv_heads: int = 2,
    intermediate_size: int = 128,
    vocab_size: int = 512,
    model_type: str = "llama",
    tie_word_embeddings: bool = True,
) -> Path:
    """Write a random model directory (llama unless model_type says qwen2); the same arguments give
    byte-identical files."""
    shape = TinyModelShape(
        hidden_size, num_layers, num_heads, num_kv_heads, intermediate_size, vocab_size, model_type, tie_word_embeddings
    )
    if model_type not in ARCHITECTURES:
        raise ValueError(f"model_type must be one of {sorted(ARCHITECTURES)}, not {model_type!r}")
    if hidden_size % num_heads or num_heads % num_kv_heads:
        raise ValueError(f"heads must divide hidden_size and kv heads must divide heads: {asdict(shape)}")
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)

    tokenizer = _train_tokenizer(vocab_size)
    if model_type == "qwen2":
        tokenizer = _as_qwen2(tokenizer)
    tokenizer.save(str(output_dir / "tokenizer.json"))
    special = {"bos_token": BOS_TOKEN, "eos_token": EOS_TOKEN, "pad_token": PAD_TOKEN}
    _write_json(
        output_dir / "tokenizer_config.json",
        {
            **special,
            "tokenizer_class": "PreTrainedTokenizerFast",
            "chat_template": CHAT_TEMPLATE,
            "model_max_length": 8192,
            "clean_up_tokenization_spaces": False,
            "add_bos_token": False,
            "add_eos_token": False,
        },
    )
    _write_json(output_dir / "special_tokens_map.json", special)
    _write_json(output_dir / "config.json", _model_config(shape, tokenizer))
    save_file(_weights(shape, seed), str(output_dir / "model.safetensors"), metadata={"format": "pt"})
    return output_dir
