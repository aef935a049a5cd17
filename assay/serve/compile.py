"""`assay compile MODEL`: a saved model folder whose LightGBM boosters predict as native code.

Why a step of its own rather than part of every save: compiling costs seconds per booster and the
result is tied to one CPU (assay.models.compiled), so it is done once, on the kind of machine that
will serve the model. Batches of 1,000 rows or more then run through the compiled trees; single
rows keep LightGBM's path, which is faster for them.

The folder is rewritten through the same atomic save as Predictor.save (assay.artifact.store): the
compiled files are listed in its verified manifest, and a folder carrying a native library its
manifest does not list is refused at load, as a pickle is. Before the new folder replaces the old,
every compiled booster scores the model's own reference rows (reference.parquet, up to 5,000 training
rows) and must agree with LightGBM to `tolerance`; otherwise the folder is left as it was.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from assay.artifact.manifest import MANIFEST
from assay.artifact.store import save_folder
from assay.errors import ArtifactError, ConfigError, problem
from assay.models import compiled

TOLERANCE = 1e-9  # lleaves and LightGBM both sum in double precision: measured differences are ~1e-15


@dataclass
class CompileReport:
    folder: Path
    seconds: float  # compiling and checking, all boosters
    n_rows: int  # reference rows each booster was checked on
    difference: dict[str, float] = field(default_factory=dict)  # booster folder -> max |compiled - LightGBM|

    @property
    def worst(self) -> float:
        return max(self.difference.values(), default=0.0)


def compile_model(directory, *, tolerance: float = TOLERANCE) -> CompileReport:
    """Compile every LightGBM booster of the model saved in `directory`, in place."""
    if not compiled.available():
        raise ConfigError(
            problem(
                "compiling trees needs lleaves with llvmlite < 0.45",
                where="compile",
                fix="pip install 'assay[fast]'",
            )
        )
    from assay.predictor import Predictor

    started = time.perf_counter()
    directory = Path(directory).resolve()
    predictor = Predictor.load(directory)  # verifies every file's checksum first (open_folder)
    manifest = json.loads((directory / MANIFEST).read_text())
    boosters = sorted(str(p.parent.relative_to(directory)) for p in directory.rglob(compiled.TEXT))
    if not boosters:
        raise ConfigError(
            problem(
                "this model has no LightGBM booster, and only LightGBM boosters compile",
                where=str(directory),
                fix="serve it as it is, or fit with --families lightgbm",
            )
        )
    matrix = _reference_matrix(predictor, directory)
    report = CompileReport(directory, 0.0, len(matrix))

    def write(tmp: Path) -> None:
        shutil.copytree(directory, tmp, dirs_exist_ok=True, ignore=shutil.ignore_patterns(MANIFEST))
        for booster in boosters:
            compiled.compile_booster(tmp / booster)
            report.difference[booster] = _difference(tmp / booster, matrix)
            if report.difference[booster] > tolerance:
                raise ArtifactError(
                    problem(
                        f"the compiled trees of {booster} differ from LightGBM's by "
                        f"{report.difference[booster]:.2e} on the reference rows (tolerance {tolerance:.0e})",
                        where=str(directory),
                        fix="serve the model uncompiled (it is unchanged) and report this as a bug",
                    )
                )

    kept = {k: v for k, v in manifest.items() if k not in ("format", "files")}
    kept["compiled"] = {"boosters": boosters, **compiled.describe_host()}
    save_folder(directory, write, kept)
    report.seconds = time.perf_counter() - started
    return report


def _reference_matrix(predictor, directory: Path) -> np.ndarray:
    """The model's reference rows as its LightGBM boosters see them (cleaned, preprocessed, coded)."""
    from assay.models.base import codes_matrix
    from assay.monitor.reference import FILE, read_reference

    if not (directory / FILE).is_file():
        raise ArtifactError(
            problem(
                f"the model folder has no {FILE} to check the compiled trees against",
                where=str(directory),
                fix="refit the model with this assay version: every model it saves carries its reference rows",
            )
        )
    rows: pd.DataFrame = read_reference(directory / FILE).rows
    return codes_matrix(predictor._preprocessor.transform(predictor._clean(rows)))


def _difference(booster_dir: Path, matrix: np.ndarray) -> float:
    import lightgbm as lgb

    forest = compiled.load_compiled(booster_dir)
    if forest is None:
        raise ArtifactError(problem("the trees just compiled do not load", where=str(booster_dir), fix="report this"))
    native = lgb.Booster(model_file=str(booster_dir / compiled.TEXT)).predict(matrix)
    return float(np.max(np.abs(compiled.predict(forest, matrix, threads=1) - native), initial=0.0))
