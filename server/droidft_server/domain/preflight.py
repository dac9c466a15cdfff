"""Checks a job must pass before it is accepted: everything that would otherwise fail in the worker.

Each check raises DroidftError (with the field path and the fix) or returns warnings for the
job's log. The data is read once (job_data.check_job_data, in data_valid): its one report serves
validity, the records each method keeps, the plan kept with the job (TrainingJob.data) and the
memory estimate's token lengths (resources_fit).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from droidft.v1 import job_pb2

from . import datasets, rewards
from .datasets.progress import ProgressCallback
from .datasets.refusal import VIOLATIONS_LISTED, data_errors
from .datasets.report import FileReport
from .datasets.tokens import tokenizers_loaded_once
from .datasets.trained_tokens import NO_CHAT_TEMPLATE, read_chat_template, template_error
from .datasets.training_data import data_files
from .distributed import check_distributed
from .errors import DroidftError, ErrorKind, FieldViolation, Reason, invalid_argument
from .estimation import DeviceProfile, check_fit
from .job_data import JobDataCheck, check_job_data
from .job_estimate import estimate_job
from .model_check import BuildCheck, ModelUnloadable, check_loadable, unloadable
from .online_models import is_reward_model, online_model_paths
from .prompts import SystemPrompts, policy_system_prompts
from .record_selection import kept_domain
from .spec import EARLY_STOP_NEEDS_VALIDATION_DATA, JobSettings, resolve


@dataclass
class Candidate:
    """A job under its checks: its spec, its settings, and its data once data_valid has read it."""

    spec: job_pb2.TrainingJobSpec
    settings: JobSettings
    data: JobDataCheck | None = None
    # Told as the data is read; it raises to stop the work (the caller of a create that went away).
    on_progress: ProgressCallback | None = None


@dataclass(frozen=True)
class Accepted:
    """What the checks of an accepted job leave: warnings for its log, and its data plan."""

    warnings: list[str]
    data: job_pb2.TrainingData | None  # None: no check read the data


# A check raises DroidftError or returns warnings for the job's log.
Check = Callable[[Candidate], list[str]]
# SFT formats with a prompt to mask (mask_prompt trains on the completion or assistant turns only).
MASKABLE_FORMATS = ("chat_messages", "sharegpt", "instruction_response")


def _missing(field: str, path: str, what: str, reason: int) -> DroidftError:
    return DroidftError(
        ErrorKind.FAILED_PRECONDITION,
        reason,
        f"{field}: {what} {path!r} not found on the server",
        {"field": field, "path": path},
    )


def _violation(field: str, message: str, rule: str) -> DroidftError:
    return invalid_argument([FieldViolation(field, message, rule)])


def model_loadable(builds: BuildCheck) -> Check:
    """A check: the model directory exists and the installed mlx-lm can load it (builds: see model_check);
    adapter.num_layers fits it."""

    def check(job: Candidate) -> list[str]:
        settings = job.settings
        model_dir = Path(settings.model_path)
        if not (model_dir / "config.json").is_file():
            raise _missing(
                "spec.model_path", settings.model_path, "model directory (with config.json)", Reason.MODEL_NOT_FOUND
            )
        try:
            facts = check_loadable(model_dir, builds)
        except ModelUnloadable as error:
            raise unloadable("spec.model_path", settings.model_path, error) from None
        layers = settings.adapter.num_layers
        if layers is not None and layers > facts.num_layers:
            raise _violation(
                "spec.adapter.num_layers",
                f"is {layers} but the model has {facts.num_layers} blocks: give at most {facts.num_layers}",
                "adapter.num_layers_within_model",
            )
        return []

    return check


def distributed_runs(*, can_launch_remote: bool) -> Check:
    """A check: spec.distributed asks for what this server trains distributed, with a batch the ranks can share
    and addresses it can start ranks on (another machine's only with a rank launcher)."""

    def check(job: Candidate) -> list[str]:
        config = job.spec.distributed
        check_distributed(
            job.settings,
            has_start_timeout=config.HasField("start_timeout_seconds"),
            has_remote_port=config.HasField("remote_port"),
            hosts_given=len(config.hosts),
            can_launch_remote=can_launch_remote,
        )
        return []

    return check


def data_exists(job: Candidate) -> list[str]:
    settings = job.settings
    files = data_files(settings.train_data_path, settings.val_data_path)
    if files.train is None or not files.train.is_file():
        raise _missing(
            "spec.train_data_path",
            settings.train_data_path,
            "training data (a JSON Lines, JSON array, CSV or Parquet file, or a directory with train.jsonl, "
            "train.json, train.csv or train.parquet)",
            Reason.DATASET_NOT_FOUND,
        )
    if settings.val_data_path is not None and not Path(settings.val_data_path).is_file():
        raise _missing("spec.val_data_path", settings.val_data_path, "validation data", Reason.DATASET_NOT_FOUND)
    if settings.early_stop and files.valid is None:
        raise _violation("spec.early_stop", EARLY_STOP_NEEDS_VALIDATION_DATA, "spec.early_stop_needs_validation_data")
    return []


def data_valid(job: Candidate) -> list[str]:
    """Every record of the training (and validation) data, checked for the job's method before it runs,
    then what the trainer needs of the data set as a whole: the one read of the data (the module's docstring)."""
    settings = job.settings
    job.data = data = check_job_data(settings, max_issues=VIOLATIONS_LISTED, on_progress=job.on_progress)
    if not data.report.valid:
        raise data_errors(data.report)
    # With epochs, the iterations follow from the records the method uses: the checks after this one see them.
    job.settings = settings = resolve(job.spec, data.records_used(data.train))
    files = [("spec.train_data_path", data.train)] + ([("spec.val_data_path", data.valid)] if data.valid else [])
    for field, file in files:
        _enough_records(field, file, data.records_used(file), settings)
    data_format = data.train.format
    if settings.sft is not None and settings.sft.mask_prompt and data_format not in MASKABLE_FORMATS:
        raise _violation(
            "spec.sft.mask_prompt",
            f"{data_format} data has no prompt to mask: turn mask_prompt off, or give "
            f"{' or '.join(MASKABLE_FORMATS)} data",
            "sft.mask_prompt_needs_a_prompt",
        )
    return [
        f"{file.path}: {count} record(s) with {code}"
        for _, file in files
        for code, count in sorted(file.issue_counts.items())
    ]


def _enough_records(field: str, file: FileReport, used: int, settings: JobSettings) -> None:
    """A batch needs batch_size records of those the method trains on (Dr. GRPO: of its domain)."""
    if used >= settings.batch_size:
        return
    what = field.removeprefix("spec.")
    domain = kept_domain(settings)
    if domain is not None and used < file.record_count:
        raise _violation(
            "spec.dr_grpo.domain",
            f"is {domain} but {what} holds {used} record(s) of that domain (or of none) among "
            f"{file.record_count}, fewer than batch_size {settings.batch_size}: choose the domain of the "
            f'records, "general" for every domain, lower batch_size to at most {used}, or add {domain} records',
            "dr_grpo.domain_records_within_data",
        )
    raise _violation(
        "spec.batch_size",
        f"is {settings.batch_size} but {what} holds {used} record(s): "
        f"a batch needs that many; lower batch_size to at most {used} or add records",
        "batch_size_within_data",
    )


def rewards_known(job: Candidate) -> list[str]:
    settings = job.settings
    if settings.policy is None:
        return []
    known = rewards.REWARDS
    unknown = [
        FieldViolation(
            f"spec.{settings.method}.rollout.rewards[{index}].name",
            f"no reward function {name!r}; this server has: {', '.join(sorted(known))}",
            "reward.registered",
        )
        for index, (name, _) in enumerate(settings.policy.rollout.rewards)
        if name not in known
    ]
    if unknown:
        raise invalid_argument(unknown)
    return []


def chat_template_renders(job: Candidate) -> list[str]:
    """The chat templates render what the job sends through them, tried on the data check's sample: SFT's and the
    preference methods' conversations; the GRPO family's and the online methods' prompts, with the system prompt
    the method adds (prompts.SystemPrompts); and a reward model's scored conversations. Without it the worker
    failed at its first batch (a template without a system role, say, given one). Runs after data_valid and
    rewards_known."""
    settings, train = job.settings, job.data.train if job.data is not None else None
    if train is None:
        return []
    if settings.sft is not None or settings.preference is not None:
        error = template_error(settings.model_path, train.format, train.sample)
    elif settings.policy is not None:
        error = _prompts_error(settings, train.format, train.sample)
    else:
        return []
    if error is not None:
        raise _violation(
            "spec.model_path",
            f"{error}, and {settings.method} renders what it trains on through it: give a model whose template "
            "renders this data, or data it renders",
            "model.chat_template_renders",
        )
    for field, path in online_model_paths(settings):
        if is_reward_model(field) and (error := _scored_error(path, train.format, train.sample)) is not None:
            raise _violation(
                field,
                f"{error}: the reward model reads each prompt and completion through it; give a reward model "
                "whose template renders this data, or data it renders",
                "reward_model.chat_template_renders",
            )
    return []


def _prompt_examples(format_name: str, sample) -> list[dict]:
    data_format = datasets.get_format(format_name)
    return [data_format.to_example(record) for record in sample]


def _prompts_error(settings: JobSettings, format_name: str, sample) -> str | None:
    template = read_chat_template(settings.model_path)
    if template is None:
        return NO_CHAT_TEMPLATE
    policy = settings.policy
    if settings.online is not None:
        system_prompts = SystemPrompts()  # each record's own
    else:
        chosen = rewards.select_rewards(
            settings.method, policy.rollout.rewards, multi_step_training=policy.multi_step_training
        )
        system_prompts = policy_system_prompts(settings.method, policy, chosen)
    conversations = [
        (system_prompts.messages(ex["prompt"], ex.get("system")), None) for ex in _prompt_examples(format_name, sample)
    ]
    if (error := template.failure(conversations, add_generation_prompt=True)) is not None:
        return f"has a chat template that fails on the prompts it samples from ({error})"
    return None


def _scored_error(model_path: str, format_name: str, sample) -> str | None:
    template = read_chat_template(model_path)
    if template is None:
        return None  # check_reward_model refuses it
    conversations = [
        (
            [*SystemPrompts().messages(ex["prompt"], ex.get("system")), {"role": "assistant", "content": ex["answer"]}],
            None,
        )
        for ex in _prompt_examples(format_name, sample)
    ]
    if (error := template.failure(conversations)) is not None:
        return f"has a chat template that fails on a prompt and its completion ({error})"
    return None


def settings_take_effect(job: Candidate) -> list[str]:
    """A policy method's setting that the job's other settings or its data would leave without effect is refused:
    accepted and ignored, it would look as if it trained something. Runs after data_valid and rewards_known."""
    spec, settings = job.spec, job.settings
    policy = settings.policy
    if policy is None:
        return []
    chosen = rewards.select_rewards(
        settings.method, policy.rollout.rewards, multi_step_training=policy.multi_step_training
    )
    violations = [
        *_adaptation_strength_without_adapter(spec, settings),
        *_setting_without_its_reward(spec, chosen, "grpo.reasoning_steps", lambda r: r.reads_reasoning_steps),
        *_setting_without_its_reward(spec, chosen, "gspo.efficiency_threshold", lambda r: r.correctness),
        *_rewards_without_reference_steps(settings, chosen, job.data.train.format),
        *_rewards_that_cannot_rank(settings, chosen),
    ]
    if violations:
        raise invalid_argument(violations)
    return []


def _adaptation_strength_without_adapter(spec: job_pb2.TrainingJobSpec, settings: JobSettings) -> list[FieldViolation]:
    if not (spec.HasField("dr_grpo") and spec.dr_grpo.HasField("domain_adaptation_strength")):
        return []
    if settings.adapter.fine_tune_type != "full":
        return []
    return [
        FieldViolation(
            "spec.dr_grpo.domain_adaptation_strength",
            "multiplies the LoRA or DoRA adapter's scale, and full fine-tuning has no adapter: leave it unset, "
            "or set spec.adapter.fine_tune_type to LORA or DORA",
            "dr_grpo.domain_adaptation_strength_needs_an_adapter",
        )
    ]


def _setting_without_its_reward(
    spec: job_pb2.TrainingJobSpec,
    chosen: list[rewards.WeightedReward],
    setting: str,
    acts_on: Callable[[rewards.RewardFunction], bool],
) -> list[FieldViolation]:
    """A policy setting ("<method>.<field>") that only some rewards act on, set with none of them among the job's
    rewards, would have no effect (GRPO's reasoning_steps is read by step_format only; GSPO's efficiency_threshold
    gates the correctness rewards only)."""
    method, name = setting.split(".")
    if not (spec.HasField(method) and getattr(spec, method).HasField(name)):
        return []
    if any(acts_on(item.reward) for item in chosen):
        return []
    those = " or ".join(sorted(r.name for r in rewards.REWARDS.values() if acts_on(r)))
    return [
        FieldViolation(
            f"spec.{setting}",
            f"acts only on {those}, and the job's rewards are {', '.join(item.reward.name for item in chosen)}: "
            f"add {those} to spec.{method}.rollout.rewards, or leave {name} unset",
            f"{setting}_needs_its_reward",
        )
    ]


def _rewards_without_reference_steps(
    settings: JobSettings, chosen: list[rewards.WeightedReward], format_name: str
) -> list[FieldViolation]:
    """Rewards that score against the records' reference steps, on data whose format has none, would always be 0."""
    needing = [item.reward.name for item in chosen if item.reward.needs_reference_steps]
    if not needing:
        return []
    data_format = datasets.get_format(format_name)
    if data_format.reference_steps:
        return []
    with_steps = " or ".join(
        f.name for f in datasets.FORMATS.values() if f.reference_steps and settings.method in f.methods
    )
    requested = [name for name, _ in settings.policy.rollout.rewards]
    violations = []
    for name in needing:
        if name in requested:
            field = f"spec.{settings.method}.rollout.rewards[{requested.index(name)}].name"
            what, fix = name, f"remove {name}"
        else:
            field, what, fix = "spec.grpo.multi_step_training", f"adds {name}, which", "turn multi_step_training off"
        violations.append(
            FieldViolation(
                field,
                f"{what} scores completions against the records' reference steps, and {data_format.name} data has "
                f"none (it would always score 0): give {with_steps} data, or {fix}",
                "reward.needs_reference_steps",
            )
        )
    return violations


def _rewards_that_cannot_rank(settings: JobSettings, chosen: list[rewards.WeightedReward]) -> list[FieldViolation]:
    """A reward named twice (its scores were counted twice, and broke a distributed job's gathering), or rewards all
    weighted 0 (every completion scores 0: nothing to learn), when the rewards are the job's scorer."""
    field = f"spec.{settings.method}.rollout.rewards"
    names = [name for name, _ in settings.policy.rollout.rewards]
    violations = []
    if twice := sorted({name for name in names if names.count(name) > 1}):
        violations.append(
            FieldViolation(
                field,
                f"names {', '.join(twice)} more than once: give each reward once, with its weight",
                "rewards.unique",
            )
        )
    if chosen and not online_model_paths(settings) and all(item.weight == 0 for item in chosen):
        violations.append(
            FieldViolation(
                field,
                "weighs every reward 0: every completion would score 0 and nothing would be learned; give one a weight",
                "rewards.some_weight",
            )
        )
    return violations


def resources_fit(device: Callable[[], DeviceProfile], *, refuse: bool) -> Check:
    """A check: refuse (RESOURCE_EXHAUSTED) or warn when the predicted peak does not fit; it estimates
    with the token lengths data_valid measured (a check after it)."""

    def check(job: Candidate) -> list[str]:
        prediction = estimate_job(job.settings, device(), job.data)
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


def run_checks(checks: list[Check]) -> Callable[..., Accepted]:
    def preflight(spec: job_pb2.TrainingJobSpec, on_progress: ProgressCallback | None = None) -> Accepted:
        job = Candidate(spec, resolve(spec), on_progress=on_progress)
        with tokenizers_loaded_once():
            warnings = [warning for check in checks for warning in check(job)]
            return Accepted(warnings, job.data.plan() if job.data is not None else None)

    return preflight
