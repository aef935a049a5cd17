"""The harness end to end on two tiny datasets, peers absent, and a resume after an interruption."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from assay.bench import harness
from assay.bench.store import ResultStore
from assay.bench.suite import load_suite
from assay.cli import app
from tests.conftest import make_frame


@pytest.fixture
def tiny_suite(tmp_path):
    """Two tiny tasks in a user's own suite file, with paths relative to the file."""
    make_frame(120, "binary", seed=1).to_csv(tmp_path / "bin.csv", index=False)
    make_frame(120, "regression", seed=2).to_csv(tmp_path / "reg.csv", index=False)
    suite = tmp_path / "tiny.yaml"
    suite.write_text(
        "name: tiny\ndatasets:\n"
        "  - {name: bin, path: bin.csv, target: y, task: binary}\n"
        "  - {name: reg, path: reg.csv, target: y, task: regression}\n"
    )
    return suite


def test_bench_end_to_end(tiny_suite, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        ["bench", "--suite", str(tiny_suite), "--systems", "assay,lightgbm-default,flaml", "--budget", "5"]
        + ["--out", str(out), "--peers-dir", str(tmp_path / "no-peers")],
    )
    assert result.exit_code == 0, result.output
    records = ResultStore(out / "results.sqlite").latest()
    by = {(r["dataset"], r["system"]): r for r in records}
    assert set(by) == {(d, s) for d in ("bin", "reg") for s in ("assay", "lightgbm_default", "flaml")}
    for d in ("bin", "reg"):
        assert by[(d, "assay")]["status"] == "ok", by[(d, "assay")].get("message")
        assert by[(d, "lightgbm_default")]["status"] == "ok"
        assert by[(d, "flaml")]["status"] == "unavailable"  # reported, not fatal
        assert by[(d, "assay")]["budget"] == 5.0 and by[(d, "lightgbm_default")]["budget"] is None
        assert by[(d, "assay")]["peak_tree_rss_mb"] >= by[(d, "assay")]["peak_tree_mb"] > 0
        assert by[(d, "assay")]["data_sha256"]
    assert by[("bin", "assay")]["metric"] == "roc_auc" and by[("reg", "assay")]["metric"] == "rmse"
    [session] = ResultStore(out / "results.sqlite").sessions()
    assert session["assay_version"] and "lightgbm" in session["libraries"] and session["suite"] == "tiny"
    summary = (out / "summary.md").read_text()
    assert "## Budget 5 s" in summary and "| assay |" in summary and "unavailable" in summary
    page = (out / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "Plotly.newPlot" in page and '<script src="http' not in page
    assert (out / "records.parquet").is_file()

    again = CliRunner().invoke(
        app,
        ["bench", "--suite", str(tiny_suite), "--systems", "assay,lightgbm-default", "--budget", "5"]
        + ["--out", str(out), "--dry-run"],
    )
    assert "0 run(s) to do, 4 already" in again.output


def test_resume_after_interruption(tiny_suite, tmp_path):
    plan = harness.BenchPlan(
        suite="tiny",
        suite_path=tiny_suite,
        specs=load_suite(tiny_suite)[:1],
        entries=harness.parse_systems("lightgbm-default,autogluon-best"),
        budgets=[2.0],
        seeds=[0, 1],
        reference="lightgbm_default",
        peers_dir=tmp_path / "no-peers",
    )
    store = ResultStore(tmp_path / "results.sqlite")
    todo, done = harness.pending(plan, store)
    assert (len(todo), done) == (4, 0)

    def interrupt(i, cell, record):
        if i == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        harness.run_cells(plan, store, todo, "s1", on_record=interrupt)
    todo, done = harness.pending(plan, store)
    # 2 cells recorded: LightGBM's is skipped from now on, the unavailable peer's is tried again
    assert store.count() == 2 and done == 1 and len(todo) == 3
    assert [(c.entry.system, c.seed) for c in plan.cells() if c not in todo] == [("lightgbm_default", 0)]

    harness.run_cells(plan, store, todo, "s2")
    todo, done = harness.pending(plan, store)
    assert done == 2 and all(c.entry.system == "autogluon-best" for c in todo)
    latest = store.latest()
    assert len(latest) == 4 and len({(r["dataset"], r["system"], r["seed"]) for r in latest}) == 4
    assert {r["session"] for r in latest if r["system"] == "lightgbm_default"} == {"s1", "s2"}


def test_retry_failed_reruns_only_failures(tiny_suite, tmp_path):
    plan = harness.BenchPlan("tiny", tiny_suite, load_suite(tiny_suite), harness.parse_systems("assay"), [5.0], [0],
                             "assay")  # fmt: skip
    store = ResultStore(tmp_path / "results.sqlite")
    for name, status in (("bin", "ok"), ("reg", "timeout")):
        store.add("s", "tiny", {"dataset": name, "system": "assay", "budget": 5.0, "seed": 0, "status": status}, "t")
    assert harness.pending(plan, store)[1] == 2
    todo, done = harness.pending(plan, store, retry_failed=True)
    assert done == 1 and [c.spec.name for c in todo] == ["reg"]


def test_runner_child_reports_an_unavailable_peer(tiny_suite, tmp_path, monkeypatch):
    from assay.bench.runner import run_pair

    monkeypatch.setenv("ASSAY_PEERS_DIR", str(tmp_path / "nothing"))
    record = run_pair("autogluon-medium", "bin", tiny_suite, 5.0, 0)
    assert record["status"] == "unavailable" and "setup-peers" in record["message"]
    assert json.dumps(record)  # a record is always JSON


def test_hard_timeout_kills_the_child_and_returns_a_record(tiny_suite):
    from assay.bench.runner import run_isolated

    [spec, _] = load_suite(tiny_suite)
    record = run_isolated("assay", spec, tiny_suite, 5.0, 0, timeout=0.5, label="assay[search=random]",
                          config={"search": "random"})  # fmt: skip
    assert record["status"] == "timeout" and record["within_budget"] is False
    assert record["system"] == "assay[search=random]" and record["config"] == {"search": "random"}
