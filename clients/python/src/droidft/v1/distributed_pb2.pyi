from buf.validate import validate_pb2 as _validate_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DistributedBackend(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DISTRIBUTED_BACKEND_UNSPECIFIED: _ClassVar[DistributedBackend]
    DISTRIBUTED_BACKEND_RING: _ClassVar[DistributedBackend]
    DISTRIBUTED_BACKEND_MPI: _ClassVar[DistributedBackend]

class RankState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RANK_STATE_UNSPECIFIED: _ClassVar[RankState]
    RANK_STATE_STARTED: _ClassVar[RankState]
    RANK_STATE_CONNECTED: _ClassVar[RankState]
    RANK_STATE_EXITED: _ClassVar[RankState]
    RANK_STATE_FAILED: _ClassVar[RankState]
DISTRIBUTED_BACKEND_UNSPECIFIED: DistributedBackend
DISTRIBUTED_BACKEND_RING: DistributedBackend
DISTRIBUTED_BACKEND_MPI: DistributedBackend
RANK_STATE_UNSPECIFIED: RankState
RANK_STATE_STARTED: RankState
RANK_STATE_CONNECTED: RankState
RANK_STATE_EXITED: RankState
RANK_STATE_FAILED: RankState

class DistributedConfig(_message.Message):
    __slots__ = ("ranks", "hosts", "backend", "start_timeout_seconds", "remote_port")
    RANKS_FIELD_NUMBER: _ClassVar[int]
    HOSTS_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    START_TIMEOUT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    REMOTE_PORT_FIELD_NUMBER: _ClassVar[int]
    ranks: int
    hosts: _containers.RepeatedScalarFieldContainer[str]
    backend: DistributedBackend
    start_timeout_seconds: int
    remote_port: int
    def __init__(self, ranks: _Optional[int] = ..., hosts: _Optional[_Iterable[str]] = ..., backend: _Optional[_Union[DistributedBackend, str]] = ..., start_timeout_seconds: _Optional[int] = ..., remote_port: _Optional[int] = ...) -> None: ...

class RankStatus(_message.Message):
    __slots__ = ("rank", "ranks", "state", "host", "message")
    RANK_FIELD_NUMBER: _ClassVar[int]
    RANKS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    rank: int
    ranks: int
    state: RankState
    host: str
    message: str
    def __init__(self, rank: _Optional[int] = ..., ranks: _Optional[int] = ..., state: _Optional[_Union[RankState, str]] = ..., host: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...
