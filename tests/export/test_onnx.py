"""ONNX export: each family's graph scores as its native model, the blend as the Predictor."""

from __future__ import annotations

import ast
import json

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxmltools")
pytest.importorskip("skl2onnx")

from assay import Predictor  # noqa: E402
from assay.errors import ConfigError  # noqa: E402
from assay.export import export_onnx, export_python  # noqa: E402
from assay.export.onnx import TOLERANCE, convert, difference  # noqa: E402
from assay.export.scorer import Scorer  # noqa: E402
from assay.models.registry import get_family  # noqa: E402
from assay.preprocess.table import TablePreprocessor  # noqa: E402
from assay.task import Task  # noqa: E402
from tests.conftest import make_frame  # noqa: E402

_FAST = {
    "lightgbm": {"n_estimators": 40},
    "xgboost": {"n_estimators": 40},
    "catboost": {"iterations": 60},
    "random_forest": {"n_estimators": 15},
    "extra_trees": {"n_estimators": 15},
    "linear": {},
}
_TASKS = {"binary": ("no", "yes"), "multiclass": ("high", "low", "mid"), "regression": ()}


def _table(kind: str, categorical: bool = True):
    frame = make_frame(300, kind, seed=1)
    if not categorical:
        frame = frame.drop(columns=["colour"])
    task = Task(kind, _TASKS[kind])
    X = TablePreprocessor().fit(frame.drop(columns=["y"])).transform(frame.drop(columns=["y"]))
    return X, task, task.encode(frame["y"]), frame


def _one_model_difference(model, X, task, tmp_path) -> float:
    """Score X through the exported graph with the standalone scorer, against the native model."""
    record = convert(model, X)
    (tmp_path / "m.onnx").write_bytes(record.pop("graph").SerializeToString())
    record["path"] = "m.onnx"
    (tmp_path / "pre.json").write_text(json.dumps({"columns": [], "input_columns": [], "dropped": {}}))
    blend = {
        "target": "y",
        "task": task.to_dict(),
        "temperature": 1.0,
        "full_weight": 0.5,
        "preprocessor": "pre.json",
        "members": [{"weight": 1.0, "folds": [record], "full": None}],
    }
    (tmp_path / "blend.json").write_text(json.dumps(blend))
    exported = Scorer(tmp_path).score_features(X)
    return difference(model.predict_raw(X), exported)


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
@pytest.mark.parametrize("key", ["lightgbm", "xgboost", "catboost", "linear", "random_forest"])
def test_family_graph_matches_native_model(key, kind, tmp_path):
    X, task, y, _ = _table(kind, categorical=key != "catboost")  # CatBoost exports numeric inputs only
    half = len(X) // 2
    model = get_family(key)(task, _FAST[key], seed=0, n_threads=1)
    model.fit(X.iloc[:half], y[:half], X_val=X.iloc[half:], y_val=y[half:])
    assert _one_model_difference(model, X, task, tmp_path) < TOLERANCE


def test_catboost_with_categories_is_refused_clearly():
    X, task, y, _ = _table("binary")
    model = get_family("catboost")(task, _FAST["catboost"], seed=0, n_threads=1).fit(X, y)
    with pytest.raises(ConfigError, match="excluding catboost"):
        convert(model, X)


@pytest.fixture(scope="module")
def fitted():
    frame = make_frame(300, "multiclass", seed=2)
    predictor = Predictor("y", trials=2, families=["lightgbm", "linear"], n_threads=1, verbose=False)
    return predictor.fit(frame), frame


def test_export_blend_and_python_package_match_predictor(fitted, tmp_path):
    predictor, frame = fitted
    report = export_onnx(predictor, tmp_path / "onnx", frame)
    assert report.rows_from == "data" and report.max_difference < TOLERANCE
    manifest = json.loads((tmp_path / "onnx" / "blend.json").read_text())
    assert manifest["task"]["classes"] == list(predictor._task.classes)
    assert len(list((tmp_path / "onnx").glob("*.onnx"))) == len(report.parity)

    package = tmp_path / "pkg"
    synthetic = export_python(predictor, package, name="penguin-scorer")  # checked on generated rows
    assert synthetic.rows_from == "synthetic" and synthetic.max_difference < TOLERANCE
    assert (package / "pyproject.toml").is_file()
    assert "onnxruntime" in (package / "pyproject.toml").read_text()
    rows = frame.drop(columns=["y"]).iloc[:50]
    import importlib
    import sys

    sys.path.insert(0, str(package))
    try:
        scorer = importlib.import_module("penguin_scorer")
        proba = scorer.predict_proba(rows)
        assert list(proba.columns) == list(predictor._task.classes)
        np.testing.assert_allclose(proba.to_numpy(), predictor.predict_proba(rows).to_numpy(), atol=TOLERANCE)
        assert (scorer.predict(rows) == predictor.predict(rows)).all()
        tree = ast.parse((package / "penguin_scorer" / "scorer.py").read_text())
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert {m.split(".")[0] for m in imported} <= {
            "__future__",
            "json",
            "pathlib",
            "numpy",
            "pandas",
            "onnxruntime",
        }
    finally:
        sys.path.remove(str(package))
        sys.modules.pop("penguin_scorer", None)
        sys.modules.pop("penguin_scorer.scorer", None)


def test_unexportable_family_names_family_and_fix(fitted, tmp_path):
    predictor, _ = fitted
    member = predictor._ensemble.members[0]
    original = member.members[0].family
    try:
        for m in member.members:
            m.family = "knn"
        with pytest.raises(ConfigError, match="knn.*--families excluding knn"):
            export_onnx(predictor, tmp_path / "out")
    finally:
        for m in member.members:
            m.family = original
    assert not (tmp_path / "out").exists()


def test_cli_export_reports_parity(fitted, tmp_path):
    from typer.testing import CliRunner

    from assay.cli import app

    predictor, frame = fitted
    folder = predictor.save(tmp_path / "model")
    frame.to_csv(tmp_path / "rows.csv", index=False)
    result = CliRunner().invoke(
        app, ["export", str(folder), "-o", str(tmp_path / "x"), "--data", str(tmp_path / "rows.csv")]
    )
    assert result.exit_code == 0, result.output
    assert "ensemble" in result.output and "max |native - onnx|" in result.output
    bad = CliRunner().invoke(app, ["export", str(folder), "-o", str(tmp_path / "y"), "--format", "pmml"])
    assert bad.exit_code == 2


def test_scorer_reads_unseen_and_missing_categories_as_assay_does(fitted):
    predictor, frame = fitted
    rows = frame.drop(columns=["y"]).iloc[:20].copy()
    rows.loc[rows.index[:5], "colour"] = "purple"
    rows.loc[rows.index[5:8], "colour"] = None
    ours = predictor._preprocessor.transform(rows)
    theirs = Scorer.__new__(Scorer)
    theirs.preprocessor = predictor._preprocessor.to_dict()
    pd.testing.assert_frame_equal(theirs.features(rows), ours, check_column_type=False)
