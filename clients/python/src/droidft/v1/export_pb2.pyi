from buf.validate import validate_pb2 as _validate_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ExportModelRequest(_message.Message):
    __slots__ = ("job_id", "iteration", "quantize_bits", "quantize_group_size", "dequantize", "gguf")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    ITERATION_FIELD_NUMBER: _ClassVar[int]
    QUANTIZE_BITS_FIELD_NUMBER: _ClassVar[int]
    QUANTIZE_GROUP_SIZE_FIELD_NUMBER: _ClassVar[int]
    DEQUANTIZE_FIELD_NUMBER: _ClassVar[int]
    GGUF_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    iteration: int
    quantize_bits: int
    quantize_group_size: int
    dequantize: bool
    gguf: bool
    def __init__(self, job_id: _Optional[str] = ..., iteration: _Optional[int] = ..., quantize_bits: _Optional[int] = ..., quantize_group_size: _Optional[int] = ..., dequantize: _Optional[bool] = ..., gguf: _Optional[bool] = ...) -> None: ...

class ExportModelResponse(_message.Message):
    __slots__ = ("progress", "result")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    progress: ExportProgress
    result: ExportedModel
    def __init__(self, progress: _Optional[_Union[ExportProgress, _Mapping]] = ..., result: _Optional[_Union[ExportedModel, _Mapping]] = ...) -> None: ...

class ExportProgress(_message.Message):
    __slots__ = ("stage", "fraction")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    FRACTION_FIELD_NUMBER: _ClassVar[int]
    stage: str
    fraction: float
    def __init__(self, stage: _Optional[str] = ..., fraction: _Optional[float] = ...) -> None: ...

class ExportedModel(_message.Message):
    __slots__ = ("export_id", "path", "files", "reused")
    EXPORT_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    REUSED_FIELD_NUMBER: _ClassVar[int]
    export_id: str
    path: str
    files: _containers.RepeatedCompositeFieldContainer[ExportedFile]
    reused: bool
    def __init__(self, export_id: _Optional[str] = ..., path: _Optional[str] = ..., files: _Optional[_Iterable[_Union[ExportedFile, _Mapping]]] = ..., reused: _Optional[bool] = ...) -> None: ...

class ExportedFile(_message.Message):
    __slots__ = ("path", "size_bytes", "sha256")
    PATH_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    path: str
    size_bytes: int
    sha256: str
    def __init__(self, path: _Optional[str] = ..., size_bytes: _Optional[int] = ..., sha256: _Optional[str] = ...) -> None: ...
