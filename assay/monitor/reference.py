"""The training reference that drift is measured against, kept in the model folder.

Drift means "unlike what the model learned from", so monitoring needs a picture of the training
rows long after the training file is gone. `Predictor.save` writes `reference.parquet`: up to
5,000 training rows as the model took them (cleaned, leak-excluded columns gone, before any
preprocessing), their labels, and the ensemble's out-of-fold predictions for them. Out-of-fold,
not in-sample: new rows are predicted by a model that never saw them, and the reference must be
predicted the same way, or a model that merely fits its training rows tightly would look like
prediction drift on day one. Parquet, never pickle: a reference is data and must not run code.

The Parquet file's key-value metadata holds what the rows alone do not say: each column's kind,
how many training rows there were, where the predictions came from, and the training estimate
of the metric with its interval (what performance over time is judged against).

Folders saved before this existed have no reference; monitoring then says so and asks for the
training file (`--reference train.csv`), from which :func:`reference_from_data` builds one with
in-sample predictions (noted as such).
"""

from __future__ import annotations

import json
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from assay.errors import ArtifactError, problem

FILE = "reference.parquet"
FORMAT = 1
MAX_ROWS = 5_000  # enough for decile bins and a classifier two-sample test; ~1 MB for 30 columns
_META_KEY = b"assay.reference"
_TARGET = "__assay_target__"
_PRED = "__assay_pred__"
_PROBA = "__assay_proba__:"


@dataclass
class Reference:
    """Training rows (inputs only), their labels and predictions, and what is known about them."""

    rows: pd.DataFrame
    kinds: dict  # column -> numeric | categorical | datetime | text, as the model's preprocessor planned it
    target: pd.Series | None = None
    predictions: pd.DataFrame | None = None  # a column per class (probabilities) or one "prediction" column
    meta: dict = field(default_factory=dict)

    @property
    def n_rows(self) -> int:
        return len(self.rows)

    @property
    def estimate(self) -> dict | None:
        """The training estimate of the model's metric: {"metric", "value", "low", "high", "source"}."""
        return self.meta.get("estimate")


def build_reference(
    rows: pd.DataFrame,
    kinds: dict,
    *,
    target: pd.Series | None = None,
    raw: np.ndarray | None = None,
    classes=None,
    n_train_rows: int | None = None,
    prediction_source: str | None = None,
    estimate: dict | None = None,
    seed: int = 0,
) -> Reference:
    """A Reference from training rows; `raw`: the model's output for them (probabilities (n, K)
    with `classes`, or values (n,)). Rows beyond MAX_ROWS are sampled, the same for every part."""
    rows = rows[[c for c in kinds if c in rows.columns]].reset_index(drop=True)
    keep = _sample(len(rows), seed)
    predictions = None
    if raw is not None:
        raw = np.asarray(raw, dtype=float)
        predictions = (
            pd.DataFrame(raw, columns=[str(c) for c in classes]) if raw.ndim == 2 else pd.DataFrame({"prediction": raw})
        )
        predictions = predictions.iloc[keep].reset_index(drop=True)
    meta = {
        "format": FORMAT,
        "n_train_rows": int(n_train_rows if n_train_rows is not None else len(rows)),
        "prediction_source": prediction_source if raw is not None else None,
        "classes": None if classes is None else [_plain(c) for c in classes],
        "estimate": estimate,
    }
    return Reference(
        rows.iloc[keep].reset_index(drop=True),
        dict(kinds),
        None if target is None else pd.Series(target).iloc[keep].reset_index(drop=True),
        predictions,
        meta,
    )


def write_reference(folder: Path, predictor) -> Path | None:
    """reference.parquet in a model folder being written (called by Predictor.save): built from
    the fit's training sample, or copied from the folder the predictor was loaded from."""
    folder = Path(folder)
    try:
        sample = getattr(predictor, "_sample", None)
        if sample is not None:
            return save_reference(reference_of_fit(predictor, sample), folder / FILE)
        source = getattr(predictor, "_folder", None)
        if source is not None and (Path(source) / FILE).is_file():
            shutil.copyfile(Path(source) / FILE, folder / FILE)
            return folder / FILE
    except Exception as exc:  # the model is what is being saved; without a reference, monitoring asks for one
        (folder / FILE).unlink(missing_ok=True)
        warnings.warn(
            f"training reference not written ({type(exc).__name__}: {exc}); monitoring will need --reference",
            UserWarning,
            stacklevel=3,
        )
    return None


def reference_of_fit(predictor, sample) -> Reference:
    """The Reference of a freshly fitted predictor from its TrainingSample (assay.fit)."""
    task = predictor._task
    return build_reference(
        sample.rows,
        input_kinds(predictor),
        target=sample.target,
        raw=sample.oof,
        classes=task.classes if task.is_classification else None,
        n_train_rows=sample.n_rows,
        prediction_source="out-of-fold" if sample.oof is not None else None,
        estimate=training_estimate(predictor),
        seed=predictor.seed,
    )


TRAINED_SHARE = 0.5  # a given reference with this share of training rows has in-sample predictions


def reference_from_data(predictor, data, *, seed: int = 0) -> Reference:
    """A Reference built from rows the user hands over: the training table (for folders saved
    without a reference), or any baseline, such as last month's rows. The model's predictions of
    rows it was trained on are in-sample, more confident than on new rows, and would show as
    prediction drift on day one; so when most given rows were training rows (by the row hashes
    the model keeps), the reference carries no predictions and prediction drift is not measured
    (the notes say so). Rows the model never saw are predicted like recent ones and compared."""
    frame = _cleaned(predictor, data)
    target = frame[predictor.target] if predictor.target in frame.columns else None
    kinds = input_kinds(predictor)
    task = predictor._task
    inputs = frame[list(kinds)]
    raw, source = None, None
    if trained_share(predictor, frame) < TRAINED_SHARE:
        raw = predictor._ensemble.predict_raw(predictor._preprocessor.transform(inputs))
        source = "the model's predictions of the reference rows (not training rows)"
    return build_reference(
        inputs,
        kinds,
        target=target,
        raw=raw,
        classes=task.classes if task.is_classification else None,
        n_train_rows=len(frame),
        prediction_source=source,
        estimate=training_estimate(predictor),
        seed=seed,
    )


def trained_share(predictor, frame: pd.DataFrame) -> float:
    """The share of distinct rows of `frame` that the model was trained on."""
    from assay.data.leakage import row_hashes

    columns = list(predictor.info.get("hashed_columns") or [])
    known = getattr(predictor, "_row_hashes", None)
    if not columns or known is None or any(c not in frame.columns for c in columns) or frame.empty:
        return 0.0
    mine = row_hashes(frame, columns)
    return float(np.isin(mine, known).mean())


def load_reference(predictor) -> Reference:
    """The model's own reference: in memory after a fit, else reference.parquet in its folder."""
    sample = getattr(predictor, "_sample", None)
    if sample is not None:
        return reference_of_fit(predictor, sample)
    folder = getattr(predictor, "_folder", None)
    path = None if folder is None else Path(folder) / FILE
    if path is None or not path.is_file():
        where = str(folder) if folder is not None else "this Predictor"
        raise ArtifactError(
            problem(
                "the model has no training reference to compare new rows with (saved by an assay "
                "release older than monitoring, or never saved)",
                where=where,
                fix="pass the training data: `assay monitor MODEL --data recent.csv --reference train.csv` "
                "(reference=... in Python), or refit and save the model",
            )
        )
    return read_reference(path)


def save_reference(reference: Reference, path: Path) -> Path:
    """One Parquet file: the rows with the labels and predictions as extra columns, and the
    kinds and meta as JSON in the file's metadata. Column names are stored as text (Parquet
    requires it); the metadata keeps the originals so numbers-as-names come back as numbers."""
    frame = reference.rows.copy()
    originals = list(frame.columns)
    frame.columns = [str(c) for c in originals]
    if reference.target is not None:
        frame[_TARGET] = reference.target.to_numpy()
    if reference.predictions is not None:
        for col in reference.predictions.columns:
            name = _PRED if col == "prediction" and len(reference.predictions.columns) == 1 else _PROBA + str(col)
            frame[name] = reference.predictions[col].to_numpy(dtype=float)
    for c in [c for c in frame.columns if _mixed(frame[c])]:
        frame[c] = frame[c].map(lambda v: v if pd.isna(v) else str(v))
    table = pa.Table.from_pandas(frame, preserve_index=False)
    meta = {**reference.meta, "columns": [_plain(c) for c in originals], "kinds": list(reference.kinds.items())}
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), _META_KEY: json.dumps(meta).encode()})
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def read_reference(path: Path) -> Reference:
    try:
        table = pq.read_table(path)
        meta = json.loads((table.schema.metadata or {})[_META_KEY])
    except (OSError, KeyError, ValueError, pa.ArrowException) as exc:
        raise ArtifactError(
            problem(
                f"the training reference cannot be read ({type(exc).__name__})",
                where=str(path),
                fix="save the model again, or pass --reference train.csv",
            )
        ) from exc
    if meta.get("format", 0) > FORMAT:
        raise ArtifactError(
            problem(
                f"the training reference has format {meta.get('format')}, newer than this assay reads ({FORMAT})",
                where=str(path),
                fix="upgrade assay",
            )
        )
    frame = table.to_pandas()
    originals = meta.pop("columns")
    kinds = {name: kind for name, kind in meta.pop("kinds")}
    rows = frame.iloc[:, : len(originals)].copy()
    rows.columns = originals
    target = frame[_TARGET] if _TARGET in frame.columns else None
    predictions = None
    if _PRED in frame.columns:
        predictions = pd.DataFrame({"prediction": frame[_PRED].to_numpy(dtype=float)})
    else:
        proba = [c for c in frame.columns if str(c).startswith(_PROBA)]
        if proba:
            predictions = pd.DataFrame({c[len(_PROBA) :]: frame[c].to_numpy(dtype=float) for c in proba})
    return Reference(rows, kinds, target, predictions, meta)


def input_kinds(predictor) -> dict:
    """Each input column the model uses and how its preprocessor treats it (dropped ones, such as
    identifiers and constants, are not inputs and cannot drift in a way that matters)."""
    return {plan.name: plan.kind for plan in predictor._preprocessor.plans_}


def training_estimate(predictor) -> dict | None:
    """The validation estimate of the model's metric with its 95 % bootstrap interval (from
    diagnostics.json), else the bare validation score of the ensemble."""
    metric = predictor.info["metric"]
    validation = (getattr(predictor, "_diagnostics", None) or {}).get("validation") or {}
    interval = (validation.get("metrics") or {}).get(metric)
    if interval and interval.get("value") is not None:
        return {
            "metric": metric,
            "value": interval["value"],
            "low": interval.get("low"),
            "high": interval.get("high"),
            "n": interval.get("n"),
            "source": "validation (out-of-fold), 95 % bootstrap interval",
        }
    score = (predictor.info.get("ensemble") or {}).get("validation_score")
    if score is None:
        return None
    return {"metric": metric, "value": score, "low": None, "high": None, "n": None, "source": "validation score"}


def _cleaned(predictor, data) -> pd.DataFrame:
    """Rows as the model takes them: read, cleaned by the training schema, held to the input contract."""
    frame, report = predictor._contract(data, strict=False)
    report.enforce(stacklevel=4)
    return frame


def _sample(n: int, seed: int) -> np.ndarray:
    if n <= MAX_ROWS:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=MAX_ROWS, replace=False))


def _mixed(col: pd.Series) -> bool:
    """Object columns holding more than one Python type (numbers and text), which Arrow refuses:
    they are stored as text, which is how a category compares anyway."""
    if col.dtype != object:
        return False
    types = {type(v) for v in col.dropna().head(1000)}
    return len(types) > 1


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value
