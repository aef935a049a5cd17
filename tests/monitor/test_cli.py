"""`assay monitor`, `assay feedback` and `assay predict --log` from the terminal, with the exit
codes scripts rely on: 0 nothing fired, 3 an alert fired, 2 a user error."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from assay.cli import app


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("ASSAY_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("ASSAY_REGISTRY_URL", raising=False)

    def invoke(*args):
        return CliRunner().invoke(app, [str(a) for a in args])

    return invoke


def test_exit_0_when_nothing_fires_and_3_when_an_alert_does(run, model_folder, tables, tmp_path):
    quiet = run("monitor", model_folder, "--data", tables["recent"], "--json", tmp_path / "q.json")
    assert quiet.exit_code == 0, quiet.output
    assert "nothing fired" in quiet.output
    assert json.loads((tmp_path / "q.json").read_text())["fired"] is False
    loud = run("monitor", model_folder, "--data", tables["shifted"], "--html", tmp_path / "page.html")
    assert loud.exit_code == 3, loud.output
    assert "a: distribution shifted" in loud.output
    assert (tmp_path / "page.html").read_text().count("plotly") > 10


def test_exit_2_for_user_errors(run, model_folder, old_folder, tables):
    both = run("monitor", model_folder, "--data", tables["recent"], "--from-log", "x")
    assert both.exit_code == 2 and "exactly one of --data and --from-log" in both.output
    no_reference = run("monitor", old_folder, "--data", tables["recent"])
    assert no_reference.exit_code == 2 and "--reference train.csv" in no_reference.output
    bad_threshold = run("monitor", model_folder, "--data", tables["recent"], "--psi", "-1")
    assert bad_threshold.exit_code == 2
    assert run("monitor", "no-such-model", "--data", tables["recent"]).exit_code == 2
    bad_hook = run("monitor", model_folder, "--data", tables["recent"], "--webhook", "file:///etc/passwd")
    assert bad_hook.exit_code == 2 and "http" in bad_hook.output


def test_an_old_folder_monitors_with_the_training_file(run, old_folder, tables):
    result = run("monitor", old_folder, "--data", tables["recent"], "--reference", tables["train"])
    assert result.exit_code == 0, result.output
    assert "prediction drift not measured" in result.output
    shifted = run("monitor", old_folder, "--data", tables["shifted"], "--reference", tables["train"])
    assert shifted.exit_code == 3 and "a: distribution shifted" in shifted.output


def test_predict_log_feedback_then_monitor_the_log(run, model_folder, tables, tmp_path):
    out = tmp_path / "predictions.csv"
    predicted = run("predict", model_folder, tables["recent"], "-o", out, "--log", "demo", "--log-version", "2")
    assert predicted.exit_code == 0, predicted.output
    written = pd.read_csv(out)
    assert list(written.columns[:3]) == ["request_id", "row", "predicted_y"] and len(written) == 600
    labels = written[["request_id", "row"]].assign(truth=pd.read_csv(tables["recent"])["y"])
    labels.to_csv(tmp_path / "labels.csv", index=False)
    sent = run("feedback", "demo", "--data", tmp_path / "labels.csv", "--label-col", "truth")
    assert sent.exit_code == 0 and "600 label(s)" in sent.output
    wrong = run("feedback", "demo", "--data", tmp_path / "labels.csv", "--label-col", "nope")
    assert wrong.exit_code == 2
    logged = run("monitor", model_folder, "--from-log", "demo", "--rows", "200", "--json", tmp_path / "log.json")
    assert logged.exit_code == 0, logged.output
    content = json.loads((tmp_path / "log.json").read_text())
    assert content["recent"]["n_labelled"] == 600 and content["recent"]["versions"] == ["2"]
    assert len(content["performance"]["windows"]) == 3
