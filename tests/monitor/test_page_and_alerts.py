"""The monitoring page renders from a run's JSON, and alerts reach a webhook (or fail softly)."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import numpy as np
import pandas as pd
import pytest

from assay.errors import ConfigError
from assay.monitor import Alert, monitor, to_log, to_webhook
from assay.monitor.page import render_page, write_page


@pytest.fixture(scope="module")
def loud(fitted, tables):
    return monitor(fitted, tables["shifted"])


def test_the_page_renders_every_part(loud, tmp_path):
    path = write_page(loud, tmp_path / "monitor.html")
    html = path.read_text()
    assert html.startswith("<!DOCTYPE html>")
    for text in ("alert(s)", "Columns", "Reference and recent, side by side", "All columns at once",
                 "Performance over time", "P(y=yes)", "distribution shifted"):  # fmt: skip
        assert text in html, text
    assert html.count('class="plotly-graph-div"') >= 7  # six columns and the prediction, plus performance
    assert "<script src=" not in html and "Plotly" in html  # plotly.js inlined: the page works offline


def test_the_page_escapes_names_from_the_data():
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"<script>x</script>": rng.normal(size=300)})
    rec = pd.DataFrame({"<script>x</script>": rng.normal(2, 1, size=300)})
    from assay.monitor.drift import detect_drift

    drift = detect_drift(ref, rec, multivariate=False)
    content = {
        "model": "m<b>",
        "created": "now",
        "fired": drift.fired,
        "alerts": [a.to_dict() for a in drift.alerts],
        "reference": {"n_rows": 300},
        "recent": {"source": "x", "n_rows": 300},
        "drift": drift.to_dict(),
        "performance": None,
        "notes": [],
    }
    html = render_page(content)
    assert "<script>x</script>" not in html and "&lt;script&gt;x&lt;/script&gt;" in html


class _Catcher(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 (the http.server naming)
        _Catcher.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_alerts_reach_a_webhook_and_a_dead_one_does_not_raise(loud, caplog):
    server = HTTPServer(("127.0.0.1", 0), _Catcher)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/hook"
        delivery = to_webhook(url, loud.alerts, model="churn")
    finally:
        server.shutdown()
        server.server_close()
    assert delivery.ok and delivery.status == 204
    body = _Catcher.received[-1]
    assert body["model"] == "churn" and body["n_alerts"] == len(loud.alerts)
    assert {a["kind"] for a in body["alerts"]} >= {"drift", "prediction"}
    with caplog.at_level(logging.ERROR, logger="assay.monitor"):
        dead = to_webhook(url, [Alert("drift", "a", "a moved")], timeout=1.0)  # the server is gone
    assert not dead.ok and "not delivered" in caplog.text
    with pytest.raises(ConfigError):
        to_webhook("ftp://example.org/x", [])


def test_alerts_go_to_the_log(caplog):
    with caplog.at_level(logging.WARNING, logger="assay.monitor"):
        to_log([Alert("missing", "b", "b: missing rate 1.0% -> 20.0%")], model="churn")
    assert "[churn] b: missing rate 1.0% -> 20.0%" in caplog.text
