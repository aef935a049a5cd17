"""The journey fit -> report: the saved model carries its report; `assay report` rebuilds it on
test rows; `assay explain` takes predictions apart; and the page, opened in headless Chromium,
renders every plot without a JavaScript error."""

from __future__ import annotations

import json
import time

import pandas as pd
import pytest
from typer.testing import CliRunner

from assay.cli import app
from assay.evaluate.report_data import SECTIONS
from assay.predictor import Predictor
from assay.testing.browser import browser_unavailable, inspect_page
from tests.conftest import make_frame


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    frame = make_frame(800, "multiclass")  # 8 folds; penguins, under 500 rows, would take 24
    train, test = frame.iloc[:600], frame.iloc[600:]
    train.to_csv(folder / "train.csv", index=False)
    test.to_csv(folder / "test.csv", index=False)
    # A trial budget gives the diagnostics a share of the fit's time, not of a clock that a busy
    # test machine may have spent already (tests/journeys checks the timed promise).
    predictor = Predictor("y", trials=2, families=["lightgbm", "linear"], n_threads=1, verbose=False)
    predictor.fit(folder / "train.csv")
    predictor.save(folder / "model")
    return {"dir": folder / "model", "test": folder / "test.csv", "root": folder}


def test_saving_writes_the_report_and_the_diagnostics(model):
    folder = model["dir"]
    for name in ("report.html", "report.json", "diagnostics.json"):
        assert (folder / name).is_file(), name
    content = json.loads((folder / "report.json").read_text())
    linear = content["model"]["baselines"]["linear"]
    assert (folder / "baselines/linear/model.json").is_file() == ("validation" in linear), linear
    assert "validation" in linear or any("linear" in s for s in content["diagnostics"]["skipped"])
    assert set(SECTIONS) <= set(content)
    validation = content["model"]["validation"]["metrics"]["log_loss"]
    assert validation["low"] <= validation["value"] <= validation["high"]
    prior = content["model"]["baselines"]["prior"]["validation"]["metrics"]["log_loss"]
    assert prior["value"] > validation["high"]  # the model beats the class frequencies, beyond doubt
    assert content["diagnostics"]["learning"]["verdict"]["label"] in ("fine", "under-fitting", "over-fitting")
    assert content["search"]["anytime"] and all(t.get("end_s") is not None for t in content["search"]["trials"])
    profile = content["data"]["profile"]  # the same profile `assay profile` draws feeds the Data section
    assert {c["name"] for c in profile["columns"]} >= {"a", "colour", "y"} and profile["ranking"]
    page = (folder / "report.html").read_text()
    assert page.count("<section id=") == len(SECTIONS) and "<script src=" not in page  # nothing fetched
    data_section = page.split("<section id='data'>")[1].split("</section>")[0]
    assert data_section.count('class="plotly-graph-div"') >= 3  # target, missingness, association
    assert Predictor.load(folder).predict(model["test"]).notna().all()  # the report files do not upset loading


def test_assay_report_with_test_rows(model):
    out = model["root"] / "with_test.html"
    start = time.monotonic()
    result = CliRunner().invoke(app, ["report", str(model["dir"]), "--data", str(model["test"]), "-o", str(out)])
    seconds = time.monotonic() - start
    assert result.exit_code == 0, result.output
    assert "report written" in result.output and seconds < 30
    content = json.loads(out.with_suffix(".json").read_text())
    test = content["model"]["test"]
    assert test["n_rows"] == len(pd.read_csv(model["test"]))
    assert "prior" in test["baselines"]
    assert "validation_vs_test" in content["diagnostics"]["sanity"]
    assert sorted(content["errors"]["test"]["confusion"]["labels"]) == ["high", "low", "mid"]


def test_assay_explain(model):
    out = model["root"] / "explained.csv"
    result = CliRunner().invoke(app, ["explain", str(model["dir"]), str(model["test"]), "-o", str(out), "--top", "3"])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert {"row", "predicted", "explained_class", "baseline", "a", "colour"} <= set(frame.columns)
    assert len(frame) == len(pd.read_csv(model["test"])) and "contributions" in result.output


def test_the_report_renders_in_a_browser(model):
    reason = browser_unavailable()
    if reason:
        pytest.skip(reason)
    result = inspect_page(model["dir"] / "report.html")
    assert result["errors"] == []
    assert result["sections"] == list(SECTIONS)
    assert len(result["plots"]) >= 8
    for plot in result["plots"]:
        assert plot["drawn"] and plot["traces"] > 0 and plot["width"] > 100 and plot["height"] > 100, plot
