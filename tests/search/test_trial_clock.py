"""A trial's allowance starts after its family's libraries are loaded.

Before this rule, torch's import and first training step (~2 s together) fell inside the first
MLP fold's share of a short allowance, the fold trained no epoch, and a configuration that wins
on car (test log loss 0.012 -> 0.005 at 60 s) was pruned as an untrained network."""

from __future__ import annotations

import time

import pytest

from assay.models.base import Model
from assay.models.registry import get_family
from assay.search.executors.base import trial_deadline
from assay.search.trial import TrialSpec


def test_allowance_is_counted_after_the_libraries_load(monkeypatch):
    family = get_family("linear")
    monkeypatch.setattr(family, "load_libraries", classmethod(lambda cls: time.sleep(0.3)))
    deadline = trial_deadline(TrialSpec(0, "linear", {}, 0, "portfolio"), 1.0)
    assert deadline.remaining() > 0.9  # the 0.3 s spent loading did not come out of the allowance


def test_untimed_trials_stay_untimed():
    assert trial_deadline(TrialSpec(0, "linear", {}, 0, "portfolio"), None).at is None


def test_default_loading_imports_what_the_family_requires(monkeypatch):
    imported = []
    monkeypatch.setattr("importlib.import_module", lambda name: imported.append(name))

    class Fake(Model):
        requires = ("numpy", "pandas")

    Fake.load_libraries()
    assert imported == ["numpy", "pandas"]


def test_mlp_warm_up_runs_once():
    pytest.importorskip("torch")
    import assay.models.mlp as mlp

    mlp.MLPModel.load_libraries()
    assert mlp._warm_torch.cache_info().currsize == 1
    started = time.perf_counter()
    mlp.MLPModel.load_libraries()
    assert time.perf_counter() - started < 0.01
