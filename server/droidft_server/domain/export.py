"""ExportModel's rules: which adapter, which options go together, where the export goes.

The export itself (fuse, quantise, save, GGUF) runs in a worker process (worker/export.py) that
supervisor/export.py starts; everything it is told has been checked here first, so a refused export
is refused before any process starts or anything is written.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from droidft.v1 import export_pb2, job_pb2

from . import states
from .checkpoints import ADAPTER_CONFIG_FILE, ADAPTER_FILE, checkpoint_dir, file_digest
from .errors import DroidftError, ErrorKind, FieldViolation, Reason, invalid_argument

EXPORTS_DIR = "exports"  # under the job's directory
DEFAULT_GROUP_SIZE = 64
GGUF_FILE = "model.gguf"
# The architectures mlx-lm's GGUF writer converts (mlx_lm/fuse.py checks the same list).
GGUF_MODEL_TYPES = ("llama", "mistral", "mixtral")


@dataclass(frozen=True)
class ExportPlan:
    """What the export worker is told; JSON on its command line."""

    model_path: str
    adapter_dir: str
    output_dir: str  # where the worker writes the model (a temporary directory, renamed once whole)
    quantize_bits: int  # 0: no quantisation
    group_size: int
    dequantize: bool  # de-quantise the base's quantised layers (also before re-quantising)
    gguf: bool
    blas_threads: int = 1

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ExportPlan:
        return cls(**json.loads(text))


# Runs an export (supervisor/export.py): (job_id, job_dir, export_id, plan, is_active) -> progress, then the result.
RunExport = Callable[[str, Path, str, "ExportPlan", Callable[[], bool]], Iterator[export_pb2.ExportModelResponse]]


def _unsupported(why: str, **metadata: str) -> DroidftError:
    return DroidftError(ErrorKind.FAILED_PRECONDITION, Reason.EXPORT_UNSUPPORTED, why, metadata)


def adapter_dir(job: job_pb2.TrainingJob, iteration: int) -> Path:
    """The directory (adapter_config.json, adapters.safetensors) of the job's final adapter or a checkpoint."""
    output_dir = Path(job.output_dir)
    if iteration == 0:
        directory = Path(job.adapter_path).parent if job.adapter_path else output_dir
        why = "it has not finished" if not states.is_terminal(job.state) else "it saved none"
    else:
        directory = checkpoint_dir(output_dir, iteration)
        why = "no checkpoint of that iteration is on the server"
    if not (directory / ADAPTER_FILE).is_file() or not (directory / ADAPTER_CONFIG_FILE).is_file():
        which = "final adapter" if iteration == 0 else f"adapter of iteration {iteration}"
        raise DroidftError(
            ErrorKind.NOT_FOUND,
            Reason.CHECKPOINT_NOT_FOUND,
            f"job {job.job_id} has no {which}: {why}",
            {"job_id": job.job_id, "iteration": str(iteration)},
        )
    return directory


def plan_export(job: job_pb2.TrainingJob, request: export_pb2.ExportModelRequest) -> tuple[str, ExportPlan]:
    """The export's id and what its worker does (output_dir left for the caller to set); or why it cannot be made."""
    bits = request.quantize_bits if request.HasField("quantize_bits") else 0
    if request.HasField("quantize_group_size") and not bits:
        raise invalid_argument(
            [FieldViolation("quantize_group_size", "takes effect only with quantize_bits", "needs_quantize_bits")]
        )
    if bits and request.dequantize:
        raise invalid_argument(
            [
                FieldViolation(
                    "dequantize",
                    "quantize_bits already de-quantises a quantised base before quantising; leave dequantize unset",
                    "exclusive_with_quantize_bits",
                )
            ]
        )
    directory = adapter_dir(job, request.iteration)
    try:
        config = json.loads((Path(job.spec.model_path) / "config.json").read_text())
    except (OSError, ValueError) as error:
        raise DroidftError(
            ErrorKind.FAILED_PRECONDITION,
            Reason.MODEL_UNREADABLE,
            f"the job's base model's config.json cannot be read: {error}",
            {"field": "spec.model_path", "path": job.spec.model_path},
        ) from None
    base_quantized = "quantization" in config or "quantization_config" in config
    model_type = str(config.get("model_type", ""))
    if request.dequantize and not base_quantized:
        raise _unsupported(f"dequantize: the base model {job.spec.model_path} is not quantised", model_type=model_type)
    if request.gguf and model_type not in GGUF_MODEL_TYPES:
        raise _unsupported(
            f"gguf: mlx-lm writes GGUF only for {', '.join(GGUF_MODEL_TYPES)} models, not {model_type!r}",
            model_type=model_type,
        )
    if request.gguf and (bits or (base_quantized and not request.dequantize)):
        raise _unsupported(
            "gguf: mlx-lm writes GGUF of float16 weights only; leave quantize_bits unset (and de-quantise a "
            "quantised base with dequantize)",
            model_type=model_type,
        )
    group_size = request.quantize_group_size if request.HasField("quantize_group_size") else DEFAULT_GROUP_SIZE
    adapter_name = "final" if request.iteration == 0 else f"iteration-{request.iteration:07d}"
    parts = [adapter_name, file_digest(directory / ADAPTER_FILE)[:12]]
    parts += [f"q{bits}g{group_size}"] if bits else []
    parts += ["dequantized"] if request.dequantize else []
    parts += ["gguf"] if request.gguf else []
    plan = ExportPlan(
        model_path=job.spec.model_path,
        adapter_dir=str(directory),
        output_dir="",
        quantize_bits=bits,
        group_size=group_size,
        dequantize=request.dequantize or bool(bits and base_quantized),
        gguf=request.gguf,
    )
    return "-".join(parts), plan
