"""A dense numeric encoding for the families that cannot read categories or NaN themselves
(linear, k-NN, MLP): impute, flag, scale, one-hot or target-encode.

Built only from scikit-learn parts so the fitted encoder saves with skops and loads back under
the safe type check in assay.models.sklearn_io; anything custom would have to be trusted by name.
Category columns are turned into strings first (`dense_frame`), with missing and unseen values
as one explicit "__missing__" level, so the encoders see uniform, NaN-free input whatever the
categories' own type is.

A category with many levels one-hot encodes into many sparse columns, capped at ONEHOT_MAX with
the rest pooled, losing those levels. Such columns get scikit-learn's TargetEncoder instead: each
level becomes a smoothed mean of the target (one per class for several classes). Its
fit_transform cross-fits (each training row is encoded by folds that exclude it, so no row sees
its own target), and the encoder is built and fitted inside the model's own fit, hence only on
the training rows of the current fold. Where the switch pays depends on the family (measured on
generated data, a category with additive signal): a linear model or an MLP does better with
one-hot as long as no level is pooled, since one weight per level is the exact additive model,
so by default only columns beyond the cap are target-encoded; a distance (k-NN) is better off
with the target encoding from about 20 levels on, and asks for it with `target_levels`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MISSING = "__missing__"
SCALINGS = ("standard", "quantile")
ONEHOT_MAX = 64  # one-hot columns per category at most; further levels are pooled
TARGET_ENCODE_LEVELS = ONEHOT_MAX  # default: target-encode a category with more levels than this
_TE_FOLDS = 5  # TargetEncoder's cross-fitting folds


def dense_frame(X: pd.DataFrame) -> pd.DataFrame:
    """X with numeric columns as float64 (NaN for missing) and category columns as object strings,
    under positional names so the encoder never depends on the user's column labels."""
    columns = {}
    for i, (_, col) in enumerate(X.items()):
        if isinstance(col.dtype, pd.CategoricalDtype):
            levels = np.array([str(c) for c in col.cat.categories] + [MISSING], dtype=object)
            columns[f"x{i}"] = pd.Series(levels[col.cat.codes.to_numpy()], index=X.index, dtype=object)
        else:
            columns[f"x{i}"] = pd.Series(col.to_numpy(dtype=np.float64, na_value=np.nan), index=X.index)
    return pd.DataFrame(columns, index=X.index)


def dense_encoder(
    X: pd.DataFrame,
    scaling: str = "standard",
    y=None,
    *,
    continuous: bool = False,
    seed: int = 0,
    target_levels: int | None = None,
):
    """An unfitted ColumnTransformer for `dense_frame(X)`: numeric columns median-imputed and
    scaled, plus a 0/1 flag per column that had missing values; category columns one-hot, or,
    with more than `target_levels` levels (default TARGET_ENCODE_LEVELS) and a usable `y`
    (`continuous` for regression), target-encoded and scaled. Fit it with fit_transform(frame, y),
    never fit then transform on the same rows: only fit_transform cross-fits the target encoding."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import MissingIndicator, SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    if scaling not in SCALINGS:
        raise ValueError(f"scaling must be one of {SCALINGS}, got {scaling!r}")
    cats = [i for i, dt in enumerate(X.dtypes) if isinstance(dt, pd.CategoricalDtype)]
    nums = [i for i in range(X.shape[1]) if i not in cats]
    target_type = _target_type(y, continuous)
    limit = TARGET_ENCODE_LEVELS if target_levels is None else target_levels
    many = [i for i in cats if target_type and len(X.dtypes.iloc[i].categories) > limit]
    few = [i for i in cats if i not in many]
    parts = []
    if nums:
        parts.append(
            ("num", Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", _scaler(scaling, X))]), nums)
        )
        parts.append(("missing", MissingIndicator(features="missing-only", error_on_new=False), nums))
    if few:
        onehot = OneHotEncoder(
            handle_unknown="ignore", max_categories=ONEHOT_MAX, sparse_output=False, dtype=np.float64
        )
        parts.append(("cat", onehot, few))
    if many:
        encoder = _target_encoder(target_type, seed)
        parts.append(("target", Pipeline([("encode", encoder), ("scale", _scaler(scaling, X))]), many))
    return ColumnTransformer(parts, remainder="drop", sparse_threshold=0.0)


def _target_type(y, continuous: bool) -> str | None:
    """TargetEncoder's target type, or None when target encoding cannot be fitted on `y`."""
    if y is None or len(y) < 2 * _TE_FOLDS:
        return None
    if continuous:
        return "continuous"
    n = len(np.unique(y))
    return None if n < 2 else "binary" if n == 2 else "multiclass"


def _target_encoder(target_type: str, seed: int):
    """Seeded cross-fitting folds: scikit-learn 1.9 takes them as a splitter, older ones as flags."""
    import sklearn
    from sklearn.preprocessing import TargetEncoder

    if tuple(int(p) for p in sklearn.__version__.split(".")[:2]) < (1, 9):
        return TargetEncoder(target_type=target_type, cv=_TE_FOLDS, shuffle=True, random_state=seed)
    from sklearn.model_selection import KFold, StratifiedKFold

    folds = (KFold if target_type == "continuous" else StratifiedKFold)(_TE_FOLDS, shuffle=True, random_state=seed)
    return TargetEncoder(target_type=target_type, cv=folds)


def _scaler(scaling: str, X: pd.DataFrame):
    from sklearn.preprocessing import QuantileTransformer, StandardScaler

    if scaling == "quantile":
        return QuantileTransformer(
            n_quantiles=max(2, min(1000, len(X))), output_distribution="normal", subsample=None, random_state=0
        )
    return StandardScaler()
