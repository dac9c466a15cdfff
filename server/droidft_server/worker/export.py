"""The export worker: fuses a job's adapter into its base model and saves a model directory that plain
`mlx_lm.load` reads (config.json, the tokenizer, safetensors), optionally quantised, de-quantised, or with
a GGUF file. A one-shot process: `python -m droidft_server.worker.export PLAN_JSON`; it reports each step
as a line `PROGRESS_MARKER {"stage": ..., "fraction": ...}` on stdout and exits 0 once every file is written.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

from ..domain.export import GGUF_FILE, ExportPlan
from . import blas
from .process import die_with_the_server

PROGRESS_MARKER = "@droidft-export"
KEPT_SOURCE_FILES = ("generation_config.json",)  # copied from the base model as they are


def _stages(plan: ExportPlan) -> list[str]:
    stages = ["loading", "fusing"]
    stages += ["dequantizing"] if plan.dequantize else []
    stages += ["quantizing"] if plan.quantize_bits else []
    stages += ["saving"]
    stages += ["gguf"] if plan.gguf else []
    return stages


def export(plan: ExportPlan) -> None:
    stages = _stages(plan)

    def report(stage: str) -> None:
        fraction = stages.index(stage) / len(stages)
        print(PROGRESS_MARKER, json.dumps({"stage": stage, "fraction": fraction}), flush=True)

    blas.load(plan.blas_threads)  # before MLX is imported, or it keeps its own BLAS
    from mlx.utils import tree_flatten, tree_unflatten
    from mlx_lm.gguf import convert_to_gguf
    from mlx_lm.utils import dequantize_model, load, quantize_model, save_config, save_model

    report("loading")
    model, tokenizer, config = load(plan.model_path, adapter_path=plan.adapter_dir, return_config=True)
    report("fusing")
    # LoRA and DoRA layers fold their low-rank update into the weight; a fully fine-tuned block already holds it.
    fused = [
        (name, module.fuse(dequantize=plan.dequantize))
        for name, module in model.named_modules()
        if hasattr(module, "fuse")
    ]
    if fused:
        model.update_modules(tree_unflatten(fused))
    if plan.dequantize:
        report("dequantizing")
        model = dequantize_model(model)
        config.pop("quantization", None)
        config.pop("quantization_config", None)
    if plan.quantize_bits:
        report("quantizing")
        model, config = quantize_model(model, config, plan.group_size, plan.quantize_bits)
    report("saving")
    output = Path(plan.output_dir)
    save_model(output, model)
    save_config(config, config_path=output / "config.json")
    tokenizer.save_pretrained(str(output))
    for name in KEPT_SOURCE_FILES:
        source = Path(plan.model_path) / name
        if source.is_file():
            shutil.copy(source, output / name)
    if plan.gguf:
        report("gguf")
        weights = dict(tree_flatten(model.parameters()))
        convert_to_gguf(output, weights, config, str(output / GGUF_FILE))


def _sync(directory: Path) -> None:
    """Every file and the directory on disk before the server renames it into place: after a power cut an
    export is whole or absent, never one with empty files."""
    for path in [*directory.iterdir(), directory]:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


if __name__ == "__main__":
    die_with_the_server()
    plan = ExportPlan.from_json(sys.argv[1])
    export(plan)
    _sync(Path(plan.output_dir))
