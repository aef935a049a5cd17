"""The manifest: a readable description of a saved model, and the checks made before loading.

It records what a person (or an auditor) wants to know without running anything: the task,
metric, seed, input schema, leaderboard, library versions, a fingerprint of the training data,
and a SHA-256 of every file in the folder.
"""

from __future__ import annotations

import importlib.metadata
import warnings

from packaging.version import InvalidVersion, Version

from assay.errors import ArtifactError, problem

MANIFEST = "manifest.json"
FORMAT = 1

# Libraries whose saved files a model may depend on: the major version must match to load.
LIBRARIES = ("assay", "numpy", "pandas", "scikit-learn", "lightgbm", "xgboost", "catboost", "torch", "skops")


def library_versions() -> dict[str, str]:
    out = {}
    for name in LIBRARIES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def check_compatible(manifest: dict, where: str) -> None:
    if manifest.get("format") != FORMAT:
        raise ArtifactError(
            problem(
                f"model folder has manifest format {manifest.get('format')!r}, this assay reads {FORMAT}",
                where=where,
                fix="load it with the assay version that saved it, or refit",
            )
        )
    saved = manifest.get("libraries", {})
    installed = library_versions()
    for name in manifest.get("families_libraries", []):
        have, had = installed.get(name), saved.get(name)
        if have is None:
            raise ArtifactError(
                problem(
                    f"the model needs {name} {had}, which is not installed",
                    where=where,
                    fix=f"pip install '{name}=={had}'",
                )
            )
        if had and _major(had) != _major(have):
            raise ArtifactError(
                problem(
                    f"the model was saved with {name} {had}, this environment has {have}",
                    where=where,
                    fix=f"pip install '{name}=={had}', or refit the model",
                )
            )
        if had and had != have:
            warnings.warn(
                f"{name} {have} differs from {had} used to save the model; predictions may differ slightly",
                stacklevel=3,
            )


def _major(version: str) -> int:
    try:
        return Version(version).major
    except InvalidVersion:
        return -1
