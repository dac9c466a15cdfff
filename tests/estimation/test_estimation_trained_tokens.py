"""SFT records train on their chat template's tokens too: the estimate's row width must count them."""

import json

import pytest
from estimation_helpers import DEVICE, settings

from bench.estimation import MEMORY_GOAL, Config, predict, write_chat_records
from droidft_server.domain.datasets import get_format, iter_records
from droidft_server.domain.datasets.trained_tokens import template_tokens
from droidft_server.domain.estimation import TokenLengths
from droidft_server.domain.estimation.workload import workload

# mx.get_peak_memory() of the bench row "sft tiny chat 20-60 tokens" (MLX 0.32.4, CPU): 32 two-turn chat
# records of 20-60 text tokens, batch 4, trained as droidft's SFT trainer reads and pads them. The chat
# template brings the longest record to 75 tokens, so the longest batch is 96 tokens wide, not 64.
MEASURED_CHAT_20_60_PEAK_BYTES = 11_065_356
# Tokens the tiny model's ChatML template adds, as len(mlx-lm's tokenizer.apply_chat_template(messages)) less
# the validator's count of the texts joined by newlines: <|im_start|>user\n ... <|im_end|>\n<|im_start|>assistant\n
# ... <|im_end|>\n is 15 more; a system turn first, 8 more ("system" is three tokens of this tokenizer).
CHATML_TWO_TURNS = 15
CHATML_SYSTEM_TURN = 8


def _records(path, format_name):
    return [record for _, record in iter_records(path, get_format(format_name).record_type)]


def _write(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_chat_records_gain_their_template_tokens(tiny_model, tmp_path):
    two_turns = {"messages": [{"role": "user", "content": "what is two"}, {"role": "assistant", "content": "four"}]}
    three_turns = {"messages": [{"role": "system", "content": "be brief"}, *two_turns["messages"]]}
    data = _write(tmp_path / "chat.jsonl", [two_turns, three_turns])
    extra = template_tokens(tiny_model, "chat_messages", _records(data, "chat_messages"))
    assert extra.max == CHATML_TWO_TURNS + CHATML_SYSTEM_TURN
    assert extra.mean == pytest.approx(CHATML_TWO_TURNS + CHATML_SYSTEM_TURN / 2)


def test_text_records_gain_an_end_of_sequence_token(tiny_model, tmp_path):
    data = _write(tmp_path / "text.jsonl", [{"text": "the answer is four"}])
    extra = template_tokens(tiny_model, "text", _records(data, "text"))
    assert (extra.mean, extra.max) == (1.0, 1)


def test_template_tokens_move_the_longest_batch_to_the_next_multiple_of_32():
    text = TokenLengths(mean=40, p95=58, max=60)
    job = settings("sft", batch_size=4)
    assert workload(job, text).peak_pass.width == 64
    assert workload(job, text.plus(CHATML_TWO_TURNS, CHATML_TWO_TURNS)).peak_pass.width == 96


def test_records_of_very_different_lengths_are_not_under_predicted(tiny_model, tmp_path):
    config = Config("sft tiny chat 20-60 tokens", chat_tokens=(20, 60))
    data = write_chat_records(tmp_path / "chat.jsonl", tiny_model, config)
    predicted = predict(config, tiny_model, DEVICE, data).peak_memory_bytes
    measured = MEASURED_CHAT_20_60_PEAK_BYTES
    assert measured <= predicted <= measured * (1 + MEMORY_GOAL), (predicted, measured)


def test_preference_records_gain_the_template_tokens_of_their_longer_conversation(tiny_model, tmp_path):
    pair = {"prompt": "what is two", "chosen": "four", "rejected": "it is five"}
    data = _write(tmp_path / "pairs.jsonl", [pair])
    extra = template_tokens(tiny_model, "preference", _records(data, "preference"))
    # The prompt as a user turn, the longer answer as an assistant turn: a two-turn ChatML conversation.
    assert (extra.mean, extra.max) == (CHATML_TWO_TURNS, CHATML_TWO_TURNS)
