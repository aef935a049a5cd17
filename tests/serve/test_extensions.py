"""What other modules build on: hot reload after a promotion, prediction hooks, extra routers
behind the token check; and the other ways to start a server (a folder, no auth, the CLI)."""

from __future__ import annotations

import io
import logging
import threading
import time

import pandas as pd
import pytest
from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from assay import Predictor
from assay.cli import app as cli
from assay.cli.serve import build_app
from assay.serve import LoadedModel, PredictionEvent, create_app
from assay.serve.deps import get_model, request_id
from tests.conftest import make_frame
from tests.serve.conftest import auth, wait_ready
from tests.serve.test_api import records


@pytest.fixture(scope="session")
def second_folder(tmp_path_factory):
    """Another version of the same kind of model (different rows, so different predictions)."""
    predictor = Predictor("y", trials=1, families=["lightgbm"], n_threads=1, verbose=False)
    predictor.fit(make_frame(240, seed=9))
    return predictor.save(tmp_path_factory.mktemp("serve2") / "churn")


def _version_served(client, token, rows) -> int | None:
    response = client.post("/v1/models/churn/predict", json={"records": records(rows.head(1))}, headers=auth(token))
    return response.json().get("model_version") if response.status_code == 200 else None


def _wait_for(fn, expected, seconds: float = 20.0):
    deadline = time.monotonic() + seconds
    while (got := fn()) != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    return got


def test_a_promoted_version_is_served_without_a_restart(registry, token, second_folder, rows):
    with TestClient(create_app(registry, reload_seconds=0.1)) as client:
        wait_ready(client)
        held = client.app.state.assay.store.get("churn")  # what an in-flight request holds
        assert _version_served(client, token, rows) == 1
        registry.register(second_folder, "churn")
        assert _wait_for(lambda: _version_served(client, token, rows), 1, 0.5) == 1  # a candidate is not served
        registry.promote("churn", 2)
        assert _wait_for(lambda: _version_served(client, token, rows), 2) == 2
        expected = Predictor.load(second_folder).predict_proba(rows.head(3))["yes"].tolist()
        body = client.post("/v1/models/churn/predict", json={"records": records(rows.head(3))}, headers=auth(token))
        assert [p["yes"] for p in body.json()["probabilities"]] == pytest.approx(expected, abs=1e-12)
        assert held.version == 1 and held.predictor.predict(rows.head(2)).notna().all()  # the old one still works
        assert client.get("/ready").json()["models"] == {"churn": 2}
        registry.archive("churn", 2)  # no production version: no longer served
        assert _wait_for(lambda: client.get("/v1/models/churn", headers=auth(token)).status_code, 404) == 404
        assert "production" in client.get("/v1/models/churn", headers=auth(token)).json()["detail"]


def test_hooks_get_each_prediction_and_cannot_break_it(registry, token, rows, caplog):
    seen: list[PredictionEvent] = []

    def broken(event):
        raise RuntimeError("monitoring is down")

    with TestClient(create_app(registry, on_predict=[broken, seen.append], chunk_rows=25)) as client:
        wait_ready(client)
        with caplog.at_level(logging.ERROR, logger="assay.serve"):
            sent = rows.head(4)
            response = client.post(
                "/v1/models/churn/predict",
                json={"records": records(sent)},
                headers=auth(token) | {"X-Request-ID": "r-1"},
            )
        assert response.status_code == 200
        (event,) = seen
        assert (event.model, event.version, event.request_id, event.source) == ("churn", 1, "r-1", "json")
        assert event.predictions == response.json()["predictions"] and len(event.inputs) == 4
        assert list(event.probabilities.columns) == ["no", "yes"]
        pd.testing.assert_frame_equal(
            event.inputs.reset_index(drop=True), sent.reset_index(drop=True), check_dtype=False, check_column_type=False
        )
        assert "monitoring is down" in caplog.text
        streamed = client.post(
            "/v1/models/churn/predict/stream",
            content=rows.to_csv(index=False),
            headers={**auth(token), "Content-Type": "text/csv"},
        )
        assert streamed.status_code == 200
    chunks = [e for e in seen if e.source == "stream"]
    assert [e.row_offset for e in chunks] == [0, 25, 50] and sum(len(e.inputs) for e in chunks) == len(rows)
    streamed_labels = pd.read_csv(io.StringIO(streamed.text))["predicted_y"].tolist()
    assert [label for e in chunks for label in e.predictions] == streamed_labels


def test_quick_hooks_run_on_the_event_loop_for_a_few_rows_and_others_on_a_worker_thread(registry, token, rows):
    threads: dict[str, list[str]] = {"quick": [], "slow": []}

    class Quick:
        quick = True  # only queues, as the prediction log's hook does

        def __call__(self, event):
            threads["quick"].append(threading.current_thread().name)

    def slow(event):
        threads["slow"].append(threading.current_thread().name)

    for hooks in ([Quick()], [Quick(), slow]):
        with TestClient(create_app(registry, on_predict=hooks)) as client:
            wait_ready(client)
            for n in (1, 40):  # a few rows, then more than the server predicts on its loop
                response = client.post(
                    "/v1/models/churn/predict", json={"records": records(rows.head(n))}, headers=auth(token)
                )
                assert response.status_code == 200
    loop_thread, worker = threads["quick"][0], "AnyIO worker thread"
    # alone, the quick hook stays on the loop for one row and goes to a worker for 40 rows;
    # beside a hook that made no such promise it always goes to a worker
    assert [name == loop_thread for name in threads["quick"]] == [True, False, False, False]
    assert worker not in loop_thread and all(worker in name for name in threads["quick"][1:] + threads["slow"])


def test_an_extra_router_sits_behind_the_token_check(registry, token):
    router = APIRouter()

    @router.post("/v1/models/{name}/feedback")
    def feedback(model: LoadedModel = Depends(get_model), rid: str = Depends(request_id)):
        return {"model": model.name, "version": model.version, "request_id": rid}

    with TestClient(create_app(registry, routers=[router])) as client:
        wait_ready(client)
        assert client.post("/v1/models/churn/feedback").status_code == 401
        body = client.post("/v1/models/churn/feedback", headers=auth(token)).json()
        assert body["model"] == "churn" and body["version"] == 1 and len(body["request_id"]) == 32
        assert client.post("/v1/models/other/feedback", headers=auth(token)).status_code == 404


def test_serving_a_folder_with_tokens_from_the_registry(home, model_folder, rows, caplog):
    from assay.registry import Registry

    with Registry() as reg:
        token = reg.create_token("folder")
    with TestClient(create_app(model_folder, name="scorer")) as client:
        wait_ready(client)
        assert client.get("/v1/models/scorer").status_code == 401
        body = client.post("/v1/models/scorer/predict", json={"records": records(rows.head(2))}, headers=auth(token))
        assert body.status_code == 200 and body.json()["model_version"] is None
        (entry,) = client.get("/v1/models", headers=auth(token)).json()["models"]
        assert entry["name"] == "scorer" and entry["versions"][0]["stage"] == "serving"
    with caplog.at_level(logging.WARNING, logger="assay.serve"):
        app = create_app(model_folder, auth=False)
    assert "authentication is OFF" in caplog.text
    with TestClient(app) as open_client:
        wait_ready(open_client)
        assert open_client.post("/v1/models/churn/predict", json={"records": records(rows.head(1))}).status_code == 200


def test_the_cli_builds_the_app_and_refuses_bad_options(home, model_folder):
    app = build_app(model_folder, no_auth=True, max_body_mb=1)
    assert app.state.assay.limits.max_body_bytes == 1024 * 1024 and app.state.assay.tokens is None
    no_source = CliRunner().invoke(cli, ["serve"])
    assert no_source.exit_code == 2 and "exactly one source" in no_source.output
    both = CliRunner().invoke(cli, ["serve", str(model_folder), "--registry"])
    assert both.exit_code == 2
    not_a_model = CliRunner().invoke(cli, ["serve", str(home)])
    assert not_a_model.exit_code == 2 and "manifest.json" in not_a_model.output
