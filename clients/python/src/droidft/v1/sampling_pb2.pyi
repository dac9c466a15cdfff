from buf.validate import validate_pb2 as _validate_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AdapterChoice(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ADAPTER_CHOICE_UNSPECIFIED: _ClassVar[AdapterChoice]
    ADAPTER_CHOICE_FINAL: _ClassVar[AdapterChoice]
    ADAPTER_CHOICE_BEST: _ClassVar[AdapterChoice]
    ADAPTER_CHOICE_CHECKPOINT: _ClassVar[AdapterChoice]
    ADAPTER_CHOICE_NONE: _ClassVar[AdapterChoice]

class GenerationSide(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GENERATION_SIDE_UNSPECIFIED: _ClassVar[GenerationSide]
    GENERATION_SIDE_ADAPTED: _ClassVar[GenerationSide]
    GENERATION_SIDE_BASE: _ClassVar[GenerationSide]

class FinishReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FINISH_REASON_UNSPECIFIED: _ClassVar[FinishReason]
    FINISH_REASON_LENGTH: _ClassVar[FinishReason]
    FINISH_REASON_END: _ClassVar[FinishReason]
    FINISH_REASON_STOP: _ClassVar[FinishReason]
ADAPTER_CHOICE_UNSPECIFIED: AdapterChoice
ADAPTER_CHOICE_FINAL: AdapterChoice
ADAPTER_CHOICE_BEST: AdapterChoice
ADAPTER_CHOICE_CHECKPOINT: AdapterChoice
ADAPTER_CHOICE_NONE: AdapterChoice
GENERATION_SIDE_UNSPECIFIED: GenerationSide
GENERATION_SIDE_ADAPTED: GenerationSide
GENERATION_SIDE_BASE: GenerationSide
FINISH_REASON_UNSPECIFIED: FinishReason
FINISH_REASON_LENGTH: FinishReason
FINISH_REASON_END: FinishReason
FINISH_REASON_STOP: FinishReason

class ModelSelection(_message.Message):
    __slots__ = ("job_id", "model_path", "adapter", "checkpoint_iteration")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_PATH_FIELD_NUMBER: _ClassVar[int]
    ADAPTER_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_ITERATION_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    model_path: str
    adapter: AdapterChoice
    checkpoint_iteration: int
    def __init__(self, job_id: _Optional[str] = ..., model_path: _Optional[str] = ..., adapter: _Optional[_Union[AdapterChoice, str]] = ..., checkpoint_iteration: _Optional[int] = ...) -> None: ...

class ChatTurn(_message.Message):
    __slots__ = ("role", "content")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    role: str
    content: str
    def __init__(self, role: _Optional[str] = ..., content: _Optional[str] = ...) -> None: ...

class ChatTurns(_message.Message):
    __slots__ = ("turns",)
    TURNS_FIELD_NUMBER: _ClassVar[int]
    turns: _containers.RepeatedCompositeFieldContainer[ChatTurn]
    def __init__(self, turns: _Optional[_Iterable[_Union[ChatTurn, _Mapping]]] = ...) -> None: ...

class SamplingOptions(_message.Message):
    __slots__ = ("temperature", "top_p", "max_tokens", "stop", "seed")
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    TOP_P_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    STOP_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    temperature: float
    top_p: float
    max_tokens: int
    stop: _containers.RepeatedScalarFieldContainer[str]
    seed: int
    def __init__(self, temperature: _Optional[float] = ..., top_p: _Optional[float] = ..., max_tokens: _Optional[int] = ..., stop: _Optional[_Iterable[str]] = ..., seed: _Optional[int] = ...) -> None: ...

class GenerateRequest(_message.Message):
    __slots__ = ("model", "messages", "prompt", "sampling", "side_by_side")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    SAMPLING_FIELD_NUMBER: _ClassVar[int]
    SIDE_BY_SIDE_FIELD_NUMBER: _ClassVar[int]
    model: ModelSelection
    messages: ChatTurns
    prompt: str
    sampling: SamplingOptions
    side_by_side: bool
    def __init__(self, model: _Optional[_Union[ModelSelection, _Mapping]] = ..., messages: _Optional[_Union[ChatTurns, _Mapping]] = ..., prompt: _Optional[str] = ..., sampling: _Optional[_Union[SamplingOptions, _Mapping]] = ..., side_by_side: _Optional[bool] = ...) -> None: ...

class GenerateResponse(_message.Message):
    __slots__ = ("side", "text", "token_ids", "finish_reason", "prompt_tokens", "completion_tokens", "model_cached")
    SIDE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    TOKEN_IDS_FIELD_NUMBER: _ClassVar[int]
    FINISH_REASON_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COMPLETION_TOKENS_FIELD_NUMBER: _ClassVar[int]
    MODEL_CACHED_FIELD_NUMBER: _ClassVar[int]
    side: GenerationSide
    text: str
    token_ids: _containers.RepeatedScalarFieldContainer[int]
    finish_reason: FinishReason
    prompt_tokens: int
    completion_tokens: int
    model_cached: bool
    def __init__(self, side: _Optional[_Union[GenerationSide, str]] = ..., text: _Optional[str] = ..., token_ids: _Optional[_Iterable[int]] = ..., finish_reason: _Optional[_Union[FinishReason, str]] = ..., prompt_tokens: _Optional[int] = ..., completion_tokens: _Optional[int] = ..., model_cached: _Optional[bool] = ...) -> None: ...
