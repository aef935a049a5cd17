"""The REST API's journeys: tokens, predictions that equal the library's, per-field errors for bad
payloads, limits, uploads (never unpickled), and the open probes."""

from __future__ import annotations

import io
import logging
import pickle
import time

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from assay import Predictor
from assay.serve import create_app
from assay.serve.state import TOKEN_TTL_SECONDS
from tests.serve.conftest import auth, wait_ready

CSV = {"Content-Type": "text/csv"}
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def client(registry, token):
    with TestClient(create_app(registry, reload_seconds=0.2, max_request_bytes=200_000, max_records=500)) as c:
        assert wait_ready(c)["ready"]
        yield c


@pytest.fixture(scope="session")
def predictor(model_folder):
    return Predictor.load(model_folder)


def records(frame: pd.DataFrame) -> list[dict]:
    return [
        {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()}
        for r in frame.to_dict("records")
    ]


# --- tokens ---------------------------------------------------------------------------------------
PROTECTED = [
    ("get", "/v1/models"),
    ("get", "/v1/models/churn"),
    ("get", "/v1/models/churn/versions"),
    ("get", "/v1/models/churn/report"),
    ("post", "/v1/models/churn/predict"),
    ("post", "/v1/models/churn/predict/stream"),
]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_every_model_route_needs_a_valid_token(client, method, path):
    missing = getattr(client, method)(path)
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
    assert "assay tokens create" in missing.json()["detail"]
    wrong = getattr(client, method)(path, headers=auth("assay_deadbeef_not-a-real-secret"))
    assert wrong.status_code == 401
    garbage = getattr(client, method)(path, headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert garbage.status_code == 401


def test_health_ready_and_the_page_are_open(client):
    assert client.get("/health").json()["status"] == "ok"
    ready = client.get("/ready").json()
    assert ready["ready"] and ready["models"] == {"churn": 1}
    page = client.get("/")
    assert page.status_code == 200 and "/static/app.js" in page.text
    assert client.get("/static/app.js").status_code == 200


def test_the_docs_need_a_token_by_default(client, token):
    for path in ("/docs", "/openapi.json", "/redoc"):
        missing = client.get(path)
        assert missing.status_code == 401 and "assay tokens create" in missing.json()["detail"], path
    assert client.get("/docs", headers=auth(token)).status_code == 200
    spec = client.get("/openapi.json", headers=auth(token)).json()
    body = spec["paths"]["/v1/models/{name}/predict"]["post"]["requestBody"]["content"]
    assert {"application/json", "text/csv", "multipart/form-data"} <= set(body)
    assert "PredictResponse" in spec["components"]["schemas"]


def test_open_docs_serves_the_docs_without_a_token(registry, token):
    with TestClient(create_app(registry, open_docs=True)) as c:
        assert c.get("/docs").status_code == 200 and "swagger" in c.get("/docs").text.lower()
        assert "/v1/models/{name}/predict" in c.get("/openapi.json").json()["paths"]
        assert c.get("/v1/models").status_code == 401  # the docs only, not the models


def test_assay_serve_open_docs_passes_the_flag_through(registry, monkeypatch):
    """The CLI flag reaches the app uvicorn would run (uvicorn.run is replaced by a catcher: no port
    is opened)."""
    import uvicorn

    from assay.cli import app as cli

    built = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **_: built.append(app))
    assert "--open-docs" in CliRunner().invoke(cli, ["serve", "--help"], terminal_width=200).output
    logger = logging.getLogger("assay.serve")  # `assay serve` sets up its log; undone below
    handlers, level = list(logger.handlers), logger.level
    try:
        for flags in ([], ["--open-docs"]):
            result = CliRunner().invoke(cli, ["serve", "--registry", "--log-sample", "0", *flags])
            assert result.exit_code == 0, result.output
            assert ("open to all" in result.output) == bool(flags)
    finally:
        logger.handlers[:] = handlers
        logger.setLevel(level)
    closed, opened = built
    with TestClient(closed) as c:
        assert c.get("/openapi.json").status_code == 401
    with TestClient(opened) as c:
        assert c.get("/openapi.json").status_code == 200


def test_a_revoked_token_is_refused_within_a_second(client, registry, token):
    assert client.get("/v1/models", headers=auth(token)).status_code == 200
    registry.revoke_token(token.split("_")[1])
    revoked = time.monotonic()
    while client.get("/v1/models", headers=auth(token)).status_code == 200:
        assert time.monotonic() - revoked < TOKEN_TTL_SECONDS + 1.0
        time.sleep(0.05)


# --- predictions ------------------------------------------------------------------------------------
def test_json_predictions_equal_the_library(client, token, predictor, rows):
    sent = rows.head(25)
    response = client.post(
        "/v1/models/churn/predict", json={"records": records(sent)}, headers={**auth(token), "X-Request-ID": "abc-123"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "churn" and body["model_version"] == 1 and body["n_rows"] == 25
    assert body["request_id"] == "abc-123" == response.headers["x-request-id"]
    expected = predictor.predict_proba(sent)
    got = pd.DataFrame(body["probabilities"])[["no", "yes"]].to_numpy()
    np.testing.assert_allclose(got, expected.to_numpy(), rtol=0, atol=1e-12)
    assert body["predictions"] == predictor.predict(sent).tolist()
    assert body["warnings"] == [] and body["explanations"] is None


def test_a_malformed_request_id_is_replaced(client, token, rows):
    response = client.post(
        "/v1/models/churn/predict",
        json={"records": records(rows.head(1))},
        headers=auth(token) | {"X-Request-ID": "bad id!"},
    )
    rid = response.json()["request_id"]
    assert rid != "bad id!" and len(rid) == 32 and int(rid, 16) >= 0


def test_explanations_on_request(client, token, rows):
    body = client.post(
        "/v1/models/churn/predict?explain=true", json={"records": records(rows.head(3))}, headers=auth(token)
    ).json()
    assert len(body["explanations"]) == 3
    first = body["explanations"][0]
    assert {"a", "b", "c", "d", "colour"} <= set(first["contributions"]) and isinstance(first["baseline"], float)


def test_csv_upload_raw_and_multipart(client, token, predictor, rows):
    text = rows.head(40).to_csv(index=False).encode()
    raw = client.post("/v1/models/churn/predict", content=text, headers=auth(token) | CSV)
    multi = client.post("/v1/models/churn/predict", files={"file": ("rows.csv", text, "text/csv")}, headers=auth(token))
    assert raw.status_code == multi.status_code == 200, (raw.text, multi.text)
    assert raw.json()["predictions"] == multi.json()["predictions"] == predictor.predict(rows.head(40)).tolist()


def test_streaming_endpoint_gives_the_file_predictions(client, token, predictor, rows, tmp_path):
    big = pd.concat([rows] * 50, ignore_index=True)  # 3,000 rows
    response = client.post(
        "/v1/models/churn/predict/stream?proba=true",
        files={"file": ("big.csv", big.to_csv(index=False).encode(), "text/csv")},
        headers=auth(token),
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-assay-rows"] == "3000" and response.headers["x-model-version"] == "1"
    assert response.headers["content-type"].startswith("text/csv")
    got = pd.read_csv(io.StringIO(response.text))
    assert list(got.columns) == ["predicted_y", "proba_no", "proba_yes"] and len(got) == 3000
    np.testing.assert_allclose(got["proba_yes"], predictor.predict_proba(big)["yes"], rtol=0, atol=1e-12)
    plain = client.post(
        "/v1/models/churn/predict/stream",
        content=big.head(10).to_csv(index=False),
        headers=auth(token) | CSV,
    )
    assert pd.read_csv(io.StringIO(plain.text)).columns.tolist() == ["predicted_y"]


# --- bad payloads -----------------------------------------------------------------------------------
def test_wrong_types_are_per_field_errors_under_strict(client, token, rows):
    sent = records(rows.head(5))
    sent[3]["a"] = "abc"
    strict = client.post("/v1/models/churn/predict?strict=true", json={"records": sent}, headers=auth(token))
    assert strict.status_code == 422
    (error,) = strict.json()["detail"]
    assert error["loc"] == ["body", "records", 3, "a"] and error["row"] == 3 and error["column"] == "a"
    assert error["type"] == "wrong_type" and error["expected"] == "numeric" and "'abc'" in error["msg"]
    lenient = client.post("/v1/models/churn/predict", json={"records": sent}, headers=auth(token))
    assert lenient.status_code == 200
    (warning,) = lenient.json()["warnings"]
    assert warning["column"] == "a" and warning["rows"] == [3] and warning["issue"] == "wrong_type"


def test_a_single_row_of_the_wrong_type_is_refused(client, token, rows):
    sent = records(rows.head(1))
    sent[0]["b"] = "twelve"
    response = client.post("/v1/models/churn/predict", json={"records": sent}, headers=auth(token))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "records", 0, "b"]


def test_nested_values_and_bad_json(client, token, rows):
    sent = records(rows.head(2))
    sent[1]["colour"] = {"r": 1}
    nested = client.post("/v1/models/churn/predict", json={"records": sent}, headers=auth(token))
    assert nested.status_code == 422
    (error,) = nested.json()["detail"]
    assert error["loc"] == ["body", "records", 1, "colour"] and error["type"] == "scalar_type"
    not_json = client.post(
        "/v1/models/churn/predict",
        content=b"{records: nope",
        headers=auth(token) | JSON,
    )
    assert not_json.status_code == 422 and not_json.json()["detail"][0]["type"] == "json_invalid"
    no_records = client.post("/v1/models/churn/predict", json={"rows": []}, headers=auth(token))
    assert no_records.status_code == 422
    empty = client.post("/v1/models/churn/predict", json={"records": []}, headers=auth(token))
    assert empty.status_code == 422 and "empty" in empty.json()["detail"]
    odd = client.post(
        "/v1/models/churn/predict", content=b"<x/>", headers=auth(token) | {"Content-Type": "application/xml"}
    )
    assert odd.status_code == 415


def test_missing_and_unknown_columns(client, token, rows):
    sent = records(rows.head(2).drop(columns=["c", "colour"]))
    missing = client.post("/v1/models/churn/predict", json={"records": sent}, headers=auth(token))
    assert missing.status_code == 422
    assert {(e["column"], e["type"], e["row"]) for e in missing.json()["detail"]} == {
        ("c", "missing_column", None),
        ("colour", "missing_column", None),
    }
    extra = records(rows.head(2).assign(surprise=1))
    lenient = client.post("/v1/models/churn/predict", json={"records": extra}, headers=auth(token))
    assert lenient.status_code == 200
    assert [w["column"] for w in lenient.json()["warnings"] if w["issue"] == "extra_column"] == ["surprise"]
    strict = client.post("/v1/models/churn/predict?strict=true", json={"records": extra}, headers=auth(token))
    assert strict.status_code == 422 and strict.json()["detail"][0]["column"] == "surprise"


def test_unknown_model_is_404(client, token, rows):
    response = client.post("/v1/models/nope/predict", json={"records": records(rows.head(1))}, headers=auth(token))
    assert response.status_code == 404 and "churn" in response.json()["detail"]
    assert client.get("/v1/models/nope/versions", headers=auth(token)).status_code == 404


def test_limits_give_413(client, token, rows):
    many = records(pd.concat([rows] * 10, ignore_index=True))  # 600 records > 500
    too_many = client.post("/v1/models/churn/predict", json={"records": many}, headers=auth(token))
    assert too_many.status_code == 413 and "stream" in too_many.json()["detail"]
    huge = b"a,b,c,d,colour\n" + b"1,2,3,4,red\n" * 30_000  # ~360 kB > 200 kB
    declared = client.post("/v1/models/churn/predict", content=huge, headers=auth(token) | CSV)
    assert declared.status_code == 413

    def chunks():  # no Content-Length: counted as it arrives
        for _ in range(30):
            yield b"1,2,3,4,red\n" * 1000

    streamed = client.post("/v1/models/churn/predict", content=chunks(), headers=auth(token) | CSV)
    assert streamed.status_code == 413


class _Trap:
    """Unpickling this creates a file: proof that nothing uploaded was ever unpickled."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def test_uploaded_pickles_are_never_unpickled(client, token, tmp_path):
    trap = tmp_path / "unpickled"
    payload = pickle.dumps(_Trap(trap))
    as_csv = client.post("/v1/models/churn/predict", content=payload, headers=auth(token) | CSV)
    as_file = client.post("/v1/models/churn/predict", files={"file": ("model.pkl", payload)}, headers=auth(token))
    as_stream = client.post(
        "/v1/models/churn/predict/stream", files={"file": ("rows.csv", payload)}, headers=auth(token)
    )
    octet = client.post(
        "/v1/models/churn/predict", content=payload, headers={**auth(token), "Content-Type": "application/octet-stream"}
    )
    assert 400 <= as_csv.status_code < 500 and 400 <= as_stream.status_code < 500
    assert as_file.status_code == 415 and "unpickled" in as_file.json()["detail"] and octet.status_code == 415
    assert not trap.exists()
    assert "/tmp" not in str(as_csv.json()["detail"]) and "assay-" not in str(as_stream.json()["detail"])


# --- what is served -----------------------------------------------------------------------------------
def test_model_catalogue_schema_versions_and_report(client, token):
    listing = client.get("/v1/models", headers=auth(token)).json()["models"]
    (churn,) = listing
    assert churn["name"] == "churn" and churn["serving"] == 1 and churn["loaded"]
    assert churn["versions"][0]["stage"] == "production" and "val_roc_auc" in churn["versions"][0]["metrics"]
    detail = client.get("/v1/models/churn", headers=auth(token)).json()
    assert detail["task"] == "binary" and detail["classes"] == ["no", "yes"] and detail["target"] == "y"
    columns = {c["name"]: c for c in detail["columns"]}
    assert columns["a"]["kind"] == "numeric" and set(columns["colour"]["categories"]) == {"red", "green", "blue"}
    versions = client.get("/v1/models/churn/versions", headers=auth(token)).json()
    assert [(v["version"], v["serving"]) for v in versions] == [(1, True)] and "path" not in versions[0]
    report = client.get("/v1/models/churn/report", headers=auth(token))
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    assert "<html" in report.text[:2000].lower()


def test_cors_is_off_unless_configured(registry, token):
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    with TestClient(create_app(registry)) as closed:
        assert "access-control-allow-origin" not in closed.options("/v1/models", headers=preflight).headers
    with TestClient(create_app(registry, cors_origins=["https://app.example"])) as open_:
        answer = open_.options("/v1/models", headers={**preflight, "Access-Control-Request-Headers": "authorization"})
        assert answer.headers["access-control-allow-origin"] == "https://app.example"
