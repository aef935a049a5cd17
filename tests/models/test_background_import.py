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


def test_our_adamw_takes_the_same_steps_as_torchs():
    torch = pytest.importorskip("torch")
    from assay.models.mlp import AdamW, _network

    arch = {"n_in": 5, "n_out": 3, "hidden": 16, "layers": 2, "dropout": 0.0}
    torch.manual_seed(0)
    ours = _network(arch)
    theirs = _network(arch)
    theirs.load_state_dict(ours.state_dict())
    opts = [
        AdamW(ours.parameters(), lr=3e-3, weight_decay=1e-2),
        torch.optim.AdamW(theirs.parameters(), lr=3e-3, weight_decay=1e-2),
    ]
    x, y = torch.randn(64, 5), torch.randint(0, 3, (64,))
    for _ in range(25):
        for net, opt in zip((ours, theirs), opts, strict=True):
            opt.zero_grad()
            torch.nn.CrossEntropyLoss()(net(x), y).backward()
            opt.step()
    for a, b in zip(ours.parameters(), theirs.parameters(), strict=True):
        assert torch.allclose(a, b, rtol=1e-6, atol=1e-7)
