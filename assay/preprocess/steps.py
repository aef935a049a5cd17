"""Preprocessing steps a searched pipeline chooses per trial: the genes of evolutionary search.

TablePreprocessor (table.py) makes every column model-ready once, for all families; these steps
come after it and before one model, fitted on the training rows of one fold only (the target
encoding and the feature ranking read the target), and they are saved beside the model so a
saved pipeline reproduces them at prediction. Each gene really changes the model's input:

- select: keep the top share of columns ranked by mutual information with the target;
- missing: add a 0/1 column per numeric column that had missing values in training;
- categorical: native (the category dtype, as trees and the dense encoders read it), one-hot
  (0/1 columns for up to ONEHOT_MAX levels, the rest stay native) or target (scikit-learn's
  cross-fitted TargetEncoder: one smoothed mean per level, per class for several classes);
- scale: none, standard or quantile (to a normal) on the numeric columns.

State is plain JSON plus scikit-learn objects (saved with skops by the pipeline model,
assay.models.pipeline), so loading stays under the safe type check of assay.models.sklearn_io.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from assay.preprocess.dense import _target_encoder, _target_type, dense_frame
from assay.search.space import Choice

GENES = {
    "pre_select": Choice((1.0, 0.75, 0.5), 1.0),
    "pre_missing": Choice((False, True), False),
    "pre_categorical": Choice(("native", "onehot", "target"), "native"),
    "pre_scale": Choice(("none", "standard", "quantile"), "none"),
}
ONEHOT_MAX = 16
_RANK_ROWS = 2_000


def split_genes(params: dict) -> tuple[dict, dict]:
    """(gene values with defaults filled in, the model's own params)."""
    genes = {k: params.get(k, dim.default) for k, dim in GENES.items()}
    return genes, {k: v for k, v in params.items() if k not in GENES}


def is_identity(genes: dict) -> bool:
    return all(genes.get(k, dim.default) == dim.default for k, dim in GENES.items())


@dataclass
class PipelineSteps:
    genes: dict
    seed: int = 0
    columns: list[str] = field(default_factory=list)  # kept input columns, in order
    missing: list[str] = field(default_factory=list)  # numeric columns that get a missing flag
    onehot: dict[str, list[str]] = field(default_factory=dict)  # column -> levels
    target: list[str] = field(default_factory=list)  # target-encoded columns
    numeric: list[str] = field(default_factory=list)  # scaled columns
    encoder: object = None  # TargetEncoder
    scaler: object = None  # StandardScaler | QuantileTransformer

    def fit_transform(self, X: pd.DataFrame, y: np.ndarray, task) -> pd.DataFrame:
        X = X.copy()
        X.columns = [str(c) for c in X.columns]
        self.columns = _select(X, y, task, float(self.genes["pre_select"]), self.seed)
        X = X[self.columns]
        cats = [c for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]
        nums = [c for c in X.columns if c not in cats]
        if self.genes["pre_missing"]:
            self.missing = [c for c in nums if X[c].isna().any()]
        mode = self.genes["pre_categorical"]
        if mode == "onehot":
            self.onehot = {
                c: [str(v) for v in X[c].cat.categories] for c in cats if len(X[c].cat.categories) <= ONEHOT_MAX
            }
        elif mode == "target" and cats and _target_type(y, not task.is_classification):
            self.target = cats
            self.encoder = _target_encoder(_target_type(y, not task.is_classification), self.seed)
        self.numeric = nums
        if self.genes["pre_scale"] != "none" and nums:
            from sklearn.preprocessing import QuantileTransformer, StandardScaler

            if self.genes["pre_scale"] == "standard":
                self.scaler = StandardScaler()
            else:
                n_q = max(2, min(1000, len(X)))
                self.scaler = QuantileTransformer(n_quantiles=n_q, output_distribution="normal", random_state=self.seed)
            self.scaler.fit(X[nums].to_numpy(dtype=float, na_value=np.nan))
        return self._apply(X, y)

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        X = X.copy()
        X.columns = [str(c) for c in X.columns]
        return self._apply(X[self.columns], None)

    def _apply(self, X: pd.DataFrame, y) -> pd.DataFrame:
        parts = []
        if self.numeric:
            values = X[self.numeric].to_numpy(dtype=float, na_value=np.nan)
            if self.scaler is not None:
                values = self.scaler.transform(values)  # NaN passes through both scalers
            parts.append(pd.DataFrame(values, columns=self.numeric, index=X.index))
        for c in self.missing:
            parts.append(pd.DataFrame({f"{c}__missing": X[c].isna().to_numpy(dtype=float)}, index=X.index))
        for c in (c for c in X.columns if c not in self.numeric):
            if c in self.onehot:
                codes = X[c].astype(str).to_numpy()
                block = {f"{c}=={lv}": (codes == lv).astype(float) for lv in self.onehot[c]}
                parts.append(pd.DataFrame(block, index=X.index))
            elif c not in self.target:
                parts.append(X[[c]])
        if self.target:
            frame = dense_frame(X[self.target])
            encoded = self.encoder.fit_transform(frame, y) if y is not None else self.encoder.transform(frame)
            names = [f"target_encoded_{i}" for i in range(encoded.shape[1])]
            parts.append(pd.DataFrame(encoded, columns=names, index=X.index))
        out = pd.concat(parts, axis=1) if parts else pd.DataFrame(index=X.index)
        return out.reset_index(drop=True)

    # --- persistence (the model saves the scikit-learn parts with skops) ----------------------
    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("genes", "seed", "columns", "missing", "onehot", "target", "numeric")}

    def fitted_parts(self) -> dict:
        return {k: getattr(self, k) for k in ("encoder", "scaler") if getattr(self, k) is not None}

    @classmethod
    def from_dict(cls, state: dict, parts: dict) -> PipelineSteps:
        return cls(**state, **parts)


def _select(X: pd.DataFrame, y: np.ndarray, task, share: float, seed: int) -> list[str]:
    """The top `share` of columns by mutual information with the target (on a seeded subsample),
    in their original order; everything when the share keeps all."""
    k = max(1, math.ceil(share * X.shape[1]))
    if k >= X.shape[1]:
        return list(X.columns)
    from sklearn.feature_selection import mutual_info_classif, mutual_info_regression

    rows = np.arange(len(X))
    if len(rows) > _RANK_ROWS:
        rows = np.sort(np.random.default_rng(seed).choice(len(X), _RANK_ROWS, replace=False))
    sub = X.iloc[rows]
    discrete = np.array([isinstance(sub[c].dtype, pd.CategoricalDtype) for c in sub.columns])
    matrix = np.column_stack(
        [
            sub[c].cat.codes.to_numpy(dtype=float) if d else sub[c].to_numpy(dtype=float, na_value=np.nan)
            for c, d in zip(sub.columns, discrete, strict=True)
        ]
    )
    medians = np.nanmedian(np.where(np.isfinite(matrix), matrix, np.nan), axis=0)
    matrix = np.where(np.isfinite(matrix), matrix, np.nan_to_num(medians))
    rank = mutual_info_classif if task.is_classification else mutual_info_regression
    scores = rank(matrix, y[rows], discrete_features=discrete, random_state=seed)
    keep = set(np.argsort(-scores, kind="stable")[:k].tolist())
    return [c for i, c in enumerate(X.columns) if i in keep]
