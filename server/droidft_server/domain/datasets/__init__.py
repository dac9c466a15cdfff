"""Data sets: formats, validation before training, sample data, and conversion between formats.

Pure Python: msgspec decodes, `tokenizers` measures token lengths; no gRPC, no MLX.
"""

from .detect import detect_format
from .formats import FORMATS, METHODS, Format, UnknownFormatError, formats_for_method, get_format
from .issues import Issue, Severity
from .reader import RecordError, iter_records, split_files
from .report import FileReport, TokenStatistics, ValidationReport
from .validate import ValidationOptions, validate_bytes, validate_path

__all__ = [
    "FORMATS", "METHODS", "FileReport", "Format", "Issue", "RecordError", "Severity", "TokenStatistics",
    "UnknownFormatError", "ValidationOptions", "ValidationReport", "detect_format", "formats_for_method",
    "get_format", "iter_records", "split_files", "validate_bytes", "validate_path",
]
