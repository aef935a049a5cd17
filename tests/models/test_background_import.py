"""Slow libraries load on a background thread during a fit; a trial that needs one waits for it."""

import threading

import pytest

from assay.models.registry import FAMILY_KEYS, get_family, load_in_background


def test_only_families_marked_for_it_load_in_the_background(monkeypatch):
    loaded = []
    for key in FAMILY_KEYS:
        monkeypatch.setattr(get_family(key), "load_libraries", classmethod(lambda cls: loaded.append(cls.family)))
    load_in_background(list(FAMILY_KEYS)).join(30)
    marked = [key for key in FAMILY_KEYS if get_family(key).import_in_background]
    assert loaded == marked
    assert "mlp" in marked and "xgboost" not in marked  # XGBoost imports polars, which others probe half-imported


def test_a_failing_import_is_left_to_the_trial(monkeypatch):
    def broken(cls):
        raise ImportError("no torch here")

    monkeypatch.setattr(get_family("mlp"), "load_libraries", classmethod(broken))
    thread = load_in_background(["mlp"])
    thread.join(30)
    assert not thread.is_alive()
    with pytest.raises(ImportError, match="no torch here"):
        get_family("mlp").load_libraries()


def test_a_trial_waits_for_the_warm_up_under_way_instead_of_repeating_it():
    pytest.importorskip("torch")
    from assay.models import mlp

    mlp._warm_torch.cache_clear()
    thread = load_in_background(["mlp"])
    callers = [threading.Thread(target=mlp.MLPModel.load_libraries) for _ in range(3)]
    for caller in callers:
        caller.start()
    for t in (thread, *callers):
        t.join(60)
    assert mlp._warm_torch.cache_info().misses == 1
