from buf.validate import validate_pb2 as _validate_pb2
from droidft.v1 import methods_pb2 as _methods_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PairJudge(_message.Message):
    __slots__ = ("judge_model_path", "reward_model_path")
    JUDGE_MODEL_PATH_FIELD_NUMBER: _ClassVar[int]
    REWARD_MODEL_PATH_FIELD_NUMBER: _ClassVar[int]
    judge_model_path: str
    reward_model_path: str
    def __init__(self, judge_model_path: _Optional[str] = ..., reward_model_path: _Optional[str] = ...) -> None: ...

class OnlineDpoConfig(_message.Message):
    __slots__ = ("rollout", "beta", "judge")
    ROLLOUT_FIELD_NUMBER: _ClassVar[int]
    BETA_FIELD_NUMBER: _ClassVar[int]
    JUDGE_FIELD_NUMBER: _ClassVar[int]
    rollout: _methods_pb2.RolloutConfig
    beta: float
    judge: PairJudge
    def __init__(self, rollout: _Optional[_Union[_methods_pb2.RolloutConfig, _Mapping]] = ..., beta: _Optional[float] = ..., judge: _Optional[_Union[PairJudge, _Mapping]] = ...) -> None: ...

class XpoConfig(_message.Message):
    __slots__ = ("rollout", "beta", "alpha", "judge")
    ROLLOUT_FIELD_NUMBER: _ClassVar[int]
    BETA_FIELD_NUMBER: _ClassVar[int]
    ALPHA_FIELD_NUMBER: _ClassVar[int]
    JUDGE_FIELD_NUMBER: _ClassVar[int]
    rollout: _methods_pb2.RolloutConfig
    beta: float
    alpha: float
    judge: PairJudge
    def __init__(self, rollout: _Optional[_Union[_methods_pb2.RolloutConfig, _Mapping]] = ..., beta: _Optional[float] = ..., alpha: _Optional[float] = ..., judge: _Optional[_Union[PairJudge, _Mapping]] = ...) -> None: ...

class RlhfConfig(_message.Message):
    __slots__ = ("rollout", "beta", "reward_model_path")
    ROLLOUT_FIELD_NUMBER: _ClassVar[int]
    BETA_FIELD_NUMBER: _ClassVar[int]
    REWARD_MODEL_PATH_FIELD_NUMBER: _ClassVar[int]
    rollout: _methods_pb2.RolloutConfig
    beta: float
    reward_model_path: str
    def __init__(self, rollout: _Optional[_Union[_methods_pb2.RolloutConfig, _Mapping]] = ..., beta: _Optional[float] = ..., reward_model_path: _Optional[str] = ...) -> None: ...

class PpoConfig(_message.Message):
    __slots__ = ("rollout", "epsilon", "beta", "gamma", "lam", "reward_model_path")
    ROLLOUT_FIELD_NUMBER: _ClassVar[int]
    EPSILON_FIELD_NUMBER: _ClassVar[int]
    BETA_FIELD_NUMBER: _ClassVar[int]
    GAMMA_FIELD_NUMBER: _ClassVar[int]
    LAM_FIELD_NUMBER: _ClassVar[int]
    REWARD_MODEL_PATH_FIELD_NUMBER: _ClassVar[int]
    rollout: _methods_pb2.RolloutConfig
    epsilon: float
    beta: float
    gamma: float
    lam: float
    reward_model_path: str
    def __init__(self, rollout: _Optional[_Union[_methods_pb2.RolloutConfig, _Mapping]] = ..., epsilon: _Optional[float] = ..., beta: _Optional[float] = ..., gamma: _Optional[float] = ..., lam: _Optional[float] = ..., reward_model_path: _Optional[str] = ...) -> None: ...
