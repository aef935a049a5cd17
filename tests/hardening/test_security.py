"""The server against a hostile client: every route behind a token but the probes and the web
app's shell, names that try to climb out of the registry, and uploads that are too big, malformed
or dangerous.

The app is the one `assay serve --registry` builds (prediction log, feedback and monitor routes
on), with a 1 MB request limit. Routes are found by walking the app, not listed by hand, so a
route added later is checked too.

What stays open, and why (everything else must answer 401 without a valid token):
  /health, /ready          probes for load balancers (issue 6 exempts both); /ready names the
                           served models and versions, nothing more
  / and /static/*          the web app's shell: static files shipped in the package, byte-identical
                           on every server; the page asks for a token and sends it on every API call
What opens on request (`assay serve --open-docs`), and is behind the token by default (issue 10:
tokens on every endpoint but health):
  /docs, /redoc, /docs/oauth2-redirect, /openapi.json, /static-offline-docs/*
                           the API's documentation, generated from code alone: no model name,
                           column, version, metric or row is in it (checked below by serving two
                           registries with different models and comparing the bytes)
"""

from __future__ import annotations

import json
import pickle
import time
from pathlib import Path
from urllib.parse import unquote

import pytest
from fastapi.routing import APIRoute
from starlette.routing import Mount, Route

from tests.conftest import make_frame

OPEN = {("GET", "/health"), ("GET", "/ready"), ("GET", "/"), ("GET", "/static/app.js")}
DOCS = {
    ("GET", "/openapi.json"),
    ("HEAD", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
    ("GET", "/static-offline-docs/swagger-ui.css"),
}
MOUNT_FILES = {"/static": "/static/app.js", "/static-offline-docs": "/static-offline-docs/swagger-ui.css"}


def _routes(routes, prefix: str = ""):
    """(method, path) of every route of the app, into included routers and mounts."""
    for route in routes:
        inner = getattr(route, "original_router", None)  # FastAPI's included routers
        if inner is not None:
            yield from _routes(inner.routes, prefix + getattr(route.include_context, "prefix", ""))
        elif isinstance(route, Mount):
            yield "GET", MOUNT_FILES[prefix + route.path]
        elif isinstance(route, APIRoute | Route):
            for method in sorted(route.methods or ()):
                yield method, prefix + route.path.replace("{name}", "churn")


def _rows(n: int = 3, seed: int = 3) -> list[dict]:
    return json.loads(make_frame(n, seed=seed).drop(columns=["y"]).to_json(orient="records"))


def _bodies(method: str, path: str) -> list[dict]:
    """A request that would succeed with a token, and malformed ones: none may get past the token
    check (FastAPI parses a declared JSON body before it runs dependencies)."""
    if method != "POST":
        return [{}]
    if path.endswith("/feedback"):
        good = {"json": {"request_id": "nope", "labels": ["yes"]}}
    elif path.endswith("/stream"):
        good = {
            "content": make_frame(3).drop(columns=["y"]).to_csv(index=False),
            "headers": {"Content-Type": "text/csv"},
        }
    else:
        good = {"json": {"records": _rows()}}
    broken = {"content": b'{"records": [', "headers": {"Content-Type": "application/json"}}
    nested = {"content": b"[" * 50_000, "headers": {"Content-Type": "application/json"}}
    return [good, broken, nested]


def _auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def docs_open(served):
    """The same server as `served` (same registry), built as `assay serve --registry --open-docs`."""
    from fastapi.testclient import TestClient

    from assay.cli.serve import build_app

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ASSAY_HOME", str(served.home))
        app = build_app(
            None, registry=True, registry_url=served.registry.url, open_docs=True, max_body_mb=1, max_records=500
        )
    with TestClient(app, raise_server_exceptions=False) as client:
        deadline = time.monotonic() + 30
        while client.get("/ready").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        yield client


# --- tokens -------------------------------------------------------------------------------------
def test_every_route_needs_a_valid_token_except_the_open_ones(served):
    client = served.client
    routes = sorted(set(_routes(client.app.routes)))
    assert {p for _, p in routes} >= {"/v1/models/churn/feedback", "/v1/models/churn/monitor.html", "/"}
    found_open = set()
    for method, path in routes:
        for request in _bodies(method, path):
            headers = request.pop("headers", {})
            missing = client.request(method, path, headers=headers, **request)
            if (method, path) in OPEN:
                assert missing.status_code == 200, (method, path, missing.status_code)
                found_open.add((method, path))
                continue
            assert missing.status_code == 401, (method, path, missing.status_code, missing.text[:200])
            assert missing.headers["www-authenticate"].startswith("Bearer")
            for bad in ("assay_deadbeef_not-a-real-secret", served.revoked, "", "x" * 5000):
                wrong = client.request(method, path, headers={**headers, **_auth(bad)}, **request)
                assert wrong.status_code == 401, (method, path, bad[:20], wrong.status_code)
            basic = client.request(method, path, headers={**headers, "Authorization": "Basic dXNlcjpwYXNz"}, **request)
            assert basic.status_code == 401, (method, path)
        good = _bodies(method, path)[0]
        good_headers = {**good.pop("headers", {}), **_auth(served.token)}
        valid = client.request(method, path, headers=good_headers, **good)
        assert valid.status_code not in (401, 500), (method, path, valid.status_code, valid.text[:300])
    assert found_open == OPEN, "an open route was not found by the walk: update OPEN or the walk"
    assert set(routes) >= DOCS, "a docs route was not found by the walk: update DOCS or the walk"


def test_open_docs_opens_exactly_the_docs_and_nothing_else(docs_open, served):
    found_open = set()
    for method, path in sorted(set(_routes(docs_open.app.routes))):
        request = _bodies(method, path)[0]
        answer = docs_open.request(method, path, headers=request.pop("headers", {}), **request)
        if answer.status_code != 401:
            found_open.add((method, path))
            assert answer.status_code == 200, (method, path, answer.status_code)
    assert found_open == OPEN | DOCS
    assert docs_open.get("/v1/models", headers=_auth(served.revoked)).status_code == 401
    assert docs_open.get("/v1/models", headers=_auth(served.token)).status_code == 200


def test_without_a_token_even_an_oversized_body_learns_nothing(served):
    answer = served.client.post(
        "/v1/models/churn/predict", content=b"x" * 2_000_000, headers={"Content-Type": "text/csv"}
    )
    assert answer.status_code == 401


def test_unknown_paths_do_not_reveal_routes_or_files(served):
    for path in ("/v1/secret", "/admin", "/v1/models/churn/../../registry.db", "/.env"):
        answer = served.client.get(path)
        assert answer.status_code in (401, 404), (path, answer.status_code)
        assert "SQLite format" not in answer.text


def test_the_open_pages_hold_no_data(docs_open, served, served_model, tmp_path):
    """The open pages, the docs opened too, are the same bytes whatever the registry holds, and
    name nothing in it."""
    from fastapi.testclient import TestClient

    from assay.cli.serve import build_app
    from assay.registry import Registry

    other_home = tmp_path / "other"
    with Registry(f"sqlite:///{other_home / 'registry.db'}", home=other_home) as other:
        other.register(served_model, "secret-project")
        other.promote("secret-project", 1)
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("ASSAY_HOME", str(other_home))
            app = build_app(None, registry=True, registry_url=other.url, open_docs=True, max_body_mb=1, max_records=500)
        with TestClient(app) as second:
            for method, path in sorted((OPEN | DOCS) - {("GET", "/health"), ("GET", "/ready")}):
                mine = docs_open.request(method, path)
                theirs = second.request(method, path)
                assert mine.content == theirs.content, path
                for secret in (b"churn", b"secret-project", served.token.encode(), b'"colour"'):
                    assert secret not in mine.content, (path, secret)


def test_a_token_revoked_while_serving_is_refused_within_a_second(served):
    token = served.registry.create_token("short-lived")
    assert served.client.get("/v1/models", headers=_auth(token)).status_code == 200
    served.registry.revoke_token(token.split("_")[1])
    time.sleep(1.1)
    assert served.client.get("/v1/models", headers=_auth(token)).status_code == 401


# --- path traversal -----------------------------------------------------------------------------
TRAVERSALS = [
    b"..",
    b"..%2F..%2F..%2Fetc%2Fpasswd",
    b"%2e%2e%2f%2e%2e%2fregistry.db",
    b"%2e%2e",
    b"..%5C..%5Cregistry.db",
    b"%2Fetc%2Fpasswd",
    b"churn%00",
    b"churn%00.pkl",
    b"%00",
    b"churn%2F..%2F..%2Fregistry.db",
    b"C:%5Cwindows%5Cwin.ini",
    b"a" * 5000,
]
NAMED = [
    ("GET", "/v1/models/{}"),
    ("GET", "/v1/models/{}/versions"),
    ("GET", "/v1/models/{}/report"),
    ("GET", "/v1/models/{}/monitor.html"),
    ("POST", "/v1/models/{}/predict"),
    ("POST", "/v1/models/{}/predict/stream"),
    ("POST", "/v1/models/{}/feedback"),
    ("POST", "/v1/models/{}/monitor"),
]


def _raw(client, method: str, raw_path: bytes, headers: dict, body: bytes = b"") -> tuple[int, bytes]:
    """Send a path exactly as given (an HTTP client would resolve the dots first), the way uvicorn
    hands it to the app: scope["path"] percent-decoded, scope["raw_path"] as sent."""
    path, _, query = raw_path.partition(b"?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(path.decode("latin-1")),
        "raw_path": path,
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"testserver")] + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent = {"status": None, "body": b""}
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        if message["type"] == "http.response.start":
            sent["status"] = message["status"]
        elif message["type"] == "http.response.body":
            sent["body"] += message.get("body", b"")

    client.portal.call(client.app, scope, receive, send)
    return sent["status"], sent["body"]


def _no_outside_file(body: bytes) -> None:
    for leak in (b"root:x:", b"SQLite format", b"[fonts]", b"manifest_sha256"):
        assert leak not in body


@pytest.mark.parametrize("name", TRAVERSALS, ids=lambda n: n[:30].decode())
def test_model_names_cannot_climb_out_of_the_registry(served, name):
    headers = {**_auth(served.token), "Content-Type": "application/json"}
    body = json.dumps({"records": _rows(1)}).encode()
    for method, template in NAMED:
        raw = template.format(name.decode()).encode()
        status, answer = _raw(served.client, method, raw, headers, body if method == "POST" else b"")
        assert status in (400, 404, 422), (method, raw[:80], status)
        _no_outside_file(answer)
        detail = json.loads(answer)["detail"]
        assert detail and len(answer) < 2_000, (raw[:80], answer[:300])  # a message, not an echo of 5 KB
        if status == 404:  # names the problem and the fix, and nothing of the server's own files
            assert ("no model named" in detail or "no such path" in detail) and "Fix:" in detail, detail
            assert "sqlite" not in detail and str(served.home) not in detail, detail


@pytest.mark.parametrize("mount", ["/static", "/static-offline-docs"])
def test_static_files_stay_inside_their_folder(served, docs_open, mount):
    """Where a client reaches the files without a token (the docs' files only with --open-docs), and
    where it must send one, no path leaves the folder."""
    for tail in (b"/../../../../etc/passwd", b"/..%2F..%2F..%2Fetc%2Fpasswd", b"/%2e%2e/%2e%2e/registry.db",
                 b"/....//....//etc/passwd", b"/app.js%00.txt", b"//etc/passwd"):  # fmt: skip
        status, answer = _raw(docs_open, "GET", mount.encode() + tail, {})
        assert status in (400, 404), (mount, tail, status)
        _no_outside_file(answer)
        status, answer = _raw(served.client, "GET", mount.encode() + tail, _auth(served.token))
        assert status in (400, 404), (mount, tail, status)
        _no_outside_file(answer)


def test_query_parameters_that_name_windows_or_versions(served):
    headers = _auth(served.token)
    for since in ("../../etc/passwd", "%00", "9" * 400, "1e308h"):
        answer = served.client.get("/v1/models/churn/monitor.html", params={"since": since}, headers=headers)
        assert answer.status_code == 400 and "since" in answer.json()["detail"], (since, answer.text[:200])
    for version in ("../../etc/passwd", "1; DROP TABLE prediction_log", "\x00"):
        answer = served.client.post("/v1/models/churn/monitor", json={"version": version}, headers=headers)
        assert answer.status_code < 500, (version, answer.status_code, answer.text[:300])
        _no_outside_file(answer.content)


def test_an_upload_filename_never_chooses_where_bytes_go(served, tmp_path):
    csv = make_frame(5).drop(columns=["y"]).to_csv(index=False).encode()
    for filename in ("../../../../tmp/assay-evil.csv", "/tmp/assay-evil.csv", "..\\..\\assay-evil.csv", "x\x00.csv"):
        answer = served.client.post(
            "/v1/models/churn/predict", files={"file": (filename, csv, "text/csv")}, headers=_auth(served.token)
        )
        assert answer.status_code == 200, (filename, answer.text[:200])
        assert len(answer.json()["predictions"]) == 5
    assert not Path("/tmp/assay-evil.csv").exists()


# --- oversized and malformed uploads ----------------------------------------------------------
def _post(served, path: str, *, content=None, json_body=None, files=None, data=None, content_type=None):
    headers = _auth(served.token)
    if content_type:
        headers["Content-Type"] = content_type
    start = time.monotonic()
    answer = served.client.post(path, content=content, json=json_body, files=files, data=data, headers=headers)
    assert time.monotonic() - start < 20, f"{path} took {time.monotonic() - start:.1f} s"
    return answer


class _Marker:
    """Unpickling this would create a file: it must never exist."""

    path = "/tmp/assay-hardening-unpickled"

    def __reduce__(self):
        return (Path(self.path).touch, ())


def _bad_uploads():
    row = _rows(1)[0]
    big = {"records": [{**row, "colour": "x" * 1_100_000}]}
    deep = b'{"records": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}"
    deep_dict = ('{"records": [{"a": ' + '{"a": ' * 5000 + "1" + "}" * 5000 + "}]}").encode()
    utf16 = make_frame(5).drop(columns=["y"]).to_csv(index=False).encode("utf-16")
    ragged = b"a,b,c,d,colour\n1,2,3,4,red\n1,2\n1,2,3,4,red,extra,more\n"
    garbage = bytes(range(256)) * 200
    pkl = pickle.dumps(_Marker())
    P, S, F = "/v1/models/churn/predict", "/v1/models/churn/predict/stream", "/v1/models/churn/feedback"
    J, C = "application/json", "text/csv"
    return {
        "json over the limit": (P, dict(content=json.dumps(big), content_type=J), {413}),
        "csv over the stream limit": (S, dict(content=b"a,b\n" + b"1,2\n" * 300_000, content_type=C), {413}),
        "chunked body over the limit": (
            P,
            dict(content=iter([b"a,b\n" + b"1,2\n" * 100_000] * 4), content_type=C),
            {413},
        ),
        "records not a list": (P, dict(json_body={"records": {"a": 1}}), {422}),
        "records of numbers": (P, dict(json_body={"records": [1, 2]}), {422}),
        "a list, not an object": (P, dict(json_body=[row]), {422}),
        "extra top-level key": (P, dict(json_body={"records": [row], "model": "x"}), {422}),
        "truncated json": (P, dict(content=b'{"records": [{"a": 1', content_type=J), {422}),
        "not json at all": (P, dict(content=b"\xff\xfe\x00garbage", content_type=J), {422}),
        "empty body": (P, dict(content=b"", content_type=J), {422}),
        "empty records": (P, dict(json_body={"records": []}), {422}),
        "deeply nested lists": (P, dict(content=deep, content_type=J), {422}),
        "deeply nested objects": (P, dict(content=deep_dict, content_type=J), {422}),
        "nested feedback": (F, dict(content=b"[" * 100_000, content_type=J), {400, 422}),
        "NaN and Infinity": (P, dict(content=b'{"records": [{"a": NaN, "b": Infinity}]}', content_type=J), {422}),
        "ragged csv": (P, dict(content=ragged, content_type=C), {400}),
        "binary garbage as csv": (P, dict(content=garbage, content_type=C), {400, 422}),
        "utf-16 csv": (P, dict(content=utf16, content_type=C), {200}),  # read: its BOM says UTF-16
        "garbage as parquet": (P, dict(content=garbage, content_type="application/vnd.apache.parquet"), {400, 422}),
        "garbage to the stream": (S, dict(content=garbage, content_type=C), {400, 422}),
        "xml": (P, dict(content=b"<records/>", content_type="application/xml"), {415}),
        "multipart without a file": (P, dict(data={"other": "x"}, files={"junk": ("", b"", "text/plain")}), {422}),
        "multipart file part as text": (P, dict(data={"file": "a,b\n1,2"}, files={"x": ("x.csv", b"a", C)}), {422}),
        ".pkl upload": (P, dict(files={"file": ("model.pkl", pkl, "application/octet-stream")}), {415}),
        ".joblib upload": (S, dict(files={"file": ("model.joblib", pkl, "application/octet-stream")}), {415}),
        "pickle bytes named csv": (P, dict(files={"file": ("data.csv", pkl, C)}), {400, 422}),
        "pickle bytes as parquet": (P, dict(content=pkl, content_type="application/vnd.apache.parquet"), {400, 422}),
        "feedback labels not a list": (F, dict(json_body={"request_id": "x", "labels": "yes"}), {422}),
        "feedback huge request id": (F, dict(json_body={"request_id": "r" * 500_000, "labels": [1]}), {404, 422}),
        "feedback row numbers negative": (F, dict(json_body=[{"request_id": "x", "row": -1, "label": 1}]), {422}),
    }


@pytest.mark.parametrize("case", list(_bad_uploads()))
def test_malformed_uploads_get_a_4xx_that_names_the_problem(served, case):
    path, request, allowed = _bad_uploads()[case]
    answer = _post(served, path, **request)
    assert answer.status_code in allowed, (case, answer.status_code, answer.text[:400])
    assert not Path(_Marker.path).exists(), "an upload was unpickled"
    body = answer.json()
    if answer.status_code >= 400:
        assert body["detail"], case
        assert "error parsing the body" not in str(body["detail"]), case  # FastAPI's words say nothing
        assert len(answer.content) < 20_000, (case, len(answer.content))  # names the problem, does not echo the body
    else:
        assert body["n_rows"] == 5 and len(body["predictions"]) == 5, (case, body)


def test_a_huge_single_field_is_predicted_or_refused_without_echoing_it(served):
    row = _rows(1)[0]
    for column in ("colour", "a"):
        answer = _post(served, "/v1/models/churn/predict", json_body={"records": [{**row, column: "z" * 900_000}]})
        assert answer.status_code in (200, 422), (column, answer.status_code, answer.text[:300])
        assert len(answer.content) < 20_000, (column, len(answer.content))


def test_a_valid_request_still_works_after_the_abuse(served):
    answer = _post(served, "/v1/models/churn/predict", json_body={"records": _rows(4)})
    assert answer.status_code == 200 and len(answer.json()["predictions"]) == 4
