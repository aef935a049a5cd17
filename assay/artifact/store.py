"""Save and load model folders: atomic, in the libraries' own formats, checked before use.

A folder is written under a temporary name and renamed into place, and its manifest is the
last file written, so a folder without a manifest is by construction incomplete and is never
loaded. Loading verifies every file's SHA-256 against the manifest before any of it is read.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from assay.artifact.manifest import FORMAT, MANIFEST, check_compatible, library_versions
from assay.errors import ArtifactError, problem

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


def save_folder(directory: str | Path, write_files, manifest: dict) -> Path:
    """Write a model folder: `write_files(tmp_dir)` writes the payload, then the manifest goes last."""
    directory = Path(directory).resolve()
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
    try:
        write_files(tmp)
        files = {str(p.relative_to(tmp)): _sha256(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
        manifest = {"format": FORMAT, **manifest, "libraries": library_versions(), "files": files}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))
        old = directory.parent / f".{directory.name}.old-{os.getpid()}"
        if directory.exists():
            directory.rename(old)
        tmp.rename(directory)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory


def open_folder(directory: str | Path) -> dict:
    """The verified manifest of a model folder; raises ArtifactError if anything is off."""
    directory = Path(directory)
    where = str(directory)
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


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
