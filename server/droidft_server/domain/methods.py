"""The method catalogue that ListTrainingMethods serves.

Parameter ranges come from the protovalidate rules and descriptions from the comments of the
.proto files (shipped as a descriptor set with source info), defaults from domain.spec: each fact
has one source.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from buf.validate import validate_pb2
from google.protobuf import descriptor, descriptor_pb2

from droidft.v1 import job_pb2, methods_pb2

from . import datasets, prompts, rewards
from .judges import PAIRWISE_JUDGE_TEMPLATE, PAIRWISE_JUDGE_TEMPLATE_NAME
from .method_families import PAIRWISE_ONLINE_METHODS, PROMPT_METHODS
from .spec import DEFAULTS, METHOD_OF_CONFIG, RECOMMENDED

_F = descriptor.FieldDescriptor


@dataclass(frozen=True)
class MethodDoc:
    title: str
    description: str
    reference: str


METHOD_DOCS = {
    "sft": MethodDoc(
        "Supervised fine-tuning",
        "Next-token cross-entropy on chat or instruction data; the starting point for most adaptations.",
        "",
    ),
    "grpo": MethodDoc(
        "GRPO",
        "Samples a group of completions per prompt, scores them with reward functions and pushes up the "
        "better-than-group-average ones: group-normalised advantages, clipped token-level ratio.",
        "Shao et al., DeepSeekMath, arXiv 2402.03300",
    ),
    "gspo": MethodDoc(
        "GSPO",
        "Group Sequence Policy Optimization: GRPO's group advantages with a sequence-level importance ratio "
        "(geometric mean of token ratios) clipped at sequence level; optional high-entropy sparse token updates.",
        "Zheng et al., Group Sequence Policy Optimization, arXiv 2507.18071",
    ),
    "dr_grpo": MethodDoc(
        "Dr. GRPO",
        "GRPO Done Right: advantages without std scaling and a constant loss normaliser, removing GRPO's "
        "length and difficulty biases; domain and expertise shape the prompts and data.",
        "Liu et al., Understanding R1-Zero-Like Training, arXiv 2503.20783",
    ),
    "dpo": MethodDoc(
        "DPO",
        "Direct Preference Optimization on chosen/rejected pairs against a frozen reference model.",
        "Rafailov et al., arXiv 2305.18290",
    ),
    "orpo": MethodDoc(
        "ORPO",
        "Odds Ratio Preference Optimization: SFT loss plus an odds-ratio preference term; no reference model.",
        "Hong et al., arXiv 2403.07691",
    ),
    "cpo": MethodDoc(
        "CPO",
        "Contrastive Preference Optimization: reference-free preference loss plus a likelihood term on chosen.",
        "Xu et al., arXiv 2401.08417",
    ),
    "online_dpo": MethodDoc(
        "Online DPO",
        "Samples two completions per prompt from the current policy, lets a judge (reward functions, a judge "
        "model or a reward model) pick the better, and applies the DPO loss to that pair against the frozen "
        "reference model.",
        "Guo et al., Direct Language Model Alignment from Online AI Feedback, arXiv 2402.04792",
    ),
    "xpo": MethodDoc(
        "XPO",
        "Exploratory Preference Optimization: Online DPO on a policy completion against a reference-model "
        "completion, plus alpha times the policy's log-probability of the reference completion (an optimism "
        "bonus that drives exploration).",
        "Xie et al., Exploratory Preference Optimization, arXiv 2405.21046",
    ),
    "rlhf": MethodDoc(
        "RLHF (REINFORCE)",
        "Samples a group of completions per prompt, scores them with reward functions or a reward model, "
        "subtracts beta times the KL to the reference model, and takes a REINFORCE step with the mean reward "
        "of the prompt's other completions as baseline.",
        "Ahmadian et al., Back to Basics: Revisiting REINFORCE Style Optimization for RLHF, arXiv 2402.14740",
    ),
    "ppo": MethodDoc(
        "PPO",
        "Proximal Policy Optimization for RLHF: a per-token KL penalty to the reference in the rewards, GAE "
        "advantages over a group-mean value estimate (no value head) and the clipped token-ratio surrogate "
        "over several epochs per rollout.",
        "Schulman et al., arXiv 1707.06347; Ouyang et al., arXiv 2203.02155",
    ),
}

# What an unset enum field means (UNSPECIFIED resolves to these, see domain.spec).
_ENUM_DEFAULTS = {
    "adapter.fine_tune_type": "FINE_TUNE_TYPE_LORA",
    "grpo.normalizer": "GRPO_LOSS_NORMALIZER_SEQUENCE_MEAN",
    "dr_grpo.domain": "DOMAIN_GENERAL",
    "dr_grpo.expertise_level": "EXPERTISE_LEVEL_INTERMEDIATE",
    "dpo.loss_type": "DPO_LOSS_TYPE_SIGMOID",
    "optimizer.kind": "OPTIMIZER_KIND_ADAM",
    "lr_schedule.kind": "LR_SCHEDULE_KIND_CONSTANT",
    "distributed.backend": "DISTRIBUTED_BACKEND_RING",
}

_NUMBER_RULES = {
    _F.TYPE_DOUBLE: "double",
    _F.TYPE_FLOAT: "float",
    _F.TYPE_UINT32: "uint32",
    _F.TYPE_UINT64: "uint64",
    _F.TYPE_INT32: "int32",
    _F.TYPE_INT64: "int64",
}


@lru_cache(maxsize=1)
def _comments() -> dict[str, str]:
    """Leading comment of every message field, keyed by the field's full name."""
    raw = resources.files("droidft.v1").joinpath("descriptor_set.binpb").read_bytes()
    found = {}
    for file in descriptor_pb2.FileDescriptorSet.FromString(raw).file:
        for location in file.source_code_info.location:
            path = list(location.path)
            # [4, message, 2, field] addresses a field of a top-level message.
            if len(path) == 4 and path[0] == 4 and path[2] == 2:
                message = file.message_type[path[1]]
                name = f"{file.package}.{message.name}.{message.field[path[3]].name}"
                found[name] = " ".join(location.leading_comments.split())
    return found


def _default_for(path: str, field: descriptor.FieldDescriptor) -> str:
    if path in DEFAULTS:  # a method's own default ("online_dpo.rollout.group_size")
        return str(DEFAULTS[path])
    parts = path.split(".")
    # Rollout defaults are shared by the GRPO family: "grpo.rollout.group_size" -> "rollout.group_size".
    key = ".".join(parts[1:]) if parts[1:2] == ["rollout"] else path
    if key in DEFAULTS:
        return str(DEFAULTS[key])
    if path in _ENUM_DEFAULTS:
        return _ENUM_DEFAULTS[path]
    if field.type == _F.TYPE_BOOL:
        return "false"
    return "0" if field.type in _NUMBER_RULES and not field.has_presence else ""


def _parameter(path: str, field: descriptor.FieldDescriptor) -> methods_pb2.ParameterInfo:
    info = methods_pb2.ParameterInfo(
        path=path, description=_comments().get(field.full_name, ""), default_value=_default_for(path, field)
    )
    rules = field.GetOptions().Extensions[validate_pb2.field]
    if field.type == _F.TYPE_BOOL:
        info.type = methods_pb2.PARAMETER_TYPE_BOOL
    elif field.type == _F.TYPE_STRING:
        info.type = methods_pb2.PARAMETER_TYPE_STRING
    elif field.type == _F.TYPE_ENUM:
        info.type = methods_pb2.PARAMETER_TYPE_ENUM
        info.allowed_values.extend(v.name for v in field.enum_type.values if v.number != 0)
    elif field.type == _F.TYPE_MESSAGE:
        info.type = methods_pb2.PARAMETER_TYPE_REWARD_LIST
    else:
        is_real = field.type in (_F.TYPE_DOUBLE, _F.TYPE_FLOAT)
        info.type = methods_pb2.PARAMETER_TYPE_NUMBER if is_real else methods_pb2.PARAMETER_TYPE_INTEGER
        number_rules = getattr(rules, _NUMBER_RULES[field.type])
        for bound, attr, exclusive in (
            ("gte", "minimum", False),
            ("gt", "minimum", True),
            ("lte", "maximum", False),
            ("lt", "maximum", True),
        ):
            if number_rules.HasField(bound):
                setattr(info, attr, getattr(number_rules, bound))
                setattr(info, f"{attr}_exclusive", exclusive)
        if path in RECOMMENDED:
            info.recommended_minimum, info.recommended_maximum = RECOMMENDED[path]
    return info


def _parameters(
    message: descriptor.Descriptor, prefix: str, skip: Iterable[str] = ()
) -> list[methods_pb2.ParameterInfo]:
    found = []
    for field in message.fields:
        if field.name in skip:
            continue
        path = f"{prefix}{field.name}"
        nested = field.type == _F.TYPE_MESSAGE and not field.is_repeated
        if nested:
            found += _parameters(field.message_type, f"{path}.")
        else:
            found.append(_parameter(path, field))
    return found


def shared_parameters() -> list[methods_pb2.ParameterInfo]:
    spec = job_pb2.TrainingJobSpec.DESCRIPTOR
    method_fields = {f.name for f in spec.oneofs_by_name["method"].fields}
    return _parameters(spec, "", skip=method_fields)


def _rewards(method: str) -> list[methods_pb2.RewardInfo]:
    if method not in PROMPT_METHODS:
        return []
    defaults = rewards.METHOD_DEFAULT_REWARDS[method]
    return [
        methods_pb2.RewardInfo(
            name=r.name,
            description=(
                f"{r.description} Default weight {r.default_weight:g}"
                f"{'; used by default' if r.name in defaults else ''}."
            ),
        )
        for r in sorted(rewards.REWARDS.values(), key=lambda r: r.name)
    ]


def _prompt_templates(method: str) -> dict[str, str]:
    if method == "dr_grpo":
        return dict(prompts.SYSTEM_PROMPT_TEMPLATES)
    if method in PAIRWISE_ONLINE_METHODS:
        return {PAIRWISE_JUDGE_TEMPLATE_NAME: PAIRWISE_JUDGE_TEMPLATE}
    if method == "grpo":
        return {f"reasoning_steps={n}": prompts.step_format_prompt(n) for n in (DEFAULTS["grpo.reasoning_steps"],)}
    return {}


def catalogue(available: Iterable[str]) -> list[methods_pb2.MethodInfo]:
    available = set(available)
    shared = shared_parameters()
    spec = job_pb2.TrainingJobSpec.DESCRIPTOR
    infos = []
    for name, method in sorted(METHOD_OF_CONFIG.items(), key=lambda item: item[1]):
        doc = METHOD_DOCS[name]
        config = spec.fields_by_name[name].message_type
        infos.append(
            methods_pb2.MethodInfo(
                method=method,
                config_field=name,
                title=doc.title,
                description=doc.description,
                reference=doc.reference,
                data_formats=datasets.formats_for_method(name),
                parameters=shared + _parameters(config, f"{name}."),
                available=name in available,
                rewards=_rewards(name),
                prompt_templates=_prompt_templates(name),
            )
        )
    return infos
