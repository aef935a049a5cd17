"""The web app journey in a real browser: `assay serve --registry --open-docs` (uvicorn on a loopback port),
headless Chromium (Debian's, through playwright, never a downloaded browser): enter a token, pick
the model, upload a CSV, download the predictions and check every row; fill the one-row form;
open the report. Skips, saying why, where Chromium or playwright is missing."""

from __future__ import annotations

import socket
import threading
import time

import pandas as pd
import pytest

from assay import Predictor
from assay.registry import Registry
from assay.testing.browser import CHROMIUM, browser_unavailable
from tests.conftest import make_frame


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    reason = browser_unavailable()
    if reason:
        pytest.skip(reason)
    import uvicorn

    from assay.serve import create_app

    root = tmp_path_factory.mktemp("web")
    predictor = Predictor("y", trials=1, families=["lightgbm"], n_threads=1, verbose=False).fit(make_frame(200))
    folder = predictor.save(root / "churn")
    registry = Registry(home=root / "home", url=f"sqlite:///{root / 'home' / 'registry.db'}")
    registry.register(folder, "churn")
    registry.promote("churn", 1)
    token = registry.create_token("browser")
    port = _free_port()
    # open_docs, as `assay serve --open-docs`: a browser cannot send a bearer token when it opens /docs
    app = create_app(registry, open_docs=True)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield {"url": f"http://127.0.0.1:{port}", "token": token, "predictor": predictor, "root": root}
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        registry.close()


def test_upload_predict_download_form_and_report(served, tmp_path):
    from playwright.sync_api import sync_playwright

    rows = make_frame(120, seed=7).drop(columns=["y"])
    rows.loc[3, "a"] = None
    upload = tmp_path / "new rows.csv"
    rows.to_csv(upload, index=False)
    expected = served["predictor"].predict_proba(rows)
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(accept_downloads=True)
            page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "401" not in m.text else None)
            page.goto(served["url"] + "/", wait_until="load")

            page.fill("#token", "assay_0000_wrong")  # a wrong token is refused, visibly
            page.click("#save-token")
            page.wait_for_selector("#message:not([hidden])")
            assert "refused" in page.inner_text("#message")

            page.fill("#token", served["token"])
            page.click("#save-token")
            page.click("button[data-model='churn']")
            page.wait_for_selector("#model:not([hidden])")
            assert "churn v1" in page.inner_text("#model-name")
            assert "production" in page.inner_text("#versions")

            page.set_input_files("#file", str(upload))
            page.click("#predict-file")
            page.wait_for_selector("#file-result:not([hidden])")
            assert "120 predictions" in page.inner_text("#file-summary")
            assert page.locator("#results tbody tr").count() == 100  # the preview; the download has all
            with page.expect_download() as download:
                page.click("#download")
            saved = tmp_path / "downloaded.csv"
            download.value.save_as(saved)
            got = pd.read_csv(saved)
            assert len(got) == len(rows) and list(got.columns) == ["predicted_y", "proba_no", "proba_yes"]
            assert (got["predicted_y"] == expected.idxmax(axis=1).to_numpy()).all()
            assert (got["proba_yes"] - expected["yes"].to_numpy()).abs().max() < 1e-12

            one = rows.iloc[0]
            for column in ("a", "b", "c", "d"):
                page.fill(f"#field-{column}", str(one[column]))
            page.select_option("#field-colour", one["colour"])
            page.click("#predict-row")
            page.wait_for_selector("#row-prediction")
            label = served["predictor"].predict(rows.iloc[[0]]).iloc[0]
            assert page.inner_text("#row-prediction") == f"y: {label}"

            page.fill("#field-a", "")
            page.fill("#field-b", "")  # a row with the numbers missing still predicts (as missing)
            page.click("#predict-row")
            page.wait_for_selector("#row-prediction")

            with page.expect_popup() as popup:
                page.click("#open-report")
            report = popup.value
            report.wait_for_load_state("load")
            assert report.locator("section#data").count() == 1

            page.goto(served["url"] + "/docs", wait_until="load")  # the API docs, with nothing from a CDN
            # (served with open_docs: without it the page and the spec it loads answer 401)
            page.wait_for_selector(".swagger-ui .opblock", timeout=20_000)
            assert "/v1/models/{name}/predict" in page.inner_text(".swagger-ui")
        finally:
            browser.close()
    assert errors == []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
