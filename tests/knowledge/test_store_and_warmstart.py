"""The knowledge base records fits and answers "which past tasks look like this one"."""

from __future__ import annotations

import math

import pytest

from assay import Predictor
from assay.knowledge.metafeatures import NAMES
from assay.knowledge.store import KnowledgeStore, TaskRecord, TrialRecord
from assay.knowledge.warmstart import best_configs, nearest_tasks
from tests.conftest import make_frame


def _meta(rows, cols, entropy):
    meta = dict.fromkeys(NAMES, 0.0)
    meta.update(n_rows=rows, log_rows=math.log1p(rows), n_cols=cols, log_cols=math.log1p(cols), class_entropy=entropy)
    return meta


def test_store_round_trip_and_resume_key(tmp_path):
    store = KnowledgeStore(tmp_path / "kb.db")
    a = store.add_task("a", "fp-a", "binary", "roc_auc", _meta(100, 5, 1.0), source="x")
    assert store.add_task("a", "fp-a", "binary", "roc_auc", _meta(100, 5, 1.0)) == a  # same task, same id
    store.add_trials(
        [
            TrialRecord(a, "lightgbm", {"num_leaves": 31}, "tpe", "ok", -0.9, 1.5),
            TrialRecord(a, "knn", {"n_neighbors": 5}, "tpe", "failed", math.nan, 0.1, "boom"),
        ]
    )
    reopened = KnowledgeStore(tmp_path / "kb.db")
    (task,) = reopened.tasks()
    assert (task.name, task.kind, task.meta["n_rows"]) == ("a", "binary", 100)
    trials = reopened.trials(a)
    assert [t.family for t in trials] == ["lightgbm", "knn"]
    assert trials[0].params == {"num_leaves": 31} and trials[0].error == -0.9
    assert math.isnan(trials[1].error) and trials[1].message == "boom"
    assert len(reopened.measured(a)) == 2
    assert reopened.summary()["trials"] == 2


def test_nearest_tasks_uses_standardised_distance():
    def task(i, rows, cols, entropy):
        return TaskRecord(i, f"t{i}", "", f"fp{i}", "fit", "binary", "roc_auc", _meta(rows, cols, entropy), "")

    tasks = [task(1, 100, 5, 1.0), task(2, 10_000, 5, 1.0), task(3, 120, 6, 0.9), task(4, 100, 50, 0.2)]
    near = nearest_tasks(_meta(110, 5, 0.95), tasks, k=2)
    assert [t.name for t in near] == ["t1", "t3"]
    assert [t.name for t in nearest_tasks(_meta(110, 5, 0.95), tasks, k=1, exclude_fingerprint="fp1")] == ["t3"]


def test_best_configs_take_each_neighbours_best_per_family(tmp_path):
    store = KnowledgeStore(tmp_path / "kb.db")
    t = store.add_task("a", "fp", "binary", "roc_auc", _meta(100, 5, 1.0))
    store.add_trials(
        [
            TrialRecord(t, "lightgbm", {"num_leaves": 8}, "tpe", "ok", -0.80, 1.0),
            TrialRecord(t, "lightgbm", {"num_leaves": 64}, "tpe", "ok", -0.95, 1.0),
            TrialRecord(t, "lightgbm", {"num_leaves": 16}, "tpe", "pruned", -0.99, 1.0),
            TrialRecord(t, "linear", {"C": 1.0}, "tpe", "ok", -0.7, 1.0),
        ]
    )
    configs = best_configs(store, store.tasks(), ["lightgbm"], per_family=1)
    assert configs == {"lightgbm": [{"num_leaves": 64}]}  # the pruned trial never counts as best


@pytest.fixture(scope="module")
def remembered(tmp_path_factory):
    """Two tiny fits recorded into one knowledge base; the second warm-starts from the first (asked
    for: warm start is opt-in, so a plain fit replays the same whatever the knowledge base holds)."""
    db = tmp_path_factory.mktemp("kb") / "kb.db"
    opts = dict(trials=3, families=["lightgbm", "linear"], verbose=False, knowledge=str(db), seed=0, n_threads=1)
    first = Predictor("y", warm_start=True, **opts).fit(make_frame(520, seed=1))
    second = Predictor("y", warm_start=True, **opts).fit(make_frame(520, seed=2))
    return db, first, second


def test_a_fit_records_its_trials_and_meta_features(remembered):
    db, first, _ = remembered
    store = KnowledgeStore(db)
    tasks = store.tasks(protocol="fit")
    assert len(tasks) == 2 and tasks[0].name == "table:y" and tasks[0].meta["n_rows"] == 520
    trials = store.trials(tasks[0].id)
    assert len(trials) == len(first.info["trials"]) == 3
    assert {t.family for t in trials} <= {"lightgbm", "linear"}


def test_the_second_fit_is_warm_started_from_the_first(remembered):
    _, first, second = remembered
    assert not any(n.startswith("warm start") for n in first.info["notes"])  # nothing known yet
    assert any(n.startswith("warm start") and "table:y" in n for n in second.info["notes"])


def test_warm_start_is_off_unless_asked_for(remembered):
    db, _, _ = remembered
    plain = Predictor("y", trials=3, families=["lightgbm", "linear"], verbose=False, knowledge=str(db), n_threads=1)
    plain.fit(make_frame(520, seed=3))
    assert not any(n.startswith("warm start") for n in plain.info["notes"])


def test_no_knowledge_base_means_no_warm_start_and_nothing_written(tmp_path):
    from assay.knowledge.store import default_path

    predictor = Predictor("y", trials=1, families=["lightgbm"], verbose=False, n_threads=1).fit(make_frame(120))
    assert not any(n.startswith("warm start") for n in predictor.info["notes"])
    assert not default_path().exists()
