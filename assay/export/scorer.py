"""Score rows with an exported assay model using only numpy, pandas and onnxruntime.

This file is copied as it is into every scoring package (`assay export --format python`), so it
must not import assay, scikit-learn or any training library: a serving image should not need
them. It redoes, in plain pandas, the two steps that are not in the ONNX graphs:

1. the first pipeline step (assay.preprocess.table.TablePreprocessor, read from its saved JSON):
   numbers pass through, categories become their index in the trained vocabulary (unseen levels
   pooled into "__other__" where training pooled rare ones, else missing), dates become calendar
   parts and days since 1970. Free-text columns need TF-IDF and are not supported here.
2. the blend (blend.json): each member's fold models averaged, its refit model mixed in at
   `full_weight`, members weighted, class probabilities temperature-scaled.

Each ONNX graph takes one of two encodings of the preprocessed table, named by its `input`:
  "codes"  one float32 matrix, one column per preprocessed column, categories as their integer
           codes and missing values as NaN (the tree families: LightGBM, XGBoost, forests, CatBoost)
  "dense"  one [n, 1] input per column named x0, x1, ...: float32 numbers (NaN missing) and
           category strings ("__missing__" for missing) (the linear family, whose graph holds its
           own imputation, scaling and one-hot encoding)

Unlike `Predictor.predict`, nothing here checks the input contract or repairs values (numbers
written as text, respelled categories): hand over clean, typed rows.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

OTHER = "__other__"
MISSING = "__missing__"
_EPS = 1e-12


class Scorer:
    def __init__(self, folder):
        self.folder = Path(folder)
        self.manifest = json.loads((self.folder / "blend.json").read_text())
        self.preprocessor = json.loads((self.folder / self.manifest["preprocessor"]).read_text())
        self._sessions: dict = {}

    @property
    def classes(self) -> list:
        return list(self.manifest["task"]["classes"])

    @property
    def is_classification(self) -> bool:
        return self.manifest["task"]["kind"] != "regression"

    # --- public ------------------------------------------------------------------------------
    def predict_raw(self, frame: pd.DataFrame) -> np.ndarray:
        """Class probabilities (n, K) or values (n,), as assay's EnsembleModel.predict_raw."""
        return self.score_features(self.features(frame))

    def score_features(self, features: pd.DataFrame) -> np.ndarray:
        """predict_raw from an already preprocessed table (the output of `features`)."""
        encoded: dict = {}
        blend = None
        for member in self.manifest["members"]:
            bag = np.mean([self._run(m, features, encoded) for m in member["folds"]], axis=0)
            if member["full"] is not None:
                w = self.manifest["full_weight"]
                bag = (1 - w) * bag + w * self._run(member["full"], features, encoded)
            blend = member["weight"] * bag if blend is None else blend + member["weight"] * bag
        if self.is_classification:
            blend = _temperature(blend, self.manifest["temperature"])
        return blend

    def predict_proba(self, frame: pd.DataFrame) -> pd.DataFrame:
        if not self.is_classification:
            raise TypeError("predict_proba needs a classification model")
        return pd.DataFrame(self.predict_raw(frame), index=frame.index, columns=self.classes)

    def predict(self, frame: pd.DataFrame) -> pd.Series:
        raw = self.predict_raw(frame)
        values = np.asarray(self.classes, dtype=object)[raw.argmax(axis=1)] if self.is_classification else raw
        return pd.Series(values, index=frame.index, name=self.manifest["target"])

    # --- the first pipeline step ------------------------------------------------------------------
    def features(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The preprocessed table: what assay's TablePreprocessor.transform gives, same columns, same order."""
        missing = [c for c in self.preprocessor["input_columns"] if c not in frame.columns]
        missing = [c for c in missing if c not in self.preprocessor["dropped"]]
        if missing:
            raise KeyError(f"rows lack the training column(s) {missing[:20]}")
        out: dict = {}
        for plan in self.preprocessor["columns"]:
            col = frame[plan["name"]]
            if plan["kind"] == "numeric":
                values = pd.to_numeric(col, errors="coerce").astype(float)
                out[plan["name"]] = values.replace([np.inf, -np.inf], np.nan).to_numpy()
            elif plan["kind"] == "datetime":
                out.update(_date_features(col, plan))
            elif plan["kind"] == "text":
                raise NotImplementedError(
                    f"free-text column {plan['name']!r} needs TF-IDF: score it with assay.Predictor, or pass "
                    "its preprocessed features to score_features"
                )
            else:
                text = category_text(col)
                known = set(plan["categories"])
                text = text.where(text.isna() | text.isin(known), OTHER if OTHER in known else None)
                out[plan["name"]] = pd.Categorical(text, categories=plan["categories"])
        return pd.DataFrame(out, index=frame.index)

    # --- the models ------------------------------------------------------------------------------
    def _run(self, model: dict, features: pd.DataFrame, encoded: dict) -> np.ndarray:
        kind = model["input"]
        if kind not in encoded:
            encoded[kind] = codes_matrix(features) if kind == "codes" else dense_inputs(features)
        feed = {model["input_name"]: encoded[kind]} if kind == "codes" else encoded[kind]
        (out,) = self._session(model["path"]).run([model["output"]], feed)
        if not self.is_classification:
            return np.asarray(out, dtype=float).reshape(-1)
        if isinstance(out, list):  # a sequence of {label: probability} maps (CatBoost's own export)
            keys = model["output_keys"]
            out = [[row[k] for k in keys] for row in out]
        proba = np.zeros((len(features), len(self.classes)))
        proba[:, model["classes"]] = np.asarray(out, dtype=float)
        proba = np.clip(proba, 0.0, 1.0)
        return proba / np.maximum(proba.sum(axis=1, keepdims=True), _EPS)

    def _session(self, path: str):
        if path not in self._sessions:
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.log_severity_level = 3
            self._sessions[path] = ort.InferenceSession(
                str(self.folder / path), options, providers=["CPUExecutionProvider"]
            )
        return self._sessions[path]


def codes_matrix(features: pd.DataFrame) -> np.ndarray:
    out = np.empty(features.shape, dtype=np.float32)
    for i, (_, col) in enumerate(features.items()):
        if isinstance(col.dtype, pd.CategoricalDtype):
            codes = col.cat.codes.to_numpy().astype(np.float32)
            codes[codes < 0] = np.nan
            out[:, i] = codes
        else:
            out[:, i] = col.to_numpy(dtype=np.float32, na_value=np.nan)
    return out


def dense_inputs(features: pd.DataFrame) -> dict:
    inputs = {}
    for i, (_, col) in enumerate(features.items()):
        if isinstance(col.dtype, pd.CategoricalDtype):
            levels = np.array([str(c) for c in col.cat.categories] + [MISSING], dtype=object)
            inputs[f"x{i}"] = levels[col.cat.codes.to_numpy()].reshape(-1, 1)
        else:
            inputs[f"x{i}"] = col.to_numpy(dtype=np.float32, na_value=np.nan).reshape(-1, 1)
    return inputs


def category_text(col: pd.Series) -> pd.Series:
    def key(v):
        if isinstance(v, (float, np.floating)) and float(v).is_integer():
            return str(int(v))
        return str(v).strip()

    return col.map(key, na_action="ignore").astype(object).where(col.notna(), None)


def _date_features(col: pd.Series, plan: dict) -> dict:
    if pd.api.types.is_datetime64_any_dtype(col):
        dates = col.dt.tz_localize(None) if getattr(col.dt, "tz", None) is not None else col
    else:
        dates = pd.to_datetime(col, errors="coerce", format="mixed")
    name = plan["name"]
    out = {}
    for part in plan["state"]["parts"]:
        values = getattr(dates.dt, "day_of_week" if part == "dayofweek" else part)
        out[f"{name}__{part}"] = values.to_numpy(dtype=float, na_value=np.nan)
    elapsed = (dates - pd.Timestamp("1970-01-01")).dt.total_seconds() / 86400.0
    out[f"{name}__days_since_1970"] = elapsed.to_numpy(dtype=float, na_value=np.nan)
    return out


def _temperature(proba: np.ndarray, temperature: float) -> np.ndarray:
    if temperature == 1.0:
        return proba
    logits = np.log(np.clip(proba, _EPS, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    out = np.exp(logits)
    return out / out.sum(axis=1, keepdims=True)


def load(folder=None) -> Scorer:
    """The model beside this file (in a scoring package), or the export folder given."""
    return Scorer(folder if folder is not None else Path(__file__).resolve().parent / "model")
