"""Checks of the training options every method shares (optimizer, schedule, accumulation, limits, logging).

A setting the job's other settings leave without effect is refused with the fix; a value outside the
recommended range (spec.RECOMMENDED) is accepted with a warning for the job's log; a metrics logger whose
package is not installed is refused. Runs after data_valid, when an epochs job's iterations are known.
"""

from __future__ import annotations

import importlib.util

from .errors import DroidftError, ErrorKind, FieldViolation, Reason, invalid_argument
from .spec import OPTIMIZER_DEFAULTS, RECOMMENDED, JobSettings, optimizer_steps

# The package each metrics logger needs on the server.
LOGGER_PACKAGES = {"wandb": "wandb", "tensorboard": "tensorboardX"}


def option_violations(spec, settings: JobSettings) -> list[FieldViolation]:
    """Options given that would do nothing, or that the optimizer or schedule cannot take."""
    violations = []
    optimizer, schedule = spec.optimizer, spec.lr_schedule
    kind = settings.optimizer.kind
    for name in ("weight_decay", "momentum"):
        if optimizer.HasField(name) and name not in OPTIMIZER_DEFAULTS[kind]:
            having = " or ".join(k for k, defaults in OPTIMIZER_DEFAULTS.items() if name in defaults)
            violations.append(
                FieldViolation(
                    f"spec.optimizer.{name}",
                    f"the {kind} optimizer has no {name.replace('_', ' ')}: choose {having} as "
                    f"spec.optimizer.kind, or leave {name} unset",
                    f"optimizer.{name}_needs_an_optimizer_with_it",
                )
            )
    lr = settings.lr_schedule
    if schedule.HasField("min_learning_rate"):
        if lr.kind == "constant":
            violations.append(
                FieldViolation(
                    "spec.lr_schedule.min_learning_rate",
                    "is where linear or cosine decay ends, and the schedule is constant: set spec.lr_schedule.kind "
                    "to LINEAR or COSINE, or leave min_learning_rate unset",
                    "lr_schedule.min_learning_rate_needs_a_decay",
                )
            )
        elif lr.min_learning_rate > settings.learning_rate:
            violations.append(
                FieldViolation(
                    "spec.lr_schedule.min_learning_rate",
                    f"is {lr.min_learning_rate:g}, above learning_rate {settings.learning_rate:g}: the schedule "
                    "decays down to it; give at most learning_rate",
                    "lr_schedule.min_learning_rate_within_learning_rate",
                )
            )
    steps = optimizer_steps(settings)
    if lr.warmup_steps and lr.warmup_steps >= steps:
        violations.append(
            FieldViolation(
                "spec.lr_schedule.warmup_steps",
                f"is {lr.warmup_steps} but the job makes {steps} optimizer updates: the learning rate would never "
                f"reach learning_rate; give fewer than {steps} warm-up steps, or train longer",
                "lr_schedule.warmup_within_steps",
            )
        )
    logging = settings.metrics_logging
    if logging is not None and logging.kind == "tensorboard" and spec.metrics_logging.project:
        violations.append(
            FieldViolation(
                "spec.metrics_logging.project",
                "names a Weights & Biases project, and TensorBoard writes into the job's directory: leave it unset",
                "metrics_logging.project_needs_wandb",
            )
        )
    return violations


def recommended_range_warnings(spec, settings: JobSettings) -> list[str]:
    """A warning for each value given outside the design notes' recommended range."""
    warnings = []
    for path, (low, high) in RECOMMENDED.items():
        if not spec.HasField(path):
            continue
        value = getattr(settings, path)
        if not low <= value <= high:
            warnings.append(
                f"{path} is {value:g}, outside the recommended range {low:g} to {high:g}: the job runs, "
                "but watch its loss and memory"
            )
    return warnings


def logger_installed(settings: JobSettings) -> None:
    """A metrics logger runs in the worker; its package must be importable there (the server's environment)."""
    logging = settings.metrics_logging
    if logging is None:
        return
    package = LOGGER_PACKAGES[logging.kind]
    if importlib.util.find_spec(package) is None:
        raise DroidftError(
            ErrorKind.FAILED_PRECONDITION,
            Reason.LOGGER_NOT_INSTALLED,
            f"spec.metrics_logging: {logging.kind} logging needs the {package} package, which is not installed "
            f"on the server: install it (pip install {package}) where the server runs, or leave metrics_logging unset",
            {"field": "spec.metrics_logging.kind", "package": package},
        )


def options_take_effect(job) -> list[str]:
    """The preflight check (a Check of preflight.py): refusals, then the recommended-range warnings."""
    violations = option_violations(job.spec, job.settings)
    if violations:
        raise invalid_argument(violations)
    logger_installed(job.settings)
    return recommended_range_warnings(job.spec, job.settings)
