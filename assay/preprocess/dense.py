"""A dense numeric encoding for the families that cannot read categories or NaN themselves
(linear, k-NN, MLP): impute, flag, scale, one-hot.

Built only from scikit-learn parts so the fitted encoder saves with skops and loads back under
the safe type check in assay.models.sklearn_io; anything custom would have to be trusted by name.
Category columns are turned into strings first (`dense_frame`), with missing and unseen values
as one explicit "__missing__" level, so OneHotEncoder sees uniform, NaN-free input whatever the
categories' own type is.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MISSING = "__missing__"
SCALINGS = ("standard", "quantile")


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


def dense_encoder(X: pd.DataFrame, scaling: str = "standard"):
    """An unfitted ColumnTransformer for `dense_frame(X)`: numeric columns median-imputed and
    scaled, plus a 0/1 flag per column that had missing values; category columns one-hot."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import MissingIndicator, SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, QuantileTransformer, StandardScaler

    if scaling not in SCALINGS:
        raise ValueError(f"scaling must be one of {SCALINGS}, got {scaling!r}")
    cats = [i for i, dt in enumerate(X.dtypes) if isinstance(dt, pd.CategoricalDtype)]
    nums = [i for i in range(X.shape[1]) if i not in cats]
    if scaling == "quantile":
        scaler = QuantileTransformer(
            n_quantiles=max(2, min(1000, len(X))), output_distribution="normal", subsample=None, random_state=0
        )
    else:
        scaler = StandardScaler()
    parts = []
    if nums:
        parts.append(("num", Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", scaler)]), nums))
        parts.append(("missing", MissingIndicator(features="missing-only", error_on_new=False), nums))
    if cats:
        onehot = OneHotEncoder(handle_unknown="ignore", max_categories=64, sparse_output=False, dtype=np.float64)
        parts.append(("cat", onehot, cats))
    return ColumnTransformer(parts, remainder="drop", sparse_threshold=0.0)
