"""Save and load model folders: atomic, in the libraries' own formats, checked before use.

A folder is written under a temporary name and renamed into place, and its manifest is the
last file written, so a folder without a manifest is by construction incomplete and is never
loaded. Loading verifies every file's SHA-256 against the manifest before any of it is read,
and refuses a folder carrying a pickle anywhere: assay never writes one, so one found there was
put there by someone else, and unpickling runs arbitrary code.

A save killed between its two renames (old folder aside, new folder in) leaves no folder under
the name and the previous model aside as `.NAME.old-PID`; the next save or load of that name
puts it back (`recover`). Leftovers of killed saves are removed once their process is gone.
A full disk (or a read-only one) ends a save with a message naming the folder and the space
needed, and nothing half-written.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path

from assay.artifact.manifest import FORMAT, MANIFEST, check_compatible, library_versions
from assay.errors import ArtifactError, problem, storage_error

# Which libraries each family's files need at load time.
FAMILY_LIBRARIES = {
    "lightgbm": ["lightgbm"],
    "xgboost": ["xgboost"],
    "catboost": ["catboost"],
    "linear": ["scikit-learn", "skops"],
    "knn": ["scikit-learn", "skops"],
    "random_forest": ["scikit-learn", "skops"],
    "extra_trees": ["scikit-learn", "skops"],
    "mlp": ["torch", "scikit-learn", "skops"],
}


PAUSE_ENV = "ASSAY_SAVE_TEST_PAUSE"  # tests only: hold a save at a named point so it can be killed there
_PICKLE_SUFFIXES = {".pkl", ".pickle", ".joblib", ".dill", ".cloudpickle"}
_NATIVE_SUFFIXES = {".so", ".dylib", ".dll"}


def save_folder(directory: str | Path, write_files, manifest: dict) -> Path:
    """Write a model folder: `write_files(tmp_dir)` writes the payload, then the manifest goes last."""
    directory = Path(directory).resolve()
    recover(directory)
    if directory.exists() and not (directory / MANIFEST).exists() and any(directory.iterdir()):
        raise ArtifactError(
            problem(
                "refusing to overwrite a folder that is not an assay model",
                where=str(directory),
                fix="choose an empty or new folder",
            )
        )
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = directory.parent / f".{directory.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    old = directory.parent / f".{directory.name}.old-{os.getpid()}"
    try:
        write_files(tmp)
        files = {str(p.relative_to(tmp)): _sha256(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
        # a rewrite of a saved folder (assay compile) keeps the versions its files were saved with
        manifest = {"format": FORMAT, "libraries": library_versions(), **manifest, "files": files}
        _pause("written")
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))
        if directory.exists():
            directory.rename(old)
        _pause("swapping")
        tmp.rename(directory)
        shutil.rmtree(old, ignore_errors=True)
    except Exception as exc:
        size = sum(p.stat().st_size for p in tmp.rglob("*") if p.is_file()) if tmp.exists() else 0
        _undo(tmp, old, directory)
        error = storage_error(
            exc if isinstance(exc, OSError) else _disk_refuses(directory.parent),
            "the model could not be saved",
            str(directory),
            f"free space (the model needs more than {size / 2**20:.1f} MB) or save to another folder; "
            "nothing was written there",
        )
        if error is None:
            raise
        raise error from exc
    except BaseException:
        _undo(tmp, old, directory)
        raise
    return directory


def _undo(tmp: Path, old: Path, directory: Path) -> None:
    """A failed save leaves what was there before: the previous model back in place, no temp folder."""
    if old.exists() and not directory.exists():
        old.rename(directory)
    shutil.rmtree(tmp, ignore_errors=True)


def _disk_refuses(folder: Path) -> OSError | None:
    """Whether `folder`'s disk takes another megabyte. Libraries writing through C (LightGBM,
    XGBoost) report a full disk in their own words; this asks the disk directly."""
    probe = folder / f".assay-probe-{os.getpid()}"
    try:
        with open(probe, "wb") as fh:
            fh.write(b"\0" * 2**20)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        return exc
    finally:
        probe.unlink(missing_ok=True)
    return None


def recover(directory: Path) -> None:
    """Undo what a killed save left behind (see the module docstring). Only leftovers of
    processes that no longer run are touched, so a save in progress elsewhere is safe."""
    parent = directory.parent
    if not parent.is_dir():
        return
    for leftover in sorted(parent.glob(f".{directory.name}.*-*")):
        kind, _, pid = leftover.name.removeprefix(f".{directory.name}.").partition("-")
        if kind not in ("tmp", "old") or not pid.isdigit() or _alive(int(pid)):
            continue
        if kind == "old" and not directory.exists() and (leftover / MANIFEST).is_file():
            leftover.rename(directory)  # the previous model, put back where it was
        else:
            shutil.rmtree(leftover, ignore_errors=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _pause(point: str) -> None:
    if os.environ.get(PAUSE_ENV) == point:
        print(f"paused at {point}", flush=True)
        time.sleep(3600)


def open_folder(directory: str | Path) -> dict:
    """The verified manifest of a model folder; raises ArtifactError if anything is off."""
    directory = Path(directory)
    where = str(directory)
    recover(directory.resolve())
    if not directory.is_dir():
        raise ArtifactError(problem("no model folder here", where=where, fix="pass the folder written by fit/save"))
    path = directory / MANIFEST
    if not path.is_file():
        raise ArtifactError(
            problem(
                "folder has no manifest.json, so it is not a complete assay model",
                where=where,
                fix="pass the folder written by `assay fit --out` or Predictor.save",
            )
        )
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ArtifactError(
            problem("manifest.json is not valid JSON", where=where, fix="restore it, or refit")
        ) from None
    check_compatible(manifest, where)
    refuse_pickles(directory)
    refuse_unlisted_native_code(directory, manifest)
    for rel, digest in manifest.get("files", {}).items():
        f = directory / rel
        if not f.is_file():
            raise ArtifactError(
                problem(
                    f"file {rel} listed in the manifest is missing",
                    where=where,
                    fix="restore the complete folder, or refit",
                )
            )
        if _sha256(f) != digest:
            raise ArtifactError(
                problem(
                    f"file {rel} was modified after saving (checksum mismatch)",
                    where=where,
                    fix="restore the original file, or refit; assay will not load altered models",
                )
            )
    return manifest


def refuse_pickles(directory: Path) -> None:
    """assay writes models in the libraries' own formats, skops and JSON; a pickle in a model
    folder (by name, or by its opening bytes: protocol 2 and later start with 0x80 and the
    protocol number) was put there by someone else, and loading it would run their code."""
    for path in sorted(directory.rglob("*")):
        if not path.is_file():
            continue
        with open(path, "rb") as fh:
            head = fh.read(2)
        if path.suffix.lower() in _PICKLE_SUFFIXES or (len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5):
            raise ArtifactError(
                problem(
                    f"the model folder carries a pickle ({path.relative_to(directory)}); assay never writes or "
                    "loads pickles, which can run arbitrary code",
                    where=str(directory),
                    fix="do not load this folder; use a model saved by assay (or fetch it again from the registry)",
                )
            )


def refuse_unlisted_native_code(directory: Path, manifest: dict) -> None:
    """A compiled library runs as code when loaded. `assay compile` lists the ones it writes, with
    their checksums, in the manifest; any other was put there by someone else."""
    listed = set(manifest.get("files", {}))
    for path in sorted(directory.rglob("*")):
        rel = str(path.relative_to(directory))
        if path.suffix.lower() in _NATIVE_SUFFIXES and path.is_file() and rel not in listed:
            raise ArtifactError(
                problem(
                    f"the model folder carries native code its manifest does not list ({rel})",
                    where=str(directory),
                    fix="do not load this folder; use a model saved (and compiled) by assay",
                )
            )


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
