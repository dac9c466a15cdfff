"""Lint the droidft.v1 contract with buf, and check it for breaking changes against an earlier commit.

buf/validate/validate.proto is not a file in the repo (tools/protogen.py takes it from the installed
protovalidate runtime), so buf reads images: FileDescriptorSets with imports and source comments,
built by protoc from grpcio-tools. Works offline; buf comes from the `buf-bin` wheel in .venv.
"""

import argparse
import io
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from protogen import PROTO_DIR, ROOT, write_descriptor_set

BUF = Path(sys.executable).parent / "buf"
CONFIG = ROOT / "buf.yaml"
CONTRACT = "droidft/v1"


@dataclass(frozen=True)
class BufResult:
    returncode: int
    findings: str


def build_image(proto_dir: Path, image: Path) -> None:
    """Compiles every .proto of proto_dir/droidft into an image with imports and source info."""
    with tempfile.TemporaryDirectory() as tmp:
        deps = Path(tmp) / "deps.binpb"
        write_descriptor_set(deps)
        sources = sorted(str(p.relative_to(proto_dir)) for p in (proto_dir / "droidft").rglob("*.proto"))
        subprocess.run(
            [
                sys.executable,
                "-m",
                "grpc_tools.protoc",
                f"--descriptor_set_in={deps}",
                f"-I{proto_dir}",
                "--include_imports",
                "--include_source_info",
                f"--descriptor_set_out={image}",
                *sources,
            ],
            check=True,
        )


def extract_proto_dir(ref: str, dest: Path) -> Path | None:
    """Writes proto/ as it was at a git ref under dest; None when the ref has no contract."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", ref, "proto"], capture_output=True)
    if archive.returncode != 0:
        return None
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(dest, filter="data")
    proto_dir = dest / "proto"
    return proto_dir if (proto_dir / CONTRACT).is_dir() else None


def default_against() -> str:
    """The last tag reachable from HEAD (the released contract), else the previous commit."""
    tag = subprocess.run(["git", "-C", str(ROOT), "describe", "--tags", "--abbrev=0"], capture_output=True, text=True)
    return tag.stdout.strip() if tag.returncode == 0 else "HEAD~1"


def run_buf(*args: str) -> BufResult:
    result = subprocess.run(
        [str(BUF), *args, "--config", str(CONFIG), "--path", CONTRACT], capture_output=True, text=True
    )
    return BufResult(result.returncode, (result.stdout + result.stderr).strip())


def lint(workdir: Path, proto_dir: Path = PROTO_DIR) -> BufResult:
    image = workdir / "lint.binpb"
    build_image(proto_dir, image)
    return run_buf("lint", str(image))


def compare(workdir: Path, current: Path, previous: Path) -> BufResult:
    """buf breaking of the contract in `current` against the one in `previous` (both proto dirs)."""
    current_image, previous_image = workdir / "current.binpb", workdir / "previous.binpb"
    build_image(current, current_image)
    build_image(previous, previous_image)
    return run_buf("breaking", str(current_image), "--against", str(previous_image))


def breaking(workdir: Path, against: str) -> BufResult | None:
    """The working tree's contract against the one at git ref `against`; None when that has none."""
    previous = extract_proto_dir(against, workdir / "previous")
    return None if previous is None else compare(workdir, PROTO_DIR, previous)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("check", choices=["lint", "breaking"])
    parser.add_argument("--against", help="git ref to compare with; default: last tag, else HEAD~1")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.check == "lint":
            result = lint(Path(tmp))
        else:
            against = args.against or default_against()
            result = breaking(Path(tmp), against)
            if result is None:
                print(f"no {CONTRACT} contract at {against}: nothing to compare")
                return
    if result.returncode != 0:
        print(result.findings, file=sys.stderr)
        raise SystemExit(f"buf {args.check} failed")
    print(f"buf {args.check}: no findings")


if __name__ == "__main__":
    main()
