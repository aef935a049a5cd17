"""The scheduler's three decisions: what runs next, whether it fits in the time left, when to prune."""

import time

import numpy as np

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


def _screening_scheduler(families, n_folds=5, timed=True):
    portfolio = PortfolioStrategy(load_portfolio(), families, TASK, 1000, 10)
    return Scheduler(
        portfolio, families, TASK, 1000, 10, seed=0, timed=timed, n_folds=n_folds, screen_metric=METRICS["roc_auc"]
    )


def _screened(i, family, params, first_fold_error):
    spec = TrialSpec(i, family, params, 0, "screen")
    return TrialResult(spec, "pruned", first_fold_error, -first_fold_error, (first_fold_error,), fit_seconds=0.1)


def test_screening_runs_every_entry_on_one_fold_then_the_best_first_and_drops_the_hopeless():
    s = _screening_scheduler(["lightgbm", "linear", "knn"])
    deadline = Deadline.after(600)
    entries = s.portfolio.pending()
    screens = [s.propose([], deadline) for _ in entries]
    assert [p[2] for p in screens] == ["screen"] * len(entries)
    assert [(p[0], p[1]) for p in screens] == entries
    # AUC errors (-AUC): the linear model is best; regret 0.30 is more than twice its 0.10: dropped
    auc = {"linear": -0.90, "knn": -0.85, "lightgbm": -0.70}
    results = [_screened(i, f, p, auc[f]) for i, (f, p, _, _) in enumerate(screens)]
    for r in results:
        s.tell(r)
    assert s.continuable() == set(range(len(screens)))  # every screened entry still queued
    after = [s.propose(results, deadline) for _ in range(2)]
    assert [(p[0], p[2]) for p in after] == [("linear", "portfolio"), ("knn", "portfolio")]
    screen_of = {f: i for i, (f, *_) in enumerate(screens)}
    assert [p[3] for p in after] == [{"continues": screen_of["linear"]}, {"continues": screen_of["knn"]}]
    # the two proposed are no longer waiting, and lightgbm's were dropped by the ranking
    waiting = {i for i, (f, *_) in enumerate(screens) if f != "lightgbm"} - {screen_of["linear"], screen_of["knn"]}
    assert s.continuable() == waiting
    assert all(p[2] != "portfolio" or p[0] != "lightgbm" for p in [s.propose(results, deadline) for _ in range(3)])
    assert s._done == {}  # one fold is not a measurement of the configuration


def test_no_screening_without_a_clock_or_with_fewer_than_three_folds():
    assert _screening_scheduler(["linear"], timed=False).propose([], Deadline.never())[2] == "portfolio"
    assert _screening_scheduler(["linear"], n_folds=1).propose([], Deadline.after(60))[2] == "portfolio"


def test_screening_stops_when_its_share_of_the_time_is_spent():
    s = _screening_scheduler(["lightgbm", "linear", "knn"])
    first = s.propose([], Deadline.after(600))
    assert first[2] == "screen"
    s._screen_ends = Deadline.after(0)  # its 35 % of the time went on the first entry
    results = [_screened(0, first[0], first[1], -0.8)]
    s.tell(results[0])  # as the engine does with every result before the next proposal
    nxt = s.propose(results, Deadline.after(600))
    assert nxt[2] == "portfolio" and (nxt[0], nxt[1]) == (first[0], first[1])  # ranked first, the rest follow
    assert len(s.portfolio) == len(load_portfolio_entries(["lightgbm", "linear", "knn"])) - 1


def load_portfolio_entries(families):
    return PortfolioStrategy(load_portfolio(), families, TASK, 1000, 10).pending()


def test_a_screening_trial_fits_the_first_fold_only_and_its_full_trial_continues_from_it():
    from assay.search.executors.inline import run_folds
    from assay.testing.check_executor import executor_context

    ctx = executor_context()
    screen = run_folds(TrialSpec(0, "lightgbm", {}, 0, "screen"), ctx, Deadline.after(60), lambda errors: False)
    assert screen.result.status == "pruned" and len(screen.result.fold_errors) == 1
    assert screen.result.message == "screened on fold 1 of 3" and len(screen.models) == 1
    first_rows = ctx.folds[0][1]
    held = ~np.isnan(screen.oof[:, 0])
    assert set(np.flatnonzero(held)) == set(first_rows)  # only the first fold's rows are predicted

    full = run_folds(
        TrialSpec(5, "lightgbm", {}, 5, "portfolio"), ctx, Deadline.after(60), lambda errors: False, screen
    )
    assert full.result.status == "ok" and len(full.models) == 3
    assert full.models[0] is screen.models[0]  # kept, not refitted
    assert full.result.fold_errors[0] == screen.result.fold_errors[0]
    np.testing.assert_array_equal(full.oof[first_rows], screen.oof[first_rows])
    assert full.result.fit_seconds >= screen.result.fit_seconds  # the configuration's whole cost
    assert not np.isnan(full.oof).any()


def test_a_screened_fold_cut_short_by_its_allowance_is_not_kept():
    from assay.search.executors.inline import run_folds
    from assay.testing.check_executor import executor_context

    ctx = executor_context()
    screen = run_folds(TrialSpec(0, "lightgbm", {}, 0, "screen"), ctx, Deadline.after(0), lambda errors: False)
    assert screen.result.status == "pruned" and screen.models == [] and screen.oof is None
    assert "cut short" in screen.result.message
    full = run_folds(TrialSpec(1, "lightgbm", {}, 1, "portfolio"), ctx, Deadline.never(), lambda e: False, screen)
    assert len(full.models) == 3 and not full.models[0].cut_short_ and full.result.message == ""
