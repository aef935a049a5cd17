"""The pieces the ablation swaps: search names, random search, the settings hook, the matrix, suites."""

from __future__ import annotations

import pytest

from assay import Predictor
from assay.bench import harness
from assay.bench.suite import BenchError, load_suite
from assay.bench.systems.assay_system import predictor_options
from assay.errors import ConfigError
from assay.fit import FitSettings, override_settings
from assay.search.budget import Budget
from assay.search.space import Choice, Float, Int
from assay.search.strategies import RandomStrategy, parse_search
from tests.conftest import make_frame

SPACE = {
    "lr": Float(1e-3, 0.3, 0.1, log=True),
    "frac": Float(0.5, 1.0, 0.8),
    "leaves": Int(4, 256, 31, log=True),
    "depth": Int(1, 3, 2),
    "kind": Choice(("a", "b", "c"), "a"),
}


def test_parse_search_names():
    assert parse_search("portfolio") == (True, "tpe")  # the shipped default
    assert parse_search("portfolio+tpe") == (True, "tpe")
    assert parse_search("tpe") == (False, "tpe")
    assert parse_search("random") == (False, "random")
    assert parse_search("portfolio+random") == (True, "random")
    assert parse_search("portfolio-only") == (True, None)
    for bad in ("grid", "tpe+random", "random+portfolio", ""):
        with pytest.raises(ConfigError):
            parse_search(bad)


def test_random_strategy_stays_in_bounds_and_replays():
    a, b = RandomStrategy("lightgbm", SPACE, seed=3), RandomStrategy("lightgbm", SPACE, seed=3)
    draws = [a.ask() for _ in range(300)]
    assert draws[:5] == [b.ask() for _ in range(5)]
    assert a._last == 299
    for p in draws:
        assert 1e-3 <= p["lr"] <= 0.3 and 0.5 <= p["frac"] <= 1.0
        assert 4 <= p["leaves"] <= 256 and isinstance(p["leaves"], int) and p["depth"] in (1, 2, 3)
        assert p["kind"] in ("a", "b", "c")
    assert {p["depth"] for p in draws} == {1, 2, 3} and {p["kind"] for p in draws} == {"a", "b", "c"}
    small = sum(p["lr"] < 0.0173 for p in draws)  # log-uniform: about half below the geometric midpoint
    assert 100 < small < 200
    assert RandomStrategy("xgboost", SPACE, seed=3).ask() != draws[0]  # families draw differently


def test_override_settings_checks_names_and_values():
    base = FitSettings("y", Budget(5.0, None))
    changed = override_settings(base, {"search": "random", "ensemble": False})
    assert (changed.search, changed.ensemble) == ("random", False) and base.search == "portfolio+tpe"
    assert override_settings(base, None) is base
    for bad in ({"colour": 1}, {"search": "grid"}, {"ensemble": "off"}):
        with pytest.raises(ConfigError):
            override_settings(base, bad)


def test_predictor_runs_random_search_without_ensemble():
    frame = make_frame(160, "binary")
    predictor = Predictor(
        "y", trials=4, seed=0, verbose=False, families=["linear", "knn"],  # quick families: OpenMP-free
        settings={"search": "random", "ensemble": False},
    )  # fmt: skip
    predictor.fit(frame)
    origins = {t["origin"] for t in predictor.info["trials"]}
    assert origins == {"random"}
    assert len(predictor.info["ensemble"]["weights"]) == 1


def test_component_levels_map_to_predictor_options():
    assert predictor_options({"search": "tpe", "ensemble": "off", "models": "gbdt-only"}) == {
        "families": ["lightgbm", "xgboost", "catboost"],
        "settings": {"search": "tpe", "ensemble": False},
    }
    assert predictor_options({"models": "all"}) == {"families": None}
    assert predictor_options({"models": "lightgbm+linear"}) == {"families": ["lightgbm", "linear"]}
    assert predictor_options(None) == {}
    for bad in ({"models": "trees"}, {"ensemble": "maybe"}, {"search": "grid"}, {"colour": "red"}):
        with pytest.raises(BenchError):
            predictor_options(bad)


def test_matrix_is_one_factor_at_a_time_and_shares_the_baseline():
    matrix = harness.parse_matrix("search=portfolio,tpe,random; ensemble=on,off; models=all,gbdt-only")
    assert list(matrix.items()) == [
        ("search", ["portfolio", "tpe", "random"]), ("ensemble", ["on", "off"]), ("models", ["all", "gbdt-only"]),
    ]  # fmt: skip
    labels = [e.label for e in harness.matrix_entries(matrix)]
    assert labels == ["assay", "assay[search=tpe]", "assay[search=random]", "assay[ensemble=off]",
                      "assay[models=gbdt-only]"]  # fmt: skip
    [off] = [e for e in harness.matrix_entries(matrix) if e.label == "assay[ensemble=off]"]
    assert off.options == {"ensemble": "off"}
    other = harness.matrix_entries(harness.parse_matrix("search=random,tpe"))
    assert [e.label for e in other] == ["assay[search=random]", "assay[search=tpe]"]  # baseline need not be default
    for bad in ("search", "search=", "search=tpe; search=random", "colour=red"):
        with pytest.raises(BenchError):
            harness.parse_matrix(bad)


def test_systems_budgets_and_reference():
    entries = harness.parse_systems("assay, lightgbm-default, AutoGluon-Best, flaml")
    assert [e.label for e in entries] == ["assay", "lightgbm_default", "autogluon-best", "flaml"]
    assert harness.choose_reference(entries, None) == "lightgbm_default"
    assert harness.choose_reference(entries, "flaml") == "flaml"
    assert harness.parse_budgets("60,10, 30") == [10.0, 30.0, 60.0]
    with pytest.raises(BenchError):
        harness.parse_systems("assay,sklearn")
    with pytest.raises(BenchError):
        harness.parse_budgets("0")
    with pytest.raises(BenchError):
        harness.choose_reference(entries, "autogluon-medium")


def test_pmlb_style_folder_is_a_suite(tmp_path):
    for name, task, kind, y in (("two", "classification", "binary", [0, 1] * 5),
                                ("many", "classification", "categorical", [0, 1, 2, 3, 4] * 2),
                                ("odd", "classification", "continuous", [0, 1, 2] * 3 + [0]),
                                ("num", "regression", "continuous", list(range(10)))):  # fmt: skip
        folder = tmp_path / name
        folder.mkdir()
        make_frame(10, "binary").drop(columns="y").assign(target=y).to_csv(folder / f"{name}.tsv.gz", sep="\t")
        (folder / "metadata.yaml").write_text(f"task: {task}\ntarget:\n  type: {kind}\n")
    (tmp_path / "notes").mkdir()  # a folder without metadata is not a dataset
    specs = {s.name: s for s in load_suite(tmp_path)}
    assert {n: s.task for n, s in specs.items()} == {
        "many": "multiclass", "num": "regression", "odd": "multiclass", "two": "binary",
    }  # fmt: skip
    assert specs["two"].target == "target" and specs["two"].path.name == "two.tsv.gz"
    assert [s.name for s in load_suite(tmp_path / "num")] == ["num"]  # one dataset's own folder


def test_user_yaml_paths(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("x,y\n1,2\n")
    suite = tmp_path / "mine.yaml"
    suite.write_text("datasets:\n  - {name: a, path: data/a.csv, target: y, task: regression}\n"
                     f"  - {{name: b, path: {tmp_path / 'b.csv'}, target: y, task: binary}}\n")  # fmt: skip
    a, b = load_suite(suite)
    assert a.path == tmp_path.resolve() / "data" / "a.csv" and b.path == tmp_path / "b.csv"
    suite.write_text("root: data\ndatasets:\n  - {name: a, path: a.csv, target: y, task: regression}\n")
    assert load_suite(suite)[0].path == tmp_path.resolve() / "data" / "a.csv"
