import numpy as np
import pandas as pd

from assay.ensemble import BaggedModel, EnsembleModel, ensemble_selection
from assay.evaluate.metrics import METRICS
from assay.models.lightgbm import LightGBMModel
from assay.task import Task


def test_selection_blends_complementary_members():
    rng = np.random.default_rng(0)
    y = rng.normal(size=500)
    noise_a, noise_b = rng.normal(size=500), rng.normal(size=500)
    a, b = y + noise_a, y + noise_b  # independent errors: the average beats either
    bad = y + 5 * rng.normal(size=500)
    weights = ensemble_selection([a, b, bad], y, METRICS["rmse"], 0)
    assert weights.sum() == 1.0
    assert weights[0] > 0 and weights[1] > 0 and weights[2] == 0
    blend = weights[0] * a + weights[1] * b
    assert METRICS["rmse"].score(y, blend) < min(METRICS["rmse"].score(y, a), METRICS["rmse"].score(y, b))


def test_selection_is_deterministic_and_ignores_unheld_rows():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    p1 = np.column_stack([1 - y * 0.7, y * 0.7]) * 0.9 + 0.05
    p2 = rng.dirichlet([1, 1], 300)
    p1[:50] = np.nan  # rows a holdout never predicted
    w1 = ensemble_selection([p1, p2], y, METRICS["log_loss"], 2)
    w2 = ensemble_selection([p1, p2], y, METRICS["log_loss"], 2)
    assert np.array_equal(w1, w2)
    assert w1[0] == 1.0


def test_ensemble_and_bag_round_trip(tmp_path):
    rng = np.random.default_rng(2)
    X = pd.DataFrame(rng.normal(size=(200, 3)), columns=["a", "b", "c"])
    y = (X["a"] > 0).astype(int).to_numpy()
    task = Task("binary", ("n", "y"))
    folds = [LightGBMModel(task, {"n_estimators": 20}, seed=s).fit(X.iloc[s::2], y[s::2]) for s in (0, 1)]
    bag = BaggedModel(task, folds, "lightgbm#0")
    ensemble = EnsembleModel(task, [bag], [1.0])
    ensemble.save(tmp_path / "ens")
    again = EnsembleModel.load(tmp_path / "ens", task)
    assert np.allclose(again.predict_raw(X), ensemble.predict_raw(X))
    assert np.allclose(bag.predict_raw(X), np.mean([m.predict_raw(X) for m in folds], axis=0))


def test_temperature_sharpens_cautious_probabilities_and_keeps_ranking():
    from assay.ensemble.calibrate import apply_temperature, fit_temperature

    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, 2000)
    guess = np.where(rng.random(2000) < 0.9, y, (y + 1) % 3)  # 10% mistakes: evidence enough
    sharp = np.full((2000, 3), 0.02)
    sharp[np.arange(2000), guess] = 0.96
    cautious = 0.3 * sharp + 0.7 / 3  # an average diluted towards uniform
    t = fit_temperature(cautious, y)
    assert t < 1.0
    calibrated = apply_temperature(cautious, t)
    assert METRICS["log_loss"].score(y, calibrated) < METRICS["log_loss"].score(y, cautious)
    assert np.array_equal(calibrated.argmax(axis=1), cautious.argmax(axis=1))


def test_no_temperature_without_mistakes_to_learn_from():
    from assay.ensemble.calibrate import fit_temperature

    y = np.arange(300) % 3
    cautious = np.full((300, 3), 0.2)
    cautious[np.arange(300), y] = 0.6
    assert fit_temperature(cautious, y) == 1.0


def _cautious_with_mistakes(n: int, mistakes: dict[int, float]) -> tuple[np.ndarray, np.ndarray]:
    """Right rows at 0.9; each mistake row puts the given probability on a wrong class."""
    y = np.arange(n) % 3
    proba = np.full((n, 3), 0.05)
    proba[np.arange(n), y] = 0.9
    for row, wrong in mistakes.items():
        proba[row] = (1 - wrong) / 2
        proba[row, (y[row] + 1) % 3] = wrong
    return proba, y


def test_no_temperature_from_a_handful_of_mistakes():
    from assay.ensemble.calibrate import _best_temperature, fit_temperature

    proba, y = _cautious_with_mistakes(300, {0: 0.4, 50: 0.4, 100: 0.4})
    assert _best_temperature(proba, y) < 1.0  # the fit alone would sharpen on three rows' say-so
    assert fit_temperature(proba, y) == 1.0


def test_some_mistakes_sharpen_only_when_held_out_rows_agree():
    from assay.ensemble.calibrate import _best_temperature, fit_temperature, halves

    n = 300
    mild = {row: 0.4 for row in range(0, n, 25)}  # 12 mistakes, all unsure: sharpening is safe
    proba, y = _cautious_with_mistakes(n, mild)
    assert fit_temperature(proba, y) < 1.0

    # Two of ten mistakes made with near certainty, both in one half: a T fitted on the other
    # half's rows does not carry over, so none is applied even though the whole sample favours one.
    first, second = np.flatnonzero(halves(n)), np.flatnonzero(~halves(n))
    mistakes = {int(first[0]): 0.9999, int(first[1]): 0.9999, **{int(r): 0.4 for r in second[:4]}}
    mistakes.update({int(r): 0.4 for r in first[2:6]})
    proba, y = _cautious_with_mistakes(n, mistakes)
    assert _best_temperature(proba, y) < 1.0
    assert fit_temperature(proba, y) == 1.0


def test_refit_on_all_rows_joins_the_bag_and_round_trips(tmp_path):
    from assay.ensemble.refit import refit_on_all_rows
    from assay.evaluate.metrics import get_metric
    from assay.search.budget import Deadline
    from assay.search.executors import TrialContext
    from assay.search.executors.inline import InlineExecutor
    from assay.search.trial import TrialSpec

    rng = np.random.default_rng(4)
    X = pd.DataFrame(rng.normal(size=(300, 3)), columns=["a", "b", "c"])
    y = (X["a"] + 0.3 * rng.normal(size=300) > 0).astype(int).to_numpy()
    task = Task("binary", ("n", "y"))
    folds = [(np.setdiff1d(np.arange(300), np.arange(i, 300, 3)), np.arange(i, 300, 3)) for i in range(3)]
    ctx = TrialContext(X, y, folds, task, get_metric("roc_auc", task))
    spec = TrialSpec(0, "lightgbm", {"learning_rate": 0.1}, 0, "test")
    output = InlineExecutor().run(spec, ctx, Deadline.never(), lambda errors: False)
    refits = refit_on_all_rows([(0, output)], ctx, Deadline.never())
    full = refits[0]
    rounds = [m.best_iteration_ for m in output.models]
    assert full.params["n_estimators"] == round(np.mean(rounds) * 1.5)  # 300 rows / 200 per fold
    assert full.best_iteration_ == full.params["n_estimators"]
    bag = BaggedModel(task, output.models, "lightgbm#0", full)
    folds_only = np.mean([m.predict_raw(X) for m in output.models], axis=0)
    assert np.allclose(bag.predict_raw(X), 0.5 * folds_only + 0.5 * full.predict_raw(X))
    bag.save(tmp_path / "bag")
    assert np.allclose(BaggedModel.load(tmp_path / "bag", task).predict_raw(X), bag.predict_raw(X))
    # nothing is refit when its cost cannot fit in the time left
    assert refit_on_all_rows([(0, output)], ctx, Deadline.after(0.0)) == {}
