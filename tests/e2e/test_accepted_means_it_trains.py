"""Accepted means it trains: every job that validate_only and create accept trains 2 iterations to
SUCCEEDED on real workers, and every other one is refused at create with its field and reason,
never in the worker. The corpus holds each generator format and the inputs that once passed
validation and then failed in training; generated jobs (hypothesis) vary the format, the record
counts around batch_size, num_layers around the model's blocks, mask_prompt and early_stop.

`make test` runs GENERATED_EXAMPLES generated jobs, the same ones each time (derandomized, so a
failure reproduces); DROIDFT_ACCEPTED_EXAMPLES=200 runs that many, drawn afresh.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
import pyarrow
import pyarrow.parquet
import pytest
import safetensors.numpy
from google.rpc import error_details_pb2, status_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from droidft.v1 import job_pb2, methods_pb2, service_pb2, service_pb2_grpc
from droidft_server.app import DroidftServer, ServerConfig
from droidft_server.devtools.tiny_model import build_tiny_model
from droidft_server.domain import states
from droidft_server.domain.datasets import generate

CHAT = [
    {"messages": [{"role": "user", "content": f"What is {a} + {b}?"}, {"role": "assistant", "content": f"{a + b}"}]}
    for a in range(1, 4)
    for b in range(1, 3)
]
SYSTEM_CHAT = [{"messages": [{"role": "system", "content": "Be brief."}, *record["messages"]]} for record in CHAT]
# A template as Gemma's: it refuses a system turn.
REFUSES_SYSTEM = "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"

PREFERENCE_TURNS = [
    {
        "prompt": [{"role": "user", "content": f"Say {word}."}],
        "chosen": [{"role": "assistant", "content": word}],
        "rejected": [{"role": "assistant", "content": f"not {word}"}],
    }
    for word in ("yes", "no", "maybe", "often")
]


TOOL_CHATS = [
    {
        "messages": [
            {"role": "user", "content": f"What is {a} + 2?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "add", "arguments": {"a": a, "b": 2}}}
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": str(a + 2)},
            {
                "role": "assistant",
                "content": [{"type": "text", "text": "It is "}, {"type": "text", "text": str(a + 2)}],
            },
        ],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "add",
                    "description": "Add two numbers.",
                    "parameters": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}},
                },
            }
        ],
    }
    for a in range(4)
]
# A Parquet column holds one type: the same chats with every content a string (or null).
TOOL_CHATS_AS_COLUMNS = [
    {
        **chat,
        "messages": [
            *chat["messages"][:-1],
            {"role": "assistant", "content": chat["messages"][-1]["content"][1]["text"]},
        ],
    }
    for chat in TOOL_CHATS
]
SHAREGPT = [
    {
        "conversations": [
            {"from": "system", "value": "Answer with a number."},
            {"from": "human", "value": f"What is {a} + 1?"},
            {"from": "gpt", "value": str(a + 1)},
        ]
    }
    for a in range(4)
]
TRL_PROMPT_COMPLETION = [
    {
        "prompt": [{"role": "user", "content": f"What is {a} + 3?"}],
        "completion": [{"role": "assistant", "content": str(a + 3)}],
    }
    for a in range(4)
]
TRL_IMPLICIT_PREFERENCE = [
    {
        "chosen": [{"role": "user", "content": f"Say {word}."}, {"role": "assistant", "content": word}],
        "rejected": [{"role": "user", "content": f"Say {word}."}, {"role": "assistant", "content": f"not {word}"}],
    }
    for word in ("yes", "no", "maybe", "often")
]


def jsonl(records: list[dict]) -> bytes:
    return "".join(json.dumps(record) + "\n" for record in records).encode()


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    write_data: Callable[[Path], Path]  # writes under a folder, returns train_data_path
    # "": the job must train; else the field path the refusal names, or for data the issue it lists
    # as "dataset_<code> <file>:<line> <field path>"
    refused_field: str = ""
    model: str = "tiny"  # a key of the models fixture
    configure: Callable[[job_pb2.TrainingJobSpec], None] = lambda spec: None


def file_of(records: list[dict], name: str = "train.jsonl", transform: Callable[[bytes], bytes] = lambda b: b):
    def write(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(transform(jsonl(records)))
        return path

    return write


def generated(format_name: str, count: int = 6):
    return file_of(list(generate(format_name, count, seed=1)))


def parquet_of(records: list[dict], name: str = "train.parquet"):
    def write(folder: Path) -> Path:
        path = folder / name
        pyarrow.parquet.write_table(pyarrow.Table.from_pylist(records), path, row_group_size=2)
        return path

    return write


def csv_of(records: list[dict], name: str = "train.csv"):
    def write(folder: Path) -> Path:
        path = folder / name
        with open(path, "w", newline="", encoding="utf-8") as stream:
            writer = csv.DictWriter(stream, fieldnames=list(records[0]))
            writer.writeheader()
            writer.writerows(records)
        return path

    return write


def json_array_of(records: list[dict], name: str = "train.json"):
    def write(folder: Path) -> Path:
        path = folder / name
        path.write_text(json.dumps(records, indent=2))
        return path

    return write


def directory_of(write_train: Callable[[Path], Path]):
    def write(folder: Path) -> Path:
        data = folder / "data"
        data.mkdir()
        write_train(data)
        return data

    return write


def gzip_directory(folder: Path) -> Path:
    data = folder / "data"
    data.mkdir()
    (data / "train.jsonl.gz").write_bytes(gzip.compress(jsonl(CHAT)))
    (data / "valid.jsonl.gz").write_bytes(gzip.compress(jsonl(CHAT[:4])))
    return data


def _written(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def of_domains(train: list[str], valid: list[str] | None = None):
    """Dr. GRPO records of these domains, as a directory with train.jsonl (and valid.jsonl)."""

    def records(domains: list[str]) -> list[dict]:
        return [
            record | {"domain": domain} for record, domain in zip(generate("dr_grpo", len(domains), seed=1), domains)
        ]

    def write(folder: Path) -> Path:
        data = folder / "data"
        data.mkdir()
        (data / "train.jsonl").write_bytes(jsonl(records(train)))
        if valid is not None:
            (data / "valid.jsonl").write_bytes(jsonl(records(valid)))
        return data

    return write


def set_field(path: str, value) -> Callable[[job_pb2.TrainingJobSpec], None]:
    def configure(spec):
        *parents, name = path.split(".")
        message = spec
        for parent in parents:
            message = getattr(message, parent)
        setattr(message, name, value)

    return configure


MEDICAL = set_field("dr_grpo.domain", methods_pb2.DOMAIN_MEDICAL)

# Every generator format, with a method that trains on it.
GENERATOR_FORMATS = [
    ("text", "sft"),
    ("instruction_response", "sft"),
    ("chat_messages", "sft"),
    ("preference", "dpo"),
    ("grpo", "grpo"),
    ("gspo", "gspo"),
    ("dr_grpo", "dr_grpo"),
    ("prompt_answer", "grpo"),
    ("question_answer", "gspo"),
]


def with_rewards(method: str, *names: str) -> Callable[[job_pb2.TrainingJobSpec], None]:
    def configure(spec):
        for name in names:
            getattr(spec, method).rollout.rewards.add(name=name)

    return configure


def data_keys(**fields: str) -> Callable[[job_pb2.TrainingJobSpec], None]:
    def configure(spec):
        spec.data_keys.fields.update(fields)

    return configure


def all_of(*configures: Callable[[job_pb2.TrainingJobSpec], None]) -> Callable[[job_pb2.TrainingJobSpec], None]:
    def configure(spec):
        for step in configures:
            step(spec)

    return configure


# Models the checks of config.json and the headers once let through, which then failed as the worker loaded them
# (or at its first step); create and the estimate refuse them. Their variants are built in `models`.
MODELS_MLX_LM_CANNOT_BUILD = {
    "whose config.json lacks a field its architecture needs": "config_field_missing",
    "whose config.json gives hidden_size as a string": "config_value_a_string",
    "whose config.json names a RoPE scaling mlx-lm does not have": "rope_scaling_unknown",
    "whose quantization block has no group_size": "quantization_without_group_size",
    "whose weights' shapes are not config.json's": "weights_shaped_otherwise",
    "whose weights lack a tensor": "weights_missing_a_tensor",
    "whose weights are float64": "weights_float64",
    "whose weight file was cut off": "weights_cut_off",
    "whose weight file is not named model*.safetensors": "weights_misnamed",
    "whose key/value heads do not divide its attention heads": "heads_do_not_share",
}

CASES = [
    *(Case(f"generated {fmt} for {method}", method, generated(fmt)) for fmt, method in GENERATOR_FORMATS),
    # The online methods on the GRPO family's richer records, read as grpo records.
    Case("generated gspo for xpo", "xpo", generated("gspo")),
    Case("generated dr_grpo for ppo", "ppo", generated("dr_grpo")),
    # The data users already have.
    Case(
        "Alpaca records",
        "sft",
        file_of(
            [
                {"instruction": f"Add {a} and 2.", "input": "" if a % 2 else "Show the sum.", "output": str(a + 2)}
                for a in range(4)
            ]
        ),
        configure=set_field("sft.mask_prompt", True),
    ),
    Case("chat with tool calls, a tools list and text parts", "sft", file_of(TOOL_CHATS)),
    Case("chat with tool calls, mask_prompt", "sft", file_of(TOOL_CHATS), configure=set_field("sft.mask_prompt", True)),
    Case("ShareGPT conversations", "sft", file_of(SHAREGPT), configure=set_field("sft.mask_prompt", True)),
    Case(
        "TRL conversational prompt/completion",
        "sft",
        file_of(TRL_PROMPT_COMPLETION),
        configure=set_field("sft.mask_prompt", True),
    ),
    *(
        Case(f"TRL implicit-prompt preference for {method}", method, file_of(TRL_IMPLICIT_PREFERENCE))
        for method in ("dpo", "orpo", "cpo")
    ),
    Case("a Parquet file of chats with tool calls", "sft", parquet_of(TOOL_CHATS_AS_COLUMNS)),
    Case("a directory holding train.parquet", "dpo", directory_of(parquet_of(PREFERENCE_TURNS))),
    Case(
        "a CSV file of Alpaca records",
        "sft",
        csv_of([{"instruction": f"Add {a} and 2.", "input": "", "output": str(a + 2)} for a in range(4)]),
    ),
    Case("a directory holding train.csv", "grpo", directory_of(csv_of(list(generate("prompt_answer", 4, seed=2))))),
    Case("a JSON array of ShareGPT conversations", "sft", json_array_of(SHAREGPT)),
    Case("a directory holding train.json", "gspo", directory_of(json_array_of(list(generate("gspo", 4, seed=3))))),
    # Records under their own keys, read through spec.data_keys (as mlx-lm's prompt_feature and friends).
    Case(
        "a question/answer pair under data_keys, mask_prompt",
        "sft",
        file_of([{"question": f"What is {a} + 4?", "answer": str(a + 4)} for a in range(4)]),
        configure=all_of(data_keys(prompt="question", completion="answer"), set_field("sft.mask_prompt", True)),
    ),
    Case(
        "chats under another key",
        "sft",
        file_of([{"dialogue": chat["messages"]} for chat in CHAT]),
        configure=data_keys(messages="dialogue"),
    ),
    Case(
        "preference pairs under data_keys, for orpo",
        "orpo",
        file_of([{"query": r["prompt"], "good": r["chosen"], "bad": r["rejected"]} for r in PREFERENCE_TURNS]),
        configure=data_keys(prompt="query", chosen="good", rejected="bad"),
    ),
    Case(
        "data_keys naming no field of the method's formats",
        "sft",
        file_of([{"question": f"What is {a} + 4?", "answer": str(a + 4)} for a in range(4)]),
        refused_field='spec.data_keys.fields["promt"]',
        configure=data_keys(promt="question", completion="answer"),
    ),
    Case(
        "records missing a key data_keys names",
        "sft",
        file_of([{"question": "What is 1 + 4?", "answer": "5"}, {"question": "What is 2 + 4?", "reply": "6"}]),
        refused_field="dataset_missing_field train.jsonl:2 answer",
        configure=data_keys(prompt="question", completion="answer"),
    ),
    # Near misses: refused at create with the record's line.
    Case(
        "ShareGPT roles inside messages",
        "sft",
        file_of([{"messages": [{"role": "human", "content": "Hi"}, {"role": "gpt", "content": "Hello"}]}] * 2),
        refused_field="dataset_unknown_enum_value train.jsonl:1 messages[0].role",
    ),
    Case(
        "an image part in a chat",
        "sft",
        file_of(
            [
                {
                    "messages": [
                        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "a.png"}}]},
                        {"role": "assistant", "content": "A cat."},
                    ]
                }
            ]
            * 2
        ),
        refused_field="dataset_unknown_enum_value train.jsonl:1 messages[0].content[0].type",
    ),
    Case(
        "a user turn that calls tools",
        "sft",
        file_of(
            [
                {
                    "messages": [
                        {"role": "user", "content": "Hi", "tool_calls": [{"function": {"name": "add"}}]},
                        {"role": "assistant", "content": "Hello"},
                    ]
                }
            ]
            * 2
        ),
        refused_field="dataset_wrong_role train.jsonl:1 messages[0].tool_calls",
    ),
    Case(
        "implicit-prompt preference lists that share no prompt",
        "dpo",
        file_of(
            [
                {
                    "chosen": [{"role": "user", "content": "A?"}, {"role": "assistant", "content": "a"}],
                    "rejected": [{"role": "user", "content": "B?"}, {"role": "assistant", "content": "b"}],
                }
            ]
            * 2
        ),
        refused_field="dataset_no_shared_prompt train.jsonl:1 rejected",
    ),
    Case(
        "a CSV row with more cells than the header",
        "sft",
        lambda folder: _written(folder / "train.csv", b"text\nhello\nhello, world\n"),
        refused_field="dataset_unreadable_file train.csv:3",
    ),
    # The inputs validation passed and training then failed on.
    Case("gzip JSONL", "sft", file_of(CHAT, "train.jsonl.gz", gzip.compress)),
    Case("a UTF-8 BOM", "sft", file_of(CHAT, transform=lambda data: b"\xef\xbb\xbf" + data)),
    Case("a directory holding train.jsonl.gz", "sft", gzip_directory),
    *(
        Case(f"preference message lists for {method}", method, file_of(PREFERENCE_TURNS))
        for method in ("dpo", "orpo", "cpo")
    ),
    Case("fewer records than batch_size", "sft", file_of(CHAT[:1]), refused_field="spec.batch_size"),
    Case(
        "adapter.num_layers above the model's blocks",
        "sft",
        file_of(CHAT),
        refused_field="spec.adapter.num_layers",
        configure=set_field("adapter.num_layers", 16),
    ),
    Case(
        "mask_prompt on text data",
        "sft",
        generated("text"),
        refused_field="spec.sft.mask_prompt",
        configure=set_field("sft.mask_prompt", True),
    ),
    Case("mask_prompt on chat data", "sft", file_of(CHAT), configure=set_field("sft.mask_prompt", True)),
    Case(
        "early_stop without validation data",
        "sft",
        file_of(CHAT),
        refused_field="spec.early_stop",
        configure=set_field("early_stop", True),
    ),
    # Dr. GRPO trains on the records of its domain (and those naming none): too few for a batch is refused.
    Case(
        "Dr. GRPO, two records of its domain", "dr_grpo", of_domains(["medical", "legal", "medical"]), configure=MEDICAL
    ),
    Case("Dr. GRPO, GRPO records naming no domain", "dr_grpo", generated("grpo"), configure=MEDICAL),
    Case(
        "Dr. GRPO, no training record of its domain",
        "dr_grpo",
        of_domains(["legal", "technical", "general"]),
        refused_field="spec.dr_grpo.domain",
        configure=MEDICAL,
    ),
    Case(
        "Dr. GRPO, one training record of its domain for a batch of two",
        "dr_grpo",
        of_domains(["legal", "medical", "legal"]),
        refused_field="spec.dr_grpo.domain",
        configure=MEDICAL,
    ),
    Case(
        "Dr. GRPO, no validation record of its domain",
        "dr_grpo",
        of_domains(["medical", "medical"], valid=["legal", "legal"]),
        refused_field="spec.dr_grpo.domain",
        configure=MEDICAL,
    ),
    Case(
        "Dr. GRPO, early_stop on validation records of its domain",
        "dr_grpo",
        of_domains(["medical", "medical"], valid=["medical", "legal", "medical"]),
        configure=all_of(MEDICAL, set_field("early_stop", True)),
    ),
    # Settings that the rest of the job would leave without effect: refused, not accepted and ignored.
    Case(
        "domain_adaptation_strength with full fine-tuning",
        "dr_grpo",
        generated("dr_grpo"),
        refused_field="spec.dr_grpo.domain_adaptation_strength",
        configure=all_of(
            set_field("adapter.fine_tune_type", methods_pb2.FINE_TUNE_TYPE_FULL),
            set_field("dr_grpo.domain_adaptation_strength", 1.5),
        ),
    ),
    Case(
        "reasoning_steps without a reward that reads it",
        "grpo",
        generated("grpo"),
        refused_field="spec.grpo.reasoning_steps",
        configure=all_of(set_field("grpo.reasoning_steps", 5), with_rewards("grpo", "exact_answer")),
    ),
    Case(
        "reasoning_steps with step_format among the default rewards",
        "grpo",
        generated("grpo"),
        configure=set_field("grpo.reasoning_steps", 5),
    ),
    Case(
        "multi_step_training on prompt/answer data",
        "grpo",
        generated("prompt_answer"),
        refused_field="spec.grpo.multi_step_training",
        configure=set_field("grpo.multi_step_training", True),
    ),
    Case(
        "step_overlap on prompt/answer data",
        "gspo",
        generated("prompt_answer"),
        refused_field="spec.gspo.rollout.rewards[1].name",
        configure=with_rewards("gspo", "exact_answer", "step_overlap"),
    ),
    Case(
        "a reward named twice",  # its scores were counted twice, and broke a distributed job at its first evaluation
        "grpo",
        generated("prompt_answer"),
        refused_field="spec.grpo.rollout.rewards",
        configure=with_rewards("grpo", "exact_answer", "exact_answer"),
    ),
    Case(
        "every reward weighted 0",
        "grpo",
        generated("prompt_answer"),
        refused_field="spec.grpo.rollout.rewards",
        configure=lambda spec: spec.grpo.rollout.rewards.add(name="exact_answer", weight=0),
    ),
    Case(
        "GSPO's efficiency_threshold with no correctness reward to gate",
        "gspo",
        generated("prompt_answer"),
        refused_field="spec.gspo.efficiency_threshold",
        configure=all_of(with_rewards("gspo", "length_efficiency"), set_field("gspo.efficiency_threshold", 0.9)),
    ),
    Case(
        "GSPO's efficiency_threshold gating exact_answer",
        "gspo",
        generated("prompt_answer"),
        configure=all_of(
            with_rewards("gspo", "exact_answer", "length_efficiency"), set_field("gspo.efficiency_threshold", 0.9)
        ),
    ),
    Case(
        "multi_step_training on question/answer data with worked steps",
        "grpo",
        generated("question_answer"),
        configure=set_field("grpo.multi_step_training", True),
    ),
    Case(
        "a model_type mlx-lm does not know", "sft", file_of(CHAT), refused_field="spec.model_path", model="unknown_type"
    ),
    Case(
        "a model without tokenizer files", "sft", file_of(CHAT), refused_field="spec.model_path", model="no_tokenizer"
    ),
    Case(
        "weights that do not match config.json",
        "sft",
        file_of(CHAT),
        refused_field="spec.model_path",
        model="mismatched_weights",
    ),
    *(
        Case(f"a tokenizer_config.json {what}", "sft", generated("text"), refused_field="spec.model_path", model=model)
        for what, model in [
            ("that is not JSON", "settings_not_json"),
            ("that is not UTF-8", "settings_not_utf8"),
            ("that holds a list", "settings_a_list"),
            ("whose chat_template is a number", "template_a_number"),
            ("whose chat_template does not compile", "template_broken"),
        ]
    ),
    *(
        Case(f"a {what}", "sft", generated("text"), refused_field="spec.model_path", model=model)
        for what, model in [
            ("special_tokens_map.json that is not JSON", "special_tokens_not_json"),
            ("special_tokens_map.json that holds a list", "special_tokens_a_list"),
            ("tokenizer.json the tokenizers library cannot read", "tokenizer_json_broken"),
        ]
    ),
    Case("named chat templates in tokenizer_config.json", "sft", file_of(CHAT), model="templates_named"),
    *(
        Case(
            f"a model without a chat template, for {method}",
            method,
            data,
            refused_field="spec.model_path",
            model="no_template",
        )
        for method, data in [
            ("sft", file_of(CHAT)),
            ("dpo", generated("preference")),
            ("grpo", generated("prompt_answer")),
        ]
    ),
    Case("a model without a chat template, for SFT on text", "sft", generated("text"), model="no_template"),
    Case(
        "a chat template that refuses the data's system turns",
        "sft",
        file_of(SYSTEM_CHAT),
        refused_field="spec.model_path",
        model="template_refuses_system",
    ),
    Case(
        "a chat template that refuses system turns, on data with none",
        "sft",
        file_of(CHAT),
        model="template_refuses_system",
    ),
    Case(
        "a chat template that refuses system turns, for Dr. GRPO (which adds its own)",
        "dr_grpo",
        generated("dr_grpo"),
        refused_field="spec.model_path",
        model="template_refuses_system",
    ),
    Case(
        "a chat template that refuses system turns, for GRPO with step_format (which adds one)",
        "grpo",
        generated("prompt_answer"),
        refused_field="spec.model_path",
        model="template_refuses_system",
    ),
    Case(
        "a chat template that refuses system turns, for GRPO that adds none, on prompts with none",
        "grpo",
        generated("prompt_answer"),
        model="template_refuses_system",
        configure=with_rewards("grpo", "exact_answer"),
    ),
    *(
        Case(f"a model {what}", "sft", file_of(CHAT), refused_field="spec.model_path", model=model)
        for what, model in MODELS_MLX_LM_CANNOT_BUILD.items()
    ),
]


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("corpus-models")
    tiny = build_tiny_model(root / "tiny", seed=0)

    def variant(name: str, change: Callable[[Path], None]) -> Path:
        copy = root / name
        shutil.copytree(tiny, copy)
        change(copy)
        return copy

    def edit_config(key: str, value):
        def change(folder: Path) -> None:
            config = json.loads((folder / "config.json").read_text())
            config[key] = value
            (folder / "config.json").write_text(json.dumps(config))

        return change

    def drop_config(key: str):
        def change(folder: Path) -> None:
            config = json.loads((folder / "config.json").read_text())
            del config[key]
            (folder / "config.json").write_text(json.dumps(config))

        return change

    def edit_weights(edit: Callable[[dict], object]):
        def change(folder: Path) -> None:
            weights = safetensors.numpy.load_file(folder / "model.safetensors")
            edit(weights)
            safetensors.numpy.save_file(weights, folder / "model.safetensors")

        return change

    def cut_off_weights(folder: Path) -> None:  # a download that stopped: the header whole, the data short
        data = (folder / "model.safetensors").read_bytes()
        (folder / "model.safetensors").write_bytes(data[:-1000])

    def drop_tokenizer(folder: Path) -> None:
        for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
            (folder / name).unlink(missing_ok=True)

    def write_file(name: str, content: bytes):
        def change(folder: Path) -> None:
            (folder / name).write_bytes(content)

        return change

    def write_settings(content: bytes):
        return write_file("tokenizer_config.json", content)

    def edit_settings(key: str, value):
        def change(folder: Path) -> None:
            settings = json.loads((folder / "tokenizer_config.json").read_text())
            settings[key] = value(settings[key]) if callable(value) else value
            (folder / "tokenizer_config.json").write_text(json.dumps(settings))

        return change

    return {
        "tiny": tiny,
        "unknown_type": variant("unknown_type", edit_config("model_type", "not_an_architecture")),
        "no_tokenizer": variant("no_tokenizer", drop_tokenizer),
        "mismatched_weights": variant("mismatched_weights", edit_config("num_hidden_layers", 3)),
        "settings_not_json": variant("settings_not_json", write_settings(b'{"bos_token": ')),
        "settings_not_utf8": variant("settings_not_utf8", write_settings(b'{"bos_token": "\xff"}')),
        "settings_a_list": variant("settings_a_list", write_settings(b"[]")),
        "template_a_number": variant("template_a_number", edit_settings("chat_template", 5)),
        "template_broken": variant("template_broken", edit_settings("chat_template", "{% if %}")),
        "special_tokens_not_json": variant("special_tokens_not_json", write_file("special_tokens_map.json", b"{")),
        "special_tokens_a_list": variant("special_tokens_a_list", write_file("special_tokens_map.json", b"[1]")),
        "tokenizer_json_broken": variant("tokenizer_json_broken", write_file("tokenizer.json", b'{"model": 7}')),
        "config_field_missing": variant("config_field_missing", drop_config("intermediate_size")),
        "config_value_a_string": variant("config_value_a_string", edit_config("hidden_size", "64")),
        "rope_scaling_unknown": variant(
            "rope_scaling_unknown", edit_config("rope_scaling", {"type": "x", "factor": 2})
        ),
        "quantization_without_group_size": variant(
            "quantization_without_group_size", edit_config("quantization", {"bits": 4})
        ),
        "weights_shaped_otherwise": variant("weights_shaped_otherwise", edit_config("intermediate_size", 256)),
        "weights_missing_a_tensor": variant(
            "weights_missing_a_tensor", edit_weights(lambda w: w.pop("model.norm.weight"))
        ),
        "weights_float64": variant(
            "weights_float64", edit_weights(lambda w: w.update({k: v.astype("float64") for k, v in w.items()}))
        ),
        "weights_cut_off": variant("weights_cut_off", cut_off_weights),
        "weights_misnamed": variant(
            "weights_misnamed", lambda folder: (folder / "model.safetensors").rename(folder / "weights.safetensors")
        ),
        "heads_do_not_share": variant("heads_do_not_share", edit_config("num_key_value_heads", 3)),
        "no_template": variant("no_template", edit_settings("chat_template", None)),
        "template_refuses_system": variant(
            "template_refuses_system", edit_settings("chat_template", lambda template: REFUSES_SYSTEM + template)
        ),
        # transformers' named form; mlx-lm applies the one named "default"
        "templates_named": variant(
            "templates_named",
            edit_settings("chat_template", lambda template: [{"name": "default", "template": template}]),
        ),
    }


@pytest.fixture(scope="module")
def stub(tmp_path_factory, calibration_dir, roots):
    server = DroidftServer(
        ServerConfig(
            state_dir=tmp_path_factory.mktemp("corpus-state"),
            listen="127.0.0.1:0",
            **roots,
            calibration_dir=calibration_dir,
        )
    )
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        yield service_pb2_grpc.TrainingServiceStub(channel)
    server.stop(grace=0)


def spec_for(case: Case, model: Path, data: Path) -> job_pb2.TrainingJobSpec:
    spec = job_pb2.TrainingJobSpec(
        model_path=str(model),
        train_data_path=str(data),
        iterations=2,
        batch_size=2,
        max_seq_length=512,
        report_every=1,
        eval_every=1,
        eval_batches=1,
        seed=3,
    )
    getattr(spec, case.method).SetInParent()
    if case.method in ("grpo", "gspo", "dr_grpo"):
        rollout = getattr(spec, case.method).rollout
        rollout.group_size = 2
        rollout.max_completion_length = 4
    case.configure(spec)
    return spec


def refusal(error: grpc.RpcError) -> tuple[grpc.StatusCode, list[str]]:
    """The status and the field paths of a refusal's BadRequest (or ErrorInfo's field), and the data issues
    of its PreconditionFailure as "dataset_<code> <file name>:<line> <field path>"."""
    status = status_pb2.Status.FromString(dict(error.trailing_metadata())["grpc-status-details-bin"])
    fields = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            fields += [violation.field for violation in bad.field_violations]
        elif detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            fields += [info.metadata["field"]] if "field" in info.metadata else []
        elif detail.Is(error_details_pb2.PreconditionFailure.DESCRIPTOR):
            failure = error_details_pb2.PreconditionFailure()
            detail.Unpack(failure)
            fields += [f"{violation.type} {Path(violation.subject).name}" for violation in failure.violations]
    return error.code(), fields


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_accepted_jobs_train_and_refused_ones_say_why_at_create(case, stub, models, tmp_path):
    spec = spec_for(case, models[case.model], case.write_data(tmp_path))
    checks = [
        service_pb2.CreateTrainingJobRequest(spec=spec, validate_only=True),
        service_pb2.CreateTrainingJobRequest(spec=spec),
    ]
    if case.refused_field:
        for request in checks:
            with pytest.raises(grpc.RpcError) as caught:
                stub.CreateTrainingJob(request)
            code, fields = refusal(caught.value)
            assert code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION), (
                caught.value.details()
            )
            assert case.refused_field in fields, caught.value.details()
        return
    stub.CreateTrainingJob(checks[0])
    job = stub.CreateTrainingJob(checks[1])
    for _ in stub.StreamTrainingProgress(service_pb2.StreamTrainingProgressRequest(job_id=job.job_id)):
        pass  # the stream ends when the job does
    final = stub.GetTrainingJob(service_pb2.GetTrainingJobRequest(job_id=job.job_id))
    assert final.state == states.SUCCEEDED, final.error
    assert final.metrics.iteration == 2


SYSTEM_CHAT = [{"messages": [{"role": "system", "content": "Be brief."}, *record["messages"]]} for record in CHAT]
# A template as Gemma's: it refuses a system turn.
REFUSES_SYSTEM = "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"

TOKENIZER_SETTINGS_MODELS = ["settings_not_json", "settings_not_utf8", "settings_a_list", "template_a_number",
                             "template_broken", "special_tokens_not_json", "special_tokens_a_list",
                             "tokenizer_json_broken"]  # fmt: skip


@pytest.mark.parametrize("model", [*TOKENIZER_SETTINGS_MODELS, *MODELS_MLX_LM_CANNOT_BUILD.values()])
def test_an_estimate_refuses_the_models_create_refuses(model, stub, models, tmp_path):
    # The estimate renders the data through the chat template, and sizes the model mlx-lm builds: it meets what
    # create refuses, and says why alike.
    spec = spec_for(Case("chat", "sft", file_of(CHAT)), models[model], file_of(CHAT)(tmp_path))
    with pytest.raises(grpc.RpcError) as caught:
        stub.EstimateResources(service_pb2.EstimateResourcesRequest(spec=spec))
    code, fields = refusal(caught.value)
    assert (code, fields) == (grpc.StatusCode.FAILED_PRECONDITION, ["spec.model_path"]), caught.value.details()


GENERATED_EXAMPLES = int(os.environ.get("DROIDFT_ACCEPTED_EXAMPLES", "10"))
TINY_MODEL_BLOCKS = 2  # build_tiny_model's num_hidden_layers


@st.composite
def generated_cases(draw) -> Case:
    """A generator format and its method; records around batch_size; num_layers around the model's blocks;
    mask_prompt (SFT); early_stop with or without validation data."""
    fmt, method = draw(st.sampled_from(GENERATOR_FORMATS))
    records = draw(st.integers(1, 5))
    # Each value past a limit refuses the job: the limits are hit often enough, but not in most examples.
    valid_records = draw(st.sampled_from([0, 1, 4, 4]))
    batch_size = max(1, min(records, 4) + draw(st.sampled_from([-1, 0, 0, 1])))
    num_layers = draw(st.sampled_from([None, None, TINY_MODEL_BLOCKS - 1, TINY_MODEL_BLOCKS, TINY_MODEL_BLOCKS + 1]))
    mask_prompt = method == "sft" and draw(st.booleans())
    early_stop = draw(st.booleans())

    def write(folder: Path) -> Path:
        data = folder / "data"
        data.mkdir()
        (data / "train.jsonl").write_bytes(jsonl(list(generate(fmt, records, seed=1))))
        if valid_records:
            (data / "valid.jsonl").write_bytes(jsonl(list(generate(fmt, valid_records, seed=2))))
        return data

    def configure(spec: job_pb2.TrainingJobSpec) -> None:
        spec.batch_size = batch_size
        spec.early_stop = early_stop
        if num_layers is not None:
            spec.adapter.num_layers = num_layers
        if mask_prompt:
            spec.sft.mask_prompt = True

    name = (
        f"{records} {fmt} records (+{valid_records} valid) for {method}, batch_size {batch_size}, "
        f"num_layers {num_layers}, mask_prompt {mask_prompt}, early_stop {early_stop}"
    )
    return Case(name, method, write, configure=configure)


@settings(
    max_examples=GENERATED_EXAMPLES,
    deadline=None,
    database=None,
    derandomize="DROIDFT_ACCEPTED_EXAMPLES" not in os.environ,
    suppress_health_check=list(HealthCheck),
)
@given(case=generated_cases())
def test_generated_jobs_train_when_accepted_and_are_refused_at_create_otherwise(case, stub, models, tmp_path_factory):
    spec = spec_for(case, models["tiny"], case.write_data(tmp_path_factory.mktemp("generated")))
    outcomes = []
    for validate_only in (True, False):
        try:
            outcomes.append(
                stub.CreateTrainingJob(service_pb2.CreateTrainingJobRequest(spec=spec, validate_only=validate_only))
            )
        except grpc.RpcError as error:
            code, fields = refusal(error)
            assert code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION), (
                case.name,
                error.details(),
            )
            assert fields, (case.name, error.details())  # the refusal names the field or the data issue
            outcomes.append(code)
    checked, created = outcomes
    if not isinstance(created, job_pb2.TrainingJob):
        assert checked == created, case.name  # validate_only refuses what create refuses
        return
    assert isinstance(checked, job_pb2.TrainingJob), case.name
    for _ in stub.StreamTrainingProgress(service_pb2.StreamTrainingProgressRequest(job_id=created.job_id)):
        pass  # the stream ends when the job does
    final = stub.GetTrainingJob(service_pb2.GetTrainingJobRequest(job_id=created.job_id))
    assert final.state == states.SUCCEEDED, (case.name, final.error)
    assert final.metrics.iteration == 2, case.name
