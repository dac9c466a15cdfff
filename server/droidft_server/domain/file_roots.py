"""Which files a request may touch: data under the data roots, models under the model roots, never
the server's state directory.

Every path a request names is resolved first (a relative one from the first root of its kind, then
`..` and every symlink), and only the resolved path is checked and used, so a symlink or `..` cannot lead out of a
root and the job records the file it really reads. A path outside the roots is refused before
anything is read, written or even looked up there: the answer is the same whether it exists or not.
A data path `file:<file_id>` names a file uploaded to the server's files area (domain/files.py), the
one part of the state directory a request may read. Inside a root only regular files are read (never
a FIFO or a device, which would block or never end), and a data directory's split files and a model
directory's files must resolve inside the roots too.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from droidft.v1 import job_pb2

from .datasets.reader import split_files
from .errors import DroidftError, ErrorKind, FieldViolation, Reason, invalid_argument
from .files import DATA_PATH_PREFIX, FileStore
from .online_models import spec_model_fields


def _inside(path: Path, roots: tuple[Path, ...]) -> bool:
    return any(path == root or path.is_relative_to(root) for root in roots)


def _resolved_or_working_directory(paths: list[Path]) -> tuple[Path, ...]:
    return tuple(Path(p).resolve() for p in paths) or (Path.cwd().resolve(),)


@dataclass(frozen=True)
class FileRoots:
    data: tuple[Path, ...]  # resolved; the first is where relative paths start
    models: tuple[Path, ...]
    private: tuple[Path, ...] = ()  # never reachable, even when under a root (the state directory)
    uploads: FileStore | None = None  # the files area that `file:<file_id>` data paths name

    @classmethod
    def of(
        cls, data: list[Path], models: list[Path], private: list[Path], uploads: FileStore | None = None
    ) -> FileRoots:
        """Roots from the server's options; without any, the working directory holds data and models."""
        return cls(
            data=_resolved_or_working_directory(data),
            models=_resolved_or_working_directory(models),
            private=tuple(Path(p).resolve() for p in private),
            uploads=uploads,
        )

    @staticmethod
    def _resolve(raw: str, roots: tuple[Path, ...]) -> Path:
        path = Path(raw)
        return (path if path.is_absolute() else roots[0] / path).resolve()

    def _confined(self, field: str, raw: str, roots: tuple[Path, ...], kind: str) -> Path:
        try:
            resolved = self._resolve(raw, roots)
        except (OSError, RuntimeError, ValueError) as error:  # a symlink loop, a NUL byte, a name too long
            raise _unusable(field, str(error)) from None
        if _inside(resolved, self.private):
            raise _outside(field, resolved, "is in the server's state directory, which no request may reach")
        if not _inside(resolved, roots):
            raise _outside(field, resolved, f"is outside the server's {kind} roots ({', '.join(map(str, roots))})")
        return resolved

    def data_source(self, field: str, raw: str) -> Path:
        """A data file, or a directory of split files, to read; `file:<file_id>` an uploaded file."""
        if raw.startswith(DATA_PATH_PREFIX) and self.uploads is not None:
            path = self.uploads.path(raw.removeprefix(DATA_PATH_PREFIX))
            _regular(field, path)
            return path
        path = self._confined(field, raw, self.data, "data")
        with _usable(field):
            self._check_source(field, path)
        return path

    def _check_source(self, field: str, path: Path) -> None:
        if path.is_dir():
            for split_file in split_files(path).values():
                _regular(field, self._confined(field, str(split_file), self.data, "data"))
        else:
            _regular(field, path)

    def data_output(self, field: str, raw: str, *, overwrite: bool) -> Path:
        """A data file to write: an existing one only with `overwrite`, and no directory made outside a root."""
        path = self._confined(field, raw, self.data, "data")
        with _usable(field):
            exists = path.exists() or path.is_symlink()
        if exists:
            if not overwrite:
                raise DroidftError(
                    ErrorKind.ALREADY_EXISTS,
                    Reason.OUTPUT_EXISTS,
                    f"{field}: {path} exists; set overwrite to replace it",
                    {"field": field, "path": str(path)},
                )
            _regular(field, path)
        return path

    def model_dir(self, field: str, raw: str) -> Path:
        """A model directory, each file of which (symlinks resolved, as in a Hugging Face cache) is in a root."""
        path = self._confined(field, raw, self.models, "model")
        with _usable(field):
            entries = list(path.iterdir()) if path.is_dir() else []
        for entry in entries:
            target = self._confined(field, str(entry), self.models, "model")
            with _usable(field):
                if not target.is_dir():
                    _regular(field, target)
        return path

    def confine_spec(self, spec: job_pb2.TrainingJobSpec) -> job_pb2.TrainingJobSpec:
        """The spec with each path resolved and checked; the job keeps these resolved paths."""
        confined = job_pb2.TrainingJobSpec()
        confined.CopyFrom(spec)
        if spec.model_path:
            confined.model_path = str(self.model_dir("spec.model_path", spec.model_path))
        if spec.train_data_path:
            confined.train_data_path = str(self.data_source("spec.train_data_path", spec.train_data_path))
        if spec.HasField("val_data_path"):
            confined.val_data_path = str(self.data_source("spec.val_data_path", spec.val_data_path))
        for field, message, name in spec_model_fields(confined):  # an online method's judge or reward model
            setattr(message, name, str(self.model_dir(field, getattr(message, name))))
        return confined


@contextlib.contextmanager
def _usable(field: str) -> Iterator[None]:
    """A path the file system refuses to look at (a name too long, a loop) is the request's mistake."""
    try:
        yield
    except OSError as error:
        raise _unusable(field, error.strerror or str(error)) from None


def _outside(field: str, resolved: Path, why: str) -> DroidftError:
    return DroidftError(
        ErrorKind.PERMISSION_DENIED,
        Reason.PATH_OUTSIDE_ROOTS,
        f"{field}: {resolved} {why}",
        {"field": field, "path": str(resolved)},
    )


def _unusable(field: str, why: str) -> DroidftError:
    return invalid_argument([FieldViolation(field, f"not a usable path: {why}", "path.usable")])


def _regular(field: str, path: Path) -> None:
    """Refuse anything but a regular file; a path that does not exist is left to the caller's own check."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as error:
        raise _unusable(field, error.strerror or str(error)) from None
    if not stat.S_ISREG(mode):
        raise DroidftError(
            ErrorKind.FAILED_PRECONDITION,
            Reason.NOT_A_REGULAR_FILE,
            f"{field}: {path} is not a regular file (only regular files are read)",
            {"field": field, "path": str(path)},
        )
