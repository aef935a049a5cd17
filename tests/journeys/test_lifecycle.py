"""The whole production cycle in one journey, the way `assay serve --registry` composes it:
serve -> predictions logged -> labels fed back -> drift alert -> retrain -> challenger promoted and
picked up without a restart -> rollback, picked up too. Every decision is in the registry."""

from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient

from assay import Predictor
from assay.cli.serve import build_app
from assay.monitor.retrain import retrain
from assay.registry import Registry
from tests.conftest import make_frame
from tests.retrain.conftest import stale_rows


def _served_version(client, headers, records, want: int, seconds: float = 30.0) -> dict:
    """Predict until the server answers with version `want` (it polls the registry)."""
    deadline = time.monotonic() + seconds
    while True:
        answer = client.post("/v1/models/churn/predict", json={"records": records}, headers=headers).json()
        if answer.get("model_version") == want or time.monotonic() > deadline:
            return answer
        time.sleep(0.1)


@pytest.fixture
def champion(tmp_path, monkeypatch):
    monkeypatch.setenv("ASSAY_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("ASSAY_REGISTRY_URL", raising=False)
    monkeypatch.setattr(Predictor, "_report_into", lambda self, folder: None)  # the report is tested elsewhere
    base = tmp_path / "base.csv"
    make_frame(500, seed=0).to_csv(base, index=False)
    predictor = Predictor("y", trials=1, families=["lightgbm"], n_threads=1, verbose=False).fit(str(base))
    with Registry() as reg:
        reg.register(predictor.save(tmp_path / "model"), "churn", source=str(base))
        reg.promote("churn", 1)
        yield reg, reg.create_token("journey")


def test_serve_log_feedback_drift_retrain_promote_rollback(champion):
    reg, token = champion
    headers = {"Authorization": f"Bearer {token}"}
    stale = stale_rows(400, seed=2)  # the world moved: column c shifted and the class now follows d
    records = json.loads(stale.drop(columns=["y"]).to_json(orient="records"))  # NaN -> null

    app = build_app(None, registry=True, reload_seconds=0.2, log_sample=1.0)
    with TestClient(app) as client:
        # 1. serve: v1 answers, every request gets an id
        answer = _served_version(client, headers, records, want=1)
        assert answer["model_version"] == 1 and len(answer["predictions"]) == len(records)
        request_id = answer["request_id"]

        # 2. feedback: the true labels arrive later, by request id
        fed = client.post(
            "/v1/models/churn/feedback",
            json={"request_id": request_id, "labels": stale["y"].tolist()},
            headers=headers,
        )
        assert fed.status_code == 200, fed.text
        assert fed.json()["labelled"] == len(records)

        # 3. drift: the logged window against the training reference fires, on column c
        drift = client.post("/v1/models/churn/monitor", json={"since": "1h"}, headers=headers)
        assert drift.status_code == 200, drift.text
        result = drift.json()
        assert result["fired"] is True
        assert any(alert["subject"] == "c" for alert in result["alerts"]), result["alerts"]

        # 4. retrain on the base data plus the labelled log: the stale champion loses, v2 promoted
        decision = retrain("churn", registry=reg)
        assert decision.action == "promoted", decision.reason
        assert reg.production("churn").version == 2

        # 5. the server picks v2 up without a restart, and it is right where v1 was not
        answer = _served_version(client, headers, records, want=2)
        assert answer["model_version"] == 2

        # 6. rollback: v1 is production again and served again; v2 archived, not deleted
        reg.rollback("churn", reason="journey test")
        assert _served_version(client, headers, records, want=1)["model_version"] == 1
        assert reg.show("churn", 2).stage == "archived"

    actions = [d.action for d in reg.decisions("churn")]
    assert actions[:2] == ["rolled_back", "promoted"], actions


def test_serve_runs_the_retrain_schedule_and_refuses_it_without_a_registry(champion, tmp_path):
    from assay.errors import ConfigError
    from assay.monitor.schedule import RetrainScheduler

    app = build_app(None, registry=True, retrain="0 3 * * *", retrain_tz="UTC")
    with TestClient(app):
        (scheduler,) = [s for s in app.state.services if isinstance(s, RetrainScheduler)]
        assert scheduler.running  # started with the server
    assert not scheduler.running  # and stopped with it

    with pytest.raises(ConfigError, match="--retrain needs --registry"):
        build_app(tmp_path / "model", retrain="0 3 * * *")
