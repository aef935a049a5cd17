"""The monitoring endpoints inside the real server (create_app), with the logging hook plugged in:
predictions logged by the server get their labels by request id, and drift is one POST away."""

from __future__ import annotations

import json
import time

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from assay.monitor import PredictionLog  # noqa: E402
from assay.monitor.routes import LogPredictions, monitor_router  # noqa: E402
from assay.serve.app import create_app  # noqa: E402
from tests.conftest import make_frame  # noqa: E402


@pytest.fixture
def client(model_folder, tmp_path, monkeypatch):
    monkeypatch.setenv("ASSAY_HOME", str(tmp_path / "home"))
    log = PredictionLog(f"sqlite:///{tmp_path / 'registry.db'}")
    app = create_app(
        model_folder, name="churn", auth=False, routers=[monitor_router(log)], on_predict=[LogPredictions(log)]
    )
    with TestClient(app) as c:
        for _ in range(200):  # the server loads its models in the background
            if c.get("/ready").status_code == 200:
                break
            time.sleep(0.05)
        yield c, log
    log.close()


def _records(frame):
    return json.loads(frame.to_json(orient="records"))  # NaN as null, as a client sends it


def test_logged_predictions_get_feedback_and_drift(client):
    c, log = client
    rows = make_frame(300, seed=41)
    ids = []
    for start in range(0, 300, 100):
        answer = c.post(
            "/v1/models/churn/predict", json={"records": _records(rows.drop(columns="y")[start : start + 100])}
        )
        assert answer.status_code == 200
        ids.append(answer.json()["request_id"])
    labelled = c.post("/v1/models/churn/feedback", json={"request_id": ids[0], "labels": rows["y"][:100].tolist()})
    assert labelled.status_code == 200 and labelled.json() == {"model": "churn", "labelled": 100}
    pairs = [{"request_id": ids[1], "row": i, "label": rows["y"].iloc[100 + i]} for i in range(100)]
    assert c.post("/v1/models/churn/feedback", json=pairs).json()["labelled"] == 100
    unknown = c.post("/v1/models/churn/feedback", json={"request_id": "nope", "labels": ["yes"]})
    assert unknown.status_code == 404 and "'nope'" in unknown.json()["detail"]
    assert c.post("/v1/models/nobody/feedback", json={"request_id": "x", "labels": [1]}).status_code == 404

    result = c.post("/v1/models/churn/monitor", json={}).json()
    assert result["fired"] is False and result["recent"]["n_rows"] == 300 and result["recent"]["n_labelled"] == 200
    assert result["performance"]["windows"][0]["n"] == 200
    assert log.count("churn") == 300

    shifted = make_frame(300, seed=42)
    shifted["a"] += 1.5
    uploaded = c.post("/v1/models/churn/monitor", json={"records": _records(shifted), "multivariate": False}).json()
    assert uploaded["fired"] and any(a["subject"] == "a" for a in uploaded["alerts"])
    page = c.get("/v1/models/churn/monitor.html")
    assert page.status_code == 200 and page.text.startswith("<!DOCTYPE html>")
    bad = c.post("/v1/models/churn/monitor", json={"psi": -1})
    assert bad.status_code == 400 and "psi" in bad.json()["detail"]
