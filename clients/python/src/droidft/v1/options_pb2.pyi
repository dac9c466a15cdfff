from buf.validate import validate_pb2 as _validate_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class OptimizerKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OPTIMIZER_KIND_UNSPECIFIED: _ClassVar[OptimizerKind]
    OPTIMIZER_KIND_ADAM: _ClassVar[OptimizerKind]
    OPTIMIZER_KIND_ADAMW: _ClassVar[OptimizerKind]
    OPTIMIZER_KIND_SGD: _ClassVar[OptimizerKind]
    OPTIMIZER_KIND_ADAFACTOR: _ClassVar[OptimizerKind]
    OPTIMIZER_KIND_MUON: _ClassVar[OptimizerKind]

class LrScheduleKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LR_SCHEDULE_KIND_UNSPECIFIED: _ClassVar[LrScheduleKind]
    LR_SCHEDULE_KIND_CONSTANT: _ClassVar[LrScheduleKind]
    LR_SCHEDULE_KIND_LINEAR: _ClassVar[LrScheduleKind]
    LR_SCHEDULE_KIND_COSINE: _ClassVar[LrScheduleKind]

class MetricsLoggerKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    METRICS_LOGGER_KIND_UNSPECIFIED: _ClassVar[MetricsLoggerKind]
    METRICS_LOGGER_KIND_WANDB: _ClassVar[MetricsLoggerKind]
    METRICS_LOGGER_KIND_TENSORBOARD: _ClassVar[MetricsLoggerKind]
OPTIMIZER_KIND_UNSPECIFIED: OptimizerKind
OPTIMIZER_KIND_ADAM: OptimizerKind
OPTIMIZER_KIND_ADAMW: OptimizerKind
OPTIMIZER_KIND_SGD: OptimizerKind
OPTIMIZER_KIND_ADAFACTOR: OptimizerKind
OPTIMIZER_KIND_MUON: OptimizerKind
LR_SCHEDULE_KIND_UNSPECIFIED: LrScheduleKind
LR_SCHEDULE_KIND_CONSTANT: LrScheduleKind
LR_SCHEDULE_KIND_LINEAR: LrScheduleKind
LR_SCHEDULE_KIND_COSINE: LrScheduleKind
METRICS_LOGGER_KIND_UNSPECIFIED: MetricsLoggerKind
METRICS_LOGGER_KIND_WANDB: MetricsLoggerKind
METRICS_LOGGER_KIND_TENSORBOARD: MetricsLoggerKind

class OptimizerConfig(_message.Message):
    __slots__ = ("kind", "weight_decay", "momentum")
    KIND_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_DECAY_FIELD_NUMBER: _ClassVar[int]
    MOMENTUM_FIELD_NUMBER: _ClassVar[int]
    kind: OptimizerKind
    weight_decay: float
    momentum: float
    def __init__(self, kind: _Optional[_Union[OptimizerKind, str]] = ..., weight_decay: _Optional[float] = ..., momentum: _Optional[float] = ...) -> None: ...

class LrSchedule(_message.Message):
    __slots__ = ("kind", "warmup_steps", "min_learning_rate")
    KIND_FIELD_NUMBER: _ClassVar[int]
    WARMUP_STEPS_FIELD_NUMBER: _ClassVar[int]
    MIN_LEARNING_RATE_FIELD_NUMBER: _ClassVar[int]
    kind: LrScheduleKind
    warmup_steps: int
    min_learning_rate: float
    def __init__(self, kind: _Optional[_Union[LrScheduleKind, str]] = ..., warmup_steps: _Optional[int] = ..., min_learning_rate: _Optional[float] = ...) -> None: ...

class MetricsLogging(_message.Message):
    __slots__ = ("kind", "project")
    KIND_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    kind: MetricsLoggerKind
    project: str
    def __init__(self, kind: _Optional[_Union[MetricsLoggerKind, str]] = ..., project: _Optional[str] = ...) -> None: ...
