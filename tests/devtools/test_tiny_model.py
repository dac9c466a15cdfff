import json

import mlx_lm

from droidft_server.devtools.tiny_model import build_tiny_model
from droidft_server.domain.datasets.tokens import load_tokenizer
from droidft_server.domain.estimation import read_model_facts
from droidft_server.main import main

FILES = ["config.json", "model.safetensors", "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json"]


def test_same_seed_gives_identical_files_and_another_seed_other_weights(tmp_path, tiny_model):
    again = build_tiny_model(tmp_path / "again", seed=0)
    other = build_tiny_model(tmp_path / "other", seed=1)
    for name in FILES:
        assert (again / name).read_bytes() == (tiny_model / name).read_bytes(), name
    assert (other / "model.safetensors").read_bytes() != (tiny_model / "model.safetensors").read_bytes()
    assert (other / "tokenizer.json").read_bytes() == (tiny_model / "tokenizer.json").read_bytes()


def test_sizes_are_honoured_and_the_model_is_small(tmp_path):
    path = build_tiny_model(
        tmp_path / "wide", hidden_size=32, num_layers=3, num_heads=2, num_kv_heads=1, vocab_size=400
    )
    config = json.loads((path / "config.json").read_text())
    assert (config["hidden_size"], config["num_hidden_layers"], config["vocab_size"]) == (32, 3, 400)
    model, tokenizer = mlx_lm.load(str(path))
    assert len(model.layers) == 3
    assert len(tokenizer.vocab) == 400
    assert sum(f.stat().st_size for f in path.iterdir()) < 2_000_000


def test_qwen2_layout_with_an_untied_head_loads_as_mlx_lm_builds_it(tmp_path):
    qwen2 = dict(hidden_size=32, num_heads=2, model_type="qwen2", tie_word_embeddings=False)
    path = build_tiny_model(tmp_path / "qwen2", **qwen2)
    config = json.loads((path / "config.json").read_text())
    assert config["model_type"] == "qwen2" and config["tie_word_embeddings"] is False
    model, tokenizer = mlx_lm.load(str(path))  # strict: every tensor must be one the qwen2 model has
    assert "bias" in model.layers[0].self_attn.q_proj and "lm_head" in model
    assert read_model_facts(path).tie_word_embeddings is False
    # mlx-lm tokenizes through transformers' Qwen2 class (digits one by one); the file the estimator counts
    # with must agree, as a real Qwen2 model's does.
    text = "Luis reads the port number 2921212. How many 2s?"
    assert load_tokenizer(path).encode(text, add_special_tokens=False).ids == tokenizer.encode(
        text, add_special_tokens=False
    )


def test_loads_with_mlx_lm_and_generates(tiny_model):
    model, tokenizer = mlx_lm.load(str(tiny_model))
    prompt = tokenizer.apply_chat_template(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 12 + 7?"}],
        add_generation_prompt=True,
        tokenize=False,
    )
    assert prompt.endswith("<|im_start|>user\nWhat is 12 + 7?<|im_end|>\n<|im_start|>assistant\n")
    text = mlx_lm.generate(model, tokenizer, prompt, max_tokens=8)
    assert isinstance(text, str) and text


def test_tokenizer_is_byte_level_with_reasoning_markup(tiny_model):
    _, tokenizer = mlx_lm.load(str(tiny_model))
    text = "<think>Step 1: 12 + 7 = 19</think><answer>19</answer> naïve ☃ 🙂"
    assert tokenizer.decode(tokenizer.encode(text)) == text
    assert len(tokenizer.encode("<think>")) < len("<think>")
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.pad_token is not None
    tool_turn = tokenizer.apply_chat_template([{"role": "tool", "content": "42"}], tokenize=False)
    assert tool_turn == "<|im_start|>tool\n42<|im_end|>\n"


def test_command_line_builds_a_model(tmp_path, capsys, tiny_model):
    assert main(["tiny-model", str(tmp_path / "cli"), "--seed", "0"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "cli")
    assert (tmp_path / "cli" / "model.safetensors").read_bytes() == (tiny_model / "model.safetensors").read_bytes()
