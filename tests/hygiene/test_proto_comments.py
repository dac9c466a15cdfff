"""Every element of the contract is documented: the comments are its reference documentation."""

from google.protobuf import descriptor_pb2

# Field numbers of the descriptor messages, as source-info paths use them.
FILE_MESSAGE, FILE_ENUM, FILE_SERVICE = 4, 5, 6
MESSAGE_FIELD, MESSAGE_NESTED, MESSAGE_ENUM, MESSAGE_ONEOF = 2, 3, 4, 8
ENUM_VALUE = 2
SERVICE_METHOD = 2


def message_elements(message: descriptor_pb2.DescriptorProto, path: tuple, name: str):
    yield path, f"message {name}"
    for i, field in enumerate(message.field):
        yield (*path, MESSAGE_FIELD, i), f"field {name}.{field.name}"
    # proto3 `optional` fields sit in a synthetic oneof of their own, which has no source text.
    synthetic = {field.oneof_index for field in message.field if field.proto3_optional}
    for i, oneof in enumerate(message.oneof_decl):
        if i not in synthetic:
            yield (*path, MESSAGE_ONEOF, i), f"oneof {name}.{oneof.name}"
    for i, nested in enumerate(message.nested_type):
        if not nested.options.map_entry:
            yield from message_elements(nested, (*path, MESSAGE_NESTED, i), f"{name}.{nested.name}")
    for i, enum in enumerate(message.enum_type):
        yield from enum_elements(enum, (*path, MESSAGE_ENUM, i), f"{name}.{enum.name}")


def enum_elements(enum: descriptor_pb2.EnumDescriptorProto, path: tuple, name: str):
    yield path, f"enum {name}"
    for i, value in enumerate(enum.value):
        yield (*path, ENUM_VALUE, i), f"enum value {value.name}"


def file_elements(file: descriptor_pb2.FileDescriptorProto):
    for i, message in enumerate(file.message_type):
        yield from message_elements(message, (FILE_MESSAGE, i), message.name)
    for i, enum in enumerate(file.enum_type):
        yield from enum_elements(enum, (FILE_ENUM, i), enum.name)
    for i, service in enumerate(file.service):
        yield (FILE_SERVICE, i), f"service {service.name}"
        for j, method in enumerate(service.method):
            yield (FILE_SERVICE, i, SERVICE_METHOD, j), f"rpc {service.name}.{method.name}"


def test_every_rpc_message_field_and_enum_value_has_a_leading_comment(contract_files):
    undocumented = []
    for file in contract_files:
        comments = {tuple(loc.path): loc.leading_comments.strip() for loc in file.source_code_info.location}
        undocumented += [f"{file.name}: {name}" for path, name in file_elements(file) if not comments.get(path)]
    assert not undocumented, "missing leading comments:\n" + "\n".join(undocumented)


def test_the_walk_covers_the_whole_contract(contract_files):
    names = {name for file in contract_files for _, name in file_elements(file)}
    assert "rpc TrainingService.StreamTrainingProgress" in names
    assert "field TrainingJobSpec.learning_rate" in names
    assert "enum value JOB_STATE_CANCELLED" in names
    assert len(names) > 300
