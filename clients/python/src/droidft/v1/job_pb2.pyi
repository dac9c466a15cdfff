import datetime

from buf.validate import validate_pb2 as _validate_pb2
from droidft.v1 import data_pb2 as _data_pb2
from droidft.v1 import distributed_pb2 as _distributed_pb2
from droidft.v1 import data_keys_pb2 as _data_keys_pb2
from droidft.v1 import methods_pb2 as _methods_pb2
from droidft.v1 import online_pb2 as _online_pb2
from droidft.v1 import options_pb2 as _options_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class JobState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_STATE_UNSPECIFIED: _ClassVar[JobState]
    JOB_STATE_QUEUED: _ClassVar[JobState]
    JOB_STATE_RUNNING: _ClassVar[JobState]
    JOB_STATE_SUCCEEDED: _ClassVar[JobState]
    JOB_STATE_FAILED: _ClassVar[JobState]
    JOB_STATE_CANCELLED: _ClassVar[JobState]
    JOB_STATE_PAUSING: _ClassVar[JobState]
    JOB_STATE_PAUSED: _ClassVar[JobState]
JOB_STATE_UNSPECIFIED: JobState
JOB_STATE_QUEUED: JobState
JOB_STATE_RUNNING: JobState
JOB_STATE_SUCCEEDED: JobState
JOB_STATE_FAILED: JobState
JOB_STATE_CANCELLED: JobState
JOB_STATE_PAUSING: JobState
JOB_STATE_PAUSED: JobState

class TrainingJobSpec(_message.Message):
    __slots__ = ("model_path", "train_data_path", "val_data_path", "learning_rate", "batch_size", "max_seq_length", "iterations", "early_stop", "patience", "adapter", "seed", "report_every", "eval_every", "eval_batches", "checkpoint_every", "display_name", "keep_checkpoints", "from_checkpoint", "distributed", "sft", "grpo", "gspo", "dr_grpo", "dpo", "orpo", "cpo", "online_dpo", "xpo", "rlhf", "ppo", "data_keys", "final_evaluation", "epochs", "optimizer", "lr_schedule", "max_grad_norm", "grad_accumulation_steps", "metrics_logging")
    MODEL_PATH_FIELD_NUMBER: _ClassVar[int]
    TRAIN_DATA_PATH_FIELD_NUMBER: _ClassVar[int]
    VAL_DATA_PATH_FIELD_NUMBER: _ClassVar[int]
    LEARNING_RATE_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    MAX_SEQ_LENGTH_FIELD_NUMBER: _ClassVar[int]
    ITERATIONS_FIELD_NUMBER: _ClassVar[int]
    EARLY_STOP_FIELD_NUMBER: _ClassVar[int]
    PATIENCE_FIELD_NUMBER: _ClassVar[int]
    ADAPTER_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    REPORT_EVERY_FIELD_NUMBER: _ClassVar[int]
    EVAL_EVERY_FIELD_NUMBER: _ClassVar[int]
    EVAL_BATCHES_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_EVERY_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    KEEP_CHECKPOINTS_FIELD_NUMBER: _ClassVar[int]
    FROM_CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    DISTRIBUTED_FIELD_NUMBER: _ClassVar[int]
    SFT_FIELD_NUMBER: _ClassVar[int]
    GRPO_FIELD_NUMBER: _ClassVar[int]
    GSPO_FIELD_NUMBER: _ClassVar[int]
    DR_GRPO_FIELD_NUMBER: _ClassVar[int]
    DPO_FIELD_NUMBER: _ClassVar[int]
    ORPO_FIELD_NUMBER: _ClassVar[int]
    CPO_FIELD_NUMBER: _ClassVar[int]
    ONLINE_DPO_FIELD_NUMBER: _ClassVar[int]
    XPO_FIELD_NUMBER: _ClassVar[int]
    RLHF_FIELD_NUMBER: _ClassVar[int]
    PPO_FIELD_NUMBER: _ClassVar[int]
    DATA_KEYS_FIELD_NUMBER: _ClassVar[int]
    FINAL_EVALUATION_FIELD_NUMBER: _ClassVar[int]
    EPOCHS_FIELD_NUMBER: _ClassVar[int]
    OPTIMIZER_FIELD_NUMBER: _ClassVar[int]
    LR_SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    MAX_GRAD_NORM_FIELD_NUMBER: _ClassVar[int]
    GRAD_ACCUMULATION_STEPS_FIELD_NUMBER: _ClassVar[int]
    METRICS_LOGGING_FIELD_NUMBER: _ClassVar[int]
    model_path: str
    train_data_path: str
    val_data_path: str
    learning_rate: float
    batch_size: int
    max_seq_length: int
    iterations: int
    early_stop: bool
    patience: int
    adapter: _methods_pb2.AdapterConfig
    seed: int
    report_every: int
    eval_every: int
    eval_batches: int
    checkpoint_every: int
    display_name: str
    keep_checkpoints: int
    from_checkpoint: FromCheckpoint
    distributed: _distributed_pb2.DistributedConfig
    sft: _methods_pb2.SftConfig
    grpo: _methods_pb2.GrpoConfig
    gspo: _methods_pb2.GspoConfig
    dr_grpo: _methods_pb2.DrGrpoConfig
    dpo: _methods_pb2.DpoConfig
    orpo: _methods_pb2.OrpoConfig
    cpo: _methods_pb2.CpoConfig
    online_dpo: _online_pb2.OnlineDpoConfig
    xpo: _online_pb2.XpoConfig
    rlhf: _online_pb2.RlhfConfig
    ppo: _online_pb2.PpoConfig
    data_keys: _data_keys_pb2.DataKeys
    final_evaluation: bool
    epochs: int
    optimizer: _options_pb2.OptimizerConfig
    lr_schedule: _options_pb2.LrSchedule
    max_grad_norm: float
    grad_accumulation_steps: int
    metrics_logging: _options_pb2.MetricsLogging
    def __init__(self, model_path: _Optional[str] = ..., train_data_path: _Optional[str] = ..., val_data_path: _Optional[str] = ..., learning_rate: _Optional[float] = ..., batch_size: _Optional[int] = ..., max_seq_length: _Optional[int] = ..., iterations: _Optional[int] = ..., early_stop: _Optional[bool] = ..., patience: _Optional[int] = ..., adapter: _Optional[_Union[_methods_pb2.AdapterConfig, _Mapping]] = ..., seed: _Optional[int] = ..., report_every: _Optional[int] = ..., eval_every: _Optional[int] = ..., eval_batches: _Optional[int] = ..., checkpoint_every: _Optional[int] = ..., display_name: _Optional[str] = ..., keep_checkpoints: _Optional[int] = ..., from_checkpoint: _Optional[_Union[FromCheckpoint, _Mapping]] = ..., distributed: _Optional[_Union[_distributed_pb2.DistributedConfig, _Mapping]] = ..., sft: _Optional[_Union[_methods_pb2.SftConfig, _Mapping]] = ..., grpo: _Optional[_Union[_methods_pb2.GrpoConfig, _Mapping]] = ..., gspo: _Optional[_Union[_methods_pb2.GspoConfig, _Mapping]] = ..., dr_grpo: _Optional[_Union[_methods_pb2.DrGrpoConfig, _Mapping]] = ..., dpo: _Optional[_Union[_methods_pb2.DpoConfig, _Mapping]] = ..., orpo: _Optional[_Union[_methods_pb2.OrpoConfig, _Mapping]] = ..., cpo: _Optional[_Union[_methods_pb2.CpoConfig, _Mapping]] = ..., online_dpo: _Optional[_Union[_online_pb2.OnlineDpoConfig, _Mapping]] = ..., xpo: _Optional[_Union[_online_pb2.XpoConfig, _Mapping]] = ..., rlhf: _Optional[_Union[_online_pb2.RlhfConfig, _Mapping]] = ..., ppo: _Optional[_Union[_online_pb2.PpoConfig, _Mapping]] = ..., data_keys: _Optional[_Union[_data_keys_pb2.DataKeys, _Mapping]] = ..., final_evaluation: _Optional[bool] = ..., epochs: _Optional[int] = ..., optimizer: _Optional[_Union[_options_pb2.OptimizerConfig, _Mapping]] = ..., lr_schedule: _Optional[_Union[_options_pb2.LrSchedule, _Mapping]] = ..., max_grad_norm: _Optional[float] = ..., grad_accumulation_steps: _Optional[int] = ..., metrics_logging: _Optional[_Union[_options_pb2.MetricsLogging, _Mapping]] = ...) -> None: ...

class FromCheckpoint(_message.Message):
    __slots__ = ("job_id", "iteration")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    ITERATION_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    iteration: int
    def __init__(self, job_id: _Optional[str] = ..., iteration: _Optional[int] = ...) -> None: ...

class JobError(_message.Message):
    __slots__ = ("reason", "message")
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    reason: str
    message: str
    def __init__(self, reason: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class JobMetrics(_message.Message):
    __slots__ = ("iteration", "total_iterations", "train_loss", "val_loss", "learning_rate", "iterations_per_second", "tokens_per_second", "trained_tokens", "peak_memory_bytes", "method_metrics")
    class MethodMetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    ITERATION_FIELD_NUMBER: _ClassVar[int]
    TOTAL_ITERATIONS_FIELD_NUMBER: _ClassVar[int]
    TRAIN_LOSS_FIELD_NUMBER: _ClassVar[int]
    VAL_LOSS_FIELD_NUMBER: _ClassVar[int]
    LEARNING_RATE_FIELD_NUMBER: _ClassVar[int]
    ITERATIONS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    TOKENS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    TRAINED_TOKENS_FIELD_NUMBER: _ClassVar[int]
    PEAK_MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    METHOD_METRICS_FIELD_NUMBER: _ClassVar[int]
    iteration: int
    total_iterations: int
    train_loss: float
    val_loss: float
    learning_rate: float
    iterations_per_second: float
    tokens_per_second: float
    trained_tokens: int
    peak_memory_bytes: int
    method_metrics: _containers.ScalarMap[str, float]
    def __init__(self, iteration: _Optional[int] = ..., total_iterations: _Optional[int] = ..., train_loss: _Optional[float] = ..., val_loss: _Optional[float] = ..., learning_rate: _Optional[float] = ..., iterations_per_second: _Optional[float] = ..., tokens_per_second: _Optional[float] = ..., trained_tokens: _Optional[int] = ..., peak_memory_bytes: _Optional[int] = ..., method_metrics: _Optional[_Mapping[str, float]] = ...) -> None: ...

class TrainingJob(_message.Message):
    __slots__ = ("job_id", "spec", "method", "state", "create_time", "start_time", "end_time", "error", "metrics", "device", "output_dir", "adapter_path", "last_sequence", "request_id", "creator", "resume_iteration", "data")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_DIR_FIELD_NUMBER: _ClassVar[int]
    ADAPTER_PATH_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CREATOR_FIELD_NUMBER: _ClassVar[int]
    RESUME_ITERATION_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    spec: TrainingJobSpec
    method: _methods_pb2.TrainingMethod
    state: JobState
    create_time: _timestamp_pb2.Timestamp
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    error: JobError
    metrics: JobMetrics
    device: str
    output_dir: str
    adapter_path: str
    last_sequence: int
    request_id: str
    creator: str
    resume_iteration: int
    data: TrainingData
    def __init__(self, job_id: _Optional[str] = ..., spec: _Optional[_Union[TrainingJobSpec, _Mapping]] = ..., method: _Optional[_Union[_methods_pb2.TrainingMethod, str]] = ..., state: _Optional[_Union[JobState, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., error: _Optional[_Union[JobError, _Mapping]] = ..., metrics: _Optional[_Union[JobMetrics, _Mapping]] = ..., device: _Optional[str] = ..., output_dir: _Optional[str] = ..., adapter_path: _Optional[str] = ..., last_sequence: _Optional[int] = ..., request_id: _Optional[str] = ..., creator: _Optional[str] = ..., resume_iteration: _Optional[int] = ..., data: _Optional[_Union[TrainingData, _Mapping]] = ...) -> None: ...

class TrainingData(_message.Message):
    __slots__ = ("train", "valid", "train_records_used", "valid_records_used")
    TRAIN_FIELD_NUMBER: _ClassVar[int]
    VALID_FIELD_NUMBER: _ClassVar[int]
    TRAIN_RECORDS_USED_FIELD_NUMBER: _ClassVar[int]
    VALID_RECORDS_USED_FIELD_NUMBER: _ClassVar[int]
    train: _data_pb2.DatasetFileReport
    valid: _data_pb2.DatasetFileReport
    train_records_used: int
    valid_records_used: int
    def __init__(self, train: _Optional[_Union[_data_pb2.DatasetFileReport, _Mapping]] = ..., valid: _Optional[_Union[_data_pb2.DatasetFileReport, _Mapping]] = ..., train_records_used: _Optional[int] = ..., valid_records_used: _Optional[int] = ...) -> None: ...

class Checkpoint(_message.Message):
    __slots__ = ("iteration", "path", "size_bytes", "create_time", "final", "removed", "resumable")
    ITERATION_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    RESUMABLE_FIELD_NUMBER: _ClassVar[int]
    iteration: int
    path: str
    size_bytes: int
    create_time: _timestamp_pb2.Timestamp
    final: bool
    removed: bool
    resumable: bool
    def __init__(self, iteration: _Optional[int] = ..., path: _Optional[str] = ..., size_bytes: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., final: _Optional[bool] = ..., removed: _Optional[bool] = ..., resumable: _Optional[bool] = ...) -> None: ...
