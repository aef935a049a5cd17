"""Shared by the hardening tests (property-based, faults, load, security)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from assay import Predictor
from assay.registry import Registry
from tests.conftest import make_frame

# Property tests replay the same examples on every run unless asked otherwise, so a failure in CI
# is one a developer can reproduce; HYPOTHESIS_PROFILE=explore draws fresh examples
# (ASSAY_PROPERTY_SCALE=10 multiplies the number of examples per test).
settings.register_profile(
    "ci", derandomize=True, deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("explore", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


# --- the served app (security, traversal, uploads, schemathesis) ---------------------------------
@dataclass
class Served:
    client: TestClient
    registry: Registry
    token: str  # a valid token
    revoked: str  # a token revoked before it was ever used
    home: Path


@pytest.fixture(scope="session")
def served_model(tmp_path_factory) -> Path:
    """A small saved binary model, its report.html included (the report route serves it)."""
    predictor = Predictor("y", trials=1, families=["lightgbm"], n_threads=1, verbose=False).fit(make_frame(200))
    return predictor.save(tmp_path_factory.mktemp("hardening") / "churn")


@pytest.fixture(scope="module")
def served(served_model, tmp_path_factory):
    """The app exactly as `assay serve --registry --max-body-mb 1` builds it (prediction log and
    feedback / monitor routes on), over a registry of its own holding churn v1 in production."""
    from assay.cli.serve import build_app

    home = tmp_path_factory.mktemp("home")
    url = f"sqlite:///{home / 'registry.db'}"
    registry = Registry(url, home=home)
    registry.register(served_model, "churn")
    registry.promote("churn", 1)
    token = registry.create_token("hardening")
    revoked = registry.create_token("revoked")
    registry.revoke_token(revoked.split("_")[1])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ASSAY_HOME", str(home))
        app = build_app(None, registry=True, registry_url=url, reload_seconds=0.5, max_body_mb=1, max_records=500)
    with TestClient(app, raise_server_exceptions=False) as client:
        deadline = time.monotonic() + 30
        while client.get("/ready").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        yield Served(client, registry, token, revoked, home)
    registry.close()
