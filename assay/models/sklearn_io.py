"""Saving and loading scikit-learn objects with skops, never pickle.

skops refuses types it does not trust by default; we widen that only to the libraries the
sklearn families are built from. A file naming any other type (a tampered or foreign artifact)
is refused with an ArtifactError instead of being executed.
"""

from __future__ import annotations

from pathlib import Path

from assay.errors import ArtifactError, problem

_SAFE_PREFIXES = ("sklearn.", "numpy.", "builtins.", "scipy.")


def save_skops(obj, path: str | Path) -> None:
    import skops.io as sio

    sio.dump(obj, str(path))


def load_skops(path: str | Path):
    import skops.io as sio

    path = Path(path)
    if not path.is_file():
        raise ArtifactError(problem("model file is missing", where=str(path), fix="save the model again"))
    try:
        untrusted = sio.get_untrusted_types(file=str(path))
    except Exception as exc:  # corrupt zip, wrong format
        raise ArtifactError(
            problem(f"model file cannot be read ({exc})", where=str(path), fix="save the model again")
        ) from exc
    unsafe = [t for t in untrusted if not t.startswith(_SAFE_PREFIXES)]
    if unsafe:
        raise ArtifactError(
            problem(
                f"model file names types outside scikit-learn/numpy/scipy: {unsafe[:5]}",
                where=str(path),
                fix="only load model folders written by assay; re-train and save the model",
            )
        )
    return sio.load(str(path), trusted=untrusted)
