"""Export a fitted model as a small installable scoring package (`assay export --format python`).

The package holds the ONNX export (assay.export.onnx) and a copy of assay.export.scorer, and
depends on numpy, pandas and onnxruntime only: a serving image installs it in seconds, without
assay, scikit-learn, the boosting libraries or torch, and cannot drift from the model it was cut
from because the model is inside it.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from assay import __version__
from assay.errors import ConfigError, problem
from assay.export.onnx import ExportReport, export_onnx

_PYPROJECT = """[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "{dist}"
version = "{version}"
description = "Scoring package for an assay model (ONNX); exported by assay {assay_version}"
requires-python = ">=3.10"
dependencies = ["numpy>=1.24", "pandas>=2", "onnxruntime>=1.16"]

[tool.setuptools]
packages = ["{name}"]

[tool.setuptools.package-data]
{name} = ["model/*"]
"""

_INIT = '''"""Scores rows with the model exported by assay: `{name}.predict(frame)`, `{name}.predict_proba(frame)`.

Needs numpy, pandas and onnxruntime only. Hand over clean, typed rows with the training columns
(see model/preprocessor.json); the blend of the model files is described in model/blend.json.
"""

from {name}.scorer import Scorer, load

_scorer = None


def scorer() -> Scorer:
    global _scorer
    if _scorer is None:
        _scorer = load()
    return _scorer


def predict(frame):
    return scorer().predict(frame)


def predict_proba(frame):
    return scorer().predict_proba(frame)


__all__ = ["Scorer", "load", "predict", "predict_proba", "scorer"]
'''

_README = """# {name}

Scores tables with the assay model exported here, using numpy, pandas and onnxruntime only.

    pip install ./{folder}
    python -c "import pandas as pd, {name}; print({name}.predict(pd.read_csv('rows.csv')))"

`model/` holds one ONNX graph per fold or refit model, `blend.json` (how they are averaged and
weighted, the temperature, the class order) and `preprocessor.json` (the first pipeline step:
category vocabularies, date parts). Rows are not checked or repaired as `assay predict` does:
give numbers as numbers and categories as spelled in training.
"""


def export_python(predictor, folder, data=None, *, name: str | None = None, **check) -> ExportReport:
    """Write the package into `folder` (new or empty); `data` and `check` go to the parity check."""
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise ConfigError(problem("the output folder is not empty", where=str(folder), fix="name a new folder"))
    name = package_name(name or folder.name)
    report = export_onnx(predictor, folder / name / "model", data, **check)
    shutil.copyfile(Path(__file__).with_name("scorer.py"), folder / name / "scorer.py")
    (folder / name / "__init__.py").write_text(_INIT.format(name=name))
    dist = name.replace("_", "-")
    (folder / "pyproject.toml").write_text(
        _PYPROJECT.format(dist=dist, name=name, version="0.1.0", assay_version=__version__)
    )
    (folder / "README.md").write_text(_README.format(name=name, folder=folder.name))
    report.folder = folder
    return report


def package_name(text: str) -> str:
    """A valid Python package name from a folder name: "my-model 2" -> "my_model_2"."""
    name = re.sub(r"\W+", "_", text.strip().lower()).strip("_") or "assay_model"
    return name if not name[0].isdigit() else f"model_{name}"
