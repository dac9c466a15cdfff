"""A TrainingJobSpec with every default applied: the one place defaults live.

ListTrainingMethods reports these defaults, the worker trains with them and the
estimator predicts with them, so they cannot disagree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from droidft.v1 import data_keys_pb2, distributed_pb2, job_pb2, methods_pb2, options_pb2

from .method_families import ONLINE_METHODS, PAIRWISE_ONLINE_METHODS, POLICY_METHODS, PREFERENCE_METHODS

# Defaults by field path inside TrainingJobSpec (a path names the proto field).
DEFAULTS: dict[str, Any] = {
    "learning_rate": 1e-5,
    "batch_size": 4,
    "max_seq_length": 2048,
    "iterations": 100,
    "patience": 3,
    "report_every": 10,
    "eval_every": 100,
    "eval_batches": 25,
    "checkpoint_every": 100,
    "keep_checkpoints": 0,  # all
    "adapter.rank": 8,
    "adapter.scale": 20.0,
    "adapter.dropout": 0.0,
    "grad_accumulation_steps": 1,
    "sft.grad_accumulation_steps": 1,  # the same setting, given inside sft
    "lr_schedule.warmup_steps": 0,
    "lr_schedule.min_learning_rate": 0.0,
    "metrics_logging.project": "droidft",
    "rollout.group_size": 4,
    "rollout.max_completion_length": 64,
    "rollout.temperature": 0.8,
    "rollout.top_p": 1.0,
    "rollout.num_iterations": 1,
    "grpo.epsilon": 0.2,
    "grpo.beta": 0.0,
    "grpo.reasoning_steps": 3,
    "gspo.epsilon": 3e-4,
    "gspo.epsilon_high": 4e-4,
    "gspo.beta": 0.0,
    "gspo.sparse_ratio": 0.2,
    "dr_grpo.epsilon": 0.2,
    "dr_grpo.beta": 0.0,
    "dr_grpo.domain_adaptation_strength": 1.0,
    "dpo.beta": 0.1,
    "orpo.beta": 0.1,
    "cpo.beta": 0.1,
    "online_dpo.rollout.group_size": 2,  # the pair
    "online_dpo.beta": 0.1,
    "xpo.rollout.group_size": 2,  # one policy and one reference completion
    "xpo.beta": 0.1,
    "xpo.alpha": 1e-5,
    "rlhf.beta": 0.05,
    "ppo.rollout.num_iterations": 2,  # PPO epochs: from the second on, the ratio moves and clipping acts
    "ppo.epsilon": 0.2,
    "ppo.beta": 0.05,
    "ppo.gamma": 1.0,
    "ppo.lam": 0.95,
    "distributed.ranks": 1,
    "distributed.start_timeout_seconds": 120,
    "distributed.remote_port": 32323,  # mlx.launch's first port
}

# Each optimizer's own defaults (weight_decay, momentum); a setting it lacks is refused (preflight).
OPTIMIZER_DEFAULTS: dict[str, dict[str, float]] = {
    "adam": {},
    "adamw": {"weight_decay": 0.01},
    "sgd": {"weight_decay": 0.0, "momentum": 0.0},
    "adafactor": {"weight_decay": 0.0},
    "muon": {"weight_decay": 0.01, "momentum": 0.95},
}

# The design notes' ranges, narrower than what the contract allows: the catalogue lists them as recommended,
# and a job outside them runs with a warning.
RECOMMENDED: dict[str, tuple[float, float]] = {
    "learning_rate": (1e-6, 1e-4),
    "batch_size": (1, 8),
    "max_seq_length": (512, 8192),
}

OPTIMIZERS = {
    options_pb2.OPTIMIZER_KIND_UNSPECIFIED: "adam",
    options_pb2.OPTIMIZER_KIND_ADAM: "adam",
    options_pb2.OPTIMIZER_KIND_ADAMW: "adamw",
    options_pb2.OPTIMIZER_KIND_SGD: "sgd",
    options_pb2.OPTIMIZER_KIND_ADAFACTOR: "adafactor",
    options_pb2.OPTIMIZER_KIND_MUON: "muon",
}

LR_SCHEDULES = {
    options_pb2.LR_SCHEDULE_KIND_UNSPECIFIED: "constant",
    options_pb2.LR_SCHEDULE_KIND_CONSTANT: "constant",
    options_pb2.LR_SCHEDULE_KIND_LINEAR: "linear",
    options_pb2.LR_SCHEDULE_KIND_COSINE: "cosine",
}

METRICS_LOGGERS = {
    options_pb2.METRICS_LOGGER_KIND_UNSPECIFIED: None,
    options_pb2.METRICS_LOGGER_KIND_WANDB: "wandb",
    options_pb2.METRICS_LOGGER_KIND_TENSORBOARD: "tensorboard",
}

FINE_TUNE_TYPES = {
    methods_pb2.FINE_TUNE_TYPE_UNSPECIFIED: "lora",
    methods_pb2.FINE_TUNE_TYPE_LORA: "lora",
    methods_pb2.FINE_TUNE_TYPE_DORA: "dora",
    methods_pb2.FINE_TUNE_TYPE_FULL: "full",
}

DOMAINS = {
    methods_pb2.DOMAIN_UNSPECIFIED: "general",
    methods_pb2.DOMAIN_GENERAL: "general",
    methods_pb2.DOMAIN_MEDICAL: "medical",
    methods_pb2.DOMAIN_SCIENTIFIC: "scientific",
    methods_pb2.DOMAIN_LEGAL: "legal",
    methods_pb2.DOMAIN_TECHNICAL: "technical",
}

EXPERTISE_LEVELS = {
    methods_pb2.EXPERTISE_LEVEL_UNSPECIFIED: "intermediate",
    methods_pb2.EXPERTISE_LEVEL_BEGINNER: "beginner",
    methods_pb2.EXPERTISE_LEVEL_INTERMEDIATE: "intermediate",
    methods_pb2.EXPERTISE_LEVEL_ADVANCED: "advanced",
    methods_pb2.EXPERTISE_LEVEL_EXPERT: "expert",
}

DPO_LOSS_TYPES = {
    methods_pb2.DPO_LOSS_TYPE_UNSPECIFIED: "sigmoid",
    methods_pb2.DPO_LOSS_TYPE_SIGMOID: "sigmoid",
    methods_pb2.DPO_LOSS_TYPE_IPO: "ipo",
    methods_pb2.DPO_LOSS_TYPE_HINGE: "hinge",
}

GRPO_NORMALIZERS = {
    methods_pb2.GRPO_LOSS_NORMALIZER_UNSPECIFIED: "sequence_mean",
    methods_pb2.GRPO_LOSS_NORMALIZER_SEQUENCE_MEAN: "sequence_mean",
    methods_pb2.GRPO_LOSS_NORMALIZER_TOKEN_MEAN: "token_mean",
}

# Oneof field name -> TrainingMethod value, read from the contract: each config field of the spec's
# `method` oneof is named as its TrainingMethod value without the prefix ("dr_grpo", TRAINING_METHOD_DR_GRPO).
METHOD_OF_CONFIG = {
    field.name: methods_pb2.TrainingMethod.Value("TRAINING_METHOD_" + field.name.upper())
    for field in job_pb2.TrainingJobSpec.DESCRIPTOR.oneofs_by_name["method"].fields
}
_CONFIG_OF_METHOD = {method: name for name, method in METHOD_OF_CONFIG.items()}

EARLY_STOP_NEEDS_VALIDATION_DATA = (
    "early_stop needs validation data: set val_data_path or give a directory with valid.jsonl"
)


def config_of_method(method: int) -> str:
    """The oneof field name of a TrainingMethod value ("" for UNSPECIFIED or an unknown value)."""
    return _CONFIG_OF_METHOD.get(method, "")


def _get(message: Any, name: str, path: str) -> Any:
    return getattr(message, name) if message.HasField(name) else DEFAULTS[path]


@dataclass(frozen=True)
class AdapterSettings:
    fine_tune_type: str
    rank: int
    scale: float
    dropout: float
    num_layers: int | None  # None: every block


@dataclass(frozen=True)
class SftSettings:
    mask_prompt: bool
    grad_checkpoint: bool


@dataclass(frozen=True)
class OptimizerSettings:
    kind: str = "adam"  # a key of OPTIMIZER_DEFAULTS
    weight_decay: float | None = None  # None: the optimizer has none
    momentum: float | None = None  # None: the optimizer has none
    max_grad_norm: float | None = None  # None: no clipping


@dataclass(frozen=True)
class ScheduleSettings:
    kind: str = "constant"  # "constant", "linear" or "cosine"
    warmup_steps: int = 0
    min_learning_rate: float = 0.0


@dataclass(frozen=True)
class MetricsLoggingSettings:
    kind: str  # "wandb" or "tensorboard"
    project: str


@dataclass(frozen=True)
class RolloutSettings:
    group_size: int
    max_completion_length: int
    temperature: float
    top_p: float
    num_iterations: int
    rewards: tuple[tuple[str, float], ...]  # (name, weight); empty: the method's default rewards


@dataclass(frozen=True)
class PolicySettings:
    """GRPO, GSPO and Dr. GRPO: the shared knobs plus each method's own."""

    rollout: RolloutSettings
    epsilon: float
    epsilon_high: float
    beta: float
    normalizer: str = "sequence_mean"
    reasoning_steps: int = 3
    multi_step_training: bool = False
    sparse_optimization: bool = False
    sparse_ratio: float = 0.2
    efficiency_threshold: float | None = None
    domain: str = "general"
    expertise_level: str = "intermediate"
    domain_adaptation_strength: float = 1.0


@dataclass(frozen=True)
class OnlineSettings:
    """Online DPO, XPO, RLHF and PPO: what they add to the PolicySettings they share with the GRPO family."""

    alpha: float = 0.0  # XPO's exploration weight
    gamma: float = DEFAULTS["ppo.gamma"]  # PPO's discount
    lam: float = DEFAULTS["ppo.lam"]  # PPO's GAE lambda
    judge_model_path: str | None = None  # pairwise methods: an LLM judge
    reward_model_path: str | None = None  # a sequence-classification reward model

    @property
    def model_paths(self) -> tuple[str, ...]:
        """The judge or reward model the job loads besides the policy and its reference."""
        return tuple(p for p in (self.judge_model_path, self.reward_model_path) if p is not None)


@dataclass(frozen=True)
class PreferenceSettings:
    beta: float
    loss_type: str = "sigmoid"


LOOPBACK_HOST = "127.0.0.1"  # where the ranks of a distributed job listen when spec.distributed.hosts is empty

DISTRIBUTED_BACKENDS = {
    distributed_pb2.DISTRIBUTED_BACKEND_UNSPECIFIED: "ring",
    distributed_pb2.DISTRIBUTED_BACKEND_RING: "ring",
    distributed_pb2.DISTRIBUTED_BACKEND_MPI: "mpi",
}


@dataclass(frozen=True)
class DistributedSettings:
    """How many processes train the job and where they listen (one process: ranks 1)."""

    ranks: int
    hosts: tuple[str, ...]  # one address per rank
    backend: str
    start_timeout_seconds: int
    remote_port: int  # rank r on another machine listens on remote_port + r
    # Ranks on this machine, once the server has looked at the hosts (job_estimate); None: every rank.
    local_ranks: int | None = None

    @property
    def ranks_here(self) -> int:
        return self.ranks if self.local_ranks is None else self.local_ranks


ONE_PROCESS = DistributedSettings(
    ranks=1,
    hosts=(LOOPBACK_HOST,),
    backend="ring",
    start_timeout_seconds=DEFAULTS["distributed.start_timeout_seconds"],
    remote_port=DEFAULTS["distributed.remote_port"],
)


@dataclass(frozen=True)
class JobSettings:
    method: str  # the spec's oneof field name: "sft", "grpo", ...
    model_path: str
    train_data_path: str
    val_data_path: str | None
    learning_rate: float
    batch_size: int
    max_seq_length: int
    iterations: int
    early_stop: bool
    patience: int
    adapter: AdapterSettings
    seed: int
    report_every: int
    eval_every: int
    eval_batches: int
    checkpoint_every: int
    keep_checkpoints: int  # 0: all
    optimizer: OptimizerSettings = OptimizerSettings()
    lr_schedule: ScheduleSettings = ScheduleSettings()
    grad_accumulation_steps: int = 1
    # With epochs, iterations follow from the records the method trains on (resolve's train_records); 0 until known.
    epochs: int | None = None
    metrics_logging: MetricsLoggingSettings | None = None
    sft: SftSettings | None = None
    policy: PolicySettings | None = None
    preference: PreferenceSettings | None = None
    online: OnlineSettings | None = None
    distributed: DistributedSettings = ONE_PROCESS
    data_keys: tuple[tuple[str, str], ...] = ()  # datasets/data_keys.py's DataKeys


def data_keys(keys: data_keys_pb2.DataKeys) -> tuple[tuple[str, str], ...]:
    """The contract's DataKeys as datasets/data_keys.py takes them: (field, key) pairs, sorted."""
    return tuple(sorted(keys.fields.items()))


def method_name(spec: job_pb2.TrainingJobSpec) -> str:
    """The spec's method as its oneof field name ("" when none is set)."""
    return spec.WhichOneof("method") or ""


def _adapter(adapter: methods_pb2.AdapterConfig) -> AdapterSettings:
    return AdapterSettings(
        fine_tune_type=FINE_TUNE_TYPES[adapter.fine_tune_type],
        rank=_get(adapter, "rank", "adapter.rank"),
        scale=_get(adapter, "scale", "adapter.scale"),
        dropout=_get(adapter, "dropout", "adapter.dropout"),
        num_layers=adapter.num_layers if adapter.HasField("num_layers") else None,
    )


def _rollout(name: str, rollout: methods_pb2.RolloutConfig) -> RolloutSettings:
    def default(field: str) -> str:  # a method's own default ("ppo.rollout.num_iterations"), else the family's
        own = f"{name}.rollout.{field}"
        return own if own in DEFAULTS else f"rollout.{field}"

    return RolloutSettings(
        group_size=_get(rollout, "group_size", default("group_size")),
        max_completion_length=_get(rollout, "max_completion_length", default("max_completion_length")),
        temperature=_get(rollout, "temperature", default("temperature")),
        top_p=_get(rollout, "top_p", default("top_p")),
        num_iterations=_get(rollout, "num_iterations", default("num_iterations")),
        rewards=tuple((r.name, r.weight if r.HasField("weight") else 1.0) for r in rollout.rewards),
    )


def _policy(name: str, config: Any) -> PolicySettings:
    fields = config.DESCRIPTOR.fields_by_name
    # Online methods other than PPO clip nothing: their epsilon is GRPO's default, unread.
    epsilon = _get(config, "epsilon", f"{name}.epsilon") if "epsilon" in fields else DEFAULTS["grpo.epsilon"]
    high_default = DEFAULTS.get(f"{name}.epsilon_high", epsilon)
    has_high = "epsilon_high" in fields and config.HasField("epsilon_high")
    common = dict(
        rollout=_rollout(name, config.rollout),
        epsilon=epsilon,
        epsilon_high=config.epsilon_high if has_high else high_default,
        beta=_get(config, "beta", f"{name}.beta"),
    )
    if name == "grpo":
        return PolicySettings(
            **common,
            normalizer=GRPO_NORMALIZERS[config.normalizer],
            reasoning_steps=_get(config, "reasoning_steps", "grpo.reasoning_steps"),
            multi_step_training=config.multi_step_training,
        )
    if name in ONLINE_METHODS:
        return PolicySettings(**common)
    if name == "gspo":
        return PolicySettings(
            **common,
            sparse_optimization=config.sparse_optimization,
            sparse_ratio=_get(config, "sparse_ratio", "gspo.sparse_ratio"),
            efficiency_threshold=config.efficiency_threshold if config.HasField("efficiency_threshold") else None,
        )
    return PolicySettings(
        **common,
        domain=DOMAINS[config.domain],
        expertise_level=EXPERTISE_LEVELS[config.expertise_level],
        domain_adaptation_strength=_get(config, "domain_adaptation_strength", "dr_grpo.domain_adaptation_strength"),
    )


def _optional(message: Any, name: str) -> Any:
    return getattr(message, name) if message.HasField(name) else None


def _online(name: str, config: Any) -> OnlineSettings:
    if name in PAIRWISE_ONLINE_METHODS:
        return OnlineSettings(
            alpha=_get(config, "alpha", "xpo.alpha") if name == "xpo" else 0.0,
            judge_model_path=_optional(config.judge, "judge_model_path"),
            reward_model_path=_optional(config.judge, "reward_model_path"),
        )
    if name == "ppo":
        return OnlineSettings(
            gamma=_get(config, "gamma", "ppo.gamma"),
            lam=_get(config, "lam", "ppo.lam"),
            reward_model_path=_optional(config, "reward_model_path"),
        )
    return OnlineSettings(reward_model_path=_optional(config, "reward_model_path"))


def _preference(name: str, config: Any) -> PreferenceSettings:
    beta = _get(config, "beta", f"{name}.beta")
    if name == "dpo":
        return PreferenceSettings(beta=beta, loss_type=DPO_LOSS_TYPES[config.loss_type])
    return PreferenceSettings(beta=beta)


def iterations_for_epochs(epochs: int, train_records: int, batch_size: int, accumulation: int) -> int:
    """Optimizer steps of `epochs` passes over `train_records` records, batch_size x accumulation per step."""
    return max(1, math.ceil(epochs * train_records / (batch_size * accumulation)))


def with_train_records(settings: JobSettings, train_records: int) -> JobSettings:
    """The settings of an epochs job once its training records are counted (others are returned as they are)."""
    if settings.epochs is None:
        return settings
    iterations = iterations_for_epochs(
        settings.epochs, train_records, settings.batch_size, settings.grad_accumulation_steps
    )
    return replace(settings, iterations=iterations)


def optimizer_steps(settings: JobSettings) -> int:
    """Optimizer updates of the whole run, which the learning-rate schedule spans (the GRPO family updates
    num_iterations times per iteration)."""
    per_iteration = settings.policy.rollout.num_iterations if settings.policy is not None else 1
    return settings.iterations * per_iteration


def _optimizer(spec: job_pb2.TrainingJobSpec) -> OptimizerSettings:
    config = spec.optimizer
    kind = OPTIMIZERS[config.kind]
    defaults = OPTIMIZER_DEFAULTS[kind]

    def setting(name: str) -> float | None:
        return getattr(config, name) if config.HasField(name) else defaults.get(name)

    return OptimizerSettings(
        kind=kind,
        weight_decay=setting("weight_decay"),
        momentum=setting("momentum"),
        max_grad_norm=spec.max_grad_norm if spec.HasField("max_grad_norm") else None,
    )


def _lr_schedule(schedule: options_pb2.LrSchedule) -> ScheduleSettings:
    return ScheduleSettings(
        kind=LR_SCHEDULES[schedule.kind],
        warmup_steps=_get(schedule, "warmup_steps", "lr_schedule.warmup_steps"),
        min_learning_rate=_get(schedule, "min_learning_rate", "lr_schedule.min_learning_rate"),
    )


def _grad_accumulation_steps(spec: job_pb2.TrainingJobSpec) -> int:
    if spec.HasField("grad_accumulation_steps"):
        return spec.grad_accumulation_steps
    if spec.HasField("sft") and spec.sft.HasField("grad_accumulation_steps"):
        return spec.sft.grad_accumulation_steps
    return DEFAULTS["grad_accumulation_steps"]


def _metrics_logging(logging: options_pb2.MetricsLogging) -> MetricsLoggingSettings | None:
    kind = METRICS_LOGGERS[logging.kind]
    if kind is None:
        return None
    return MetricsLoggingSettings(kind=kind, project=logging.project or DEFAULTS["metrics_logging.project"])


def _distributed(config: distributed_pb2.DistributedConfig) -> DistributedSettings:
    ranks = config.ranks or DEFAULTS["distributed.ranks"]
    return DistributedSettings(
        ranks=ranks,
        hosts=tuple(config.hosts) or (LOOPBACK_HOST,) * ranks,
        backend=DISTRIBUTED_BACKENDS[config.backend],
        start_timeout_seconds=_get(config, "start_timeout_seconds", "distributed.start_timeout_seconds"),
        remote_port=_get(config, "remote_port", "distributed.remote_port"),
    )


def resolve(spec: job_pb2.TrainingJobSpec, train_records: int | None = None) -> JobSettings:
    """Apply every default to a (validated) spec. With epochs, iterations need `train_records`, the training
    records the method uses (TrainingData.train_records_used); without them they are 0."""
    name = method_name(spec)
    config = getattr(spec, name) if name else None
    batch_size = _get(spec, "batch_size", "batch_size")
    accumulation = _grad_accumulation_steps(spec)
    epochs = spec.epochs if spec.HasField("epochs") else None
    if epochs is None:
        iterations = _get(spec, "iterations", "iterations")
    else:
        iterations = iterations_for_epochs(epochs, train_records, batch_size, accumulation) if train_records else 0
    settings = dict(
        method=name,
        model_path=spec.model_path,
        train_data_path=spec.train_data_path,
        val_data_path=spec.val_data_path if spec.HasField("val_data_path") else None,
        learning_rate=_get(spec, "learning_rate", "learning_rate"),
        batch_size=batch_size,
        max_seq_length=_get(spec, "max_seq_length", "max_seq_length"),
        iterations=iterations,
        early_stop=spec.early_stop,
        patience=_get(spec, "patience", "patience"),
        adapter=_adapter(spec.adapter),
        seed=spec.seed,
        report_every=_get(spec, "report_every", "report_every"),
        eval_every=_get(spec, "eval_every", "eval_every"),
        eval_batches=_get(spec, "eval_batches", "eval_batches"),
        checkpoint_every=_get(spec, "checkpoint_every", "checkpoint_every"),
        keep_checkpoints=_get(spec, "keep_checkpoints", "keep_checkpoints"),
        optimizer=_optimizer(spec),
        lr_schedule=_lr_schedule(spec.lr_schedule),
        grad_accumulation_steps=accumulation,
        epochs=epochs,
        metrics_logging=_metrics_logging(spec.metrics_logging),
        distributed=_distributed(spec.distributed),
        data_keys=data_keys(spec.data_keys),
    )
    if name == "sft":
        settings["sft"] = SftSettings(
            mask_prompt=config.mask_prompt,
            grad_checkpoint=config.grad_checkpoint,
        )
    elif name in POLICY_METHODS:
        settings["policy"] = _policy(name, config)
    elif name in ONLINE_METHODS:
        settings["policy"] = _policy(name, config)
        settings["online"] = _online(name, config)
    elif name in PREFERENCE_METHODS:
        settings["preference"] = _preference(name, config)
    return JobSettings(**settings)
