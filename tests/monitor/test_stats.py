"""The drift statistics on data whose answers are known: worked out by hand, or exactly from the
normal distribution for large simulated samples."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from sklearn.metrics import roc_auc_score

from assay.errors import ConfigError
from assay.monitor import stats
from assay.monitor.drift import Thresholds, detect_drift


def test_psi_matches_a_hand_computation_with_smoothing():
    # counts 50/30/20 against 30/30/40, each bin + 0.5 row: shares over 101.5 rows on both sides
    p = [50.5 / 101.5, 30.5 / 101.5, 20.5 / 101.5]
    q = [30.5 / 101.5, 30.5 / 101.5, 40.5 / 101.5]
    by_hand = sum((qi - pi) * math.log(qi / pi) for pi, qi in zip(p, q, strict=True))
    assert stats.psi([50, 30, 20], [30, 30, 40]) == pytest.approx(by_hand, rel=1e-12)
    assert by_hand == pytest.approx(0.2336, abs=1e-4)


def test_psi_and_ks_of_a_known_mean_shift():
    """N(0,1) against N(0.5,1): PSI on the deciles of N(0,1) and KS D = 2 Phi(0.25) - 1, exactly."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=200_000), rng.normal(0.5, 1, size=200_000)
    edges = sps.norm.ppf(np.linspace(0, 1, 11)[1:-1])
    q = np.diff(np.r_[0.0, sps.norm.cdf(edges - 0.5), 1.0])
    exact_psi = float(np.sum((q - 0.1) * np.log(q / 0.1)))
    value, ref_counts, _ = stats.numeric_psi(a, b)
    assert exact_psi == pytest.approx(0.2377, abs=1e-4)
    assert value == pytest.approx(exact_psi, abs=0.01)
    assert ref_counts.sum() == len(a) and len(ref_counts) == 10
    d, p = stats.ks(a, b)
    assert d == pytest.approx(2 * sps.norm.cdf(0.25) - 1, abs=0.01)
    assert p < 1e-12


def test_identical_distributions_give_psi_near_zero_and_no_alert():
    rng = np.random.default_rng(1)
    ref = pd.DataFrame({"x": rng.normal(size=5000), "c": rng.choice(list("abc"), 5000, p=[0.5, 0.3, 0.2])})
    rec = pd.DataFrame({"x": rng.normal(size=2000), "c": rng.choice(list("abc"), 2000, p=[0.5, 0.3, 0.2])})
    report = detect_drift(ref, rec, multivariate=False)
    # under no drift PSI is about (bins - 1) (1/n1 + 1/n2): 9 * (1/5000 + 1/2000) = 0.0063 for x
    assert report.feature("x").psi < 0.02
    assert report.feature("c").psi < 0.01
    assert not report.fired and report.alerts == []


def test_quantile_bins_on_a_column_with_few_values():
    ref = np.array([0, 0, 0, 0, 0, 0, 0, 1, 1, 1], dtype=float)
    edges = stats.quantile_edges(ref, 10)
    assert list(edges) == [0.0, 1.0]  # nine quantiles, two distinct values
    assert list(stats.binned_counts(ref, edges)) == [0, 7, 3]
    # the empty first bin is dropped, so it adds nothing: 70/30 against 30/70 only
    p, q = np.array([7.5, 3.5]) / 11, np.array([3.5, 7.5]) / 11
    by_hand = float(np.sum((q - p) * np.log(q / p)))
    assert stats.psi([0, 7, 3], [0, 3, 7]) == pytest.approx(by_hand)


def test_benjamini_hochberg_on_fixed_p_values():
    # sorted 0.005, 0.01, 0.03, 0.04 with m = 4: p * m / rank = 0.02, 0.02, 0.04, 0.04 (already monotone)
    adjusted = stats.benjamini_hochberg([0.01, 0.04, 0.03, 0.005, np.nan])
    np.testing.assert_allclose(adjusted[:4], [0.02, 0.04, 0.04, 0.02])
    assert np.isnan(adjusted[4])
    # step-up: a later smaller ratio lowers the earlier ones (0.04 * 3/2 = 0.06 > 0.045 * 3/3)
    np.testing.assert_allclose(stats.benjamini_hochberg([0.001, 0.04, 0.045]), [0.003, 0.045, 0.045])


def test_two_proportions_and_chi_square_by_hand():
    pooled = 30 / 200
    z = (0.2 - 0.1) / math.sqrt(pooled * (1 - pooled) * (1 / 100 + 1 / 100))
    assert stats.two_proportions(10, 100, 20, 100) == pytest.approx(2 * sps.norm.sf(z))
    assert stats.two_proportions(0, 100, 0, 50) == 1.0
    # 2 x 2: chi2 = N (ad - bc)^2 / (row and column totals) = 200 * 2000^2 / (100 * 100 * 80 * 120)
    stat, p = stats.chi_square([30, 70], [50, 50])
    assert stat == pytest.approx(200 * 2000**2 / (100 * 100 * 80 * 120))
    assert p == pytest.approx(sps.chi2.sf(stat, 1))
    assert stats.total_variation([30, 70], [50, 50]) == pytest.approx(0.2)


def test_sparse_levels_are_pooled_before_the_chi_square():
    ref = pd.Series({"a": 500, "b": 480, "c": 2, "d": 1})
    rec = pd.Series({"a": 100, "b": 95, "c": 1})
    a, b = stats.pool_levels(ref, rec)
    # expected counts of c and d in the recent sample are below 5: pooled into one level, itself
    # still too small, so folded into the smallest real level (b)
    assert list(a.index) == ["a", "b"] and a.sum() == ref.sum() and b.sum() == rec.sum()


def test_unseen_categories_against_the_good_turing_estimate():
    ref = pd.Series(["a", "b", "c", "d", "e"] * 200)  # no category seen once: about 1 / 1001 expected unseen
    rec = pd.Series(["a", "b", "c", "d", "e"] * 36 + ["new"] * 20)  # 20 of 200 rows unseen
    report = detect_drift(pd.DataFrame({"c": ref}), pd.DataFrame({"c": rec}), {"c": "categorical"}, multivariate=False)
    row = report.feature("c")
    assert row.unseen_share == pytest.approx(0.1)
    assert row.unseen_expected == pytest.approx(1 / 1001)
    assert "unseen" in row.fired and row.unseen_examples == ["new"]
    assert any("10.0% of recent rows have categories never seen" in a.message for a in report.alerts)


def test_a_long_tail_of_rare_categories_is_not_unseen_drift():
    """Half the reference rows hold a category seen once (ids, say): about half the recent rows
    will too, and that is what the reference predicts, not drift."""
    rng = np.random.default_rng(2)
    ref = pd.Series(np.where(rng.random(4000) < 0.5, "common", [f"r{i}" for i in range(4000)]))
    rec = pd.Series(np.where(rng.random(1000) < 0.5, "common", [f"s{i}" for i in range(1000)]))
    assert stats.unseen_mass(ref.value_counts()) == pytest.approx(0.5, abs=0.03)
    report = detect_drift(pd.DataFrame({"c": ref}), pd.DataFrame({"c": rec}), {"c": "categorical"}, multivariate=False)
    assert "unseen" not in report.feature("c").fired


def test_a_change_in_missing_rate_fires_only_when_material():
    rng = np.random.default_rng(3)
    ref = pd.DataFrame({"x": rng.normal(size=3000)})
    rec = pd.DataFrame({"x": rng.normal(size=1000)})
    rec.loc[:149, "x"] = np.nan  # 15 % missing, none in the reference
    report = detect_drift(ref, rec, multivariate=False)
    row = report.feature("x")
    assert row.missing_reference == 0 and row.missing_recent == pytest.approx(0.15)
    assert row.fired == ["missing"] and "missing rate 0.0% -> 15.0%" in row.reasons[0]
    rec.loc[:149, "x"] = rng.normal(size=150)
    rec.loc[:19, "x"] = np.nan  # 2 %: significant on these rows, but below the 5-point threshold
    assert "missing" not in detect_drift(ref, rec, multivariate=False).feature("x").fired


def test_a_big_window_does_not_fire_on_a_trivial_shift():
    """0.05 standard deviations on 50,000 rows is statistically certain and practically nothing."""
    rng = np.random.default_rng(4)
    ref = pd.DataFrame({"x": rng.normal(size=50_000)})
    rec = pd.DataFrame({"x": rng.normal(0.05, 1, size=50_000)})
    row = detect_drift(ref, rec, multivariate=False).feature("x")
    assert row.p_adjusted < 0.05 and row.fired == []


def test_delong_auc_equals_the_mann_whitney_auc_and_its_interval_covers():
    rng = np.random.default_rng(5)
    labels = np.r_[np.zeros(800), np.ones(600)]
    scores = np.round(np.r_[rng.normal(size=800), rng.normal(1, 1, size=600)], 1)  # ties on purpose
    assert stats.delong_auc(labels, scores)[0] == pytest.approx(roc_auc_score(labels, scores))
    assert stats.delong_auc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])[0] == 1.0
    # a one-sd shift between two normals has AUC Phi(1 / sqrt 2); 95 % intervals should hold it ~95 % of the time
    truth, labels = sps.norm.cdf(1 / math.sqrt(2)), np.r_[np.zeros(150), np.ones(150)]
    hits = [
        low <= truth <= high
        for low, high in (
            stats.delong_auc(labels, np.r_[rng.normal(size=150), rng.normal(1, 1, size=150)])[1:] for _ in range(400)
        )
    ]
    assert 0.92 <= np.mean(hits) <= 0.98


def test_the_classifier_sees_a_changed_relation_no_single_column_shows():
    """Same N(0,1) marginals, but y follows x in the recent rows: only the classifier can tell."""
    rng = np.random.default_rng(6)
    ref = pd.DataFrame({"x": rng.normal(size=3000), "y": rng.normal(size=3000)})
    x = rng.normal(size=1500)
    rec = pd.DataFrame({"x": x, "y": 0.95 * x + math.sqrt(1 - 0.95**2) * rng.normal(size=1500)})
    report = detect_drift(ref, rec)
    assert report.feature("x").fired == [] and report.feature("y").fired == []
    assert report.multivariate.fired and report.multivariate.low > 0.6
    assert [a.kind for a in report.alerts] == ["multivariate"]
    quiet = detect_drift(ref, pd.DataFrame({"x": rng.normal(size=1500), "y": rng.normal(size=1500)}))
    assert not quiet.multivariate.fired and 0.4 < quiet.multivariate.auc < 0.6


def test_thresholds_out_of_range_are_user_errors():
    with pytest.raises(ConfigError, match="psi"):
        Thresholds(psi=0)
    with pytest.raises(ConfigError, match="alpha"):
        Thresholds(alpha=1.5)
