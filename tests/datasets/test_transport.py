"""ValidateDataset and GenerateSampleData messages built from the domain's results."""

import pytest
from dataset_helpers import CHAT, jsonl

from droidft.v1 import data_pb2, methods_pb2
from droidft_server.domain.errors import DroidftError, ErrorKind
from droidft_server.transport.datasets import generate_sample_data, stream_dataset_validation, validate_dataset


def test_validate_dataset_content_to_response(tiny_tokenizer_model):
    request = data_pb2.ValidateDatasetRequest(
        content=jsonl(CHAT, {"messages": [{"role": "bot", "content": "x"}]}, CHAT),
        method=methods_pb2.TRAINING_METHOD_SFT,
        model_path=str(tiny_tokenizer_model),
        max_issues=1,
    )
    response = validate_dataset(request)
    assert not response.valid and response.issues_truncated
    assert [(i.line, i.field_path, i.code, i.severity) for i in response.issues] == [
        (2, "messages[0].role", "unknown_enum_value", data_pb2.ISSUE_SEVERITY_ERROR),
    ]
    assert dict(response.issue_counts) == {"unknown_enum_value": 1, "duplicate_record": 1}
    (file,) = response.files
    assert (file.path, file.format, file.record_count, file.error_count, file.warning_count) == (
        "<content>",
        "chat_messages",
        3,
        1,
        1,
    )
    assert dict(file.field_presence) == {"messages": 3}
    assert file.HasField("token_statistics") and file.token_statistics.max > 0
    assert not file.token_statistics_sampled and file.token_records_counted == 2  # the broken line is not counted


def test_validate_dataset_path_with_method_and_defaults(tmp_path):
    (tmp_path / "train.jsonl").write_bytes(jsonl(CHAT))
    response = validate_dataset(
        data_pb2.ValidateDatasetRequest(path=str(tmp_path), method=methods_pb2.TRAINING_METHOD_GRPO)
    )
    assert not response.valid and [i.code for i in response.issues] == ["format_not_accepted"]
    assert response.files[0].split == "train" and not response.files[0].HasField("token_statistics")


def test_validate_dataset_reads_records_through_data_keys_as_a_job_does():
    records = [{"question": f"What is {a}?", "answer": str(a)} for a in range(3)] + [{"question": "Why?"}]
    request = data_pb2.ValidateDatasetRequest(content=jsonl(*records), method=methods_pb2.TRAINING_METHOD_SFT)
    request.data_keys.fields.update(prompt="question", completion="answer")
    response = validate_dataset(request)
    (file,) = response.files
    assert file.format == "instruction_response" and dict(file.field_presence) == {"question": 4, "answer": 3}
    assert [(i.line, i.field_path, i.code) for i in response.issues] == [(4, "answer", "missing_field")]
    assert 'completion is the key "answer"' in response.issues[0].message


@pytest.mark.parametrize(
    "fields, format_name, violation, fix",
    [
        ({"promt": "question"}, "", 'data_keys.fields["promt"]', "instruction_response: instruction, response, prompt"),
        ({"messages": "dialogue", "prompt": "question"}, "", "data_keys.fields", "name the fields of one format"),
        ({"prompt": "completion"}, "", 'data_keys.fields["prompt"]', "give each field its own key"),
        ({"prompt": "question"}, "chat_messages", 'data_keys.fields["prompt"]', "(chat_messages: messages, tools)"),
    ],
)
def test_validate_dataset_refuses_data_keys_no_format_has(fields, format_name, violation, fix):
    request = data_pb2.ValidateDatasetRequest(
        content=jsonl(CHAT), method=methods_pb2.TRAINING_METHOD_SFT, format=format_name
    )
    request.data_keys.fields.update(fields)
    with pytest.raises(DroidftError) as refused:
        validate_dataset(request)
    assert refused.value.kind is ErrorKind.INVALID_ARGUMENT
    ((found, description),) = [(v.field, v.description) for v in refused.value.field_violations]
    assert found == violation and fix in description


def test_stream_dataset_validation_refuses_data_keys_at_the_check_s_path():
    request = data_pb2.StreamDatasetValidationRequest(check=data_pb2.ValidateDatasetRequest(content=jsonl(CHAT)))
    request.check.data_keys.fields["promt"] = "question"
    with pytest.raises(DroidftError) as refused:
        list(stream_dataset_validation(request, lambda: True))
    assert [v.field for v in refused.value.field_violations] == ['check.data_keys.fields["promt"]']


def test_generate_sample_data_as_content_and_to_a_file(tmp_path):
    response = generate_sample_data(data_pb2.GenerateSampleDataRequest(format="gspo", count=5, seed=3))
    assert response.record_count == 5 and response.content.count(b"\n") == 5 and not response.path
    assert generate_sample_data(data_pb2.GenerateSampleDataRequest(format="gspo", count=5, seed=3)) == response
    default = generate_sample_data(data_pb2.GenerateSampleDataRequest(format="text"))
    assert default.record_count == 100
    written = generate_sample_data(
        data_pb2.GenerateSampleDataRequest(format="gspo", count=5, seed=3, output_path=str(tmp_path / "out.jsonl"))
    )
    assert written.path == str(tmp_path / "out.jsonl") and not written.content
    assert (tmp_path / "out.jsonl").read_bytes() == response.content


def test_generate_sample_data_refuses_an_unknown_format_and_an_unwritable_path(tmp_path):
    with pytest.raises(DroidftError) as unknown:
        generate_sample_data(data_pb2.GenerateSampleDataRequest(format="alpaca"))
    assert unknown.value.kind is ErrorKind.INVALID_ARGUMENT and unknown.value.field_violations[0].field == "format"
    (tmp_path / "file").write_text("x")
    with pytest.raises(DroidftError) as unwritable:
        generate_sample_data(
            data_pb2.GenerateSampleDataRequest(format="text", output_path=str(tmp_path / "file" / "out.jsonl"))
        )
    assert unwritable.value.field_violations[0].field == "output_path"


def test_a_create_whose_caller_left_stops_reading_the_data(tiny_tokenizer_model, tmp_path):
    """Create reads the data once, telling its progress as it goes; the servicer's callback raises once the
    caller has gone, and the read stops at that batch instead of going on through the file."""
    from droidft.v1 import job_pb2
    from droidft_server.domain import preflight

    records = [{"messages": [{"role": "user", "content": f"q {i}"}, {"role": "assistant", "content": f"a {i}"}]}
               for i in range(200_000)]  # fmt: skip
    (tmp_path / "train.jsonl").write_bytes(jsonl(*records))
    spec = job_pb2.TrainingJobSpec(
        model_path=str(tiny_tokenizer_model), train_data_path=str(tmp_path / "train.jsonl"), sft={}
    )
    told = []

    class CallerGone(Exception):
        pass

    def caller_left(progress) -> None:
        told.append(progress.records_read)
        raise CallerGone

    with pytest.raises(CallerGone):
        preflight.run_checks([preflight.data_valid])(spec, caller_left)
    assert told and told[0] < len(records)  # it stopped at the first batch it reported
