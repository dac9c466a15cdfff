from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MemoryBreakdown(_message.Message):
    __slots__ = ("weights_bytes", "trainable_parameters_bytes", "optimizer_state_bytes", "gradients_bytes", "activations_bytes", "logits_bytes", "kv_cache_bytes", "reference_model_bytes", "overhead_bytes")
    WEIGHTS_BYTES_FIELD_NUMBER: _ClassVar[int]
    TRAINABLE_PARAMETERS_BYTES_FIELD_NUMBER: _ClassVar[int]
    OPTIMIZER_STATE_BYTES_FIELD_NUMBER: _ClassVar[int]
    GRADIENTS_BYTES_FIELD_NUMBER: _ClassVar[int]
    ACTIVATIONS_BYTES_FIELD_NUMBER: _ClassVar[int]
    LOGITS_BYTES_FIELD_NUMBER: _ClassVar[int]
    KV_CACHE_BYTES_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_MODEL_BYTES_FIELD_NUMBER: _ClassVar[int]
    OVERHEAD_BYTES_FIELD_NUMBER: _ClassVar[int]
    weights_bytes: int
    trainable_parameters_bytes: int
    optimizer_state_bytes: int
    gradients_bytes: int
    activations_bytes: int
    logits_bytes: int
    kv_cache_bytes: int
    reference_model_bytes: int
    overhead_bytes: int
    def __init__(self, weights_bytes: _Optional[int] = ..., trainable_parameters_bytes: _Optional[int] = ..., optimizer_state_bytes: _Optional[int] = ..., gradients_bytes: _Optional[int] = ..., activations_bytes: _Optional[int] = ..., logits_bytes: _Optional[int] = ..., kv_cache_bytes: _Optional[int] = ..., reference_model_bytes: _Optional[int] = ..., overhead_bytes: _Optional[int] = ...) -> None: ...

class ResourceAdvice(_message.Message):
    __slots__ = ("change", "description", "peak_memory_bytes", "seconds_per_iteration", "fits")
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PEAK_MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    SECONDS_PER_ITERATION_FIELD_NUMBER: _ClassVar[int]
    FITS_FIELD_NUMBER: _ClassVar[int]
    change: str
    description: str
    peak_memory_bytes: int
    seconds_per_iteration: float
    fits: bool
    def __init__(self, change: _Optional[str] = ..., description: _Optional[str] = ..., peak_memory_bytes: _Optional[int] = ..., seconds_per_iteration: _Optional[float] = ..., fits: _Optional[bool] = ...) -> None: ...

class ResourceEstimate(_message.Message):
    __slots__ = ("peak_memory_bytes", "breakdown", "seconds_per_iteration", "total_seconds", "trainable_parameters", "total_parameters", "fits", "available_memory_bytes", "device", "advice", "ranks", "per_rank_peak_memory_bytes", "expected_speedup")
    PEAK_MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    BREAKDOWN_FIELD_NUMBER: _ClassVar[int]
    SECONDS_PER_ITERATION_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    TRAINABLE_PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    FITS_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    ADVICE_FIELD_NUMBER: _ClassVar[int]
    RANKS_FIELD_NUMBER: _ClassVar[int]
    PER_RANK_PEAK_MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_SPEEDUP_FIELD_NUMBER: _ClassVar[int]
    peak_memory_bytes: int
    breakdown: MemoryBreakdown
    seconds_per_iteration: float
    total_seconds: float
    trainable_parameters: int
    total_parameters: int
    fits: bool
    available_memory_bytes: int
    device: str
    advice: _containers.RepeatedCompositeFieldContainer[ResourceAdvice]
    ranks: int
    per_rank_peak_memory_bytes: int
    expected_speedup: float
    def __init__(self, peak_memory_bytes: _Optional[int] = ..., breakdown: _Optional[_Union[MemoryBreakdown, _Mapping]] = ..., seconds_per_iteration: _Optional[float] = ..., total_seconds: _Optional[float] = ..., trainable_parameters: _Optional[int] = ..., total_parameters: _Optional[int] = ..., fits: _Optional[bool] = ..., available_memory_bytes: _Optional[int] = ..., device: _Optional[str] = ..., advice: _Optional[_Iterable[_Union[ResourceAdvice, _Mapping]]] = ..., ranks: _Optional[int] = ..., per_rank_peak_memory_bytes: _Optional[int] = ..., expected_speedup: _Optional[float] = ...) -> None: ...
