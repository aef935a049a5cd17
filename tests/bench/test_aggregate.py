"""The benchmark's summary figures on hand-made records: geomean, wins / ties / losses, failures."""

from __future__ import annotations

import math

import pytest

from assay.bench.aggregate import compare, geometric_mean, render_markdown, summarize


def rec(dataset, system, error, *, status="ok", within_budget=None, rss=100.0, task="binary"):
    return {
        "dataset": dataset,
        "system": system,
        "task": task,
        "metric": "roc_auc",
        "value": None if error is None else 1 - error,
        "error": error if status == "ok" else None,
        "status": status,
        "message": "boom" if status != "ok" else "",
        "fit_s": 1.0,
        "predict_s": 0.1,
        "peak_rss_mb": rss,
        "within_budget": within_budget,
    }


RECORDS = [
    rec("a", "assay", 0.05, within_budget=True, rss=300),
    rec("a", "lightgbm_default", 0.10),  # ratio 0.5: win
    rec("b", "assay", 0.20, within_budget=False, rss=900),
    rec("b", "lightgbm_default", 0.10),  # ratio 2: loss
    rec("c", "assay", 0.1005, within_budget=True),
    rec("c", "lightgbm_default", 0.10),  # ratio 1.005: tie
    rec("d", "assay", None, status="timeout", within_budget=False, rss=None),
    rec("d", "lightgbm_default", 0.10),
    rec("e", "assay", 0.10, within_budget=True),
    rec("e", "lightgbm_default", None, status="error"),
]


def test_geometric_mean():
    assert geometric_mean([0.5, 2.0]) == pytest.approx(1.0)
    assert geometric_mean([0.25, 1.0, 4.0, 2.0]) == pytest.approx(math.sqrt(2.0) ** 0.5)
    assert geometric_mean([]) is None


def test_compare_outcomes():
    by_name = {c.dataset: c for c in compare(RECORDS)}
    assert [by_name[n].outcome for n in "abcde"] == ["win", "loss", "tie", "loss", "n/a"]
    assert by_name["a"].ratio == pytest.approx(0.5)
    assert by_name["d"].ratio is None and by_name["e"].ratio is None


def test_summary_counts():
    s = summarize(RECORDS)
    assert (s.wins, s.ties, s.losses) == (1, 1, 2)
    assert s.n_datasets == 5 and s.n_compared == 3
    assert s.geomean_ratio == pytest.approx((0.5 * 2.0 * 1.005) ** (1 / 3))
    assert s.overruns == ["b", "d"]
    assert s.system_failures == ["d"] and s.reference_failures == ["e"]
    assert (s.max_peak_rss_mb, s.max_peak_rss_dataset) == (900, "b")


def test_tie_boundary_is_relative_to_reference():
    recs = [rec("x", "assay", 0.0098), rec("x", "lightgbm_default", 0.01)]  # 2 % better: a win
    assert summarize(recs).wins == 1


def test_markdown_has_rows_and_summary():
    md = render_markdown(RECORDS, title="T", meta={"budget": 60})
    assert md.startswith("# T")
    assert "| a | binary | roc_auc |" in md
    assert "1 / 1 / 2" in md
    assert "timeout" in md
    assert len([line for line in md.splitlines() if line.startswith("| ")]) == 1 + 5
