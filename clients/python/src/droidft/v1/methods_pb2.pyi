from buf.validate import validate_pb2 as _validate_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TrainingMethod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRAINING_METHOD_UNSPECIFIED: _ClassVar[TrainingMethod]
    TRAINING_METHOD_SFT: _ClassVar[TrainingMethod]
    TRAINING_METHOD_GRPO: _ClassVar[TrainingMethod]
    TRAINING_METHOD_GSPO: _ClassVar[TrainingMethod]
    TRAINING_METHOD_DR_GRPO: _ClassVar[TrainingMethod]
    TRAINING_METHOD_DPO: _ClassVar[TrainingMethod]
    TRAINING_METHOD_ORPO: _ClassVar[TrainingMethod]
    TRAINING_METHOD_CPO: _ClassVar[TrainingMethod]
    TRAINING_METHOD_ONLINE_DPO: _ClassVar[TrainingMethod]
    TRAINING_METHOD_XPO: _ClassVar[TrainingMethod]
    TRAINING_METHOD_RLHF: _ClassVar[TrainingMethod]
    TRAINING_METHOD_PPO: _ClassVar[TrainingMethod]

class FineTuneType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FINE_TUNE_TYPE_UNSPECIFIED: _ClassVar[FineTuneType]
    FINE_TUNE_TYPE_LORA: _ClassVar[FineTuneType]
    FINE_TUNE_TYPE_DORA: _ClassVar[FineTuneType]
    FINE_TUNE_TYPE_FULL: _ClassVar[FineTuneType]

class GrpoLossNormalizer(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GRPO_LOSS_NORMALIZER_UNSPECIFIED: _ClassVar[GrpoLossNormalizer]
    GRPO_LOSS_NORMALIZER_SEQUENCE_MEAN: _ClassVar[GrpoLossNormalizer]
    GRPO_LOSS_NORMALIZER_TOKEN_MEAN: _ClassVar[GrpoLossNormalizer]

class Domain(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DOMAIN_UNSPECIFIED: _ClassVar[Domain]
    DOMAIN_GENERAL: _ClassVar[Domain]
    DOMAIN_MEDICAL: _ClassVar[Domain]
    DOMAIN_SCIENTIFIC: _ClassVar[Domain]
    DOMAIN_LEGAL: _ClassVar[Domain]
    DOMAIN_TECHNICAL: _ClassVar[Domain]

class ExpertiseLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXPERTISE_LEVEL_UNSPECIFIED: _ClassVar[ExpertiseLevel]
    EXPERTISE_LEVEL_BEGINNER: _ClassVar[ExpertiseLevel]
    EXPERTISE_LEVEL_INTERMEDIATE: _ClassVar[ExpertiseLevel]
    EXPERTISE_LEVEL_ADVANCED: _ClassVar[ExpertiseLevel]
    EXPERTISE_LEVEL_EXPERT: _ClassVar[ExpertiseLevel]

class DpoLossType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DPO_LOSS_TYPE_UNSPECIFIED: _ClassVar[DpoLossType]
    DPO_LOSS_TYPE_SIGMOID: _ClassVar[DpoLossType]
    DPO_LOSS_TYPE_IPO: _ClassVar[DpoLossType]
    DPO_LOSS_TYPE_HINGE: _ClassVar[DpoLossType]

class ParameterType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PARAMETER_TYPE_UNSPECIFIED: _ClassVar[ParameterType]
    PARAMETER_TYPE_BOOL: _ClassVar[ParameterType]
    PARAMETER_TYPE_INTEGER: _ClassVar[ParameterType]
    PARAMETER_TYPE_NUMBER: _ClassVar[ParameterType]
    PARAMETER_TYPE_STRING: _ClassVar[ParameterType]
    PARAMETER_TYPE_ENUM: _ClassVar[ParameterType]
    PARAMETER_TYPE_REWARD_LIST: _ClassVar[ParameterType]
TRAINING_METHOD_UNSPECIFIED: TrainingMethod
TRAINING_METHOD_SFT: TrainingMethod
TRAINING_METHOD_GRPO: TrainingMethod
TRAINING_METHOD_GSPO: TrainingMethod
TRAINING_METHOD_DR_GRPO: TrainingMethod
TRAINING_METHOD_DPO: TrainingMethod
TRAINING_METHOD_ORPO: TrainingMethod
TRAINING_METHOD_CPO: TrainingMethod
TRAINING_METHOD_ONLINE_DPO: TrainingMethod
TRAINING_METHOD_XPO: TrainingMethod
TRAINING_METHOD_RLHF: TrainingMethod
TRAINING_METHOD_PPO: TrainingMethod
FINE_TUNE_TYPE_UNSPECIFIED: FineTuneType
FINE_TUNE_TYPE_LORA: FineTuneType
FINE_TUNE_TYPE_DORA: FineTuneType
FINE_TUNE_TYPE_FULL: FineTuneType
GRPO_LOSS_NORMALIZER_UNSPECIFIED: GrpoLossNormalizer
GRPO_LOSS_NORMALIZER_SEQUENCE_MEAN: GrpoLossNormalizer
GRPO_LOSS_NORMALIZER_TOKEN_MEAN: GrpoLossNormalizer
DOMAIN_UNSPECIFIED: Domain
DOMAIN_GENERAL: Domain
DOMAIN_MEDICAL: Domain
DOMAIN_SCIENTIFIC: Domain
DOMAIN_LEGAL: Domain
DOMAIN_TECHNICAL: Domain
EXPERTISE_LEVEL_UNSPECIFIED: ExpertiseLevel
EXPERTISE_LEVEL_BEGINNER: ExpertiseLevel
EXPERTISE_LEVEL_INTERMEDIATE: ExpertiseLevel
EXPERTISE_LEVEL_ADVANCED: ExpertiseLevel
EXPERTISE_LEVEL_EXPERT: ExpertiseLevel
DPO_LOSS_TYPE_UNSPECIFIED: DpoLossType
DPO_LOSS_TYPE_SIGMOID: DpoLossType
DPO_LOSS_TYPE_IPO: DpoLossType
DPO_LOSS_TYPE_HINGE: DpoLossType
PARAMETER_TYPE_UNSPECIFIED: ParameterType
PARAMETER_TYPE_BOOL: ParameterType
PARAMETER_TYPE_INTEGER: ParameterType
PARAMETER_TYPE_NUMBER: ParameterType
PARAMETER_TYPE_STRING: ParameterType
PARAMETER_TYPE_ENUM: ParameterType
PARAMETER_TYPE_REWARD_LIST: ParameterType

class AdapterConfig(_message.Message):
    __slots__ = ("fine_tune_type", "rank", "scale", "dropout", "num_layers")
    FINE_TUNE_TYPE_FIELD_NUMBER: _ClassVar[int]
    RANK_FIELD_NUMBER: _ClassVar[int]
    SCALE_FIELD_NUMBER: _ClassVar[int]
    DROPOUT_FIELD_NUMBER: _ClassVar[int]
    NUM_LAYERS_FIELD_NUMBER: _ClassVar[int]
    fine_tune_type: FineTuneType
    rank: int
    scale: float
    dropout: float
    num_layers: int
    def __init__(self, fine_tune_type: _Optional[_Union[FineTuneType, str]] = ..., rank: _Optional[int] = ..., scale: _Optional[float] = ..., dropout: _Optional[float] = ..., num_layers: _Optional[int] = ...) -> None: ...

class SftConfig(_message.Message):
    __slots__ = ("mask_prompt", "grad_accumulation_steps", "grad_checkpoint")
    MASK_PROMPT_FIELD_NUMBER: _ClassVar[int]
    GRAD_ACCUMULATION_STEPS_FIELD_NUMBER: _ClassVar[int]
    GRAD_CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    mask_prompt: bool
    grad_accumulation_steps: int
    grad_checkpoint: bool
    def __init__(self, mask_prompt: _Optional[bool] = ..., grad_accumulation_steps: _Optional[int] = ..., grad_checkpoint: _Optional[bool] = ...) -> None: ...

class RewardFunction(_message.Message):
    __slots__ = ("name", "weight")
    NAME_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    name: str
    weight: float
    def __init__(self, name: _Optional[str] = ..., weight: _Optional[float] = ...) -> None: ...

class RolloutConfig(_message.Message):
    __slots__ = ("group_size", "max_completion_length", "temperature", "top_p", "num_iterations", "rewards")
    GROUP_SIZE_FIELD_NUMBER: _ClassVar[int]
    MAX_COMPLETION_LENGTH_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    TOP_P_FIELD_NUMBER: _ClassVar[int]
    NUM_ITERATIONS_FIELD_NUMBER: _ClassVar[int]
    REWARDS_FIELD_NUMBER: _ClassVar[int]
    group_size: int
    max_completion_length: int
    temperature: float
    top_p: float
    num_iterations: int
    rewards: _containers.RepeatedCompositeFieldContainer[RewardFunction]
    def __init__(self, group_size: _Optional[int] = ..., max_completion_length: _Optional[int] = ..., temperature: _Optional[float] = ..., top_p: _Optional[float] = ..., num_iterations: _Optional[int] = ..., rewards: _Optional[_Iterable[_Union[RewardFunction, _Mapping]]] = ...) -> None: ...

class GrpoConfig(_message.Message):
    __slots__ = ("rollout", "epsilon", "epsilon_high", "beta", "normalizer", "reasoning_steps", "multi_step_training")
    ROLLOUT_FIELD_NUMBER: _ClassVar[int]
    EPSILON_FIELD_NUMBER: _ClassVar[int]
    EPSILON_HIGH_FIELD_NUMBER: _ClassVar[int]
    BETA_FIELD_NUMBER: _ClassVar[int]
    NORMALIZER_FIELD_NUMBER: _ClassVar[int]
    REASONING_STEPS_FIELD_NUMBER: _ClassVar[int]
    MULTI_STEP_TRAINING_FIELD_NUMBER: _ClassVar[int]
    rollout: RolloutConfig
    epsilon: float
    epsilon_high: float
    beta: float
    normalizer: GrpoLossNormalizer
    reasoning_steps: int
    multi_step_training: bool
    def __init__(self, rollout: _Optional[_Union[RolloutConfig, _Mapping]] = ..., epsilon: _Optional[float] = ..., epsilon_high: _Optional[float] = ..., beta: _Optional[float] = ..., normalizer: _Optional[_Union[GrpoLossNormalizer, str]] = ..., reasoning_steps: _Optional[int] = ..., multi_step_training: _Optional[bool] = ...) -> None: ...

class GspoConfig(_message.Message):
    __slots__ = ("rollout", "epsilon", "epsilon_high", "beta", "sparse_ratio", "efficiency_threshold", "sparse_optimization")
    ROLLOUT_FIELD_NUMBER: _ClassVar[int]
    EPSILON_FIELD_NUMBER: _ClassVar[int]
    EPSILON_HIGH_FIELD_NUMBER: _ClassVar[int]
    BETA_FIELD_NUMBER: _ClassVar[int]
    SPARSE_RATIO_FIELD_NUMBER: _ClassVar[int]
    EFFICIENCY_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    SPARSE_OPTIMIZATION_FIELD_NUMBER: _ClassVar[int]
    rollout: RolloutConfig
    epsilon: float
    epsilon_high: float
    beta: float
    sparse_ratio: float
    efficiency_threshold: float
    sparse_optimization: bool
    def __init__(self, rollout: _Optional[_Union[RolloutConfig, _Mapping]] = ..., epsilon: _Optional[float] = ..., epsilon_high: _Optional[float] = ..., beta: _Optional[float] = ..., sparse_ratio: _Optional[float] = ..., efficiency_threshold: _Optional[float] = ..., sparse_optimization: _Optional[bool] = ...) -> None: ...

class DrGrpoConfig(_message.Message):
    __slots__ = ("rollout", "epsilon", "epsilon_high", "beta", "domain", "expertise_level", "domain_adaptation_strength")
    ROLLOUT_FIELD_NUMBER: _ClassVar[int]
    EPSILON_FIELD_NUMBER: _ClassVar[int]
    EPSILON_HIGH_FIELD_NUMBER: _ClassVar[int]
    BETA_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    EXPERTISE_LEVEL_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_ADAPTATION_STRENGTH_FIELD_NUMBER: _ClassVar[int]
    rollout: RolloutConfig
    epsilon: float
    epsilon_high: float
    beta: float
    domain: Domain
    expertise_level: ExpertiseLevel
    domain_adaptation_strength: float
    def __init__(self, rollout: _Optional[_Union[RolloutConfig, _Mapping]] = ..., epsilon: _Optional[float] = ..., epsilon_high: _Optional[float] = ..., beta: _Optional[float] = ..., domain: _Optional[_Union[Domain, str]] = ..., expertise_level: _Optional[_Union[ExpertiseLevel, str]] = ..., domain_adaptation_strength: _Optional[float] = ...) -> None: ...

class DpoConfig(_message.Message):
    __slots__ = ("beta", "loss_type")
    BETA_FIELD_NUMBER: _ClassVar[int]
    LOSS_TYPE_FIELD_NUMBER: _ClassVar[int]
    beta: float
    loss_type: DpoLossType
    def __init__(self, beta: _Optional[float] = ..., loss_type: _Optional[_Union[DpoLossType, str]] = ...) -> None: ...

class OrpoConfig(_message.Message):
    __slots__ = ("beta",)
    BETA_FIELD_NUMBER: _ClassVar[int]
    beta: float
    def __init__(self, beta: _Optional[float] = ...) -> None: ...

class CpoConfig(_message.Message):
    __slots__ = ("beta",)
    BETA_FIELD_NUMBER: _ClassVar[int]
    beta: float
    def __init__(self, beta: _Optional[float] = ...) -> None: ...

class ParameterInfo(_message.Message):
    __slots__ = ("path", "type", "minimum", "maximum", "minimum_exclusive", "maximum_exclusive", "allowed_values", "default_value", "description", "recommended_minimum", "recommended_maximum")
    PATH_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    MINIMUM_FIELD_NUMBER: _ClassVar[int]
    MAXIMUM_FIELD_NUMBER: _ClassVar[int]
    MINIMUM_EXCLUSIVE_FIELD_NUMBER: _ClassVar[int]
    MAXIMUM_EXCLUSIVE_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_VALUES_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_VALUE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    RECOMMENDED_MINIMUM_FIELD_NUMBER: _ClassVar[int]
    RECOMMENDED_MAXIMUM_FIELD_NUMBER: _ClassVar[int]
    path: str
    type: ParameterType
    minimum: float
    maximum: float
    minimum_exclusive: bool
    maximum_exclusive: bool
    allowed_values: _containers.RepeatedScalarFieldContainer[str]
    default_value: str
    description: str
    recommended_minimum: float
    recommended_maximum: float
    def __init__(self, path: _Optional[str] = ..., type: _Optional[_Union[ParameterType, str]] = ..., minimum: _Optional[float] = ..., maximum: _Optional[float] = ..., minimum_exclusive: _Optional[bool] = ..., maximum_exclusive: _Optional[bool] = ..., allowed_values: _Optional[_Iterable[str]] = ..., default_value: _Optional[str] = ..., description: _Optional[str] = ..., recommended_minimum: _Optional[float] = ..., recommended_maximum: _Optional[float] = ...) -> None: ...

class RewardInfo(_message.Message):
    __slots__ = ("name", "description")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class MethodInfo(_message.Message):
    __slots__ = ("method", "config_field", "title", "description", "reference", "data_formats", "parameters", "available", "rewards", "prompt_templates")
    class PromptTemplatesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    METHOD_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    DATA_FORMATS_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    REWARDS_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TEMPLATES_FIELD_NUMBER: _ClassVar[int]
    method: TrainingMethod
    config_field: str
    title: str
    description: str
    reference: str
    data_formats: _containers.RepeatedScalarFieldContainer[str]
    parameters: _containers.RepeatedCompositeFieldContainer[ParameterInfo]
    available: bool
    rewards: _containers.RepeatedCompositeFieldContainer[RewardInfo]
    prompt_templates: _containers.ScalarMap[str, str]
    def __init__(self, method: _Optional[_Union[TrainingMethod, str]] = ..., config_field: _Optional[str] = ..., title: _Optional[str] = ..., description: _Optional[str] = ..., reference: _Optional[str] = ..., data_formats: _Optional[_Iterable[str]] = ..., parameters: _Optional[_Iterable[_Union[ParameterInfo, _Mapping]]] = ..., available: _Optional[bool] = ..., rewards: _Optional[_Iterable[_Union[RewardInfo, _Mapping]]] = ..., prompt_templates: _Optional[_Mapping[str, str]] = ...) -> None: ...
