"""LightGBM boosters compiled to native code (lleaves, through LLVM), for batch prediction.

Why: an assay model is a bag of k fold boosters plus a refit on all rows, so a batch walks k + 1
forests, and LightGBM's own predictor walks each tree node by node. Compiled, each forest is
straight-line machine code: on adult-like rows the same 6 boosters scored 50,000 rows about 4.5x
faster (measured in bench/serving.py), with predictions equal to LightGBM's to ~1e-15.

Compiled code is native code for one CPU. Next to each booster's `model.lgb.txt` compiling writes
`model.lgb.so` and `compiled.json` (the text's SHA-256, the CPU and its features, the library
versions); a model folder then lists both in its verified manifest (assay.serve.compile). Loading
uses the compiled forest only when all of that still holds here; otherwise it says why once and
LightGBM predicts as before, so moving a folder to another machine can cost speed, never a crash.
Small batches (single rows) always go through LightGBM: there its per-call cost is lower.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import os
import warnings
from pathlib import Path

TEXT = "model.lgb.txt"
NATIVE = "model.lgb.so"
RECORD = "compiled.json"
_warned: set[str] = set()


def available() -> bool:
    """lleaves and an llvmlite it works with (lleaves 1.3 needs llvmlite's legacy pass manager,
    gone in llvmlite 0.45) are installed: `pip install 'assay[fast]'`."""
    try:
        import llvmlite.binding as llvm
        from lleaves import Model  # noqa: F401
    except ImportError:
        return False
    return hasattr(llvm, "PassManagerBuilder")


@functools.cache
def describe_host() -> dict:
    """What compiled code is tied to: the target, the CPU and its features, the compiler's versions
    (the same for the whole process: asked once, not once per booster loaded)."""
    import llvmlite.binding as llvm

    llvm.initialize_native_target()
    return {
        "triple": llvm.get_process_triple(),
        "cpu": llvm.get_host_cpu_name(),
        "features": llvm.get_host_cpu_features().flatten(),
        **{name: importlib.metadata.version(name) for name in ("lleaves", "llvmlite")},
    }


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def compile_booster(directory: Path) -> None:
    """Write `model.lgb.so` and `compiled.json` beside the booster saved in `directory`."""
    import lleaves

    directory = Path(directory)
    native = directory / NATIVE
    native.unlink(missing_ok=True)  # lleaves loads an existing file instead of compiling
    lleaves.Model(model_file=str(directory / TEXT)).compile(cache=str(native))
    record = {"text_sha256": _sha256(directory / TEXT), "native_sha256": _sha256(native), **describe_host()}
    (directory / RECORD).write_text(json.dumps(record, indent=2))


def load_compiled(directory: Path):
    """The compiled forest saved beside this booster (an lleaves Model), or None: not compiled,
    or compiled for another booster, CPU or library version (said once per reason)."""
    directory = Path(directory)
    if not (directory / RECORD).is_file():
        return None
    if not available():
        return _fallback("lleaves is not installed (pip install 'assay[fast]')")
    record = json.loads((directory / RECORD).read_text())
    if record.get("text_sha256") != _sha256(directory / TEXT):
        return _fallback(f"{directory / NATIVE} was compiled from another booster")
    if not (directory / NATIVE).is_file() or record.get("native_sha256") != _sha256(directory / NATIVE):
        return _fallback(f"{directory / NATIVE} is missing or altered")
    here = describe_host()
    differs = [k for k in ("triple", "cpu", "features", "lleaves", "llvmlite") if record.get(k) != here[k]]
    if differs:
        return _fallback(f"the compiled trees were built for another {' / '.join(differs)} (run `assay compile` here)")
    import lleaves

    model = lleaves.Model(model_file=str(directory / TEXT))
    model.compile(cache=str(directory / NATIVE))
    return model


def predict(forest, matrix, threads: int):
    """Like Booster.predict for the text the forest was compiled from (the objective's transform
    applied); lleaves splits the rows over `threads` threads that run without the GIL."""
    return forest.predict(matrix, n_jobs=max(1, min(threads, os.cpu_count() or 1)))


def _fallback(reason: str) -> None:
    if reason not in _warned:
        _warned.add(reason)
        warnings.warn(f"LightGBM predicts instead of the compiled trees: {reason}", UserWarning, stacklevel=4)
    return None
