"""The scheduler's three decisions: what runs next, whether it fits in the time left, when to prune."""

import time

from assay.evaluate.metrics import METRICS
from assay.search.budget import Deadline
from assay.search.scheduler import Scheduler
from assay.search.strategies import PortfolioStrategy, load_portfolio
from assay.search.trial import TrialResult, TrialSpec
from assay.task import Task

TASK = Task("binary", ("a", "b"))


def _scheduler(families, n_rows=1000, timed=True, n_folds=5):
    portfolio = PortfolioStrategy(load_portfolio(), families, TASK, n_rows, 10)
    return Scheduler(portfolio, families, TASK, n_rows, 10, seed=0, timed=timed, n_folds=n_folds)


def _result(i, family, error, seconds=1.0, status="ok", folds=(0.0,)):
    spec = TrialSpec(i, family, {}, 0, "portfolio")
    return TrialResult(spec, status, error, -error, tuple(folds), fit_seconds=seconds)


def test_portfolio_first_in_order_then_tuning():
    s = _scheduler(["lightgbm", "linear"], timed=False)
    first = [s.propose([], Deadline.never())[:3] for _ in range(3)]
    shipped = [
        e["family"]
        for e in load_portfolio()
        if e["family"] in ("lightgbm", "linear") and TASK.kind in e.get("tasks", [TASK.kind])
    ]  # the learnt portfolio is per task kind
    assert [f[0] for f in first[:2]] == shipped[:2]
    assert first[0][2] == "portfolio" and all(f[2] in ("portfolio", "tpe") for f in first)


def test_a_non_truncatable_family_that_cannot_finish_is_not_started():
    big = _scheduler(["knn"], n_rows=2_000_000)
    assert big.propose([], Deadline.after(30)) is None
    small = _scheduler(["knn"], n_rows=500)
    assert small.propose([], Deadline.after(30))[0] == "knn"


def test_measured_cost_gates_later_trials():
    s = _scheduler(["linear"])
    history = [_result(0, "linear", -0.9, seconds=50.0)]
    assert not s._fits("linear", history, Deadline.after(20))
    assert s._fits("linear", history, Deadline.after(100))


def test_allowance_is_a_share_of_time_left_and_none_without_a_clock():
    assert _scheduler(["lightgbm"], timed=False).allowance("tpe", Deadline.never()) is None
    deadline = Deadline(time.monotonic() + 100)
    assert 30 < _scheduler(["lightgbm"]).allowance("portfolio", deadline) <= 40


def test_pruning_compares_regret_on_the_same_folds():
    s = _scheduler(["lightgbm"])
    auc = METRICS["roc_auc"]
    best = _result(0, "lightgbm", -0.95, folds=(-0.95, -0.95, -0.95))
    assert s.should_prune("tpe", [-0.80], [best], auc)  # regret 0.20 vs 0.05
    assert not s.should_prune("tpe", [-0.94], [best], auc)
    assert not s.should_prune("tpe", [-0.80], [], auc)  # nothing to compare with yet
