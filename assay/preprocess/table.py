"""The first pipeline step: cleaned columns in, model-ready columns out, same for every family.

Each column is handled by its kind in the schema (assay.data.schema): numbers and booleans
pass through; categories get a vocabulary (rare values pooled); dates become calendar parts
and elapsed time; free text becomes statistics and TF-IDF directions (assay.preprocess.text);
identifiers, constants and empty columns are dropped with the reason. Everything here is
learned from training rows only and without the target, so it is safe outside the folds;
whatever needs the target (target encoding) happens inside each family, on its own fold.

Categoricals leave as a pandas `category` dtype with fixed categories, so every fold and every
family sees identical codes. The state is plain JSON: the input contract is readable in the
saved folder.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from assay.data.clean import float_block
from assay.errors import SchemaError, problem
from assay.preprocess.text import fit_text, text_features

OTHER = "__other__"  # pooled rare categories, and categories first seen at prediction time
FEW_ROWS = 64  # up to this many rows (a serving request), per-value Python beats pandas' set-up costs


@dataclass
class ColumnPlan:
    name: str
    kind: str  # "numeric" | "categorical" | "datetime" | "text"
    dtype: str  # the dtype seen in training, for the schema
    categories: list[str] = field(default_factory=list)
    state: dict = field(default_factory=dict)  # datetime: which parts vary; text: TF-IDF state


_DROPPED_KINDS = {"identifier": "identifier-like (unique per row)", "constant": "constant", "empty": "mostly empty"}
_DATE_PARTS = ("year", "month", "day", "dayofweek", "hour")


class TablePreprocessor:
    def __init__(self, max_categories: int = 256, min_category_count: int = 3):
        self.max_categories = max_categories
        self.min_category_count = min_category_count

    def fit(self, X: pd.DataFrame, schema=None) -> TablePreprocessor:
        """Plan every column; `schema` (assay.data.schema.Schema) decides kinds, else dtypes do."""
        self.input_columns_ = list(X.columns)
        self.plans_: list[ColumnPlan] = []
        self.dropped_: dict[str, str] = {}
        for name, col in X.items():
            kind = schema.kind_of(name) if schema is not None and name in schema else None
            reason = _DROPPED_KINDS.get(kind) or _useless(col)
            if reason:
                self.dropped_[name] = reason
            elif kind == "datetime" or (kind is None and pd.api.types.is_datetime64_any_dtype(col)):
                self.plans_.append(ColumnPlan(name, "datetime", str(col.dtype), state=_date_state(col)))
            elif kind == "text":
                self.plans_.append(ColumnPlan(name, "text", str(col.dtype), state=fit_text(col)))
            elif kind in ("numeric", "boolean") or (kind is None and _is_numeric(col)):
                self.plans_.append(ColumnPlan(name, "numeric", str(col.dtype)))
            else:
                self.plans_.append(ColumnPlan(name, "categorical", str(col.dtype), self._vocabulary(col)))
        return self

    def _vocabulary(self, col: pd.Series) -> list[str]:
        counts = category_text(col).value_counts()
        keep = counts[counts >= self.min_category_count].index[: self.max_categories - 1].tolist()
        if len(keep) < len(counts):
            keep.append(OTHER)
        return keep

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        self.check_columns(X)
        numbers = _number_block(X, [p.name for p in self.plans_ if p.kind == "numeric"])
        out = {}
        for plan in self.plans_:
            if plan.name in numbers:
                out[plan.name] = numbers[plan.name]
                continue
            col = X[plan.name]
            if plan.kind == "numeric":
                values = pd.to_numeric(col, errors="coerce").astype(float).to_numpy()
                out[plan.name] = np.where(np.isinf(values), np.nan, values)
            elif plan.kind == "datetime":
                out.update(_date_features(col, plan))
            elif plan.kind == "text":
                out.update(text_features(col, plan.state, plan.name))
            else:
                keys = category_keys(col)
                dtype = self._category_dtype(plan)
                codes = self._category_codes(plan, dtype, keys)  # -1: missing, or a level never seen
                # unseen levels: pooled where training pooled rare ones, else missing
                unseen = (codes < 0) & (keys != None)  # noqa: E711  (elementwise)
                if unseen.any():
                    codes[unseen] = dtype.categories.get_loc(OTHER) if OTHER in plan.categories else -1
                out[plan.name] = pd.Categorical.from_codes(codes, dtype=dtype)
        return labelled_frame(out, X.index)

    def _category_dtype(self, plan: ColumnPlan) -> pd.CategoricalDtype:
        """One dtype per categorical column, built once: the fixed categories every row is coded by."""
        cache = self.__dict__.setdefault("_dtypes", {})
        if plan.name not in cache:
            cache[plan.name] = pd.CategoricalDtype(plan.categories)
        return cache[plan.name]

    def _category_codes(self, plan: ColumnPlan, dtype: pd.CategoricalDtype, keys: np.ndarray) -> np.ndarray:
        """Each key's position among the plan's categories, -1 if none. A dictionary for a few
        rows (pandas' indexer costs more to set up than a one-row request's whole transform)."""
        if len(keys) > FEW_ROWS:
            return dtype.categories.get_indexer(keys)
        cache = self.__dict__.setdefault("_positions", {})
        if plan.name not in cache:
            cache[plan.name] = {c: i for i, c in enumerate(plan.categories)}
        positions = cache[plan.name]
        return np.array([positions.get(k, -1) for k in keys.tolist()], dtype=np.intp)

    def check_columns(self, X: pd.DataFrame) -> None:
        """The input contract: every training column present; extra columns are ignored."""
        missing = self.missing_columns(X)
        if missing:
            raise SchemaError(missing_columns_message(missing))
        extra = self.extra_columns(X)
        if extra:
            warnings.warn(extra_columns_message(extra), stacklevel=3)

    def missing_columns(self, X: pd.DataFrame) -> list[str]:
        """Training columns absent from X (those dropped in training may be absent)."""
        return [c for c in self.input_columns_ if c not in X.columns and c not in self.dropped_]

    def extra_columns(self, X: pd.DataFrame, ignore=()) -> list[str]:
        return [c for c in X.columns if c not in self.input_columns_ and c not in ignore]

    def to_dict(self) -> dict:
        return {
            "max_categories": self.max_categories,
            "min_category_count": self.min_category_count,
            "input_columns": self.input_columns_,
            "dropped": self.dropped_,
            "columns": [asdict(p) for p in self.plans_],
        }

    @classmethod
    def from_dict(cls, d: dict) -> TablePreprocessor:
        pre = cls(d["max_categories"], d["min_category_count"])
        pre.input_columns_ = d["input_columns"]
        pre.dropped_ = d["dropped"]
        pre.plans_ = [ColumnPlan(**p) for p in d["columns"]]
        return pre


def labelled_frame(columns: dict, index: pd.Index) -> pd.DataFrame:
    """A frame of `columns` with object labels. Built on integer keys and labelled afterwards:
    pandas 3 would otherwise infer Arrow-backed string labels, which cost more than the values to
    build and to select from, for the few rows of a serving request."""
    frame = pd.DataFrame(dict(enumerate(columns.values())), index=index)
    frame.columns = pd.Index(list(columns), dtype=object)
    return frame


def number_block(frame: pd.DataFrame, names: list, kinds: str = "fiub") -> tuple[list, np.ndarray]:
    """(the columns among `names` stored as NumPy numbers of `kinds`, their values as one float
    array, a column each). For the prediction path: taking the columns as one block instead of
    one Series each was most of the cost of a few rows (a single-row request)."""
    columns = frame.columns.tolist()
    where = {name: i for i, name in enumerate(columns)}
    dtypes = frame.dtypes.tolist()
    plain = [
        n for n in names if n in where and isinstance(dtypes[where[n]], np.dtype) and dtypes[where[n]].kind in kinds
    ]
    if not plain:
        return [], np.empty((len(frame), 0))
    return plain, float_block(frame, [where[n] for n in plain], dtypes)


def _number_block(X: pd.DataFrame, names: list) -> dict[str, np.ndarray]:
    """The numeric columns already stored as NumPy numbers, as floats with infinities made
    missing; new arrays, never views of X."""
    plain, block = number_block(X, names)
    block = np.where(np.isinf(block), np.nan, block)
    return dict(zip(plain, block.T, strict=True))


def missing_columns_message(missing: list) -> str:
    return problem(
        f"data lacks {len(missing)} column(s) the model was trained on: {missing[:20]}",
        where="prediction data",
        fix="supply every training column (values may be missing)",
    )


def extra_columns_message(extra: list) -> str:
    return f"ignoring {len(extra)} column(s) the model was not trained on: {extra[:20]}"


def as_dates(col: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(col):
        return col.dt.tz_localize(None) if getattr(col.dt, "tz", None) is not None else col
    return pd.to_datetime(col, errors="coerce", format="mixed")


def _date_state(col: pd.Series) -> dict:
    """Which calendar parts vary in training (a part that never changes is no feature)."""
    dates = as_dates(col).dropna()
    parts = [p for p in _DATE_PARTS if _date_part(dates, p).nunique() > 1]
    return {"parts": parts}


def _date_features(col: pd.Series, plan: ColumnPlan) -> dict[str, np.ndarray]:
    dates = as_dates(col)
    out = {
        f"{plan.name}__{p}": _date_part(dates, p).to_numpy(dtype=float, na_value=np.nan) for p in plan.state["parts"]
    }
    elapsed = (dates - pd.Timestamp("1970-01-01")).dt.total_seconds() / 86400.0
    out[f"{plan.name}__days_since_1970"] = elapsed.to_numpy(dtype=float, na_value=np.nan)
    return out


def _date_part(dates: pd.Series, part: str) -> pd.Series:
    """A calendar part; "dayofweek" keeps its saved name but reads pandas' non-deprecated one."""
    return getattr(dates.dt, "day_of_week" if part == "dayofweek" else part)


def _is_numeric(col: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)


def category_text(col: pd.Series) -> pd.Series:
    """Category values as trimmed strings, missing kept missing, 1 and 1.0 spelled alike."""
    return pd.Series(category_keys(col), index=col.index, name=col.name, dtype=object)


def category_keys(col: pd.Series) -> np.ndarray:
    """category_text's values as an object array (None where missing), without building a Series:
    what the few-row paths compare against a vocabulary."""
    values = col.to_numpy(dtype=object)
    missing = pd.isna(values)
    return np.array([None if gone else _category_key(v) for v, gone in zip(values, missing, strict=True)], dtype=object)


def _category_key(v) -> str:
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v).strip()


def _useless(col: pd.Series) -> str | None:
    n_valid = int(col.notna().sum())
    if n_valid == 0:
        return "all values missing"
    if col.nunique(dropna=True) <= 1 and n_valid == len(col):
        return "constant"
    return None
