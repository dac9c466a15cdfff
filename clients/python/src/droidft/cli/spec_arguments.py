"""The job-spec flags shared by `train` and `estimate`: a config file (proto JSON or YAML) with flags laid over it.

The flags are generated from the contract: one for every field of TrainingJobSpec, at any depth (a list takes
one item per repetition, a message item as FIELD=VALUE,... : `--rewards name=exact_answer,weight=2`), named
by the field (`--learning-rate`, `--fine-tune-type`, `--warmup-steps`), by its path where two fields share a
name (`--optimizer-kind`, `--lr-schedule-kind`), and for the method's settings by the field inside the method's
config (`--beta`, `--group-size`), which applies to the job's method. Enum flags take short names (`lora`),
help comes from the .proto comments. A field the contract gains gets its flag without a change here.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from google.protobuf import descriptor, descriptor_pb2

from droidft.cli.arguments import DATA_KEY_HELP, METHOD_METAVAR, data_key_argument, method_argument
from droidft.cli.session import CommandError
from droidft.errors import InvalidSpecError
from droidft.specs import enum_short_names, enum_value_name, training_job_spec, training_message, with_method
from droidft.v1 import job_pb2

_F = descriptor.FieldDescriptor
_SPEC = job_pb2.TrainingJobSpec.DESCRIPTOR
_METHOD_CONFIGS = {field.name: field.message_type for field in _SPEC.oneofs_by_name["method"].fields}
# Fields with a flag of their own below (a job reference is not a scalar; the data keys are a map).
_OWN_FLAGS = {"from_checkpoint", "data_keys"}
# The short names the flags have always had, kept beside the generated ones.
_ALIASES = {
    "model_path": "--model",
    "train_data_path": "--data",
    "val_data_path": "--val-data",
    "iterations": "--iters",
}
REQUIRED_FIELDS = {"--model": "model_path", "--data": "train_data_path"}
_NUMBER_TYPES = {
    _F.TYPE_DOUBLE: float,
    _F.TYPE_FLOAT: float,
    _F.TYPE_UINT32: int,
    _F.TYPE_UINT64: int,
    _F.TYPE_INT32: int,
    _F.TYPE_INT64: int,
}


@dataclass(frozen=True)
class SpecFlag:
    """One generated flag: the field it sets, from the spec or (methods non-empty) from the method's config."""

    flag: str
    path: tuple[str, ...]
    field: descriptor.FieldDescriptor
    methods: tuple[str, ...] = ()  # the methods whose config has the field; empty: a field of the spec itself

    @property
    def dest(self) -> str:
        return "spec_flag__" + self.flag.removeprefix("--").replace("-", "_")


def _scalar_paths(message: descriptor.Descriptor, prefix: tuple[str, ...] = ()):
    """The settable fields at any depth: scalars, and lists (each item one flag value)."""
    for field in message.fields:
        path = (*prefix, field.name)
        if field.type == _F.TYPE_MESSAGE and not field.is_repeated:
            yield from _scalar_paths(field.message_type, path)
        else:
            yield path, field


@lru_cache(maxsize=1)
def spec_flags() -> tuple[SpecFlag, ...]:
    spec_fields = {
        path: field
        for path, field in _scalar_paths(_SPEC)
        if path[0] not in _METHOD_CONFIGS and path[0] not in _OWN_FLAGS
    }
    method_fields: dict[tuple[str, ...], tuple[descriptor.FieldDescriptor, list[str]]] = {}
    for method, config in _METHOD_CONFIGS.items():
        for path, field in _scalar_paths(config):
            method_fields.setdefault(path, (field, []))[1].append(method)
    leaves = Counter(path[-1] for path in [*spec_fields, *method_fields])

    def name(path: tuple[str, ...]) -> str:
        return "--" + "-".join(path[-1:] if leaves[path[-1]] == 1 else path).replace("_", "-")

    flags = [SpecFlag(name(path), path, field) for path, field in spec_fields.items()]
    for path, (field, methods) in method_fields.items():
        flag = name(path)
        if path in spec_fields:  # the same setting inside a method's config (sft.grad_accumulation_steps)
            flag = "--" + "-".join((*methods, *path)).replace("_", "-")
        flags.append(SpecFlag(flag, path, field, tuple(methods)))
    return tuple(flags)


@lru_cache(maxsize=1)
def _comments() -> dict[str, str]:
    """The leading comment of every message field, by the field's full name (the .proto files' docs)."""
    raw = resources.files("droidft.v1").joinpath("descriptor_set.binpb").read_bytes()
    found = {}
    for file in descriptor_pb2.FileDescriptorSet.FromString(raw).file:
        for location in file.source_code_info.location:
            path = list(location.path)
            if len(path) == 4 and path[0] == 4 and path[2] == 2:  # a field of a top-level message
                message = file.message_type[path[1]]
                found[f"{file.package}.{message.name}.{message.field[path[3]].name}"] = " ".join(
                    location.leading_comments.split()
                )
    return found


def _enum_argument(flag: SpecFlag):
    def parse(text: str) -> str:
        try:
            return enum_value_name(flag.field.enum_type, text, flag.flag)
        except InvalidSpecError as error:
            raise argparse.ArgumentTypeError(error.field_violations[0].description) from None

    return parse


def _item_argument(flag: SpecFlag):
    """A list item as FIELD=VALUE pairs ("name=exact_answer,weight=2"), parsed as its message's proto JSON."""
    message_type = flag.field.message_type

    def parse(text: str):
        pairs = [pair.partition("=") for pair in text.split(",") if pair]
        if any(not equals for _, equals, _ in pairs):
            raise argparse.ArgumentTypeError(f"{text!r} is not FIELD=VALUE[,FIELD=VALUE...]")
        try:
            return training_message(message_type, {key.strip(): value.strip() for key, _, value in pairs}, flag.flag)
        except InvalidSpecError as error:
            raise argparse.ArgumentTypeError(str(error.field_violations[0])) from None

    return parse


def _add_flag(group: argparse._ArgumentGroup, flag: SpecFlag) -> None:
    help_text = _comments().get(flag.field.full_name, "").replace("%", "%%")
    if flag.methods:
        help_text = f"[{', '.join(flag.methods)}] {help_text}"
    names = [flag.flag] + ([_ALIASES[flag.path[0]]] if len(flag.path) == 1 and flag.path[0] in _ALIASES else [])
    options: dict[str, Any] = {"dest": flag.dest, "help": help_text}
    field = flag.field
    if field.type == _F.TYPE_MESSAGE:  # a list of messages: the flag is repeated, one item each
        options.update(
            action="append", type=_item_argument(flag), help=f"{help_text} (repeat {flag.flag} for each item)"
        )
        options["metavar"] = ",".join(f"{item.name}=..." for item in field.message_type.fields)
    elif field.type == _F.TYPE_BOOL:
        options["action"] = argparse.BooleanOptionalAction
    elif field.type == _F.TYPE_ENUM:
        options["type"] = _enum_argument(flag)
        options["metavar"] = "{" + ",".join(enum_short_names(field.enum_type)) + "}"
    elif field.type == _F.TYPE_STRING:
        options["metavar"] = "PATH" if field.name.endswith("_path") else "TEXT"
    else:
        options["type"] = _NUMBER_TYPES[field.type]
        options["metavar"] = "X" if options["type"] is float else "N"
    if field.is_repeated and field.type != _F.TYPE_MESSAGE:  # a list of scalars: one item per repetition
        options.update(action="append", help=f"{help_text} (repeat {flag.flag} for each item)")
    group.add_argument(*names, **options)


def add_spec_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        "--spec",
        dest="config",
        type=Path,
        metavar="FILE",
        help="TrainingJobSpec as proto JSON or YAML (.yaml/.yml), short enum names allowed; flags override it",
    )
    parser.add_argument("--method", type=method_argument, metavar=METHOD_METAVAR)
    parser.add_argument(
        "--from-checkpoint",
        type=checkpoint_argument,
        metavar="JOB[:ITERATION]",
        help="start from the weights of another job: its final adapter, or its checkpoint of ITERATION",
    )
    parser.add_argument(
        "--data-key", type=data_key_argument, action="append", default=[], metavar="FIELD=KEY", help=DATA_KEY_HELP
    )
    spec_group = parser.add_argument_group("job spec", "every field of TrainingJobSpec (see `droidft methods`)")
    method_group = parser.add_argument_group("method settings", "fields of the method's config; they apply to --method")
    for flag in spec_flags():
        _add_flag(method_group if flag.methods else spec_group, flag)


def checkpoint_argument(value: str) -> job_pb2.FromCheckpoint:
    job_id, _, iteration = value.partition(":")
    if not job_id or (iteration and not iteration.isdigit()):
        raise argparse.ArgumentTypeError(f"{value!r} is not JOB or JOB:ITERATION")
    return job_pb2.FromCheckpoint(job_id=job_id, iteration=int(iteration or 0))


def read_config(path: Path) -> dict:
    """A config file's mapping: YAML for .yaml and .yml files (needs PyYAML), proto JSON otherwise."""
    text = path.read_text()
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise CommandError("reading a YAML config needs PyYAML: pip install 'droidft[config]'") from None
        loaded = yaml.safe_load(text)
    else:
        loaded = json.loads(text)
    if not isinstance(loaded, dict):
        raise CommandError(f"{path}: a config is a mapping of spec fields, not {type(loaded).__name__}")
    return loaded


def _set(spec: job_pb2.TrainingJobSpec, flag: SpecFlag, value: Any) -> None:
    target: Any = spec
    for part in flag.path[:-1]:
        target = getattr(target, part)
    if flag.field.is_repeated:  # the flag's items replace the config file's
        items = getattr(target, flag.path[-1])
        del items[:]
        items.extend(value)
        return
    if flag.field.type == _F.TYPE_ENUM:
        value = flag.field.enum_type.values_by_name[value].number
    setattr(target, flag.path[-1], value)


def build_spec(args: argparse.Namespace) -> job_pb2.TrainingJobSpec:
    """The config file (if any) with the flags laid over it."""
    spec = training_job_spec(read_config(args.config)) if args.config else job_pb2.TrainingJobSpec()
    if args.from_checkpoint is not None:
        spec.from_checkpoint.CopyFrom(args.from_checkpoint)
    spec.data_keys.fields.update(dict(args.data_key))
    if args.method:
        with_method(spec, args.method)
    method = spec.WhichOneof("method")
    for flag in spec_flags():
        value = getattr(args, flag.dest)
        if value is None:
            continue
        if flag.methods:
            if method not in flag.methods:
                raise CommandError(
                    f"{flag.flag} is a setting of {', '.join(flag.methods)}, and the job's method is "
                    f"{method or 'not set'}: give --method"
                )
            _set(getattr(spec, method), flag, value)
        else:
            _set(spec, flag, value)
    missing = [flag for flag, field in REQUIRED_FIELDS.items() if not getattr(spec, field)]
    if method is None:
        missing.append("--method")
    if missing:
        raise CommandError(f"missing {', '.join(missing)} (give the flag or set it in --config)")
    return spec
