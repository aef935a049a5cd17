"""Serve fixtures: a registry in a temporary ASSAY_HOME with one small model in production, a token,
and a TestClient on the server (lifespan running, models loaded)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assay import Predictor
from assay.registry import Registry
from tests.conftest import make_frame


@pytest.fixture(scope="session")
def model_folder(tmp_path_factory) -> Path:
    """A small saved binary model (its report too: the report endpoint serves it)."""
    predictor = Predictor("y", trials=1, families=["lightgbm"], n_threads=1, verbose=False).fit(make_frame(200))
    return predictor.save(tmp_path_factory.mktemp("serve") / "churn")


@pytest.fixture(scope="session")
def rows():
    return make_frame(60, seed=5).drop(columns=["y"])


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("ASSAY_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("ASSAY_REGISTRY_URL", raising=False)
    return tmp_path / "home"


@pytest.fixture
def registry(home, model_folder):
    with Registry() as reg:
        reg.register(model_folder, "churn")
        reg.promote("churn", 1)
        yield reg


@pytest.fixture
def token(registry) -> str:
    return registry.create_token("tests")


def wait_ready(client: TestClient, seconds: float = 30.0) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        response = client.get("/ready")
        if response.status_code == 200 or time.monotonic() > deadline:
            return response.json()
        time.sleep(0.05)


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}
