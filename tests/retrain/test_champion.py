"""The champion rule on constructed per-row losses whose answer is known, both ways, and on raw
model outputs for the metrics that are not means of a row loss."""

from __future__ import annotations

import math

import numpy as np
import pytest

from assay.errors import ConfigError
from assay.evaluate.metrics import METRICS
from assay.registry.champion import compare, compare_losses, row_losses


def losses(n: int, seed: int) -> np.ndarray:
    """Per-row losses with the skew of real log losses: most rows easy, a few very wrong."""
    return np.random.default_rng(seed).exponential(0.5, size=n)


def test_a_clearly_better_challenger_is_promoted():
    champion = losses(300, 0)
    challenger = champion * 0.6  # 40 % less loss on every row
    verdict = compare_losses(champion, challenger)
    assert verdict.promote and verdict.p_value < 0.01
    assert verdict.improvement.value == pytest.approx(champion.mean() * 0.4)
    assert 0 < verdict.improvement.low < verdict.improvement.value < verdict.improvement.high
    assert verdict.champion.value == pytest.approx(champion.mean()) and verdict.n == 300
    assert "promoted" in verdict.reason and set(verdict.checks) == {"p_bootstrap", "p_wilcoxon"}


def test_an_equal_challenger_is_kept():
    champion = losses(300, 1)
    verdict = compare_losses(champion, champion.copy())
    assert not verdict.promote and verdict.p_value == 1.0 and verdict.improvement.value == 0
    assert "no better" in verdict.reason and "kept" in verdict.reason


def test_a_challenger_that_differs_only_by_noise_is_kept():
    rng = np.random.default_rng(2)
    champion = losses(80, 2)
    challenger = champion + rng.normal(0, 0.5, size=80)  # no better on average, very different per row
    verdict = compare_losses(champion, challenger)
    assert not verdict.promote and verdict.p_value >= 0.05, verdict.reason
    assert verdict.improvement.low < 0 < verdict.improvement.high  # the interval straddles no change


def test_a_worse_challenger_is_kept():
    champion = losses(300, 3)
    verdict = compare_losses(champion, champion + 0.2)
    assert not verdict.promote and verdict.improvement.value == pytest.approx(-0.2)
    assert verdict.p_value > 0.99 and "worse" in verdict.reason


def test_a_real_but_small_gain_is_kept_below_the_minimum_effect():
    champion = losses(400, 4)
    challenger = champion - 0.02  # certainly better, by 0.02
    assert compare_losses(champion, challenger).promote
    verdict = compare_losses(champion, challenger, min_effect=0.05)
    assert not verdict.promote and verdict.p_value < 0.05 and "minimum effect" in verdict.reason


def test_too_few_rows_never_promote():
    verdict = compare_losses(np.ones(6), np.zeros(6))
    assert not verdict.promote and "6 holdout rows" in verdict.reason


def test_false_promotions_stay_near_alpha_under_no_difference():
    """Champion and challenger drawn from one distribution, 300 times: the rule promotes at most
    about alpha of them (the bootstrap alone can be optimistic; with the rank check it is not)."""
    rng = np.random.default_rng(5)
    promoted = 0
    for i in range(300):
        a, b = rng.exponential(0.5, size=(2, 60))
        promoted += compare_losses(a, b, n_boot=400, seed=i).promote
    assert promoted / 300 <= 0.07


def test_power_against_a_modest_real_gain():
    rng = np.random.default_rng(6)
    wins = 0
    for i in range(40):
        a = rng.exponential(0.5, size=200)
        b = a * 0.85 + rng.normal(0, 0.05, size=200)
        wins += compare_losses(a, b, n_boot=400, seed=i).promote
    assert wins >= 36


def test_roc_auc_uses_a_paired_bootstrap_of_the_metric():
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, size=400)
    good = np.clip(0.5 + (y - 0.5) * 0.6 + rng.normal(0, 0.2, size=400), 0, 1)
    weak = np.clip(0.5 + (y - 0.5) * 0.1 + rng.normal(0, 0.2, size=400), 0, 1)
    as_proba = lambda p: np.column_stack([1 - p, p])  # noqa: E731
    metric = METRICS["roc_auc"]
    better = compare(metric, y, as_proba(weak), as_proba(good), 2)
    assert better.promote and better.challenger.value > better.champion.value
    assert "p_wilcoxon" not in better.checks  # AUC is not a mean over rows: no rank test
    assert better.champion.value == pytest.approx(metric.score(y, as_proba(weak), 2))
    worse = compare(metric, y, as_proba(good), as_proba(weak), 2)
    assert not worse.promote and worse.improvement.value < 0
    one_class = compare(metric, np.ones(50, dtype=int), as_proba(good[:50]), as_proba(weak[:50]), 2)
    assert not one_class.promote and math.isnan(one_class.p_value) and "cannot be computed" in one_class.reason


def test_error_metrics_are_oriented_and_checked_per_row():
    rng = np.random.default_rng(8)
    y = rng.normal(size=300)
    close, far = y + rng.normal(0, 0.3, size=300), y + rng.normal(0, 1.0, size=300)
    rmse = compare(METRICS["rmse"], y, far, close)
    assert rmse.promote and rmse.challenger.value < rmse.champion.value and rmse.improvement.value > 0
    assert rmse.improvement.value == pytest.approx(rmse.champion.value - rmse.challenger.value)
    assert "p_wilcoxon" in rmse.checks and rmse.p_value == max(rmse.checks.values())
    assert not compare(METRICS["mae"], y, close, far).promote
    np.testing.assert_allclose(row_losses("rmse", y, close).mean() ** 0.5, METRICS["rmse"].score(y, close))
    proba = np.column_stack([np.full(300, 0.3), np.full(300, 0.7)])
    labels = (y > 0).astype(int)
    np.testing.assert_allclose(row_losses("log_loss", labels, proba).mean(), METRICS["log_loss"].score(labels, proba))


def test_bad_settings_are_user_errors():
    with pytest.raises(ConfigError, match="alpha"):
        compare_losses(np.ones(20), np.ones(20), alpha=0.7)
    with pytest.raises(ConfigError, match="minimum effect"):
        compare_losses(np.ones(20), np.ones(20), min_effect=-1)
    with pytest.raises(ConfigError, match="same rows"):
        compare_losses(np.ones(20), np.ones(19))
