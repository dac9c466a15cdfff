"""Generate the Python code of proto/ into the client package, or check that it has not drifted.

buf/validate/validate.proto is taken from the installed protovalidate runtime (its serialized
descriptor), so the rules compile against exactly the version that enforces them.
"""

import argparse
import ast
import filecmp
import subprocess
import sys
import tempfile
from pathlib import Path

from google.protobuf import descriptor_pb2, duration_pb2, field_mask_pb2, timestamp_pb2

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "proto"
OUT_DIR = ROOT / "clients" / "python" / "src"
VALIDATE_PROTO = "buf/validate/validate.proto"
GENERATED_DIRS = ("droidft/v1", "buf/validate")
# The contract with its comments, read at run time: the comments are the parameter descriptions
# that ListTrainingMethods shows, so the .proto files stay their only source.
DESCRIPTOR_SET = "droidft/v1/descriptor_set.binpb"


def validate_descriptor() -> descriptor_pb2.FileDescriptorProto:
    import protovalidate

    module_path = Path(protovalidate.__file__).parent / "_gen" / "buf" / "validate" / "validate_pb.py"
    tree = ast.parse(module_path.read_text())
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, bytes)
            and node.value.startswith(b"\n\x1b" + VALIDATE_PROTO.encode())
        ):
            return descriptor_pb2.FileDescriptorProto.FromString(node.value)
    raise SystemExit(f"no serialized {VALIDATE_PROTO} found in {module_path}")


def write_descriptor_set(path: Path) -> None:
    descriptor_set = descriptor_pb2.FileDescriptorSet()
    for module in (descriptor_pb2, duration_pb2, field_mask_pb2, timestamp_pb2):
        module.DESCRIPTOR.CopyToProto(descriptor_set.file.add())
    descriptor_set.file.append(validate_descriptor())
    path.write_bytes(descriptor_set.SerializeToString())


def generate(out_dir: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        descriptor_set = Path(tmp) / "deps.binpb"
        write_descriptor_set(descriptor_set)
        sources = sorted(str(p.relative_to(PROTO_DIR)) for p in (PROTO_DIR / "droidft").rglob("*.proto"))
        common = [sys.executable, "-m", "grpc_tools.protoc", f"--descriptor_set_in={descriptor_set}", f"-I{PROTO_DIR}"]
        subprocess.run(
            [*common, f"--python_out={out_dir}", f"--pyi_out={out_dir}", f"--grpc_python_out={out_dir}", *sources],
            check=True,
        )
        subprocess.run(
            [*common, f"--descriptor_set_out={out_dir / DESCRIPTOR_SET}", "--include_source_info", *sources],
            check=True,
        )
        subprocess.run([*common, f"--python_out={out_dir}", f"--pyi_out={out_dir}", VALIDATE_PROTO], check=True)
    for stub in (out_dir / "droidft" / "v1").glob("*_pb2_grpc.py"):
        if "class " not in stub.read_text():
            stub.unlink()
    for package in GENERATED_DIRS:
        for level in range(len(Path(package).parts)):
            init = out_dir.joinpath(*Path(package).parts[: level + 1], "__init__.py")
            if not init.exists():
                init.write_text("")


def drifted(expected_root: Path, actual_root: Path) -> list[str]:
    problems = []
    for package in GENERATED_DIRS:
        expected, actual = expected_root / package, actual_root / package
        names = {p.name for p in expected.glob("*.py*")} | {p.name for p in actual.glob("*.py*")}
        names |= {p.name for p in expected.glob("*.binpb")} | {p.name for p in actual.glob("*.binpb")}
        for name in sorted(names):
            if name == "__init__.py":
                continue
            a, b = expected / name, actual / name
            if not (a.exists() and b.exists() and filecmp.cmp(a, b, shallow=False)):
                problems.append(f"{package}/{name}")
    return problems


def generate_or_check(
    *, description: str, out_dir: Path, generate, drifted, clean, label: str, make_target: str
) -> None:
    """The command line of a code generator: regenerate into out_dir, or with --check fail on drift."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--check", action="store_true", help="fail if the committed code differs from proto/")
    args = parser.parse_args()
    if not args.check:
        clean()
        generate(out_dir)
        return
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp)
        generate(fresh)
        problems = drifted(fresh, out_dir)
    if problems:
        print(f"{label} differs from proto/ (run `make {make_target}`):", *problems, sep="\n  ", file=sys.stderr)
        raise SystemExit(1)
    print(f"{label} matches proto/")


def remove_generated() -> None:
    for package in GENERATED_DIRS:
        for stale in [*(OUT_DIR / package).glob("*_pb2*.py*"), *(OUT_DIR / package).glob("*.binpb")]:
            stale.unlink()


def main() -> None:
    generate_or_check(
        description=__doc__,
        out_dir=OUT_DIR,
        generate=generate,
        drifted=drifted,
        clean=remove_generated,
        label="generated code",
        make_target="proto",
    )


if __name__ == "__main__":
    main()
