"""When does drift fire? Comparing a recent window of rows with the training reference.

Every input column is compared on its own (assay.monitor.stats has the statistics): numeric
columns by PSI on the reference's deciles and the Kolmogorov-Smirnov test; categorical ones by
PSI over their levels and the chi-square test; both by the change in the missing rate; categories
by the share of recent rows in categories training never saw. Text columns are compared by their
length; datetime columns are not compared (dates move forward by nature; a time column drifting is
the calendar, not the data). The model's predictions (binary: the probability of the second
class; multiclass: the predicted class; regression: the value) and, when recent rows carry them,
the labels are compared the same way. A classifier trained to tell reference rows from recent
ones catches what no single column shows (a changed relation between columns): its cross-
validated AUC is 0.5 when the two are alike.

A finding fires only when it is both real and material:
    real      its Benjamini-Hochberg adjusted p-value < alpha (0.05), adjusted over every test of
              the check (columns x distribution, missing rate, unseen categories), so twenty
              columns do not give twenty chances of a false alarm;
    material  distribution: PSI >= psi (0.2) or distance >= distance (0.15), the distance being
              KS D for numbers and total variation for categories; missing rate: a change of at
              least missing (0.05, absolute); unseen categories: at least unseen (0.05) of recent
              rows.
The classifier fires when the lower end of its AUC's 95 % interval exceeds auc (0.6). Requiring
both means a huge window does not fire on a trivial shift and a tiny one does not fire on noise.
The defaults were set on bench/drift.py (adult and houses, 1,000-row windows, 400 stationary and
352 shifted; bench/results/drift.md replays the rule under other thresholds on the same windows):
every window whose shift has PSI >= 0.2 fired, no stationary window did, and no shift with PSI
< 0.05 did. A distance of 0.1 instead also fired on 5 % of those trivial shifts; PSI alone at 0.2
missed 9 % of the real ones (a window's PSI scatters about +-0.03 around its shift's).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from assay.errors import ConfigError, problem
from assay.monitor import stats
from assay.monitor.alerts import Alert

TOP_LEVELS = 20  # categories drawn in the report; the rest are summed
MIN_ROWS = 20  # fewer recent (or reference) values than this: no test, a note instead


@dataclass(frozen=True)
class Thresholds:
    alpha: float = 0.05
    psi: float = 0.2
    distance: float = 0.15
    missing: float = 0.05
    unseen: float = 0.05
    auc: float = 0.6
    bins: int = 10

    def __post_init__(self):
        checks = {
            "alpha": 0 < self.alpha < 1,
            "psi": self.psi > 0,
            "distance": 0 < self.distance <= 1,
            "missing": 0 < self.missing <= 1,
            "unseen": 0 < self.unseen <= 1,
            "auc": 0.5 <= self.auc < 1,
            "bins": isinstance(self.bins, int) and 2 <= self.bins <= 100,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            name = bad[0]
            raise ConfigError(
                problem(
                    f"drift threshold {name}={getattr(self, name)!r} is out of range",
                    where=f"--{name}",
                    fix="alpha in (0, 1); psi > 0; distance, missing, unseen in (0, 1]; auc in [0.5, 1); bins 2..100",
                )
            )

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def given(cls, **options) -> Thresholds:
        """The defaults, overridden by each option a caller set (None: not set), as the CLI and
        the monitor endpoint receive them."""
        return cls(**{k: v for k, v in options.items() if v is not None})


@dataclass
class FeatureDrift:
    feature: str
    role: str  # input | prediction | target
    kind: str  # numeric | categorical (text columns: numeric, their length)
    n_reference: int
    n_recent: int
    psi: float | None = None
    distance: float | None = None  # KS D (numeric) or total variation (categorical)
    test: str | None = None  # ks | chi2
    statistic: float | None = None
    p_value: float | None = None
    p_adjusted: float | None = None
    missing_reference: float = 0.0
    missing_recent: float = 0.0
    missing_p: float | None = None
    missing_p_adjusted: float | None = None
    unseen_share: float | None = None
    unseen_expected: float | None = None
    unseen_p: float | None = None
    unseen_p_adjusted: float | None = None
    unseen_examples: list = field(default_factory=list)
    fired: list = field(default_factory=list)  # which of distribution / missing / unseen fired
    reasons: list = field(default_factory=list)
    bins: dict | None = None  # {"labels", "reference", "recent"}: shares per bin, for the report
    note: str | None = None

    def to_dict(self) -> dict:
        return {k: _json(v) for k, v in asdict(self).items()}


@dataclass
class MultivariateDrift:
    auc: float | None
    low: float | None
    high: float | None
    n_reference: int
    n_recent: int
    top_features: list = field(default_factory=list)  # (feature, share of the classifier's gain)
    fired: bool = False
    reason: str | None = None
    note: str | None = None

    def to_dict(self) -> dict:
        return {k: _json(v) for k, v in asdict(self).items()}


@dataclass
class DriftReport:
    features: list[FeatureDrift]
    multivariate: MultivariateDrift | None
    alerts: list[Alert]
    thresholds: Thresholds
    n_reference: int
    n_recent: int
    notes: list[str] = field(default_factory=list)

    @property
    def fired(self) -> bool:
        return bool(self.alerts)

    def feature(self, name: str) -> FeatureDrift:
        return next(f for f in self.features if f.feature == name)

    def table(self) -> pd.DataFrame:
        """One row per compared column, the ones that fired first, then by PSI."""
        cols = [
            "feature",
            "role",
            "kind",
            "psi",
            "distance",
            "test",
            "p_adjusted",
            "missing_reference",
            "missing_recent",
            "unseen_share",
            "fired",
        ]
        rows = [{c: getattr(f, c) for c in cols} for f in self.features]
        frame = pd.DataFrame(rows, columns=cols)
        if frame.empty:
            return frame
        frame["fired"] = frame["fired"].map(lambda x: ", ".join(x))
        key = frame["fired"].eq("").astype(int) * 10 - frame["psi"].fillna(0)
        return frame.assign(_k=key).sort_values("_k", kind="stable").drop(columns="_k").reset_index(drop=True)

    def to_dict(self) -> dict:
        return {
            "fired": self.fired,
            "n_reference": self.n_reference,
            "n_recent": self.n_recent,
            "thresholds": self.thresholds.to_dict(),
            "alerts": [a.to_dict() for a in self.alerts],
            "features": [f.to_dict() for f in self.features],
            "multivariate": None if self.multivariate is None else self.multivariate.to_dict(),
            "notes": list(self.notes),
        }


def detect_drift(
    reference: pd.DataFrame,
    recent: pd.DataFrame,
    kinds: dict | None = None,
    *,
    roles: dict | None = None,
    thresholds: Thresholds | None = None,
    multivariate: bool = True,
    seed: int = 0,
) -> DriftReport:
    """Compare `recent` with `reference` column by column, then all at once.

    kinds: column -> numeric | categorical | text | datetime (default: numbers are numeric, the
    rest categorical); only columns present in both frames are compared. roles: column -> input
    (default) | prediction | target; the classifier sees inputs only."""
    t = thresholds or Thresholds()
    kinds = dict(kinds) if kinds is not None else {c: _guess_kind(reference[c]) for c in reference.columns}
    roles = roles or {}
    notes: list[str] = []
    features: list[FeatureDrift] = []
    for name, kind in kinds.items():
        if name not in reference.columns or name not in recent.columns:
            if name in reference.columns:
                notes.append(f"column {name!r} is missing from the recent rows and was not compared")
            continue
        if kind == "datetime":
            notes.append(f"datetime column {name!r} not compared (dates move forward by nature)")
            continue
        ref, rec = reference[name], recent[name]
        if kind == "text":
            ref, rec = _lengths(ref), _lengths(rec)
        role = roles.get(name, "input")
        if role != "input":  # a prediction or label that is absent is not a missing value that drifted
            ref, rec = ref.dropna(), rec.dropna()
        features.append(_compare(str(name), role, kind, ref, rec, t.bins))
    _adjust_and_judge(features, t)
    multi = None
    if multivariate:
        inputs = [c for c, k in kinds.items() if roles.get(c, "input") == "input" and k != "datetime"]
        inputs = [c for c in inputs if c in reference.columns and c in recent.columns]
        multi = classifier_drift(reference[inputs], recent[inputs], {c: kinds[c] for c in inputs}, t, seed=seed)
    alerts = [a for f in features for a in _alerts_of(f)]
    if multi is not None and multi.fired:
        alerts.append(
            Alert("multivariate", "rows", multi.reason, {"auc": multi.auc, "low": multi.low, "high": multi.high})
        )
    return DriftReport(features, multi, alerts, t, len(reference), len(recent), notes)


# ---- one column ---------------------------------------------------------------------------------


def _compare(name: str, role: str, kind: str, ref: pd.Series, rec: pd.Series, bins: int) -> FeatureDrift:
    numeric = kind in ("numeric", "text")
    ref_missing, rec_missing = _missing(ref, numeric), _missing(rec, numeric)
    out = FeatureDrift(
        name,
        role,
        "numeric" if numeric else "categorical",
        len(ref),
        len(rec),
        missing_reference=float(ref_missing.mean()) if len(ref) else 0.0,
        missing_recent=float(rec_missing.mean()) if len(rec) else 0.0,
    )
    out.missing_p = stats.two_proportions(int(ref_missing.sum()), len(ref), int(rec_missing.sum()), len(rec))
    ref_values, rec_values = ref[~ref_missing.to_numpy()], rec[~rec_missing.to_numpy()]
    if len(ref_values) < MIN_ROWS or len(rec_values) < MIN_ROWS:
        out.note = f"too few values to compare ({len(ref_values)} reference, {len(rec_values)} recent)"
        return out
    if numeric:
        a = pd.to_numeric(ref_values, errors="coerce").to_numpy(dtype=float)
        b = pd.to_numeric(rec_values, errors="coerce").to_numpy(dtype=float)
        edges = stats.quantile_edges(a, bins)
        ca, cb = stats.binned_counts(a, edges), stats.binned_counts(b, edges)
        out.psi = stats.psi(ca, cb)
        out.distance, out.p_value = stats.ks(a, b)
        out.test, out.statistic = "ks", out.distance
        out.bins = _numeric_bins(edges, ca, cb)
    else:
        a, b = ref_values.astype(str), rec_values.astype(str)
        levels = a.value_counts()
        seen = b.isin(levels.index).to_numpy()
        known = b[seen].value_counts().reindex(levels.index, fill_value=0)
        pa, pb = stats.pool_levels(levels, known)
        out.psi = stats.psi(pa, pb)
        out.distance = stats.total_variation(pa, pb)
        out.test = "chi2"
        out.statistic, out.p_value = stats.chi_square(pa, pb)
        k = int((~seen).sum())
        out.unseen_share = k / len(b)
        out.unseen_expected = stats.unseen_mass(levels)
        out.unseen_p = stats.unseen_test(k, len(b), out.unseen_expected)
        out.unseen_examples = list(pd.Series(b[~seen]).value_counts().index[:5])
        out.bins = _category_bins(levels, known, k)
    return out


def _adjust_and_judge(features: list[FeatureDrift], t: Thresholds) -> None:
    """Benjamini-Hochberg over every p-value of the check, then the two-part rule per finding."""
    slots = [
        (f, attr) for f in features for attr in ("p_value", "missing_p", "unseen_p") if getattr(f, attr) is not None
    ]
    adjusted = stats.benjamini_hochberg([getattr(f, attr) for f, attr in slots])
    for (f, attr), p in zip(slots, adjusted, strict=True):
        setattr(f, attr.replace("_p", "_p_adjusted") if attr != "p_value" else "p_adjusted", float(p))
    for f in features:
        what = {"input": f"{f.feature}", "prediction": "predictions", "target": f"labels ({f.feature})"}[f.role]
        if _real(f.p_adjusted, t) and ((f.psi or 0) >= t.psi or (f.distance or 0) >= t.distance):
            f.fired.append("distribution")
            name = "KS D" if f.kind == "numeric" else "total variation"
            f.reasons.append(
                f"{what}: distribution shifted (PSI {f.psi:.3f}, {name} {f.distance:.3f}, "
                f"adjusted p {_p(f.p_adjusted)})"
            )
        change = f.missing_recent - f.missing_reference
        if _real(f.missing_p_adjusted, t) and abs(change) >= t.missing:
            f.fired.append("missing")
            f.reasons.append(
                f"{what}: missing rate {100 * f.missing_reference:.1f}% -> {100 * f.missing_recent:.1f}% "
                f"(adjusted p {_p(f.missing_p_adjusted)})"
            )
        if _real(f.unseen_p_adjusted, t) and (f.unseen_share or 0) >= t.unseen:
            f.fired.append("unseen")
            examples = ", ".join(repr(x) for x in f.unseen_examples[:3])
            f.reasons.append(
                f"{what}: {100 * f.unseen_share:.1f}% of recent rows have categories never seen in training "
                f"(e.g. {examples}; about {100 * f.unseen_expected:.1f}% expected; "
                f"adjusted p {_p(f.unseen_p_adjusted)})"
            )


def _alerts_of(f: FeatureDrift) -> list[Alert]:
    kinds = {"distribution": "drift", "missing": "missing", "unseen": "unseen"}
    out = []
    for fired, reason in zip(f.fired, f.reasons, strict=True):
        kind = f.role if f.role in ("prediction", "target") and fired == "distribution" else kinds[fired]
        values = {"psi": f.psi, "distance": f.distance, "p_adjusted": f.p_adjusted}
        if fired == "missing":
            values = {"reference": f.missing_reference, "recent": f.missing_recent, "p_adjusted": f.missing_p_adjusted}
        elif fired == "unseen":
            values = {"share": f.unseen_share, "expected": f.unseen_expected, "examples": f.unseen_examples}
        out.append(Alert(kind, f.feature, reason, {k: _json(v) for k, v in values.items()}))
    return out


# ---- all columns at once --------------------------------------------------------------------------

CLASSIFIER_ROWS = 2_500  # per side: enough for an AUC interval of about +-0.02, a second or less to fit
CLASSIFIER_FOLDS = 5


def classifier_drift(
    reference: pd.DataFrame, recent: pd.DataFrame, kinds: dict, t: Thresholds, *, seed: int = 0
) -> MultivariateDrift:
    """Can a small LightGBM tell recent rows from reference rows? Its out-of-fold AUC with
    DeLong's interval; each side sampled to at most CLASSIFIER_ROWS rows."""
    from lightgbm import LGBMClassifier
    from sklearn.model_selection import StratifiedKFold

    rng = np.random.default_rng(seed)
    ref = _sample_rows(reference, CLASSIFIER_ROWS, rng)
    rec = _sample_rows(recent, CLASSIFIER_ROWS, rng)
    out = MultivariateDrift(None, None, None, len(ref), len(rec))
    if min(len(ref), len(rec)) < 2 * CLASSIFIER_FOLDS * 5 or not kinds:
        out.note = "too few rows or columns for the reference-vs-recent classifier"
        return out
    X = _classifier_frame(pd.concat([ref, rec], ignore_index=True), kinds)
    y = np.r_[np.zeros(len(ref), dtype=int), np.ones(len(rec), dtype=int)]
    scores = np.zeros(len(y))
    gain = np.zeros(X.shape[1])
    folds = StratifiedKFold(CLASSIFIER_FOLDS, shuffle=True, random_state=seed)
    for train, test in folds.split(X, y):
        model = LGBMClassifier(
            n_estimators=60,
            learning_rate=0.1,
            num_leaves=15,
            min_child_samples=20,
            subsample=0.8,
            subsample_freq=1,
            colsample_bytree=0.8,
            importance_type="gain",
            n_jobs=1,
            random_state=seed,
            verbose=-1,
        )
        model.fit(X.iloc[train], y[train])
        scores[test] = model.predict_proba(X.iloc[test])[:, 1]
        gain += model.feature_importances_
    out.auc, out.low, out.high = stats.delong_auc(y, scores)
    if gain.sum() > 0:
        order = np.argsort(-gain)[:5]
        out.top_features = [(str(X.columns[i]), round(float(gain[i] / gain.sum()), 4)) for i in order if gain[i] > 0]
    if out.low is not None and math.isfinite(out.low) and out.low > t.auc:
        telling = ", ".join(name for name, _ in out.top_features[:3])
        out.fired = True
        out.reason = (
            f"recent rows are distinguishable from training rows: classifier AUC {out.auc:.3f} "
            f"(95% interval {out.low:.3f} to {out.high:.3f}, fires above {t.auc}); most telling: {telling}"
        )
    return out


def _classifier_frame(frame: pd.DataFrame, kinds: dict) -> pd.DataFrame:
    """Numbers as floats, text as its length, categories as pandas categories (LightGBM splits
    on them natively), over the union of both sides' levels."""
    out = {}
    for name, kind in kinds.items():
        col = frame[name]
        if kind == "categorical":
            out[str(name)] = col.astype("string").astype("category")
        elif kind == "text":
            out[str(name)] = _lengths(col).astype(float)
        else:
            out[str(name)] = pd.to_numeric(col, errors="coerce").astype(float)
    return pd.DataFrame(out)


# ---- helpers --------------------------------------------------------------------------------------


def _real(p: float | None, t: Thresholds) -> bool:
    return p is not None and math.isfinite(p) and p < t.alpha


def _missing(col: pd.Series, numeric: bool) -> pd.Series:
    if numeric:
        return pd.to_numeric(col, errors="coerce").isna()
    return col.isna()


def _lengths(col: pd.Series) -> pd.Series:
    return col.map(lambda v: np.nan if pd.isna(v) else float(len(str(v))))


def _guess_kind(col: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(col):
        return "datetime"
    return "categorical"


def _sample_rows(frame: pd.DataFrame, n: int, rng) -> pd.DataFrame:
    if len(frame) <= n:
        return frame.reset_index(drop=True)
    return frame.iloc[np.sort(rng.choice(len(frame), size=n, replace=False))].reset_index(drop=True)


def _numeric_bins(edges: np.ndarray, a: np.ndarray, b: np.ndarray) -> dict:
    fmt = [f"{e:.4g}" for e in edges]
    labels = [f"< {fmt[0]}"] if len(edges) else ["all"]
    labels += [f"{lo} to {hi}" for lo, hi in zip(fmt[:-1], fmt[1:], strict=True)]
    if len(edges):
        labels.append(f">= {fmt[-1]}")
    used = (a + b) > 0
    return {
        "labels": [lab for lab, u in zip(labels, used, strict=True) if u],
        "reference": _shares(a[used]),
        "recent": _shares(b[used]),
    }


def _category_bins(levels: pd.Series, known: pd.Series, unseen: int) -> dict:
    top = levels.index[:TOP_LEVELS]
    a = [float(levels[c]) for c in top]
    b = [float(known[c]) for c in top]
    labels = [str(c) for c in top]
    if len(levels) > TOP_LEVELS:
        labels.append(f"(other {len(levels) - TOP_LEVELS} levels)")
        a.append(float(levels.iloc[TOP_LEVELS:].sum()))
        b.append(float(known.iloc[TOP_LEVELS:].sum()))
    if unseen:
        labels.append("(unseen in training)")
        a.append(0.0)
        b.append(float(unseen))
    return {"labels": labels, "reference": _shares(np.array(a)), "recent": _shares(np.array(b))}


def _shares(counts: np.ndarray) -> list[float]:
    total = counts.sum()
    return [round(float(c / total), 6) if total else 0.0 for c in counts]


def _p(p: float) -> str:
    return "< 1e-12" if p < 1e-12 else f"{p:.2g}"


def _json(v):
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, list | tuple):
        return [_json(x) for x in v]
    if isinstance(v, dict):
        return {k: _json(x) for k, x in v.items()}
    return v
