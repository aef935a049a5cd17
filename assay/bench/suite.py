"""The shared benchmark protocol, in one place, so every system is scored on the same rows.

shared/datasets/README.md fixes the protocol: drop rows with a missing target, drop classes with
fewer than 2 members, one 80/20 split with random_state=0 (stratified for classification), and a
metric per task kind (binary ROC AUC, multiclass log loss, regression RMSE) turned into an error
that is floored at 1e-4. Figures only compare when this code is shared, hence a module of its own
rather than a copy inside each script.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from sklearn.metrics import accuracy_score, r2_score, roc_auc_score
from sklearn.model_selection import train_test_split

from assay.data.read import read_table

TASKS = ("binary", "multiclass", "regression")
METRIC_OF_TASK = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}
EXTRA_OF_TASK = {"binary": "accuracy", "multiclass": "accuracy", "regression": "r2"}
ERROR_FLOOR = 1e-4
TEST_SIZE = 0.2
SPLIT_SEED = 0
_PROBA_EPS = 1e-15  # the clip assay's own log loss uses, so both numbers are the same function


class BenchError(ValueError):
    """A suite file, a dataset or a set of predictions that the protocol cannot score."""


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    path: Path
    target: str
    task: str


@dataclass(frozen=True)
class Score:
    metric: str
    value: float  # as people read it: AUC, log loss, RMSE
    error: float  # lower is better, floored at ERROR_FLOOR
    extra_metric: str
    extra_value: float


def load_suite(path) -> list[DatasetSpec]:
    """The datasets of a suite: a YAML file, or a folder of PMLB-style datasets (see load_folder).

    In a YAML file, `path` entries are absolute, or relative to the file's `root:` when it names one,
    or to the file's own folder when the file is there, or else to the datasets folder above suites/
    (the layout of shared/datasets, where suites/public.yaml lives).
    """
    path = Path(path)
    if path.is_dir():
        return load_folder(path)
    if not path.is_file():
        raise BenchError(f"suite file not found: {path}")
    doc = yaml.safe_load(path.read_text()) or {}
    here = path.resolve().parent
    root = (here / doc["root"]).resolve() if doc.get("root") else None
    specs, seen = [], set()
    for i, entry in enumerate(doc.get("datasets") or []):
        missing = [k for k in ("name", "path", "target", "task") if not entry.get(k)]
        if missing:
            raise BenchError(f"{path}: dataset #{i + 1} lacks {', '.join(missing)}")
        if entry["task"] not in TASKS:
            raise BenchError(f"{path}: dataset {entry['name']!r} has unknown task {entry['task']!r}")
        if entry["name"] in seen:
            raise BenchError(f"{path}: dataset name {entry['name']!r} appears twice")
        seen.add(entry["name"])
        specs.append(
            DatasetSpec(str(entry["name"]), _entry_path(entry["path"], here, root), str(entry["target"]), entry["task"])
        )
    if not specs:
        raise BenchError(f"{path}: no datasets listed")
    return specs


def _entry_path(entry: str, here: Path, root: Path | None) -> Path:
    entry = Path(entry)
    if entry.is_absolute():
        return entry
    if root is not None:
        return root / entry
    if (here / entry).exists():
        return here / entry
    return here.parent / entry


def suite_name(path) -> str:
    """The suite's `name:` (YAML) or its file or folder name: how results say which suite they hold."""
    path = Path(path)
    if path.is_file():
        doc = yaml.safe_load(path.read_text()) or {}
        if isinstance(doc, dict) and doc.get("name"):
            return str(doc["name"])
        return path.stem
    return path.resolve().name


def load_folder(folder: Path) -> list[DatasetSpec]:
    """Every PMLB-style dataset under `folder`: a sub-folder NAME holding NAME.tsv.gz (or a CSV or
    Parquet file) and metadata.yaml, whose `task` and target type give the protocol's task; the
    label column is `target` unless the metadata names another. A folder that is itself one such
    dataset is a suite of one."""
    folder = Path(folder)
    candidates = [folder] if (folder / "metadata.yaml").is_file() else sorted(p for p in folder.iterdir() if p.is_dir())
    specs = [spec for d in candidates if (spec := _folder_dataset(d)) is not None]
    if not specs:
        raise BenchError(f"{folder}: no dataset folders with a metadata.yaml and a data file")
    return specs


def _folder_dataset(folder: Path) -> DatasetSpec | None:
    meta_path = folder / "metadata.yaml"
    if not meta_path.is_file():
        return None
    files = [folder / f"{folder.name}{ext}" for ext in (".tsv.gz", ".tsv", ".csv.gz", ".csv", ".parquet")]
    files = [f for f in files if f.is_file()]
    if not files:
        return None
    meta = yaml.safe_load(meta_path.read_text()) or {}
    target_meta = meta.get("target") if isinstance(meta.get("target"), dict) else {}
    target = str(target_meta.get("name") or "target")
    if meta.get("task") == "regression":
        task = "regression"
    elif target_meta.get("type") == "binary":
        task = "binary"
    elif target_meta.get("type") in ("categorical", "nominal", "ordinal"):
        task = "multiclass"
    else:  # a classification target typed "continuous" (PMLB has a few): count its classes
        values = read_table(files[0])[target].dropna()
        task = "binary" if values.nunique() == 2 else "multiclass"
    return DatasetSpec(folder.name, files[0], target, task)


def read_dataset(spec: DatasetSpec) -> pd.DataFrame:
    """The raw frame, read the way assay reads files, so both systems start from the same table."""
    frame = read_table(spec.path)
    if spec.target not in frame.columns:
        raise BenchError(f"{spec.name}: target column {spec.target!r} not in {list(frame.columns)[:20]}")
    return frame


def protocol_split(frame: pd.DataFrame, target: str, task: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The one fixed outer split: (train, test), both with the target column and a fresh index."""
    if task not in TASKS:
        raise BenchError(f"unknown task {task!r}; use one of {', '.join(TASKS)}")
    frame = frame[frame[target].notna()].reset_index(drop=True)
    stratify = None
    if task != "regression":
        keys = frame[target].map(class_key)
        common = (keys.map(keys.value_counts()) >= 2).to_numpy()
        frame, stratify = frame[common], pd.factorize(keys[common])[0]
        if len(set(stratify)) < 2:
            raise BenchError(f"target {target!r} has fewer than 2 classes with 2 or more rows")
    if len(frame) < 5:
        raise BenchError(f"target {target!r} leaves {len(frame)} usable rows, too few to split")
    train, test = train_test_split(frame, test_size=TEST_SIZE, random_state=SPLIT_SEED, stratify=stratify)
    return train.reset_index(drop=True), test.reset_index(drop=True)


def class_key(value):
    """One spelling per class label, so 1, 1.0 and np.int64(1) match (assay's own convention)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return int(value) if float(value).is_integer() else float(value)
    return str(value)


def test_error(task: str, y_true, output, classes=None) -> Score:
    """The protocol metric on the test rows.

    `output` is class probabilities (n, K) whose columns are `classes` for classification, or
    predicted values (n,) for regression. Classes are matched by label, not by position, so a
    system may order its columns however it likes.
    """
    if task == "regression":
        return _regression_score(np.asarray(y_true, dtype=float), np.asarray(output, dtype=float))
    if task not in ("binary", "multiclass"):
        raise BenchError(f"unknown task {task!r}")
    if classes is None:
        raise BenchError("classification output needs its class labels")
    proba = np.asarray(output, dtype=float)
    if proba.ndim != 2 or proba.shape != (len(y_true), len(classes)):
        raise BenchError(f"probabilities of shape {proba.shape} for {len(y_true)} rows and {len(classes)} classes")
    if not np.isfinite(proba).all():
        raise BenchError("probabilities contain NaN or infinity")
    index = {class_key(c): i for i, c in enumerate(classes)}
    y_keys = [class_key(v) for v in y_true]
    unseen = sorted({k for k in y_keys if k not in index}, key=str)
    if unseen:  # a class the system never saw gets probability 0, which the log loss punishes
        index.update({k: len(index) + j for j, k in enumerate(unseen)})
        proba = np.hstack([proba, np.zeros((len(proba), len(unseen)))])
    codes = np.array([index[k] for k in y_keys], dtype=np.int64)
    accuracy = float(accuracy_score(codes, np.argmax(proba, axis=1)))
    if task == "binary":
        positive = (codes == 1).astype(int)
        if positive.min() == positive.max():
            raise BenchError("the test rows hold a single class, so ROC AUC is undefined")
        auc = float(roc_auc_score(positive, proba[:, 1]))
        return Score("roc_auc", auc, max(1.0 - auc, ERROR_FLOOR), "accuracy", accuracy)
    p = np.clip(proba, _PROBA_EPS, 1.0)
    p = p / p.sum(axis=1, keepdims=True)
    loss = float(-np.mean(np.log(p[np.arange(len(codes)), codes])))
    return Score("log_loss", loss, max(loss, ERROR_FLOOR), "accuracy", accuracy)


test_error.__test__ = False  # its name starts with "test"; pytest must not collect it on import


def _regression_score(y: np.ndarray, pred: np.ndarray) -> Score:
    if pred.shape != y.shape:
        raise BenchError(f"predictions of shape {pred.shape} for {len(y)} rows")
    if not np.isfinite(pred).all():
        raise BenchError("predictions contain NaN or infinity")
    rmse = float(np.sqrt(np.mean((y - pred) ** 2)))
    return Score("rmse", rmse, max(rmse, ERROR_FLOOR), "r2", float(r2_score(y, pred)))
