from buf.validate import validate_pb2 as _validate_pb2
from droidft.v1 import data_keys_pb2 as _data_keys_pb2
from droidft.v1 import methods_pb2 as _methods_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class IssueSeverity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ISSUE_SEVERITY_UNSPECIFIED: _ClassVar[IssueSeverity]
    ISSUE_SEVERITY_ERROR: _ClassVar[IssueSeverity]
    ISSUE_SEVERITY_WARNING: _ClassVar[IssueSeverity]
ISSUE_SEVERITY_UNSPECIFIED: IssueSeverity
ISSUE_SEVERITY_ERROR: IssueSeverity
ISSUE_SEVERITY_WARNING: IssueSeverity

class DatasetIssue(_message.Message):
    __slots__ = ("file", "line", "field_path", "code", "message", "severity")
    FILE_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    FIELD_PATH_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    file: str
    line: int
    field_path: str
    code: str
    message: str
    severity: IssueSeverity
    def __init__(self, file: _Optional[str] = ..., line: _Optional[int] = ..., field_path: _Optional[str] = ..., code: _Optional[str] = ..., message: _Optional[str] = ..., severity: _Optional[_Union[IssueSeverity, str]] = ...) -> None: ...

class TokenStatistics(_message.Message):
    __slots__ = ("min", "mean", "p95", "max", "over_max_seq_length")
    MIN_FIELD_NUMBER: _ClassVar[int]
    MEAN_FIELD_NUMBER: _ClassVar[int]
    P95_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    OVER_MAX_SEQ_LENGTH_FIELD_NUMBER: _ClassVar[int]
    min: int
    mean: float
    p95: int
    max: int
    over_max_seq_length: int
    def __init__(self, min: _Optional[int] = ..., mean: _Optional[float] = ..., p95: _Optional[int] = ..., max: _Optional[int] = ..., over_max_seq_length: _Optional[int] = ...) -> None: ...

class DatasetFileReport(_message.Message):
    __slots__ = ("path", "split", "format", "record_count", "error_count", "warning_count", "field_presence", "token_statistics", "token_statistics_sampled", "token_records_counted")
    class FieldPresenceEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    PATH_FIELD_NUMBER: _ClassVar[int]
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    RECORD_COUNT_FIELD_NUMBER: _ClassVar[int]
    ERROR_COUNT_FIELD_NUMBER: _ClassVar[int]
    WARNING_COUNT_FIELD_NUMBER: _ClassVar[int]
    FIELD_PRESENCE_FIELD_NUMBER: _ClassVar[int]
    TOKEN_STATISTICS_FIELD_NUMBER: _ClassVar[int]
    TOKEN_STATISTICS_SAMPLED_FIELD_NUMBER: _ClassVar[int]
    TOKEN_RECORDS_COUNTED_FIELD_NUMBER: _ClassVar[int]
    path: str
    split: str
    format: str
    record_count: int
    error_count: int
    warning_count: int
    field_presence: _containers.ScalarMap[str, int]
    token_statistics: TokenStatistics
    token_statistics_sampled: bool
    token_records_counted: int
    def __init__(self, path: _Optional[str] = ..., split: _Optional[str] = ..., format: _Optional[str] = ..., record_count: _Optional[int] = ..., error_count: _Optional[int] = ..., warning_count: _Optional[int] = ..., field_presence: _Optional[_Mapping[str, int]] = ..., token_statistics: _Optional[_Union[TokenStatistics, _Mapping]] = ..., token_statistics_sampled: _Optional[bool] = ..., token_records_counted: _Optional[int] = ...) -> None: ...

class ValidateDatasetRequest(_message.Message):
    __slots__ = ("path", "content", "method", "format", "model_path", "max_seq_length", "max_issues", "data_keys")
    PATH_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    MODEL_PATH_FIELD_NUMBER: _ClassVar[int]
    MAX_SEQ_LENGTH_FIELD_NUMBER: _ClassVar[int]
    MAX_ISSUES_FIELD_NUMBER: _ClassVar[int]
    DATA_KEYS_FIELD_NUMBER: _ClassVar[int]
    path: str
    content: bytes
    method: _methods_pb2.TrainingMethod
    format: str
    model_path: str
    max_seq_length: int
    max_issues: int
    data_keys: _data_keys_pb2.DataKeys
    def __init__(self, path: _Optional[str] = ..., content: _Optional[bytes] = ..., method: _Optional[_Union[_methods_pb2.TrainingMethod, str]] = ..., format: _Optional[str] = ..., model_path: _Optional[str] = ..., max_seq_length: _Optional[int] = ..., max_issues: _Optional[int] = ..., data_keys: _Optional[_Union[_data_keys_pb2.DataKeys, _Mapping]] = ...) -> None: ...

class ValidateDatasetResponse(_message.Message):
    __slots__ = ("valid", "files", "issues", "issue_counts", "issues_truncated")
    class IssueCountsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    VALID_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    ISSUES_FIELD_NUMBER: _ClassVar[int]
    ISSUE_COUNTS_FIELD_NUMBER: _ClassVar[int]
    ISSUES_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    valid: bool
    files: _containers.RepeatedCompositeFieldContainer[DatasetFileReport]
    issues: _containers.RepeatedCompositeFieldContainer[DatasetIssue]
    issue_counts: _containers.ScalarMap[str, int]
    issues_truncated: bool
    def __init__(self, valid: _Optional[bool] = ..., files: _Optional[_Iterable[_Union[DatasetFileReport, _Mapping]]] = ..., issues: _Optional[_Iterable[_Union[DatasetIssue, _Mapping]]] = ..., issue_counts: _Optional[_Mapping[str, int]] = ..., issues_truncated: _Optional[bool] = ...) -> None: ...

class StreamDatasetValidationRequest(_message.Message):
    __slots__ = ("check", "progress_interval_seconds")
    CHECK_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_INTERVAL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    check: ValidateDatasetRequest
    progress_interval_seconds: float
    def __init__(self, check: _Optional[_Union[ValidateDatasetRequest, _Mapping]] = ..., progress_interval_seconds: _Optional[float] = ...) -> None: ...

class StreamDatasetValidationResponse(_message.Message):
    __slots__ = ("bytes_read", "total_bytes", "records_read", "issues_found", "file", "result")
    BYTES_READ_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    RECORDS_READ_FIELD_NUMBER: _ClassVar[int]
    ISSUES_FOUND_FIELD_NUMBER: _ClassVar[int]
    FILE_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    bytes_read: int
    total_bytes: int
    records_read: int
    issues_found: int
    file: str
    result: ValidateDatasetResponse
    def __init__(self, bytes_read: _Optional[int] = ..., total_bytes: _Optional[int] = ..., records_read: _Optional[int] = ..., issues_found: _Optional[int] = ..., file: _Optional[str] = ..., result: _Optional[_Union[ValidateDatasetResponse, _Mapping]] = ...) -> None: ...

class GenerateSampleDataRequest(_message.Message):
    __slots__ = ("format", "count", "seed", "output_path", "overwrite")
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_PATH_FIELD_NUMBER: _ClassVar[int]
    OVERWRITE_FIELD_NUMBER: _ClassVar[int]
    format: str
    count: int
    seed: int
    output_path: str
    overwrite: bool
    def __init__(self, format: _Optional[str] = ..., count: _Optional[int] = ..., seed: _Optional[int] = ..., output_path: _Optional[str] = ..., overwrite: _Optional[bool] = ...) -> None: ...

class GenerateSampleDataResponse(_message.Message):
    __slots__ = ("format", "record_count", "path", "content")
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    RECORD_COUNT_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    format: str
    record_count: int
    path: str
    content: bytes
    def __init__(self, format: _Optional[str] = ..., record_count: _Optional[int] = ..., path: _Optional[str] = ..., content: _Optional[bytes] = ...) -> None: ...
