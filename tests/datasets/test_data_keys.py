"""Records under their own keys (spec.data_keys): read as their format, by validation and by the worker alike."""

import pytest
from dataset_helpers import jsonl

from droidft.v1 import job_pb2
from droidft_server.domain.datasets import validate_path
from droidft_server.domain.datasets.training_data import detected_plan, read_examples, read_job_data
from droidft_server.domain.errors import DroidftError, ErrorKind
from droidft_server.domain.job_data import check_job_data, data_plan
from droidft_server.domain.spec import resolve

PAIRS = [{"question": f"What is {a} + 1?", "answer": str(a + 1)} for a in range(3)]
KEYS = (("completion", "answer"), ("prompt", "question"))


def job(path, method: str = "sft", **keys: str) -> job_pb2.TrainingJobSpec:
    spec = job_pb2.TrainingJobSpec(model_path="model", train_data_path=str(path))
    getattr(spec, method).SetInParent()
    spec.data_keys.fields.update(keys)
    return spec


def test_the_worker_reads_mapped_records_as_the_format_s_own(tmp_path):
    mapped = tmp_path / "mapped.jsonl"
    mapped.write_bytes(jsonl(*PAIRS))
    own = tmp_path / "own.jsonl"
    own.write_bytes(jsonl(*({"prompt": p["question"], "completion": p["answer"]} for p in PAIRS)))
    settings = resolve(job(mapped, prompt="question", completion="answer"))
    assert settings.data_keys == KEYS
    check = check_job_data(settings, max_issues=10)
    assert check.report.valid and check.train.format == "instruction_response"
    plan = data_plan(check.plan(), settings.data_keys)
    assert read_job_data(plan).train == read_examples(own, "instruction_response")
    # A job stored without a plan finds the format again through the same mapping.
    assert detected_plan(str(mapped), None, "sft", KEYS).format == "instruction_response"


def test_without_the_mapping_the_same_records_are_another_format(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_bytes(jsonl(*PAIRS))
    assert validate_path(path).format == "question_answer"
    assert validate_path(path, data_keys=KEYS).format == "instruction_response"


def test_a_mapping_no_format_of_the_method_has_is_refused_before_reading(tmp_path):
    settings = resolve(job(tmp_path / "absent.jsonl", "grpo", messages="dialogue"))  # chats are no GRPO data
    with pytest.raises(DroidftError) as refused:
        check_job_data(settings, max_issues=10)
    assert refused.value.kind is ErrorKind.INVALID_ARGUMENT
    ((violation),) = refused.value.field_violations
    assert violation.field == 'spec.data_keys.fields["messages"]' and "grpo: problem" in violation.description
