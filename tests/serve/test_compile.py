"""`assay compile`: LightGBM boosters as native code, in place, verified, and equal in prediction."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from assay import ArtifactError, ConfigError, Predictor
from assay.cli import app
from assay.models import compiled
from assay.models.lightgbm import SMALL_BATCH, LightGBMModel
from assay.serve.compile import compile_model
from tests.conftest import make_frame

pytestmark = pytest.mark.skipif(not compiled.available(), reason="lleaves is not installed: pip install 'assay[fast]'")


def _boosters(predictor: Predictor) -> list[LightGBMModel]:
    out = []
    for member in predictor._ensemble.members:
        out += [m for m in (*member.members, member.full) if isinstance(m, LightGBMModel)]
    return out


def _rule_frame(n: int, seed: int = 0) -> pd.DataFrame:
    """A rule plus 15 % flipped labels: boosting stops after a few dozen trees, so compiling the
    model's boosters takes seconds rather than a minute."""
    frame = make_frame(n, seed=seed)
    flip = np.random.default_rng(seed).random(n) < 0.15
    frame["y"] = np.where((frame["a"] > 0) ^ flip, "yes", "no")
    return frame


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """(plain folder, compiled copy, rows to score, the compile report)."""
    folder = tmp_path_factory.mktemp("compile") / "plain"
    Predictor("y", trials=1, families=["lightgbm"], n_threads=1, verbose=False).fit(_rule_frame(1200)).save(folder)
    copy = folder.parent / "compiled"
    shutil.copytree(folder, copy)
    report = compile_model(copy)
    assert report.difference and report.worst <= 1e-9
    rows = make_frame(SMALL_BATCH + 500, seed=9).drop(columns=["y"])
    return folder, copy, rows, report


@pytest.mark.parametrize("objective", ["multiclass", "regression"])
def test_compiled_booster_equals_lightgbm_with_categories_and_missing_values(objective, tmp_path):
    import lightgbm as lgb

    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 4))
    X[:, 3] = rng.integers(0, 6, size=600)  # a categorical column, as assay codes it
    X[rng.random(X.shape) < 0.1] = np.nan
    signal = np.nan_to_num(X[:, 0]) + (X[:, 3] == 2)
    y = np.digitize(signal, [-0.5, 0.5]) if objective == "multiclass" else signal
    params = {"objective": objective, "verbosity": -1, "num_threads": 1, "min_data_in_leaf": 5}
    if objective == "multiclass":
        params["num_class"] = 3
    booster = lgb.train(params, lgb.Dataset(X, y, categorical_feature=[3]), num_boost_round=15)
    booster.save_model(str(tmp_path / compiled.TEXT))
    compiled.compile_booster(tmp_path)
    forest = compiled.load_compiled(tmp_path)
    rows = rng.normal(size=(2000, 4))
    rows[:, 3] = rng.integers(-1, 9, size=2000)  # unseen categories too
    rows[rng.random(rows.shape) < 0.1] = np.nan
    expected = booster.predict(rows)
    got = compiled.predict(forest, rows, threads=2)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)


def test_compiled_model_predicts_as_lightgbm_does(saved):
    folder, copy, rows, report = saved
    plain, fast = Predictor.load(folder), Predictor.load(copy)
    boosters = _boosters(fast)
    assert boosters and all(b.compiled_ is not None for b in boosters)
    assert all(b.compiled_ is None for b in _boosters(plain))
    np.testing.assert_allclose(fast.predict_proba(rows).to_numpy(), plain.predict_proba(rows).to_numpy(), atol=1e-9)
    np.testing.assert_array_equal(np.asarray(fast.predict(rows)), np.asarray(plain.predict(rows)))
    single = rows.head(1)  # below SMALL_BATCH: LightGBM's own path, bit for bit
    np.testing.assert_array_equal(np.asarray(fast.predict(single)), np.asarray(plain.predict(single)))


def test_the_manifest_lists_what_compile_wrote(saved):
    folder, copy, _, report = saved
    manifest = json.loads((copy / "manifest.json").read_text())
    natives = [f for f in manifest["files"] if f.endswith(compiled.NATIVE)]
    assert len(natives) == len(report.difference) == len(_boosters(Predictor.load(folder)))
    assert manifest["compiled"]["boosters"] == sorted(report.difference)
    before = json.loads((folder / "manifest.json").read_text())
    assert manifest["libraries"] == before["libraries"] and manifest["target"] == before["target"]
    assert "compiled" not in Predictor.load(copy).info  # a re-save of the model writes no compiled trees


def test_native_code_the_manifest_does_not_list_is_refused(saved, tmp_path):
    _, copy, _, _ = saved
    tampered = tmp_path / "tampered"
    shutil.copytree(copy, tampered)
    native = next(tampered.rglob(compiled.NATIVE))
    shutil.copy(native, native.parent / "extra.so")
    with pytest.raises(ArtifactError, match="native code its manifest does not list"):
        Predictor.load(tampered)


def test_trees_compiled_for_another_cpu_fall_back_to_lightgbm(saved, tmp_path, monkeypatch):
    monkeypatch.setattr(compiled, "_warned", set())  # each reason is said once per process
    _, copy, _, _ = saved
    booster_dir = tmp_path / "booster"
    shutil.copytree(next(copy.rglob(compiled.RECORD)).parent, booster_dir)
    record = json.loads((booster_dir / compiled.RECORD).read_text())
    (booster_dir / compiled.RECORD).write_text(json.dumps({**record, "cpu": "another-cpu"}))
    with pytest.warns(UserWarning, match="built for another cpu"):
        assert compiled.load_compiled(booster_dir) is None
    (booster_dir / compiled.RECORD).write_text(json.dumps(record))
    (booster_dir / compiled.TEXT).write_text((booster_dir / compiled.TEXT).read_text() + "\n")
    with pytest.warns(UserWarning, match="compiled from another booster"):
        assert compiled.load_compiled(booster_dir) is None


def test_a_model_without_lightgbm_is_refused_and_left_alone(tmp_path):
    folder = tmp_path / "linear"
    Predictor("y", trials=1, families=["linear"], verbose=False).fit(make_frame(150)).save(folder)
    before = (folder / "manifest.json").read_text()
    with pytest.raises(ConfigError, match="only LightGBM boosters compile"):
        compile_model(folder)
    assert (folder / "manifest.json").read_text() == before


def test_cli_compiles_in_place(saved, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(saved[0], folder)
    result = CliRunner().invoke(app, ["compile", str(folder)])
    assert result.exit_code == 0, result.output
    assert "booster(s) compiled" in result.output
    assert all(b.compiled_ is not None for b in _boosters(Predictor.load(folder)))
