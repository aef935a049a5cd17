"""Every test here gets an empty ASSAY_HOME, so no knowledge base of the machine leaks in."""

import pytest


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("ASSAY_HOME", str(tmp_path / "home"))
