"""One real two-node Ray cluster for the whole scale test session (started only if a test asks)."""

from __future__ import annotations

import os

import pytest

from tests.scale.cluster import DRIVER_ENV, LocalCluster


@pytest.fixture(scope="session")
def ray_cluster():
    pytest.importorskip("ray", reason="Ray is not installed: pip install 'assay[ray]'")
    saved = {k: os.environ.get(k) for k in DRIVER_ENV}
    os.environ.update(DRIVER_ENV)
    try:
        with LocalCluster() as cluster:
            yield cluster
    finally:
        import ray

        if ray.is_initialized():
            ray.shutdown()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="session", autouse=True)
def _empty_knowledge_home(tmp_path_factory):
    """No warm start from a knowledge base another run wrote: runs compared here must see the same."""
    saved = os.environ.get("ASSAY_HOME")
    os.environ["ASSAY_HOME"] = str(tmp_path_factory.mktemp("assay-home"))
    yield
    if saved is None:
        os.environ.pop("ASSAY_HOME", None)
    else:
        os.environ["ASSAY_HOME"] = saved
