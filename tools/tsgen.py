"""Generate the TypeScript code of proto/ into clients/typescript/src/gen, or check that it has not drifted.

Runs protoc from grpcio-tools with protoc-gen-es from the client's node_modules, over the same
descriptor set as tools/protogen.py (buf/validate from the installed protovalidate runtime), plus
google/rpc/error_details.proto so the client can decode ErrorInfo and BadRequest details.
"""

import filecmp
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from google.protobuf import descriptor_pb2
from google.rpc import error_details_pb2
from protogen import PROTO_DIR, ROOT, VALIDATE_PROTO, generate_or_check, write_descriptor_set

CLIENT_DIR = ROOT / "clients" / "typescript"
OUT_DIR = CLIENT_DIR / "src" / "gen"
PLUGIN = CLIENT_DIR / "node_modules" / ".bin" / "protoc-gen-es"
ERROR_DETAILS_PROTO = "google/rpc/error_details.proto"


def write_client_descriptor_set(path: Path) -> None:
    write_descriptor_set(path)
    descriptor_set = descriptor_pb2.FileDescriptorSet.FromString(path.read_bytes())
    error_details_pb2.DESCRIPTOR.CopyToProto(descriptor_set.file.add())
    path.write_bytes(descriptor_set.SerializeToString())


def generate(out_dir: Path) -> None:
    if not PLUGIN.exists():
        raise SystemExit(f"{PLUGIN} is missing: run `npm ci` in {CLIENT_DIR}")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        descriptor_set = Path(tmp) / "deps.binpb"
        write_client_descriptor_set(descriptor_set)
        sources = sorted(str(p.relative_to(PROTO_DIR)) for p in (PROTO_DIR / "droidft").rglob("*.proto"))
        subprocess.run(
            [
                sys.executable,
                "-m",
                "grpc_tools.protoc",
                f"--descriptor_set_in={descriptor_set}",
                f"-I{PROTO_DIR}",
                f"--plugin=protoc-gen-es={PLUGIN}",
                f"--es_out={out_dir}",
                "--es_opt=target=ts,import_extension=js",
                *sources,
                VALIDATE_PROTO,
                ERROR_DETAILS_PROTO,
            ],
            check=True,
        )


def drifted(expected_root: Path, actual_root: Path) -> list[str]:
    names = {p.relative_to(expected_root) for p in expected_root.rglob("*.ts")}
    names |= {p.relative_to(actual_root) for p in actual_root.rglob("*.ts")}
    return sorted(
        str(name)
        for name in names
        if not (
            (expected_root / name).exists()
            and (actual_root / name).exists()
            and filecmp.cmp(expected_root / name, actual_root / name, shallow=False)
        )
    )


def main() -> None:
    generate_or_check(
        description=__doc__,
        out_dir=OUT_DIR,
        generate=generate,
        drifted=drifted,
        clean=lambda: shutil.rmtree(OUT_DIR, ignore_errors=True),
        label="TypeScript code",
        make_target="ts-proto",
    )


if __name__ == "__main__":
    main()
