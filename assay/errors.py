"""The AssayError tree: every mistake a user can make gets a message, not a traceback.

    AssayError                      base; the CLI turns any of these into one line and exit code 2
    ├── DataError                   the table itself is unusable
    │   ├── DataSourceError         file missing, empty, unreadable or of an unknown format
    │   └── TargetError             target column missing, all missing, a single class, non-numeric
    ├── ConfigError                 an argument is out of range or unknown (budget, metric, task ...)
    ├── SchemaError                 prediction data does not match what the model was trained on
    ├── ArtifactError               a saved model folder is incomplete, tampered or incompatible
    ├── RegistryError               unknown model name or version, a forbidden stage change, a bad token id
    └── StorageError                a write failed: the disk is full or read-only, or permission is denied

Every message says three things: the problem, where it is (column, argument, path), and the fix.
Build them with :func:`problem` so they read the same everywhere.
"""

from __future__ import annotations

import errno


class AssayError(Exception):
    """Base of every error that is the user's to fix (exit code 2 on the CLI)."""

    exit_code = 2


class DataError(AssayError):
    """The data handed to assay cannot be used as it is."""


class DataSourceError(DataError):
    """A file or source cannot be found or read."""


class TargetError(DataError):
    """The target column cannot be learned from."""


class ConfigError(AssayError):
    """An argument is out of range, unknown or inconsistent."""


class SchemaError(AssayError):
    """Data given for prediction does not match the model's input schema."""


class ArtifactError(AssayError):
    """A saved model cannot be loaded safely."""


class RegistryError(AssayError):
    """The model registry cannot do what was asked (unknown name or version, forbidden change)."""


class StorageError(AssayError):
    """Writing a file failed for a reason outside assay: a full disk, a quota, a read-only mount."""


_STORAGE_ERRNOS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EFBIG: "a file grew past the size this process may write",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
}


def storage_error(exc: BaseException, what: str, where: str, fix: str) -> StorageError | None:
    """A StorageError for an OSError that means 'this disk will not take the data', else None
    (other OSErrors are bugs or unreadable inputs, reported as they are)."""
    if not isinstance(exc, OSError) or exc.errno not in _STORAGE_ERRNOS:
        return None
    return StorageError(problem(f"{what}: {_STORAGE_ERRNOS[exc.errno]} ({exc.strerror})", where=where, fix=fix))


def problem(what: str, *, where: str | None = None, fix: str) -> str:
    """Format a user-facing message: problem, location, fix."""
    head = f"{what} ({where})" if where else what
    return f"{head}. Fix: {fix}"
