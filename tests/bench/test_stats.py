"""The multi-system figures on hand-made numbers: intervals, W/T/L with failures, ranks, CD, ablation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from assay.bench.harness import assay_entry
from assay.bench.stats import (
    ablation,
    anytime,
    at_budget,
    cell_table,
    cliques,
    compare_pair,
    geomean_interval,
    nemenyi_q,
    rank_systems,
    resources,
    to_frame,
)


def rec(dataset, system, error, *, status="ok", budget=60.0, seed=0, fit_s=10.0, rss=100.0, within=True):
    return {
        "dataset": dataset,
        "system": system,
        "budget": budget,
        "seed": seed,
        "task": "binary",
        "metric": "roc_auc",
        "status": status,
        "value": None if error is None else 1 - error,
        "error": error,
        "fit_s": fit_s,
        "predict_s": 0.1,
        "rss_self_mb": rss,
        "rss_children_mb": 0.0,
        "within_budget": within,
        "message": "" if status == "ok" else "boom",
    }


# errors per dataset: A beats R on d1, d2; ties on d3; fails on d4; R fails on d5; P (a peer) is unavailable
RECORDS = [
    rec("d1", "R", 0.10, budget=None, fit_s=1.0),
    rec("d1", "A", 0.05, fit_s=4.0),
    rec("d1", "B", 0.20),
    rec("d2", "R", 0.20, budget=None, fit_s=2.0),
    rec("d2", "A", 0.10, fit_s=2.0),
    rec("d2", "B", 0.30),
    rec("d3", "R", 0.10, budget=None),
    rec("d3", "A", 0.1005),
    rec("d3", "B", 0.05),
    rec("d4", "R", 0.10, budget=None),
    rec("d4", "A", None, status="timeout", within=False, rss=None),
    rec("d4", "B", 0.40),
    rec("d5", "R", None, budget=None, status="error"),
    rec("d5", "A", 0.10),
    rec("d5", "B", 0.20),
    *[rec(d, "P", None, status="unavailable") for d in ("d1", "d2", "d3", "d4", "d5")],
]


def cells_at(budget=60.0):
    return cell_table(at_budget(to_frame(RECORDS), budget))


def test_geomean_interval_contains_point_and_is_exact_for_one_value():
    point, low, high = geomean_interval([0.5, 2.0, 1.0, 0.25])
    assert point == pytest.approx(0.5 ** (1 / 2) * 1.0)  # exp(mean(log)) = (0.5*2*1*0.25)^(1/4)
    assert low <= point <= high
    assert geomean_interval([0.8]) == (0.8, 0.8, 0.8)
    assert all(math.isnan(v) for v in geomean_interval([]))


def test_pair_counts_failures_as_losses_and_skips_reference_failures():
    p = compare_pair(cells_at(), "A", "R")
    assert p.ratios == pytest.approx({"d1": 0.5, "d2": 0.5, "d3": 1.005})
    assert (p.wins, p.ties, p.losses) == (2, 1, 1)  # d4: A timed out, R ran -> loss; d5: R failed -> not compared
    assert p.failures == ["d4"] and p.n_datasets == 5 and p.n_compared == 3
    assert p.geomean == pytest.approx((0.5 * 0.5 * 1.005) ** (1 / 3))


def test_unavailable_peer_is_reported_not_scored():
    p = compare_pair(cells_at(), "P", "R")
    assert p.unavailable == ["d1", "d2", "d3", "d4", "d5"]
    assert (p.wins, p.ties, p.losses, p.n_datasets) == (0, 0, 0, 0)


def test_ranks_friedman_and_critical_difference():
    ranking = rank_systems(cells_at(), ["R", "A", "B", "P"])
    assert ranking.systems == ["R", "A", "B"]  # P never ran: not ranked
    assert ranking.n_datasets == 5  # every system has a result everywhere; a failure ranks last
    # per-dataset ranks (R, A, B): d1 (2,1,3) d2 (2,1,3) d3 (2,3,1) d4 (1,3,2) d5 (3,1,2)
    mean = np.array([[2, 1, 3], [2, 1, 3], [2, 3, 1], [1, 3, 2], [3, 1, 2]], dtype=float).mean(axis=0)
    assert [ranking.mean_ranks[s] for s in ("R", "A", "B")] == pytest.approx(mean.tolist())
    n, k = 5, 3
    assert ranking.friedman_chi2 == pytest.approx(12 * n / (k * (k + 1)) * (np.sum(mean**2) - k * (k + 1) ** 2 / 4))
    assert ranking.cd == pytest.approx(2.344 * math.sqrt(k * (k + 1) / (6 * n)))
    assert ranking.cliques == [["A", "R", "B"]]  # 0.4 apart, CD 1.48: not told apart


def test_nemenyi_table_and_cliques():
    assert nemenyi_q(2) == 1.960 and nemenyi_q(10) == 3.164
    groups = cliques({"a": 1.0, "b": 1.5, "c": 2.9, "d": 3.0}, cd=1.0)
    assert groups == [["a", "b"], ["c", "d"]]
    assert cliques({"a": 1.0, "b": 3.0}, cd=1.0) == []


def test_resources_time_ratio_is_side_by_side_only():
    res = resources(cells_at(), at_budget(to_frame(RECORDS), 60.0), "A", "R")
    # only where both succeeded: d1 4/1, d2 2/2, d3 10/10 (not d4, where A timed out, nor d5, where R failed)
    assert res["overruns"] == ["d4"]
    assert res["time_ratio"] == pytest.approx(4.0 ** (1 / 3))
    assert res["max_peak_mb"] == 100.0


def test_time_ratio_ignores_runs_of_different_sessions():
    records = [
        {**rec("d1", "R", 0.1, budget=None, fit_s=1.0), "session": "monday"},
        {**rec("d1", "A", 0.1, fit_s=8.0), "session": "tuesday"},
        {**rec("d2", "R", 0.1, budget=None, fit_s=1.0), "session": "tuesday"},
        {**rec("d2", "A", 0.1, fit_s=2.0), "session": "tuesday"},
    ]
    frame = at_budget(to_frame(records), 60.0)
    assert resources(cell_table(frame), frame, "A", "R")["time_ratio"] == pytest.approx(2.0)


def test_budgetless_reference_serves_every_budget():
    records = RECORDS + [rec(r["dataset"], r["system"], r["error"], status=r["status"], budget=10.0)
                         for r in RECORDS if r["system"] == "A"]  # fmt: skip
    table = anytime(to_frame(records), ["R", "A"], "R")
    assert table["budget"].tolist() == [10.0, 60.0]
    assert table["R"].tolist() == [1.0, 1.0]
    assert table["A"].iloc[0] == pytest.approx(table["A"].iloc[1])


def test_ablation_effects_against_baseline():
    records = [
        rec("d1", "assay", 0.10),
        rec("d2", "assay", 0.20),
        rec("d1", "assay[search=random]", 0.20),
        rec("d2", "assay[search=random]", 0.40),
        rec("d1", "assay[ensemble=off]", 0.11),
        rec("d2", "assay[ensemble=off]", 0.20),
    ]
    matrix = {"search": ["portfolio", "random", "tpe"], "ensemble": ["on", "off"]}
    effects = ablation(cell_table(to_frame(records)), matrix, lambda levels: assay_entry(levels).label)
    by = {(e.factor, e.level): e for e in effects}
    assert by[("search", "portfolio")].is_baseline and by[("search", "portfolio")].label == "assay"
    assert by[("search", "random")].summary.geomean == pytest.approx(2.0)
    assert by[("search", "tpe")].summary is None  # not run
    off = by[("ensemble", "off")].summary
    assert off.geomean == pytest.approx(math.sqrt(1.1)) and (off.wins, off.ties, off.losses) == (0, 1, 1)


def test_repeats_average_errors_over_seeds():
    records = [rec("d1", "A", 0.1, seed=0), rec("d1", "A", 0.3, seed=1), rec("d1", "A", None, seed=2, status="error")]
    cells = cell_table(to_frame(records))
    row = cells.iloc[0]
    assert row["state"] == "ok" and row["error"] == pytest.approx(0.2) and row["n_seeds"] == 2
