"""A job's resource estimate from its spec: the model's facts, its data's token lengths, the device."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from . import datasets
from .datasets.trained_tokens import template_tokens
from .errors import DroidftError, ErrorKind, Reason
from .estimation import DeviceProfile, Estimate, ModelFactsError, TokenLengths, check_fit, estimate, read_model_facts
from .spec import JobSettings


def _token_lengths(settings: JobSettings) -> TokenLengths | None:
    """Token lengths of the training records as trained, or None (rows of max_seq_length) when the data
    is not there."""
    report = datasets.validate_path(
        settings.train_data_path,
        method=settings.method,
        model_path=settings.model_path,
        max_seq_length=settings.max_seq_length,
        max_issues=1,
    )
    train = [f for f in report.files if f.split in ("", "train") and f.token_statistics and f.record_count]
    if not train:
        return None
    stats = train[0].token_statistics
    lengths = TokenLengths(mean=stats.mean, p95=stats.p95, max=stats.max)
    if settings.sft is None:
        return lengths
    extra = template_tokens(settings.model_path, Path(train[0].path), train[0].format, train[0].record_count)
    return lengths.plus(extra.mean, extra.max)


def estimate_job(settings: JobSettings, device: DeviceProfile) -> Estimate:
    try:
        facts = read_model_facts(Path(settings.model_path))
    except (ModelFactsError, OSError) as error:
        raise DroidftError(
            ErrorKind.FAILED_PRECONDITION,
            Reason.MODEL_UNREADABLE,
            f"spec.model_path: cannot read the model at {settings.model_path!r}: {error}",
            {"field": "spec.model_path", "path": settings.model_path},
        ) from None
    return estimate(settings, facts, token_lengths=_token_lengths(settings), device=device)


def resources_fit(device: Callable[[], DeviceProfile], *, refuse: bool):
    """A preflight check: refuse (RESOURCE_EXHAUSTED) or warn when the predicted peak does not fit."""

    def check(spec, settings: JobSettings) -> list[str]:
        prediction = estimate_job(settings, device())
        fits, message = check_fit(prediction)
        if fits:
            return []
        if refuse:
            raise DroidftError(
                ErrorKind.RESOURCE_EXHAUSTED,
                Reason.INSUFFICIENT_MEMORY,
                message,
                {
                    "peak_memory_bytes": str(prediction.peak_memory_bytes),
                    "available_memory_bytes": str(prediction.available_memory_bytes),
                },
            )
        return [message]

    return check
