"""The champion rule: a challenger replaces the production model only when it is better on the
same fresh rows beyond what noise could explain, and by at least a minimum effect.

Why paired: champion and challenger are scored on the same holdout rows, and most of the spread of
either score is which rows happened to be drawn (hard rows are hard for both). Resampling rows and
recomputing *both* scores on each resample cancels that shared part, so a real difference shows
with far fewer rows than comparing two independent intervals would need.

The test, for every metric: a paired bootstrap of the improvement (challenger minus champion, in
the metric's own units, oriented so > 0 is better), 2,000 resamples. The one-sided p-value is the
share of resamples in which the challenger is not better, (1 + #{improvement* <= 0}) / (1 + B):
promoting when p < alpha is the same as promoting when the one-sided (1 - alpha) bootstrap bound
on the improvement is above zero. The bootstrap works unchanged for ROC AUC, F1 and balanced
accuracy, which are not means over rows.

For metrics that are means of a per-row loss (log loss per row, 0/1 error for accuracy, squared
error for RMSE and R², absolute error for MAE) a Wilcoxon signed-rank test of the per-row loss
differences must agree too. Percentile bootstraps are a little optimistic on small holdouts; a
rank test is not, so requiring both (an intersection-union test, still of level alpha) keeps a
lucky challenger out. The p-value reported is the larger of the two.

The minimum effect is read in the metric's units against the point estimate ("at least 0.005 AUC
better"), so it expresses what is worth a deployment, separately from whether the gain is real.

    verdict = compare(metric, y, champion_raw, challenger_raw, n_classes)
    verdict.promote, verdict.p_value, verdict.reason
    compare_losses(champion_losses, challenger_losses)   # the same rule on per-row losses
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from assay.errors import ConfigError, problem
from assay.evaluate.metrics import Metric
from assay.evaluate.uncertainty import CONFIDENCE, Interval, bootstrap_scores

DEFAULT_ALPHA = 0.05
N_BOOT = 2_000
MIN_ROWS = 10  # below this a paired test on a holdout says nothing
_EPS = 1e-15
_CHUNK_CELLS = 4_000_000

# Metrics that are a mean of a per-row loss, and the loss (what the Wilcoxon check ranks).
ROW_LOSS = {
    "log_loss": "log loss",
    "accuracy": "0/1 error",
    "rmse": "squared error",
    "r2": "squared error",
    "mae": "absolute error",
}


@dataclass(frozen=True)
class Verdict:
    """What the rule decided and every number behind it."""

    promote: bool
    metric: str
    greater_is_better: bool
    champion: Interval  # the champion's score on the holdout, 95 % bootstrap interval
    challenger: Interval
    improvement: Interval  # challenger better by (metric units, > 0 = better), paired 95 % interval
    p_value: float  # one-sided, H0: the challenger is not better
    n: int  # holdout rows
    alpha: float
    min_effect: float
    test: str
    reason: str
    checks: dict = field(default_factory=dict)  # the separate p-values, for the record

    def to_dict(self) -> dict:
        return {
            "promote": self.promote,
            "metric": self.metric,
            "greater_is_better": self.greater_is_better,
            "champion": self.champion.to_dict(),
            "challenger": self.challenger.to_dict(),
            "improvement": self.improvement.to_dict(),
            "p_value": _finite(self.p_value),
            "n": self.n,
            "alpha": self.alpha,
            "min_effect": self.min_effect,
            "test": self.test,
            "reason": self.reason,
            "checks": {k: _finite(v) for k, v in self.checks.items()},
        }


def compare(
    metric: Metric,
    y: np.ndarray,
    champion_raw: np.ndarray,
    challenger_raw: np.ndarray,
    n_classes: int = 0,
    *,
    alpha: float = DEFAULT_ALPHA,
    min_effect: float = 0.0,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> Verdict:
    """The rule on two models' raw outputs (class probabilities, or values) for the same rows `y`."""
    check_settings(alpha, min_effect)
    y = np.asarray(y)
    champion_raw, challenger_raw = np.asarray(champion_raw, dtype=float), np.asarray(challenger_raw, dtype=float)
    n = len(y)
    sign = 1.0 if metric.greater_is_better else -1.0
    champ_value = _score(metric, y, champion_raw, n_classes)
    chall_value = _score(metric, y, challenger_raw, n_classes)
    if n >= 2:  # the same seed draws the same resamples for both: that is the pairing
        champ_reps = bootstrap_scores(metric.name, y, champion_raw, n_classes, n_boot=n_boot, seed=seed)
        chall_reps = bootstrap_scores(metric.name, y, challenger_raw, n_classes, n_boot=n_boot, seed=seed)
    else:
        champ_reps = chall_reps = np.full(n_boot, math.nan)
    improvement_reps = sign * (chall_reps - champ_reps)
    checks = {}
    test = f"paired bootstrap of the {metric.name} difference ({n_boot:,} resamples)"
    if metric.name in ROW_LOSS:
        d = row_losses(metric.name, y, champion_raw) - row_losses(metric.name, y, challenger_raw)
        checks["p_wilcoxon"] = _wilcoxon(d)
        test += f" and a Wilcoxon signed-rank test of the per-row {ROW_LOSS[metric.name]}"
    return _decide(
        metric.name,
        metric.greater_is_better,
        _interval(champ_value, champ_reps, n),
        _interval(chall_value, chall_reps, n),
        _interval(sign * (chall_value - champ_value), improvement_reps, n),
        improvement_reps,
        checks,
        n,
        alpha,
        min_effect,
        test,
    )


def compare_losses(
    champion_losses,
    challenger_losses,
    *,
    alpha: float = DEFAULT_ALPHA,
    min_effect: float = 0.0,
    n_boot: int = N_BOOT,
    seed: int = 0,
    name: str = "loss",
) -> Verdict:
    """The rule on per-row losses (lower is better) of the two models on the same rows: the scores
    are the mean losses, the improvement is champion's mean minus challenger's."""
    check_settings(alpha, min_effect)
    a = np.asarray(champion_losses, dtype=float)
    b = np.asarray(challenger_losses, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ConfigError(
            problem(
                f"paired losses need two 1-D arrays of one length, got shapes {a.shape} and {b.shape}",
                where="compare_losses",
                fix="pass each model's loss on the same rows, in the same order",
            )
        )
    n = len(a)
    means = _resampled_means(np.vstack([a, b]), n_boot, seed) if n >= 2 else np.full((2, n_boot), math.nan)
    d = a - b
    return _decide(
        name,
        False,
        _interval(float(a.mean()) if n else math.nan, means[0], n),
        _interval(float(b.mean()) if n else math.nan, means[1], n),
        _interval(float(d.mean()) if n else math.nan, means[0] - means[1], n),
        means[0] - means[1],
        {"p_wilcoxon": _wilcoxon(d)},
        n,
        alpha,
        min_effect,
        f"paired bootstrap of the mean {name} difference ({n_boot:,} resamples) and a Wilcoxon signed-rank test",
    )


def row_losses(name: str, y: np.ndarray, raw: np.ndarray) -> np.ndarray:
    """Each row's contribution to a metric that is a mean over rows (see ROW_LOSS)."""
    y, raw = np.asarray(y), np.asarray(raw, dtype=float)
    if name == "log_loss":
        p = np.clip(raw, _EPS, 1 - _EPS)
        p = p / p.sum(axis=1, keepdims=True)
        return -np.log(p[np.arange(len(y)), y.astype(int)])
    if name == "accuracy":
        return (np.argmax(raw, axis=1) != y.astype(int)).astype(float)
    if name in ("rmse", "r2"):
        return (y.astype(float) - raw) ** 2
    if name == "mae":
        return np.abs(y.astype(float) - raw)
    raise KeyError(f"{name} is not a mean of per-row losses")


def check_settings(alpha: float, min_effect: float) -> None:
    if not isinstance(alpha, int | float) or not 0 < alpha < 0.5:
        raise ConfigError(
            problem(f"alpha must be between 0 and 0.5, got {alpha!r}", where="alpha", fix="e.g. 0.05 (the default)")
        )
    if not isinstance(min_effect, int | float) or not math.isfinite(min_effect) or min_effect < 0:
        raise ConfigError(
            problem(
                f"the minimum effect must be a number >= 0, got {min_effect!r}",
                where="min_effect",
                fix="0 (any real improvement), or e.g. 0.005 in the metric's units",
            )
        )


def _decide(metric, greater, champion, challenger, improvement, reps, checks, n, alpha, min_effect, test) -> Verdict:
    finite = reps[np.isfinite(reps)]
    p_boot = (1 + int(np.sum(finite <= 0))) / (1 + len(finite)) if len(finite) else math.nan
    checks = {"p_bootstrap": p_boot, **checks}
    p_value = max(checks.values()) if all(math.isfinite(v) for v in checks.values()) else math.nan
    gain = improvement.value
    figures = (
        f"{metric} {_fmt(challenger.value)} [{_fmt(challenger.low)}, {_fmt(challenger.high)}] against the champion's "
        f"{_fmt(champion.value)} [{_fmt(champion.low)}, {_fmt(champion.high)}] on {n:,} fresh holdout rows"
    )
    if n < MIN_ROWS:
        promote, why = False, f"only {n} holdout rows, fewer than the {MIN_ROWS} a paired test needs; champion kept"
    elif not math.isfinite(p_value) or not math.isfinite(gain):
        promote, why = False, f"{metric} cannot be computed on this holdout (e.g. a single class); champion kept"
    elif gain <= 0:
        promote = False
        why = f"the challenger is {'no better' if gain == 0 else 'worse'} ({figures}, p = {_fmt(p_value)}); kept"
    elif p_value >= alpha:
        promote = False
        why = (
            f"the challenger is not better beyond noise: +{_fmt(gain)} ({figures}), one-sided p = {_fmt(p_value)}"
            f" >= {alpha}; champion kept"
        )
    elif gain < min_effect:
        promote = False
        why = (
            f"the challenger is better beyond noise (p = {_fmt(p_value)}) but by {_fmt(gain)}, less than the "
            f"minimum effect {min_effect} ({figures}); champion kept"
        )
    else:
        promote = True
        why = (
            f"the challenger is better by {_fmt(gain)} (95 % interval {_fmt(improvement.low)} to "
            f"{_fmt(improvement.high)}; {figures}), one-sided p = {_fmt(p_value)} < {alpha}; promoted"
        )
    return Verdict(
        promote, metric, greater, champion, challenger, improvement, p_value, n, alpha, min_effect, test, why, checks
    )


def _score(metric: Metric, y, raw, n_classes) -> float:
    if len(y) == 0:
        return math.nan
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # sklearn's "only one class" note: the NaN says it
            return metric.score(y, raw, n_classes)
    except ValueError:  # e.g. ROC AUC on rows of one class
        return math.nan


def _resampled_means(values: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """(k x n_boot) means of each row of `values` (k x n) on the same row resamples."""
    k, n = values.shape
    rng = np.random.default_rng(seed)
    chunk = max(1, min(n_boot, _CHUNK_CELLS // max(n, 1)))
    out = []
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        counts = np.stack([np.bincount(rng.integers(0, n, size=n), minlength=n) for _ in range(b)])
        out.append(values @ counts.T / n)
    return np.concatenate(out, axis=1)


def _wilcoxon(d: np.ndarray) -> float:
    """One-sided p of 'the champion's per-row loss exceeds the challenger's'; 1.0 when they never differ."""
    d = np.asarray(d, dtype=float)
    d = d[np.isfinite(d)]
    if not np.any(d != 0):
        return 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ties and small-sample notes from scipy
        return float(stats.wilcoxon(d, alternative="greater", zero_method="wilcox").pvalue)


def _interval(value: float, reps: np.ndarray, n: int) -> Interval:
    reps = reps[np.isfinite(reps)]
    if len(reps) < 10:
        return Interval(float(value), math.nan, math.nan, n, "bootstrap")
    tail = 100 * (1 - CONFIDENCE) / 2
    low, high = np.percentile(reps, [tail, 100 - tail])
    return Interval(float(value), float(low), float(high), n, "bootstrap")


def _fmt(x: float) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.4g}"


def _finite(x):
    return x if isinstance(x, int | float) and math.isfinite(x) else None
