"""Resource estimation: peak memory and time of a job, predicted from the model and the device."""

from .device import DeviceProfile
from .estimate import Advice, Estimate, estimate
from .fit import check_fit, format_bytes
from .memory import MemoryBreakdown
from .model_facts import ModelFacts, ModelFactsError, read_model_facts
from .workload import TokenLengths

__all__ = [
    "Advice",
    "DeviceProfile",
    "Estimate",
    "MemoryBreakdown",
    "ModelFacts",
    "ModelFactsError",
    "TokenLengths",
    "check_fit",
    "estimate",
    "format_bytes",
    "read_model_facts",
]
