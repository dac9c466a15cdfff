"""Data sets: formats, validation before training, sample data, and conversion between formats.

Pure Python: msgspec decodes, `tokenizers` measures token lengths; no gRPC, no MLX.
"""

from .convert import CONVERTERS, ConversionError, convert, convert_file
from .detect import detect_format
from .formats import FORMATS, METHODS, Format, UnknownFormatError, formats_for_method, get_format
from .generate import MAX_COUNT, generate
from .issues import Issue, Severity
from .reader import RecordError, iter_records, split_files
from .report import FileReport, TokenStatistics, ValidationReport
from .validate import CONTENT_NAME, ValidationOptions, validate_bytes, validate_files, validate_path
from .writer import to_jsonl_bytes, write_jsonl

__all__ = [
    "CONTENT_NAME",
    "CONVERTERS",
    "FORMATS",
    "MAX_COUNT",
    "METHODS",
    "ConversionError",
    "FileReport",
    "Format",
    "Issue",
    "RecordError",
    "Severity",
    "TokenStatistics",
    "UnknownFormatError",
    "ValidationOptions",
    "ValidationReport",
    "convert",
    "convert_file",
    "detect_format",
    "formats_for_method",
    "generate",
    "get_format",
    "iter_records",
    "split_files",
    "to_jsonl_bytes",
    "validate_bytes",
    "validate_files",
    "validate_path",
    "write_jsonl",
]
