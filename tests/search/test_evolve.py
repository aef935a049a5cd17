"""Evolutionary pipeline search: every operator keeps pipelines valid, the steps really change the
model's input and are saved with it, and `search="evolve"` replays exactly for a fixed seed."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from assay import Predictor
from assay.data.schema import infer_schema
from assay.models.registry import get_family
from assay.preprocess.steps import GENES, PipelineSteps
from assay.preprocess.table import TablePreprocessor
from assay.search.space import Choice, Int
from assay.search.strategies import parse_search
from assay.search.strategies.evolve import EvolveStrategy
from assay.search.trial import TrialResult, TrialSpec
from assay.task import Task
from tests.conftest import make_frame

FAMILIES = ["lightgbm", "xgboost", "catboost", "linear", "random_forest", "extra_trees", "knn", "mlp"]


def _valid(family: str, params: dict, space) -> bool:
    if set(params) != set(space):
        return False
    for name, dim in space.items():
        v = params[name]
        if isinstance(dim, Choice):
            ok = v in dim.options
        elif isinstance(dim, Int):
            ok = isinstance(v, int) and dim.low <= v <= dim.high
        else:
            ok = isinstance(v, float) and dim.low <= v <= dim.high
        if not ok:
            return False
    return True


@pytest.mark.parametrize("kind", ["binary", "regression"])
def test_operators_keep_every_pipeline_valid_over_many_seeds(kind):
    task = Task(kind, ("a", "b") if kind == "binary" else ())
    spaces = {f: get_family(f).search_space(task, 500, 8) for f in FAMILIES}
    traits = {"n_cols": 8, "has_missing": False, "has_categorical": True}
    for seed in range(25):
        evo = EvolveStrategy(spaces, seed, traits, population=6)
        rng = np.random.default_rng(seed)
        for i in range(40):
            key, params = evo.ask()
            family = key.removeprefix("pipeline:")
            space = evo.space_of(family)
            assert key.startswith("pipeline:") and family in spaces
            assert _valid(family, params, space), (seed, i, family, params)
            assert params["pre_missing"] is False  # no missing values here: the gene is repaired to its no-op
            status = "ok" if rng.random() > 0.1 else "failed"
            spec = TrialSpec(i, key, params, seed, "evolve")
            evo.tell(key, params, TrialResult(spec, status, float(rng.random()), 0.0))
        # the operators themselves, on arbitrary parents, across families
        for _ in range(20):
            fa, fb = rng.choice(FAMILIES, size=2)
            pa = evo.repair(fa, {})
            pb = evo.repair(fb, {"pre_scale": "quantile", "pre_select": 0.5})
            child_family, child = evo.crossover((fa, pa), (fb, pb))
            assert child_family == fa and _valid(fa, child, evo.space_of(fa))
            mutant_family, mutant = evo.mutate(fa, pa)
            assert _valid(mutant_family, mutant, evo.space_of(mutant_family))


def test_repair_drops_foreign_keys_clips_ranges_and_fixes_types():
    task = Task("binary", ("a", "b"))
    evo = EvolveStrategy({"lightgbm": get_family("lightgbm").search_space(task, 500, 4)}, 0, {"n_cols": 4})
    fixed = evo.repair("lightgbm", {"num_leaves": 10_000.7, "learning_rate": -3, "bogus": 1, "pre_select": 0.9})
    assert fixed["num_leaves"] == 256 and isinstance(fixed["num_leaves"], int)
    assert fixed["learning_rate"] == 0.01 and "bogus" not in fixed
    assert fixed["pre_select"] == 1.0  # not an option: the default; and 0.75 x 4 columns would keep 3
    assert evo.repair("lightgbm", {"pre_select": 0.75})["pre_select"] == 0.75


def test_crossover_across_families_mixes_only_the_steps():
    task = Task("binary", ("a", "b"))
    spaces = {f: get_family(f).search_space(task, 500, 8) for f in ("lightgbm", "linear")}
    evo = EvolveStrategy(spaces, 3, {"n_cols": 8})
    a = ("lightgbm", evo.repair("lightgbm", {"num_leaves": 7}))
    b = ("linear", evo.repair("linear", {**{k: d.options[-1] for k, d in GENES.items()}, "C": 5.0}))
    for _ in range(20):
        family, child = evo.crossover(a, b)
        assert family == "lightgbm" and child["num_leaves"] == 7 and "C" not in child


@pytest.fixture(scope="module")
def table():
    frame = make_frame(300, "multiclass")
    X = frame.drop(columns="y")
    schema = infer_schema(frame, target="y")
    Xp = TablePreprocessor().fit(X, schema).transform(X)
    task = Task("multiclass", ("high", "low", "mid"))
    return Xp, task.encode(frame["y"]), task


def test_each_gene_changes_what_the_model_sees(table):
    X, y, task = table
    base = PipelineSteps({k: d.default for k, d in GENES.items()}).fit_transform(X, y, task)
    assert list(base.columns) == list(X.columns)
    onehot = PipelineSteps({**_defaults(), "pre_categorical": "onehot"}).fit_transform(X, y, task)
    assert {"colour==red", "colour==green", "colour==blue"} <= set(onehot.columns) and "colour" not in onehot
    target = PipelineSteps({**_defaults(), "pre_categorical": "target"}).fit_transform(X, y, task)
    assert "colour" not in target and sum(c.startswith("target_encoded") for c in target) == 3  # one per class
    missing = PipelineSteps({**_defaults(), "pre_missing": True}).fit_transform(X, y, task)
    assert "b__missing" in missing and missing["b__missing"].sum() == X["b"].isna().sum()
    chosen = PipelineSteps({**_defaults(), "pre_select": 0.5}).fit_transform(X, y, task)
    assert chosen.shape[1] == 3 and "a" in chosen  # a carries most of the signal
    scaled = PipelineSteps({**_defaults(), "pre_scale": "standard"}).fit_transform(X, y, task)
    assert abs(float(scaled["d"].mean())) < 1e-9 and float(scaled["d"].std(ddof=0)) == pytest.approx(1.0)


def _defaults():
    return {k: d.default for k, d in GENES.items()}


def test_a_saved_pipeline_repeats_its_steps(table, tmp_path):
    X, y, task = table
    params = {"pre_select": 0.75, "pre_missing": True, "pre_categorical": "target", "pre_scale": "quantile"}
    model = get_family("pipeline:linear")(task, params, seed=0).fit(X.iloc[:200], y[:200])
    model.save(tmp_path / "m")
    loaded = get_family("pipeline:linear").load(tmp_path / "m")
    assert np.allclose(model.predict_raw(X.iloc[200:]), loaded.predict_raw(X.iloc[200:]))
    shipped = pickle.loads(pickle.dumps(model))  # how process and Ray executors return fold models
    assert type(shipped) is type(model) and np.allclose(
        shipped.predict_raw(X.iloc[200:]), loaded.predict_raw(X.iloc[200:])
    )


def test_evolve_is_a_search_name():
    assert parse_search("evolve") == (False, "evolve")
    assert parse_search("portfolio+evolve") == (True, "evolve")


@pytest.fixture(scope="module")
def evolved():
    def fit():
        return Predictor(
            "y", trials=6, families=["lightgbm", "linear"], search="evolve", verbose=False, seed=3, n_threads=1
        ).fit(make_frame(520, seed=4))  # > 500 rows: plain 5-fold, no repeats

    return fit(), fit()


def test_search_evolve_end_to_end_is_reproducible(evolved, tmp_path):
    first, second = evolved
    trials = pd.DataFrame(first.info["trials"])
    assert len(trials) == 6 and set(trials["origin"]) == {"evolve"}
    assert all(f.startswith("pipeline:") for f in trials["family"])
    assert trials[["family", "params", "score"]].equals(
        pd.DataFrame(second.info["trials"])[["family", "params", "score"]]
    )
    first.save(tmp_path / "model")
    again = Predictor.load(tmp_path / "model")
    rows = make_frame(50, seed=9).drop(columns="y")
    assert np.allclose(first.predict_proba(rows).to_numpy(), again.predict_proba(rows).to_numpy())
