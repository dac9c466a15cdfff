from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from typing import ClassVar as _ClassVar

DESCRIPTOR: _descriptor.FileDescriptor

class ErrorReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ERROR_REASON_UNSPECIFIED: _ClassVar[ErrorReason]
    INVALID_REQUEST: _ClassVar[ErrorReason]
    JOB_NOT_FOUND: _ClassVar[ErrorReason]
    REQUEST_ID_REUSED: _ClassVar[ErrorReason]
    JOB_ALREADY_FINISHED: _ClassVar[ErrorReason]
    SERVER_SHUTTING_DOWN: _ClassVar[ErrorReason]
    SERVER_RESTARTED: _ClassVar[ErrorReason]
    WORKER_START_FAILED: _ClassVar[ErrorReason]
    WORKER_CRASHED: _ClassVar[ErrorReason]
    TRAINING_ERROR: _ClassVar[ErrorReason]
    MODEL_NOT_FOUND: _ClassVar[ErrorReason]
    MODEL_UNLOADABLE: _ClassVar[ErrorReason]
    MODEL_UNREADABLE: _ClassVar[ErrorReason]
    DATASET_NOT_FOUND: _ClassVar[ErrorReason]
    DATASET_INVALID: _ClassVar[ErrorReason]
    INSUFFICIENT_MEMORY: _ClassVar[ErrorReason]
    METHOD_NOT_AVAILABLE: _ClassVar[ErrorReason]
    INTERNAL: _ClassVar[ErrorReason]
    PATH_OUTSIDE_ROOTS: _ClassVar[ErrorReason]
    NOT_A_REGULAR_FILE: _ClassVar[ErrorReason]
    OUTPUT_EXISTS: _ClassVar[ErrorReason]
    AUTHENTICATION_REQUIRED: _ClassVar[ErrorReason]
    SEQUENCE_PAST_END: _ClassVar[ErrorReason]
    QUEUE_FULL: _ClassVar[ErrorReason]
    TOO_MANY_STREAMS: _ClassVar[ErrorReason]
    STORAGE_UNAVAILABLE: _ClassVar[ErrorReason]
    JOB_NOT_FINISHED: _ClassVar[ErrorReason]
    JOB_STATE_CONFLICT: _ClassVar[ErrorReason]
    NO_RESUMABLE_CHECKPOINT: _ClassVar[ErrorReason]
    CHECKPOINT_UNUSABLE: _ClassVar[ErrorReason]
    REWARD_MODEL_UNSUPPORTED: _ClassVar[ErrorReason]
    JUDGE_MODEL_UNSUPPORTED: _ClassVar[ErrorReason]
ERROR_REASON_UNSPECIFIED: ErrorReason
INVALID_REQUEST: ErrorReason
JOB_NOT_FOUND: ErrorReason
REQUEST_ID_REUSED: ErrorReason
JOB_ALREADY_FINISHED: ErrorReason
SERVER_SHUTTING_DOWN: ErrorReason
SERVER_RESTARTED: ErrorReason
WORKER_START_FAILED: ErrorReason
WORKER_CRASHED: ErrorReason
TRAINING_ERROR: ErrorReason
MODEL_NOT_FOUND: ErrorReason
MODEL_UNLOADABLE: ErrorReason
MODEL_UNREADABLE: ErrorReason
DATASET_NOT_FOUND: ErrorReason
DATASET_INVALID: ErrorReason
INSUFFICIENT_MEMORY: ErrorReason
METHOD_NOT_AVAILABLE: ErrorReason
INTERNAL: ErrorReason
PATH_OUTSIDE_ROOTS: ErrorReason
NOT_A_REGULAR_FILE: ErrorReason
OUTPUT_EXISTS: ErrorReason
AUTHENTICATION_REQUIRED: ErrorReason
SEQUENCE_PAST_END: ErrorReason
QUEUE_FULL: ErrorReason
TOO_MANY_STREAMS: ErrorReason
STORAGE_UNAVAILABLE: ErrorReason
JOB_NOT_FINISHED: ErrorReason
JOB_STATE_CONFLICT: ErrorReason
NO_RESUMABLE_CHECKPOINT: ErrorReason
CHECKPOINT_UNUSABLE: ErrorReason
REWARD_MODEL_UNSUPPORTED: ErrorReason
JUDGE_MODEL_UNSUPPORTED: ErrorReason
