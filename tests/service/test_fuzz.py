"""Hostile input: every RPC gets generated requests (extreme numbers, huge repeated fields, odd
strings, random paths, broken model and data files under the roots) and raw garbage bytes, and
never answers UNKNOWN or INTERNAL for a client's mistake; the server stays healthy throughout.

`make test` runs FUZZ_EXAMPLES generated cases per RPC plus as many garbage bodies (over 1,000 in
all); DROIDFT_FUZZ_EXAMPLES=2000 runs the long form (over 20,000), whose count the test prints.
"""

import base64
import json
import os
import shutil

import grpc
import pytest
from fakes import FakeRunner
from fixed_device import device_profile
from google.protobuf import descriptor as descriptors
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from droidft.v1 import service_pb2
from droidft_server.app import DroidftServer, ServerConfig

FUZZ_EXAMPLES = int(os.environ.get("DROIDFT_FUZZ_EXAMPLES", "100"))
SERVICE = service_pb2.DESCRIPTOR.services_by_name["TrainingService"]
CLIENT_MISTAKES_NEVER = {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL}
# A stream that found something to follow runs on; a short deadline ends it as the client's choice.
CALL_SECONDS = 10
CASES: list[str] = []

F = descriptors.FieldDescriptor
INTEGER_RANGES = {
    F.TYPE_INT32: (-(2**31), 2**31 - 1), F.TYPE_SINT32: (-(2**31), 2**31 - 1), F.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    F.TYPE_INT64: (-(2**63), 2**63 - 1), F.TYPE_SINT64: (-(2**63), 2**63 - 1), F.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    F.TYPE_UINT32: (0, 2**32 - 1), F.TYPE_FIXED32: (0, 2**32 - 1),
    F.TYPE_UINT64: (0, 2**64 - 1), F.TYPE_FIXED64: (0, 2**64 - 1),
}  # fmt: skip


@pytest.fixture(scope="module")
def fuzz_tree(tmp_path_factory, tiny_model):
    """Under the roots: the tiny model, models broken in each of their files, and odd data files."""
    root = tmp_path_factory.mktemp("fuzz-root")
    shutil.copytree(tiny_model, root / "model")
    for name, content in {
        "config.json": b"[1, 2",
        "tokenizer.json": b'{"model": 7}',
        "model.safetensors": b"\x08\x00\x00\x00\x00\x00\x00\x00" + b'{"w": {}}',
        "tokenizer_config.json": b'\xff{"chat_template": ',
    }.items():
        broken = root / f"broken-{name.split('.')[0]}"
        shutil.copytree(tiny_model, broken)
        (broken / name).write_bytes(content)
    headerless = root / "no-shape"
    shutil.copytree(tiny_model, headerless)
    header = json.dumps({"model.embed_tokens.weight": {"dtype": "F32", "data_offsets": [0, 4]}}).encode()
    (headerless / "model.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + b"\0" * 4)
    (root / "data").mkdir()
    (root / "data" / "train.jsonl").write_text('{"text": "a"}\n{"text": "b"}\n')
    (root / "data" / "binary.jsonl").write_bytes(bytes(range(256)) * 64)
    (root / "data" / "deep.jsonl").write_text("[" * 100_000 + "\n")
    os.mkfifo(root / "data" / "pipe.jsonl")
    return root


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory, fuzz_tree):
    state = tmp_path_factory.mktemp("fuzz-state")
    config = ServerConfig(
        state_dir=state, listen="127.0.0.1:0", device_profile=device_profile,
        data_roots=[fuzz_tree], model_roots=[fuzz_tree], max_queued_jobs=50,
    )  # fmt: skip
    server = DroidftServer(config, runner=FakeRunner())
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    yield channel
    channel.close()
    server.stop(grace=0)
    print(f"\nfuzzed {len(CASES)} cases")


def _paths(root) -> st.SearchStrategy[str]:
    names = ["model", "broken-config", "broken-tokenizer", "broken-tokenizer_config", "broken-model", "no-shape",
             "data", "data/train.jsonl", "data/binary.jsonl", "data/deep.jsonl", "data/pipe.jsonl",
             "../state/droidft.sqlite3", "/dev/zero",
             "/proc/self/environ", "/etc/passwd", "x" * 300, "a/" * 2000, "", "\x00", "~", "."]  # fmt: skip
    return st.sampled_from(names + [str(root / name) for name in names[:11]]) | st.text(max_size=40)


def _scalar(field: descriptors.FieldDescriptor, root) -> st.SearchStrategy:
    if field.type in INTEGER_RANGES:
        low, high = INTEGER_RANGES[field.type]
        return st.sampled_from([low, high, 0, 1, -1 if low < 0 else 2]) | st.integers(low, high)
    if field.type in (F.TYPE_DOUBLE, F.TYPE_FLOAT):
        return st.floats(allow_nan=True, allow_infinity=True, width=64 if field.type == F.TYPE_DOUBLE else 32)
    if field.type == F.TYPE_BOOL:
        return st.booleans()
    if field.type == F.TYPE_ENUM:
        return st.sampled_from([v.number for v in field.enum_type.values]) | st.integers(-(2**31), 2**31 - 1)
    if field.type == F.TYPE_STRING and field.name == "page_token":
        crafted = [f"{2**70}:job", "-1:x", "9" * 40 + ":", ":", "\xff"]
        return st.sampled_from([base64.urlsafe_b64encode(t.encode()).decode() for t in crafted]) | st.text(max_size=40)
    if field.type == F.TYPE_STRING:
        return _paths(root) if "path" in field.name else st.text(max_size=80) | st.sampled_from(["sft", "grpo", "text"])
    if field.type == F.TYPE_BYTES:
        jsonl = st.lists(st.sampled_from([b'{"text": "x"}', b"{", b'{"messages": []}', b"\xff\xfe", b""]), max_size=20)
        return st.binary(max_size=200) | jsonl.map(b"\n".join)
    raise AssertionError(field.type)


def _values(descriptor: descriptors.Descriptor, root, depth: int) -> st.SearchStrategy[dict]:
    optional = {}
    for field in descriptor.fields:
        if field.type == F.TYPE_MESSAGE:
            entry = field.message_type
            if entry.GetOptions().map_entry:
                key, value = entry.fields_by_name["key"], entry.fields_by_name["value"]
                if value.type == F.TYPE_MESSAGE:
                    continue
                strategy = st.dictionaries(_scalar(key, root), _scalar(value, root), max_size=3)
            elif depth >= 3 or entry.full_name.startswith("google.protobuf."):
                continue
            else:
                strategy = _values(entry, root, depth + 1)
        else:
            strategy = _scalar(field, root)
        if field.is_repeated and not (field.type == F.TYPE_MESSAGE and entry.GetOptions().map_entry):
            strategy = st.lists(strategy, max_size=3) | st.lists(strategy, min_size=500, max_size=600)
        optional[field.name] = strategy
    return st.fixed_dictionaries({}, optional=optional)


def _filled(message, values: dict):
    for name, value in values.items():
        field = message.DESCRIPTOR.fields_by_name[name]
        target = getattr(message, name) if field.type == F.TYPE_MESSAGE or field.is_repeated else None
        if field.type == F.TYPE_MESSAGE and field.message_type.GetOptions().map_entry:
            target.update(value)
        elif field.type == F.TYPE_MESSAGE and field.is_repeated:
            for item in value:
                _filled(target.add(), item)
        elif field.type == F.TYPE_MESSAGE:
            target.SetInParent()
            _filled(target, value)
        elif field.is_repeated:
            target.extend(value)
        else:
            setattr(message, name, value)
    return message


def _call(channel, method: descriptors.MethodDescriptor, body: bytes) -> grpc.StatusCode:
    path = f"/{SERVICE.full_name}/{method.name}"
    CASES.append(path)
    try:
        if method.server_streaming:
            replies = channel.unary_stream(path)(body, timeout=CALL_SECONDS)
            for _ in zip(range(3), replies):
                pass
            replies.cancel()
        else:
            channel.unary_unary(path)(body, timeout=CALL_SECONDS)
    except grpc.RpcError as error:
        return error.code()
    return grpc.StatusCode.OK


def _assert_healthy(channel) -> None:
    health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=30)
    assert health.status == health_pb2.HealthCheckResponse.SERVING


# make test runs the same cases every time (a failure reproduces); the long form explores afresh.
FUZZ = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    database=None,
    derandomize="DROIDFT_FUZZ_EXAMPLES" not in os.environ,
    suppress_health_check=list(HealthCheck),
)


@pytest.mark.parametrize("method", list(SERVICE.methods), ids=lambda method: method.name)
def test_generated_requests_never_answer_unknown_or_internal(fuzzed, fuzz_tree, method):
    request_type = method.input_type._concrete_class

    @FUZZ
    @given(values=_values(method.input_type, fuzz_tree, 0))
    def case(values):
        body = _filled(request_type(), values).SerializeToString()
        assert _call(fuzzed, method, body) not in CLIENT_MISTAKES_NEVER, values

    case()
    _assert_healthy(fuzzed)


def test_garbage_bodies_never_answer_unknown_or_internal(fuzzed):
    @FUZZ
    @given(method=st.sampled_from(list(SERVICE.methods)), body=st.binary(max_size=300))
    def case(method, body):
        assert _call(fuzzed, method, body) not in CLIENT_MISTAKES_NEVER, (method.name, body)

    case()
    _assert_healthy(fuzzed)
