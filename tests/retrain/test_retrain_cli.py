"""`assay retrain` end to end on tiny data in a temporary ASSAY_HOME: no real change -> kept (exit 4);
a stale champion -> the challenger promoted (exit 0), with rows from the prediction log too; then
`assay models rollback`. The failure paths: user errors exit 2, a crashed fit exits 5, both recorded."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from assay import Predictor
from assay.cli import app
from assay.data.read import read_table
from assay.data.schema import Schema
from assay.monitor.log import PredictionLog
from assay.monitor.retrain import alert, fingerprint, logged_labelled_rows
from assay.registry import Decision, Registry
from tests.conftest import make_frame
from tests.retrain.conftest import stale_rows

TINY = ["--trials", "1"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A champion fit on 500 rows and registered in production, and the tables to come. (From 500
    rows a fit does not repeat its cross-validation, so every fit here is the fast kind.)"""
    root = tmp_path_factory.mktemp("retrain")
    make_frame(500, seed=0).to_csv(root / "base.csv", index=False)
    make_frame(150, seed=1).to_csv(root / "same.csv", index=False)
    stale_rows(200, seed=2).to_csv(root / "stale.csv", index=False)
    home = root / "home"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ASSAY_HOME", str(home))
        mp.delenv("ASSAY_REGISTRY_URL", raising=False)
        mp.setattr(Predictor, "_report_into", lambda self, folder: None)  # the report is tested elsewhere
        fitted = CliRunner().invoke(
            app,
            ["fit", str(root / "base.csv"), "-t", "y", *TINY, "--families", "lightgbm", "--out", str(root / "m"),
             "--register", "churn"],
        )  # fmt: skip
        assert fitted.exit_code == 0, fitted.output
        assert CliRunner().invoke(app, ["models", "promote", "churn", "1"]).exit_code == 0
        yield root, home, mp


def invoke(*args):
    return CliRunner().invoke(app, list(map(str, args)))


def test_retrain_keeps_promotes_and_rolls_back(world):
    root, home, _ = world
    kept = invoke("retrain", "churn", "--data", root / "same.csv", *TINY)
    assert kept.exit_code == 4, kept.output
    assert "champion v1" in kept.output and "p-value" in kept.output and "not better beyond noise" in kept.output

    with Registry() as reg:
        assert reg.production("churn").version == 1 and reg.show("churn", 2).stage == "candidate"
        # Labelled traffic: half of the new regime's rows arrive through the prediction log.
        logged = stale_rows(200, seed=3)
        champion = reg.load("churn")
        with PredictionLog() as plog:
            inputs = logged.drop(columns=["y"])
            plog.record("churn", 1, inputs, champion.predict(inputs), request_id="r1")
            plog.feedback("churn", "r1", logged["y"].tolist())

    dry = invoke("retrain", "churn", "--data", root / "stale.csv", *TINY, "--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    would = json.loads(dry.output)
    assert would["action"] == "promoted" and would["id"] is None and would["details"]["dry_run"]
    with Registry() as reg:
        assert [r.version for r in reg.list("churn")] == [1, 2] and len(reg.decisions("churn")) == 2

    promoted = invoke("retrain", "churn", "--data", root / "stale.csv", *TINY)
    assert promoted.exit_code == 0, promoted.output
    assert "promoted" in promoted.output and "v3 promoted to production (was v1)" in promoted.output
    with Registry() as reg:
        v3 = reg.production("churn")
        assert v3.version == 3 and v3.tags["retrained_from"] == "1" and "log_until" in v3.tags
        decision = reg.decisions("churn")[0]
        assert decision.action == "promoted" and decision.p_value < 0.05 and decision.metric == "roc_auc"
        assert decision.challenger_score > decision.champion_score and decision.holdout_rows >= 10
        sources = decision.details["sources"]
        assert sources["log"] == 200 and sources["new_data"] == 200 and sources["pending"] == 350
        assert not (home / "retrain" / "churn" / "pending.csv").exists()  # now in v3's data
        # v3's lineage is its exact training table, verifiable by the next retraining, which also
        # starts reading the prediction log after the rows v3 already used.
        assert v3.source == decision.details["train_data"] and v3.source.endswith("train.csv")
        schema = Schema.from_dict(json.loads((v3.path / "schema.json").read_text()))
        assert fingerprint(read_table(v3.source), schema, "y") == v3.data_fingerprint
        assert logged_labelled_rows(reg, "churn", "y").shape[0] == 200
        assert logged_labelled_rows(reg, "churn", "y", since=v3.tags["log_until"]).empty

    rolled = invoke("models", "rollback", "churn", "--reason", "complaints")
    assert rolled.exit_code == 0 and "v1 is in production again" in rolled.output, rolled.output
    listed = json.loads(invoke("models", "decisions", "churn", "--json").output)
    assert [d["action"] for d in listed] == ["rolled_back", "promoted", "kept", "promoted"]


def test_user_errors_exit_2_and_a_crashed_fit_exits_5(world):
    root, home, mp = world
    assert invoke("retrain", "nope").exit_code == 2
    missing = invoke("retrain", "churn", "--data", root / "missing.csv")
    assert missing.exit_code == 2 and "missing.csv" in missing.output
    unlabelled = root / "unlabelled.csv"
    make_frame(50, seed=4).drop(columns=["y"]).to_csv(unlabelled, index=False)
    no_target = invoke("retrain", "churn", "--data", unlabelled)
    assert no_target.exit_code == 2 and "no target column 'y'" in no_target.output
    assert invoke("retrain", "churn", "--alpha", "2").exit_code == 2
    with Registry() as reg:
        champion = reg.production("churn").version
        assert reg.decisions("churn")[0].action == "failed"  # the model exists: the failure is on record

    fresh = root / "fresh.csv"
    make_frame(150, seed=5).to_csv(fresh, index=False)

    def crash(self, data, callbacks=(), *, query=None):
        raise MemoryError("out of memory")

    with mp.context() as patched:
        patched.setattr(Predictor, "fit", crash)
        crashed = invoke("retrain", "churn", "--data", fresh, *TINY, "--no-log")
    assert crashed.exit_code == 5 and "retraining failed" in crashed.output, crashed.output
    with Registry() as reg:
        failed = reg.decisions("churn")[0]
        assert failed.action == "failed" and "MemoryError: out of memory" in failed.reason
        assert reg.production("churn").version == champion

    # The champion's training data is gone: --base-data stands in for it (checked by fingerprint).
    base = root / "base.csv"
    moved = shutil.move(base, root / "moved.csv")
    try:
        gone = invoke("retrain", "churn", "--no-log")
        assert gone.exit_code == 2 and "--base-data" in gone.output
        waiting = invoke("retrain", "churn", "--base-data", moved, "--no-log", "--min-new-rows", "100000", "--json")
        assert waiting.exit_code == 4, waiting.output
        decision = json.loads(waiting.output)
        assert decision["details"]["base_verified"] and "no challenger trained" in decision["reason"]
    finally:
        shutil.move(moved, base)


def test_a_decision_is_logged_and_posted_to_a_webhook(caplog):
    import http.server
    import threading

    received = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    decision = Decision("churn", "promoted", "better beyond noise", champion_version=1, challenger_version=3)
    try:
        with caplog.at_level("INFO", logger="assay.monitor.retrain"):
            alert(decision, f"http://127.0.0.1:{server.server_port}/hook")
            alert(decision, "http://127.0.0.1:9/down")  # nobody listens: logged, never raised
    finally:
        server.shutdown()
    assert received[0]["model"] == "churn" and received[0]["decision"]["action"] == "promoted"
    assert received[0]["alerts"][0]["message"] == decision.describe()
    assert any(r.levelname == "WARNING" and "v3 promoted" in r.getMessage() for r in caplog.records)
