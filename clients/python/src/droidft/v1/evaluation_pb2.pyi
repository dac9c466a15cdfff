import datetime

from buf.validate import validate_pb2 as _validate_pb2
from droidft.v1 import methods_pb2 as _methods_pb2
from droidft.v1 import sampling_pb2 as _sampling_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EvaluateModelRequest(_message.Message):
    __slots__ = ("model", "data_path", "method", "max_records", "samples_per_prompt", "sampling")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DATA_PATH_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    MAX_RECORDS_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_PER_PROMPT_FIELD_NUMBER: _ClassVar[int]
    SAMPLING_FIELD_NUMBER: _ClassVar[int]
    model: _sampling_pb2.ModelSelection
    data_path: str
    method: _methods_pb2.TrainingMethod
    max_records: int
    samples_per_prompt: int
    sampling: _sampling_pb2.SamplingOptions
    def __init__(self, model: _Optional[_Union[_sampling_pb2.ModelSelection, _Mapping]] = ..., data_path: _Optional[str] = ..., method: _Optional[_Union[_methods_pb2.TrainingMethod, str]] = ..., max_records: _Optional[int] = ..., samples_per_prompt: _Optional[int] = ..., sampling: _Optional[_Union[_sampling_pb2.SamplingOptions, _Mapping]] = ...) -> None: ...

class Evaluation(_message.Message):
    __slots__ = ("evaluation_id", "job_id", "model_path", "adapter_path", "data_path", "method", "records", "loss", "perplexity", "token_accuracy", "reward_accuracy", "reward_margin", "mean_rewards", "pass_at_k", "samples_per_prompt", "create_time", "seconds")
    class MeanRewardsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    EVALUATION_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_PATH_FIELD_NUMBER: _ClassVar[int]
    ADAPTER_PATH_FIELD_NUMBER: _ClassVar[int]
    DATA_PATH_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    LOSS_FIELD_NUMBER: _ClassVar[int]
    PERPLEXITY_FIELD_NUMBER: _ClassVar[int]
    TOKEN_ACCURACY_FIELD_NUMBER: _ClassVar[int]
    REWARD_ACCURACY_FIELD_NUMBER: _ClassVar[int]
    REWARD_MARGIN_FIELD_NUMBER: _ClassVar[int]
    MEAN_REWARDS_FIELD_NUMBER: _ClassVar[int]
    PASS_AT_K_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_PER_PROMPT_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    evaluation_id: str
    job_id: str
    model_path: str
    adapter_path: str
    data_path: str
    method: _methods_pb2.TrainingMethod
    records: int
    loss: float
    perplexity: float
    token_accuracy: float
    reward_accuracy: float
    reward_margin: float
    mean_rewards: _containers.ScalarMap[str, float]
    pass_at_k: float
    samples_per_prompt: int
    create_time: _timestamp_pb2.Timestamp
    seconds: float
    def __init__(self, evaluation_id: _Optional[str] = ..., job_id: _Optional[str] = ..., model_path: _Optional[str] = ..., adapter_path: _Optional[str] = ..., data_path: _Optional[str] = ..., method: _Optional[_Union[_methods_pb2.TrainingMethod, str]] = ..., records: _Optional[int] = ..., loss: _Optional[float] = ..., perplexity: _Optional[float] = ..., token_accuracy: _Optional[float] = ..., reward_accuracy: _Optional[float] = ..., reward_margin: _Optional[float] = ..., mean_rewards: _Optional[_Mapping[str, float]] = ..., pass_at_k: _Optional[float] = ..., samples_per_prompt: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., seconds: _Optional[float] = ...) -> None: ...

class EvaluateModelResponse(_message.Message):
    __slots__ = ("records_done", "records_total", "evaluation")
    RECORDS_DONE_FIELD_NUMBER: _ClassVar[int]
    RECORDS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    EVALUATION_FIELD_NUMBER: _ClassVar[int]
    records_done: int
    records_total: int
    evaluation: Evaluation
    def __init__(self, records_done: _Optional[int] = ..., records_total: _Optional[int] = ..., evaluation: _Optional[_Union[Evaluation, _Mapping]] = ...) -> None: ...

class ListEvaluationsRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class ListEvaluationsResponse(_message.Message):
    __slots__ = ("evaluations",)
    EVALUATIONS_FIELD_NUMBER: _ClassVar[int]
    evaluations: _containers.RepeatedCompositeFieldContainer[Evaluation]
    def __init__(self, evaluations: _Optional[_Iterable[_Union[Evaluation, _Mapping]]] = ...) -> None: ...
