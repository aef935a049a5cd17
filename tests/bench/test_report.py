"""The summary and the page from fixed records; the store's append, latest-per-cell and statuses."""

from __future__ import annotations

from assay.bench import figures
from assay.bench.report import build_report, render_html, render_markdown, write_outputs
from assay.bench.store import ResultStore, cell_key
from tests.bench.test_stats import RECORDS, rec


def test_markdown_has_aggregates_ranks_and_per_dataset_rows():
    report = build_report(RECORDS, "R", systems=["R", "A", "B", "P"], title="T")
    md = render_markdown(report)
    assert md.startswith("# T") and "## Budget 60 s" in md
    assert "| A | **0.63" in md  # (0.5 * 0.5 * 1.005) ** (1/3) = 0.6313
    assert "| 2 / 1 / 1 |" in md
    assert "| P | — (unavailable)" in md
    assert "Friedman chi2" in md and "Nemenyi critical difference" in md
    assert "| d4 | binary | roc_auc | **0.9** | failed | 0.6 | unavailable |" in md
    assert "## Runs that did not succeed" in md and "| d4 | A | 60 | 0 | timeout |" in md


def test_anytime_and_ablation_sections(tmp_path):
    records = [rec(d, s, e, budget=b) for b in (10.0, 60.0) for d, s, e in
               (("d1", "assay", 0.1), ("d2", "assay", 0.2), ("d1", "assay[ensemble=off]", 0.2),
                ("d2", "assay[ensemble=off]", 0.2))]  # fmt: skip
    records += [rec("d1", "lgbm", 0.2, budget=None), rec("d2", "lgbm", 0.2, budget=None)]
    report = build_report(records, "lgbm", matrix={"ensemble": ["on", "off"]})
    md = render_markdown(report)
    assert "## Anytime" in md and "| 10 s | 60 s |" in md
    assert "### Ablation" in md and "| ensemble | off | assay[ensemble=off] | 1.414" in md
    md_path, html_path = write_outputs(report, tmp_path)
    page = html_path.read_text()
    assert md_path.read_text() == md
    assert page.count("Plotly.newPlot") >= 6 and "<h2>Anytime</h2>" in page and "<table>" in page


def test_cd_diagram_draws_every_system_and_the_cd():
    report = build_report(RECORDS, "R")
    fig = figures.cd_diagram(report.sections[0].ranking, "cd")
    texts = [a.text for a in fig.layout.annotations]
    assert any(t.startswith("CD = ") for t in texts)
    assert {t.split(" (")[0] for t in texts if " (" in t} == {"R", "A", "B"}
    assert "<script" in render_html(report)


def test_store_appends_and_reads_the_latest_record_of_each_cell(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    base = {"dataset": "d", "system": "s", "budget": 60.0, "seed": 0}
    store.add("one", "suite", {**base, "status": "timeout"}, "t1")
    store.add("two", "suite", {**base, "status": "ok", "error": 0.1}, "t2")
    store.add("two", "suite", {**base, "budget": None, "system": "ref", "status": "ok"}, "t2")
    store.add_session("two", "t2", {"suite": "suite", "git": {"commit": "abc"}})
    assert store.count() == 3
    latest = store.latest()
    assert [(r["system"], r["status"], r["session"]) for r in latest] == [("s", "ok", "two"), ("ref", "ok", "two")]
    assert store.statuses() == {cell_key("suite", "d", "s", 60, 0): "ok", cell_key("suite", "d", "ref", None, 0): "ok"}
    assert store.latest("other") == []
    assert store.sessions()[0]["git"] == {"commit": "abc"}
