"""Every reason the server raises is a documented value of the contract's ErrorReason, named through it."""

import ast
from pathlib import Path

from droidft.errors import Reason as ClientReason
from droidft.v1 import errors_pb2

ROOT = Path(__file__).resolve().parents[2]
SERVER = ROOT / "server" / "droidft_server"
TS_GENERATED = ROOT / "clients" / "typescript" / "src" / "gen" / "droidft" / "v1" / "errors_pb.ts"
UNSPECIFIED = "ERROR_REASON_UNSPECIFIED"
REASONS = set(errors_pb2.ErrorReason.keys()) - {UNSPECIFIED}


def _server_trees():
    for path in sorted(SERVER.rglob("*.py")):
        yield path.relative_to(ROOT), ast.parse(path.read_text())


def test_the_server_names_reasons_through_the_enum_never_as_strings():
    literals = [
        f"{path}:{node.lineno} {node.value!r}"
        for path, tree in _server_trees()
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and node.value in REASONS
    ]
    assert literals == []


def test_every_reason_the_server_raises_is_in_the_enum_and_every_value_is_raised():
    used = {
        node.attr
        for _, tree in _server_trees()
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "Reason"
    } - {"Name", "Value"}  # the enum wrapper's own methods
    assert used - REASONS == set(), "reasons raised but not in droidft.v1.ErrorReason"
    assert REASONS - used == set(), "reasons in the contract that nothing raises"


def test_every_reason_is_documented_in_the_contract(contract_files):
    (errors_file,) = [f for f in contract_files if f.name.endswith("/errors.proto")]
    (enum,) = errors_file.enum_type
    enum_index = list(errors_file.enum_type).index(enum)
    comments = {
        tuple(location.path): location.leading_comments.strip() for location in errors_file.source_code_info.location
    }
    # The source path of an enum value: enum_type (field 5 of the file), its index, value (field 2), its index.
    undocumented = [value.name for i, value in enumerate(enum.value) if not comments.get((5, enum_index, 2, i))]
    assert undocumented == []


def test_clients_get_the_reasons_as_constants():
    assert {reason.value for reason in ClientReason} == REASONS
    assert all(ClientReason[name] == name for name in REASONS)
    generated = TS_GENERATED.read_text()
    assert all(f"{name} = {errors_pb2.ErrorReason.Value(name)};" in generated for name in REASONS)
