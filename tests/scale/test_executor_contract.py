"""The executor contract, the same checks for every implementation (assay.testing.check_executor)."""

from __future__ import annotations

import pytest

from assay.errors import ConfigError
from assay.search.executors import InlineExecutor, make_executor, resolve_executor
from assay.search.executors.local import LocalExecutor
from assay.testing import check_executor


def test_inline_executor_meets_the_contract():
    check_executor(lambda: InlineExecutor(2))


def test_local_process_executor_meets_the_contract():
    check_executor(lambda: LocalExecutor(2, n_threads=1))


def test_ray_executor_meets_the_contract(ray_cluster):
    from assay.search.executors.ray import RayExecutor

    check_executor(lambda: RayExecutor(ray_cluster.address, workers=2))


def test_executor_choice_follows_the_arguments_and_ray_address(monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert resolve_executor(None) == "inline"
    assert resolve_executor(None, workers=2) == "local"
    assert resolve_executor(None, cluster="10.0.0.1:6379") == "ray"
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.1:6379")
    assert resolve_executor(None) == "ray"
    assert resolve_executor("local") == "local"
    assert isinstance(make_executor("inline", workers=3), InlineExecutor)
    assert make_executor("inline", workers=3).parallelism == 3


@pytest.mark.parametrize(
    ("kind", "cluster", "workers", "word"),
    [("spark", None, None, "unknown executor"), ("local", "h:1", None, "cluster"), ("local", None, 0, "workers")],
)
def test_bad_executor_options_are_user_errors(kind, cluster, workers, word):
    with pytest.raises(ConfigError, match=word):
        resolve_executor(kind, cluster, workers)


def test_assay_does_not_import_ray_unless_asked():
    import subprocess
    import sys

    code = "import assay, assay.fit, assay.search.engine, assay.predictor, sys; print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
