"""`droidft upload`, `droidft download`, `droidft export` and `droidft files list|delete`."""

from __future__ import annotations

import argparse
from pathlib import Path

from droidft.cli.render import format_bytes, format_table, message_json, messages_json
from droidft.cli.session import Session


def register(subparsers) -> None:
    upload = subparsers.add_parser(
        "upload", help="upload a local data file to the server (resumes an interrupted upload of it)"
    )
    upload.add_argument("path", type=Path, metavar="FILE")
    upload.add_argument("--name", default="", help="the name the server keeps (default: the file's name)")
    upload.add_argument("--json", action="store_true")
    upload.set_defaults(handler=upload_file)

    download = subparsers.add_parser(
        "download", help="download a file of a job (adapter, checkpoint, export, worker.log, events.jsonl)"
    )
    download.add_argument("job_id", metavar="JOB")
    download.add_argument("path", metavar="PATH", help="relative to the job's directory, e.g. adapters.safetensors")
    download.add_argument("--output", "-o", type=Path, help="local file to write (default: PATH's name, here)")
    download.set_defaults(handler=download_file)

    export = subparsers.add_parser("export", help="fuse a job's adapter into a full model; optionally download it")
    export.add_argument("job_id", metavar="JOB")
    export.add_argument("--iteration", type=int, default=0, help="the checkpoint of this iteration (default: final)")
    export.add_argument("--quantize", type=int, choices=(4, 8), metavar="BITS", help="quantise to 4 or 8 bits")
    export.add_argument("--group-size", type=int, choices=(32, 64, 128), help="weights per quantisation group")
    export.add_argument("--dequantize", action="store_true", help="de-quantise a quantised base model")
    export.add_argument("--gguf", action="store_true", help="also write model.gguf (llama, mistral, mixtral)")
    export.add_argument("--output", "-o", type=Path, help="download the model into this local directory")
    export.add_argument("--json", action="store_true")
    export.set_defaults(handler=export_model)

    files = subparsers.add_parser("files", help="list and delete uploaded files")
    commands = files.add_subparsers(dest="files_command", required=True, metavar="COMMAND")
    listing = commands.add_parser("list", help="list uploaded files, oldest first")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=list_files)
    delete = commands.add_parser("delete", help="delete an uploaded file")
    delete.add_argument("file_id", metavar="FILE_ID")
    delete.set_defaults(handler=delete_file)


def upload_file(args: argparse.Namespace, session: Session) -> int:
    uploaded = session.client.upload_file(args.path, name=args.name)
    if args.json:
        session.print(message_json(uploaded))
    else:
        session.print(f"Uploaded {uploaded.name} ({format_bytes(uploaded.size_bytes)}, sha256 {uploaded.sha256}).")
        session.print(f"Use it as data: {uploaded.data_path}")
    return 0


def download_file(args: argparse.Namespace, session: Session) -> int:
    destination = args.output or Path(Path(args.path).name)
    written = session.client.download(args.job_id, args.path, destination)
    session.print(f"Wrote {written} ({format_bytes(written.stat().st_size)}, checksum verified).")
    return 0


def export_model(args: argparse.Namespace, session: Session) -> int:
    def show(progress) -> None:
        if not args.json:
            session.print(f"{progress.fraction:4.0%} {progress.stage}")

    exported = session.client.job(args.job_id).export(
        args.output,
        on_progress=show,
        iteration=args.iteration,
        quantize_bits=args.quantize,
        quantize_group_size=args.group_size,
        dequantize=args.dequantize,
        gguf=args.gguf,
    )
    if args.json:
        session.print(message_json(exported))
        return 0
    reused = " (made earlier)" if exported.reused else ""
    session.print(f"Exported {exported.export_id}{reused}: {exported.path} on the server, {len(exported.files)} files.")
    if args.output is not None:
        session.print(f"Downloaded into {args.output}; load it with mlx_lm.load({str(args.output)!r}).")
    return 0


def list_files(args: argparse.Namespace, session: Session) -> int:
    files = list(session.client.list_files().files)
    if args.json:
        session.print(messages_json(files))
        return 0
    rows = [(f.file_id, f.name, format_bytes(f.size_bytes), f.create_time.ToJsonString(), f.data_path) for f in files]
    session.print(format_table(["FILE_ID", "NAME", "SIZE", "CREATED", "DATA PATH"], rows))
    return 0


def delete_file(args: argparse.Namespace, session: Session) -> int:
    freed = session.client.delete_file(args.file_id).bytes_freed
    session.print(f"Deleted {args.file_id} ({format_bytes(freed)} freed).")
    return 0
