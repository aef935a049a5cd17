"""The input contract at prediction time: every batch is held to what the model was trained on.

At training time, cleaning (assay.data.clean) turning an unreadable value into a missing one is
a fix worth logging; at prediction time it turns into a prediction made from a guess, and nobody
would know. So before rows reach the model, each column is compared with the fitted
preprocessor's plan for it and whatever did not fit is named, counted and located:

  missing column      always an error (SchemaError): no sound prediction without it
  extra column        ignored, with a warning
  wrong type          a value unreadable as the trained kind ("abc" in a numeric column, a date
                      that does not parse): set missing with a warning naming the column, count,
                      first rows and examples; an error with strict=True
  unreadable column   every present value of a column is of the wrong type: always an error,
                      since imputing the whole column would silently predict from nothing
  unseen category     a level the model never saw: pooled into "__other__" (or read as missing
                      where training kept every level); reported as information
  respelled category  "male" where training saw "Male": given the training spelling (information)

Rows are 0-based positions in the data as handed over, not index labels; for a delimited file
the line is usually row + 2 (the header is line 1), which the report gives as ``line_offset``.
The report is plain data (``to_dict``), so a server can return it as per-field errors.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from assay.data.schema import as_text, is_sentinel, parse_numbers
from assay.errors import SchemaError, problem
from assay.preprocess.table import (
    FEW_ROWS,
    OTHER,
    TablePreprocessor,
    as_dates,
    category_keys,
    category_text,
    extra_columns_message,
    missing_columns_message,
    number_block,
)

MAX_ROWS = 10  # row numbers listed per issue
_ERRORS = ("missing_column", "unreadable_column")


class SchemaWarning(UserWarning):
    """Prediction data departs from the model's input schema in a way that was worked around."""


@dataclass
class ColumnIssue:
    column: str
    issue: str  # missing_column | extra_column | wrong_type | unreadable_column | unseen_category | respelled_category
    severity: str  # error | warning | info
    expected: str = ""  # the kind the model was trained on
    count: int = 0  # values concerned
    rows: list[int] = field(default_factory=list)  # first MAX_ROWS 0-based positions
    examples: list[str] = field(default_factory=list)
    note: str = ""

    def describe(self, line_offset: int | None = None) -> str:
        where = f"column {self.column!r}"
        if self.issue == "missing_column":
            return f"{where} ({self.expected}) is missing"
        if self.issue == "extra_column":
            return f"{where} was not in training: ignored"
        rows = ", ".join(map(str, self.rows)) + (", ..." if self.count > len(self.rows) else "")
        lines = f"; file lines {', '.join(str(r + line_offset) for r in self.rows)}" if line_offset else ""
        say = {
            "wrong_type": f"{self.count:,} value(s) not readable as {self.expected}, set missing",
            "unreadable_column": f"none of its {self.count:,} value(s) reads as {self.expected}",
            "unseen_category": f"{self.count:,} value(s) of categories not seen in training (or too rare to keep)",
            "respelled_category": f"{self.count:,} value(s) respelled as in training",
        }[self.issue]
        tail = f" ({self.note})" if self.note else ""
        return f"{where}: {say} (e.g. {', '.join(self.examples)}; rows {rows}{lines}){tail}"


@dataclass
class ContractReport:
    """What a batch did not fit in the model's input schema, column by column."""

    n_rows: int
    issues: list[ColumnIssue] = field(default_factory=list)
    strict: bool = False
    line_offset: int | None = None  # file line = row + line_offset, where known

    @property
    def errors(self) -> list[ColumnIssue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[ColumnIssue]:
        return [i for i in self.issues if i.severity == "warning"]

    @property
    def notes(self) -> list[ColumnIssue]:
        return [i for i in self.issues if i.severity == "info"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def describe(self) -> list[str]:
        return [f"{i.severity}: {i.describe(self.line_offset)}" for i in self.issues]

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "n_rows": self.n_rows,
            "strict": self.strict,
            "row_numbering": "0-based position",
            "line_offset": self.line_offset,
            "issues": [asdict(i) for i in self.issues],
        }

    def enforce(self, stacklevel: int = 2) -> None:
        """Raise one SchemaError naming every error; otherwise warn once per warning."""
        missing = [i.column for i in self.errors if i.issue == "missing_column"]
        if missing:
            raise SchemaError(missing_columns_message(missing))
        if self.errors:
            lines = "; ".join(i.describe(self.line_offset) for i in self.errors)
            fix = "correct these values or the column types"
            if any(i.issue == "wrong_type" for i in self.errors):
                fix += ", or predict without strict to set them missing"
            raise SchemaError(problem(lines, where="prediction data", fix=fix))
        extra = [i.column for i in self.warnings if i.issue == "extra_column"]
        if extra:
            warnings.warn(extra_columns_message(extra), SchemaWarning, stacklevel=stacklevel)
        for issue in self.warnings:
            if issue.issue != "extra_column":
                text = issue.describe(self.line_offset) + "; pass strict=True (--strict) to refuse such data"
                warnings.warn(text, SchemaWarning, stacklevel=stacklevel)


def check_contract(
    raw: pd.DataFrame,
    cleaned: pd.DataFrame,
    preprocessor: TablePreprocessor,
    *,
    schema=None,
    target=None,
    strict: bool = False,
    line_offset: int | None = None,
) -> tuple[pd.DataFrame, ContractReport]:
    """(the frame to transform, the report). `raw` is the batch as read, `cleaned` the same batch
    after clean_frame with the training schema (row for row); `schema` only names kinds."""
    report = ContractReport(len(raw), strict=strict, line_offset=line_offset)
    kinds = {p.name: p.kind for p in preprocessor.plans_}
    if schema is not None:
        kinds.update({c.name: c.kind for c in schema if c.name in kinds})
    for name in preprocessor.missing_columns(raw):
        report.issues.append(ColumnIssue(str(name), "missing_column", "error", kinds.get(name, "")))
    extra = preprocessor.extra_columns(raw, ignore=() if target is None else (target,))
    report.issues += [ColumnIssue(str(name), "extra_column", "warning") for name in extra]
    out = cleaned.drop(columns=extra) if extra else cleaned.copy(deep=False)
    kept = _numbers_kept(raw, cleaned, [p.name for p in preprocessor.plans_ if p.kind == "numeric"])
    for plan in preprocessor.plans_:
        if plan.name not in raw.columns or plan.name in kept:
            continue
        if plan.kind in ("numeric", "datetime"):
            report.issues += _wrong_type(raw[plan.name], cleaned[plan.name], plan.kind, kinds[plan.name], strict)
        elif plan.kind == "categorical":
            new, issues = _categories(cleaned[plan.name], plan.categories)
            report.issues += issues
            if new is not None:
                out[plan.name] = new.to_numpy()  # positional: the index may repeat labels
    return out, report


def _wrong_type(raw: pd.Series, cleaned: pd.Series, plan_kind: str, kind: str, strict: bool) -> list[ColumnIssue]:
    """Present values that the model would see as missing, infinities aside."""
    if plan_kind == "numeric" and _plain_numbers(raw) and _plain_numbers(cleaned):
        # numbers in and out (the usual case, and the whole of a small request's cost here)
        lost = np.isnan(cleaned.to_numpy(dtype=float)) & ~np.isnan(raw.to_numpy(dtype=float))
    elif plan_kind == "numeric":
        if pd.api.types.is_datetime64_any_dtype(cleaned) or pd.api.types.is_timedelta64_dtype(cleaned):
            seen = pd.Series(np.nan, index=cleaned.index)  # a date is no amount, whatever its integer
        else:
            seen = pd.to_numeric(cleaned, errors="coerce")
        lost = (seen.isna() & raw.notna()).to_numpy()
    else:
        lost = (as_dates(cleaned).isna() & raw.notna()).to_numpy()
    if not lost.any():
        return []
    text = as_text(raw[lost])
    real = ~is_sentinel(text).to_numpy()
    if plan_kind == "numeric":
        real &= ~np.isinf(parse_numbers(text).to_numpy())
    bad = np.zeros(len(raw), dtype=bool)
    bad[np.flatnonzero(lost)[real]] = True
    if not bad.any():
        return []
    present = int(raw.notna().sum()) - int((~real).sum())
    issue = "unreadable_column" if int(bad.sum()) >= present else "wrong_type"
    severity = "error" if issue == "unreadable_column" or strict else "warning"
    rows = np.flatnonzero(bad)[:MAX_ROWS].tolist()
    return [ColumnIssue(str(raw.name), issue, severity, kind, int(bad.sum()), rows, _examples(raw[bad]))]


def _numbers_kept(raw: pd.DataFrame, cleaned: pd.DataFrame, names: list) -> set:
    """Numeric columns stored as NumPy numbers before and after cleaning in which cleaning lost no
    value (nothing for _wrong_type to report). One block comparison instead of two Series per
    column: that was most of the contract's cost for a few rows (a prediction request)."""
    plain, now = number_block(cleaned, names)
    kept, before = number_block(raw, plain)
    plain, now = _subset(plain, now, kept)
    if not plain:
        return set()
    lost = (np.isnan(now) & ~np.isnan(before)).any(axis=0)
    return {n for n, gone in zip(plain, lost, strict=True) if not gone}


def _subset(names: list, block: np.ndarray, keep: list) -> tuple[list, np.ndarray]:
    if len(keep) == len(names):
        return names, block
    keep = set(keep)
    idx = [i for i, n in enumerate(names) if n in keep]
    return [names[i] for i in idx], block[:, idx]


def _plain_dtype(dtype) -> bool:
    return isinstance(dtype, np.dtype) and dtype.kind in "fiub"


def _plain_numbers(col: pd.Series) -> bool:
    """A NumPy number or boolean column: NaN is its only missing value."""
    return _plain_dtype(col.dtype)


def _categories(cleaned: pd.Series, categories: list[str]) -> tuple[pd.Series | None, list[ColumnIssue]]:
    """Respell levels that differ from a trained one only by case; report levels never seen.
    String work is done once per distinct value, as in clean.py."""
    if len(cleaned) <= FEW_ROWS:
        known = set(categories)
        if all(k is None or k in known for k in category_keys(cleaned).tolist()):
            return None, []  # every level known (a serving request, usually): nothing to report
    codes, uniques = pd.factorize(cleaned, use_na_sentinel=True)
    keys = category_text(pd.Series(np.asarray(uniques, dtype=object)))
    outside = ~keys.isin(set(categories)).to_numpy()
    if not outside.any():
        return None, []
    lower = pd.Series(categories, dtype=object).str.lower()
    unique = lower[~lower.duplicated(keep=False)]
    spelling = dict(zip(unique, np.asarray(categories, dtype=object)[unique.index], strict=True))
    spelling.pop(OTHER.lower(), None)
    fixed = keys.str.lower().map(spelling).where(outside)
    respelled = fixed.notna().to_numpy()
    counts = np.bincount(codes[codes >= 0], minlength=len(keys))

    def issue(kind: str, mask: np.ndarray, shown: pd.Series, note: str = "") -> ColumnIssue:
        """`mask` and `shown` (the examples' text) are per distinct value; the most frequent first."""
        rows = np.flatnonzero(mask[codes] & (codes >= 0))[:MAX_ROWS].tolist()
        top = np.flatnonzero(mask)[np.argsort(-counts[mask], kind="stable")][:3]
        n = int(counts[mask].sum())
        return ColumnIssue(str(cleaned.name), kind, "info", "categorical", n, rows, shown.iloc[top].tolist(), note)

    issues, new = [], None
    if respelled.any():
        shown = keys.map(repr) + " -> " + fixed.map(repr, na_action="ignore")
        issues.append(issue("respelled_category", respelled, shown))
        final = keys.where(~respelled, fixed).to_numpy(dtype=object)
        new = pd.Series(np.where(codes >= 0, final[codes], None), index=cleaned.index, dtype=object)
    unseen = outside & ~respelled
    if unseen.any():
        note = f"pooled into {OTHER!r}" if OTHER in categories else "read as missing: training kept every level"
        issues.append(issue("unseen_category", unseen, keys.map(repr), note))
    return new, issues


def _examples(values: pd.Series, k: int = 3) -> list[str]:
    """The most frequent distinct values, as the user wrote them."""
    return [repr(v) for v in values.iloc[:10_000].value_counts().index[:k]]
