"""Column types: what each column is, decided once and reported in plain words.

This module answers "why did my date column become a category?": every :class:`ColumnType`
carries a ``reason`` and a ``source``. Kinds: numeric, categorical, boolean, datetime, text,
identifier, constant, empty.

Who decides, strongest first:
  1. the user: ``--types col=kind`` or a schema file (``overrides=``)               source "user"
  2. facts: >= 95 % missing -> empty; one value and no gaps -> constant (checked on
     every row, not only the sample)                                                 source "inferred"
  3. metadata hints (a PMLB metadata.yaml), when the values allow them; a refused
     hint is named in the reason                                                     source "metadata"
  4. the rules below                                                                 source "inferred"

The rules look at a random sample of up to 10,000 rows (seed 0). Missing means NaN/None or a
placeholder from ``SENTINELS`` ("?", "NA", "N/A", "null", "None", "-", "--", "", spaces; any case).

Numbers (a numeric dtype, or text of which >= 95 % reads as numbers once "1,234", "$5.00",
"12%", " 7 ", "(5)" formatting is removed; digit strings with leading zeros such as "02139" are
codes, not amounts, and follow the text rules):
  - exactly the values 0 and 1 -> boolean;
  - the name hints at time (time, date, ts, epoch, created, updated ...) and every value is a
    Unix time between 1980 and 2100 in s, ms, us or ns -> datetime (details["epoch_unit"]);
  - whole numbers, >= 50 rows, >= 95 % distinct, and either the name says id/key/index or the
    values form a run (max - min + 1 <= 1.1 x distinct, on all rows) -> identifier;
  - whole numbers that are exactly 0..k-1 or 1..k with 3 <= k <= 10, >= 20 rows per value, every
    value in >= 1 % of rows, and a name that does not say count (num, count, qty, year, age ...) ->
    categorical (integer codes). Deliberately conservative: a code kept numeric still works in
    tree models, while a count made categorical loses its order. PMLB stores categories as
    codes and says so in metadata.yaml: pass it as hints.
  - anything else, e.g. cylinders 3..8 or a year -> numeric.
Text:
  - exactly two values, one a true spelling and one a false spelling (true/false, yes/no,
    y/n, t/f, 1/0; any case) -> boolean (details["true_values"], ["false_values"]);
  - numbers -> the number rules;
  - >= 95 % of values parse with one date format -> datetime. ISO 8601 first, then common
    formats with and without times; details["datetime_format"], ["dayfirst"]. Day first is
    chosen only when the day-first reading parses values the month-first one cannot (a first
    field above 12); when both parse everything, month first wins and ["ambiguous"] is True.
  - >= 95 % distinct (>= 20 values) and single words, or a name saying id/key -> identifier;
  - >= 50 % distinct, >= 20 distinct values, and >= 2 words on average or >= 30 characters ->
    text (most values unique, so useless as categories, but the words carry signal);
  - otherwise -> categorical.
The target is only ever numeric (numbers) or categorical (anything else).
A column came out wrong? Its reason names the rule that fired; ``--types col=kind`` settles it.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from assay.errors import ArtifactError, ConfigError, DataError, problem

KINDS = ("numeric", "categorical", "boolean", "datetime", "text", "identifier", "constant", "empty")
SOURCES = ("inferred", "user", "metadata")
SAMPLE_ROWS = 10_000
SENTINELS = frozenset({"", "?", "na", "n/a", "nan", "null", "none", "-", "--", "#n/a"})
TRUE_WORDS = ("true", "yes", "y", "t", "1")
FALSE_WORDS = ("false", "no", "n", "f", "0")
_ALIASES = {"category": "categorical", "cat": "categorical", "nominal": "categorical", "num": "numeric",
            "number": "numeric", "continuous": "numeric", "float": "numeric", "int": "numeric", "bool": "boolean",
            "binary": "boolean", "date": "datetime", "time": "datetime", "timestamp": "datetime",
            "id": "identifier", "string": "text"}  # fmt: skip
_PMLB = {"continuous": "numeric", "discrete": "numeric", "nominal": "categorical", "binary": "boolean"}

_BODY = r"[-+]?\s*[$€£¥]?\s*[-+]?(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?\s*%?"
NUMBER_PATTERN = rf"\s*(?:\(\s*{_BODY}\s*\)|{_BODY}|[-+]?inf(?:inity)?)\s*"
_DATE_LIKE = (
    r"\s*(?:\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}|\d{1,2}[- ][A-Za-z]{3,9}\.?[- ,]+\d{2,4}"
    r"|[A-Za-z]{3,9}\.? \d{1,2},? \d{2,4}).*"
)
_DATES = ("%m/%d/%Y", "%d/%m/%Y", "%m-%d-%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y/%m/%d", "%Y.%m.%d", "%m/%d/%y",
          "%d/%m/%y", "%d.%m.%y", "%d-%b-%Y", "%d-%b-%y", "%d %b %Y", "%d %B %Y", "%b %d, %Y", "%B %d, %Y",
          "%b %d %Y", "%B %d %Y")  # fmt: skip
_TIMES = ("", " %H:%M", " %H:%M:%S", " %H:%M:%S.%f", " %I:%M %p", " %I:%M:%S %p", "T%H:%M:%S")
DATE_FORMATS = ("ISO8601", *(d + t for t in _TIMES for d in _DATES))
_EPOCH_UNITS = {"s": 1, "ms": 1e3, "us": 1e6, "ns": 1e9}
_EPOCH_RANGE = (315_532_800, 4_102_444_800)  # 1980-01-01 .. 2100-01-01 in seconds
_TIME_NAME = re.compile(r"time|date|epoch|created|updated|modified|(?:^|[^a-z])(?:ts|at)(?:[^a-z]|$)")
_ID_WORDS = {"id", "ids", "uuid", "guid", "key", "index", "idx", "rowid", "pk", "serial"}
_COUNT_PARTS = ("num", "count", "cnt", "qty", "quantit", "total", "year", "room", "size")
_COUNT_WORDS = {"n", "nb", "age", "days", "hours", "times", "rating", "score", "rank", "level", "grade", "stars"}


@dataclass
class ColumnType:
    name: str
    kind: str
    reason: str
    source: str = "inferred"  # "inferred" | "user" | "metadata"
    details: dict = field(default_factory=dict)

    def describe(self) -> str:
        origin = {"user": "set by you", "metadata": "from metadata"}.get(self.source, "inferred")
        return f"{self.name}: {self.kind} ({origin}) - {self.reason}"


@dataclass
class Schema:
    """The ColumnTypes of a table, in column order."""

    columns: list[ColumnType]
    target: str | None = None

    def __iter__(self):
        return iter(self.columns)

    def __len__(self) -> int:
        return len(self.columns)

    def __contains__(self, name) -> bool:
        return name in self._by_name()

    def __getitem__(self, name) -> ColumnType:
        return self._by_name()[name]

    def _by_name(self) -> dict:
        if getattr(self, "_index", (None, None))[0] is not self.columns or len(self._index[1]) != len(self.columns):
            self._index = (self.columns, {c.name: c for c in reversed(self.columns)})
        return self._index[1]

    @property
    def names(self) -> list:
        return [c.name for c in self.columns]

    def kind_of(self, name) -> str:
        return self[name].kind

    def columns_of(self, kind: str) -> list:
        return [c.name for c in self.columns if c.kind == kind]

    def describe(self) -> list[str]:
        return [c.describe().replace(": ", " (target): ", 1) if c.name == self.target else c.describe() for c in self]

    def to_dict(self) -> dict:
        return {"version": 1, "target": self.target, "columns": [asdict(c) for c in self.columns]}

    @classmethod
    def from_dict(cls, d: dict) -> Schema:
        try:
            columns = [ColumnType(**c) for c in d["columns"]]
        except (KeyError, TypeError) as exc:
            raise _error(f"unreadable schema ({exc!r})", "schema", "save the model again", ArtifactError) from exc
        bad = [c.name for c in columns if c.kind not in KINDS or c.source not in SOURCES]
        if bad:
            raise _error(f"schema names unknown kinds for {bad[:5]}", "schema", f"use one of {KINDS}", ArtifactError)
        return cls(columns, target=d.get("target"))


# ---- shared with clean.py --------------------------------------------------------------------


def as_text(col: pd.Series) -> pd.Series:
    """The column as strings (pandas ``str`` dtype), missing values kept missing."""
    return col if isinstance(col.dtype, pd.StringDtype) else col.astype("str")


def is_sentinel(text: pd.Series) -> pd.Series:
    """True where a string is a placeholder for a missing value."""
    return text.str.strip().str.lower().isin(SENTINELS).fillna(False).astype(bool)


def parse_numbers(text: pd.Series) -> pd.Series:
    """Floats from numbers written as text ("1,234", "$5.00", "12%" -> 12.0, "(5)" -> -5.0); NaN
    where the text is not a number. A percent sign is dropped, not divided by 100. Commas are
    accepted only as thousands separators, so "1,5" is not a number (never 15)."""
    ok = text.str.fullmatch(NUMBER_PATTERN, case=False).fillna(False).astype(bool)
    plain = text.str.replace(r"[\s$€£¥,%()]", "", regex=True)
    plain = plain.where(~text.str.strip().str.startswith("(").fillna(False).astype(bool), "-" + plain)
    return pd.to_numeric(plain.where(ok), errors="coerce").astype("float64")


def parse_dates(text: pd.Series, details: dict) -> pd.Series:
    """Datetimes per a column's details (format or epoch unit); NaT where a value fails.
    Values with time zones are converted to UTC and stored without a zone."""
    if "epoch_unit" in details:
        return pd.to_datetime(pd.to_numeric(text, errors="coerce"), unit=details["epoch_unit"], errors="coerce")
    fmt = details.get("datetime_format")
    kw = {"format": fmt} if fmt else {"format": "mixed", "dayfirst": bool(details.get("dayfirst"))}
    try:
        out = pd.to_datetime(text, errors="coerce", **kw)
    except (ValueError, TypeError, OverflowError):
        out = pd.to_datetime(text, errors="coerce", utc=True, **kw)
    if not pd.api.types.is_datetime64_any_dtype(out):
        return pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    return out.dt.tz_convert("UTC").dt.tz_localize(None) if out.dt.tz is not None else out


# ---- inference --------------------------------------------------------------------------------


def infer_schema(
    frame: pd.DataFrame, *, target=None, overrides: dict | None = None, hints: dict | None = None
) -> Schema:
    """One ColumnType per column; see the module docstring for the rules. Hints naming columns
    the frame lacks are ignored (metadata often lists more); overrides must name real columns."""
    overrides, hints = dict(overrides or {}), dict(hints or {})
    if frame.columns.duplicated().any():
        dups = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
        raise _error(f"duplicate column names {dups[:5]}", "header", "give every column a unique name", DataError)
    for name, kind in overrides.items():
        _check_kind(name, kind, "--types")
        if name not in frame.columns:
            close = difflib.get_close_matches(str(name), [str(c) for c in frame.columns], n=3)
            raise _error(
                f"no column named {name!r}", "--types", f"name a column of the table{f', e.g. {close}' * bool(close)}"
            )
    if target is not None and _canon_kind(overrides.get(target, "")) in ("identifier", "text"):
        raise _error(
            f"the target cannot be typed {overrides[target]}", "--types", "type the target numeric or categorical"
        )
    sample = frame
    if len(frame) > SAMPLE_ROWS:
        sample = frame.iloc[np.sort(np.random.default_rng(0).choice(len(frame), SAMPLE_ROWS, replace=False))]
    columns = []
    for i, name in enumerate(frame.columns):
        f = _Facts(sample.iloc[:, i], frame.iloc[:, i])
        if name in overrides:
            columns.append(_apply(name, _canon_kind(overrides[name]), f))
        elif name == target:
            columns.append(_target(name, f))
        else:
            columns.append(_infer(name, f, _canon_kind(hints[name]) if name in hints else None))
    return Schema(columns, target=target)


class _Facts:
    """What the sample shows about one column (`full` is consulted only to confirm a verdict)."""

    def __init__(self, col: pd.Series, full: pd.Series):
        self.full, self.n, self.dtype = full, len(col), col.dtype
        self.sampled = len(full) > len(col)
        self.is_bool = pd.api.types.is_bool_dtype(self.dtype)
        self.is_datetime = pd.api.types.is_datetime64_any_dtype(self.dtype)
        self.is_category = isinstance(self.dtype, pd.CategoricalDtype)
        self.is_number = pd.api.types.is_numeric_dtype(self.dtype) and not self.is_bool
        self.text = self.numbers = self.leading_zeros = None
        if self.is_number:
            v = pd.Series(col.to_numpy(dtype="float64", na_value=np.nan))
            self.numbers = v[np.isfinite(v)]
            self.n_valid, self.n_distinct = len(self.numbers), self.numbers.nunique()
        elif self.is_bool or self.is_datetime:
            self.n_valid, self.n_distinct = int(col.notna().sum()), col.nunique()
        else:
            text = as_text(col)
            self.text = text[text.notna() & ~is_sentinel(text)].str.strip()
            self.n_valid, self.n_distinct = len(self.text), self.text.str.lower().nunique()
        self.missing = 1.0 - self.n_valid / self.n if self.n else 1.0
        self.from_text = self.text is not None and self.n_valid > 0 and self._numbers_from_text()

    def _numbers_from_text(self) -> bool:
        nums = parse_numbers(self.text)
        ok = nums.notna()
        if ok.mean() < 0.95:
            return False
        readable = self.text[ok]
        zeros = readable.str.match(r"[-+]?0\d").fillna(False).astype(bool)  # indexed like `readable`
        if zeros.mean() >= 0.05 or (zeros.any() and readable.str.len().nunique() == 1):
            self.leading_zeros = readable[zeros].iloc[0]
            return False
        self.numbers = nums[ok & np.isfinite(nums)]
        self.n_distinct = self.numbers.nunique()
        return True

    def example(self, k: int = 3) -> str:
        # bool and datetime columns keep neither text nor numbers: their own values are the examples
        shown = self.text if self.text is not None else self.numbers
        vals = (shown if shown is not None else self.full.dropna().astype(str)).drop_duplicates().head(k)
        return ", ".join(repr(v) if isinstance(v, str) else f"{v:g}" for v in vals)

    def count(self, what: str = "") -> str:
        where = f"{self.n_valid:,} sampled values" if self.sampled else f"{self.n_valid:,} values"
        return f"{self.n_distinct:,} distinct {what}{' ' * bool(what)}in {where}"


def _infer(name, f: _Facts, hint: str | None) -> ColumnType:
    said = f" (metadata says {hint})" if hint else ""
    if f.missing >= 0.95 and _full_missing(f) >= 0.95:
        return ColumnType(name, "empty", f"{f.missing:.0%} of values missing: mostly empty{said}")
    if f.n_distinct == 1 and f.missing == 0 and f.full.nunique(dropna=False) == 1:
        return ColumnType(name, "constant", f"one value ({f.example(1)}) in every row: constant{said}")
    ruled = _rules(name, f)
    if hint is None or hint == ruled.kind:
        if hint:
            ruled.source, ruled.reason = "metadata", f"metadata says {hint}; {ruled.reason}"
        return ruled
    why = _refuse_hint(hint, f)
    if why:
        ruled.reason += f" (metadata says {hint}, but {why})"
        return ruled
    if hint == "boolean" and ruled.kind != "boolean":  # two values that are not true/false words
        return ColumnType(name, "categorical", f"metadata says binary; {f.example(2)} kept as categories", "metadata")
    return _apply(name, hint, f, source="metadata", reason=f"metadata says {hint} ({f.count()})")


def _refuse_hint(hint: str, f: _Facts) -> str | None:
    numeric = f.is_number or f.from_text
    if hint == "categorical" and numeric and not _whole(f.numbers):
        return "the values have fractions"
    if hint == "numeric" and not (numeric or f.is_bool):
        return f"the values are not numbers (e.g. {f.example()})"
    if hint == "boolean" and f.n_distinct > 2:
        return f"there are {f.n_distinct} distinct values"
    if hint == "datetime" and not f.is_datetime and _dates(f) is None:
        return "the values do not read as dates"
    if hint in ("text", "identifier") and f.text is None and not _whole(f.numbers):
        return "the values are not text"
    return None


def _apply(name, kind: str, f: _Facts, source="user", reason="set by the user (--types or a schema file)"):
    details: dict = {"from_text": True} if kind == "numeric" and f.from_text else {}
    if kind == "boolean" and (f.text is not None or f.numbers is not None):
        values = sorted((f.text.str.lower() if f.text is not None else f.numbers).unique().tolist())
        if len(values) > 2:
            raise _error(f"{len(values)} distinct values, boolean needs 2", f"column {name!r}", "type it categorical")
        details = _yes_no(values) or {"true_values": values[1:], "false_values": values[:1]}
    elif kind == "datetime" and not f.is_datetime:
        found = _dates(f)
        if found is None and f.text is None:
            raise _error("numbers that are not Unix times from 1980 to 2100", f"column {name!r}", "type it numeric")
        details = found[1] if found else {}
        reason += "" if found else "; no single date format fits, so each value is parsed on its own (slow)"
    return ColumnType(name, kind, reason, source, details)


def _target(name, f: _Facts) -> ColumnType:
    if f.is_number or f.from_text:
        how = "numbers written as text" if f.from_text else f"{f.dtype} numbers"
        return ColumnType(
            name, "numeric", f"target of {how}, {f.count()}", details={"from_text": True} if f.from_text else {}
        )
    return ColumnType(name, "categorical", f"target of labels, {f.count()}: its classes")


def _rules(name, f: _Facts) -> ColumnType:
    if f.is_bool or f.is_datetime or f.is_category:
        kind = "boolean" if f.is_bool else "datetime" if f.is_datetime else "categorical"
        return ColumnType(name, kind, f"{f.dtype} dtype, {f.count()}")
    if f.text is not None and f.n_distinct == 2:
        yes_no = _yes_no(sorted(f.text.str.lower().unique().tolist()))
        if yes_no:
            pair = f"{yes_no['true_values'][0]!r}/{yes_no['false_values'][0]!r}"
            return ColumnType(name, "boolean", f"two values {pair} (any case): yes/no", details=yes_no)
    if f.numbers is not None:
        return _number_rules(name, f)
    found = _dates(f)
    if found:
        return ColumnType(name, "datetime", found[0], details=found[1])
    ratio, n_words = f.n_distinct / max(f.n_valid, 1), f.text.str.count(r"\S+").mean()
    code = f" (leading zeros, e.g. {f.leading_zeros!r}: codes, not amounts)" if f.leading_zeros else ""
    if f.n_valid >= 20 and ratio >= 0.95 and (n_words < 2 or _says_id(name)):
        return ColumnType(name, "identifier", f"{f.count()}, nearly one per row{code}: identifier")
    if ratio >= 0.5 and f.n_distinct >= 20 and (n_words >= 2 or f.text.str.len().mean() >= 30):
        why = f"{f.count()} ({ratio:.0%}), {n_words:.1f} words on average: free text"
        return ColumnType(name, "text", why, details={"mean_words": round(float(n_words), 2)})
    return ColumnType(name, "categorical", f"{f.count()}{code}: categorical")


def _number_rules(name, f: _Facts) -> ColumnType:
    v, lname, k, n = f.numbers, str(name).lower(), f.n_distinct, f.n_valid
    pre = f"numbers written as text (e.g. {f.example()}); " if f.from_text else ""
    extra, whole = {"from_text": True} if f.from_text else {}, _whole(f.numbers)
    if k == 2 and set(v.unique()) == {0.0, 1.0}:
        return ColumnType(
            name, "boolean", pre + "only 0 and 1: yes/no", details={"true_values": [1], "false_values": [0]}
        )
    found = _dates(f) if whole and _TIME_NAME.search(lname) else None
    if found:
        return ColumnType(name, "datetime", pre + found[0] + ", and a name about time", details=found[1])
    if whole and n >= 50 and k >= 0.95 * n:
        full = pd.Series(parse_numbers(as_text(f.full)) if f.from_text else f.full).dropna()
        k_all, span = full.nunique(), full.max() - full.min() + 1
        if k_all >= 0.95 * len(full) and (_says_id(name) or (span <= 1.1 * k_all and not _TIME_NAME.search(lname))):
            how = "the name says id/key" if _says_id(name) else f"a run {full.min():,.0f}-{full.max():,.0f}"
            why = f"{k_all:,} distinct integers in {len(full):,} rows, {how}: identifier"
            return ColumnType(name, "identifier", pre + why, details=extra)
    lo, hi = (v.min(), v.max()) if n else (0, 0)
    run = whole and 3 <= k <= 10 and lo in (0, 1) and hi - lo + 1 == k and n >= 20 * k
    if run and v.value_counts().min() >= 0.01 * n:  # counts have thin tails (few 6-child families)
        codes = f"{f.count('integers')}, exactly {lo:.0f}-{hi:.0f}"
        if not _says_count(name):
            return ColumnType(name, "categorical", pre + f"{codes}: integer-coded category", details=extra)
        why = f"{codes}, like codes, but the name {name!r} says count: numeric"
        return ColumnType(name, "numeric", pre + why, details=extra)
    return ColumnType(name, "numeric", pre + f"{f.count('integers' if whole else '')}: numeric", details=extra)


def _dates(f: _Facts):
    """(reason, details) when the values read as dates, else None."""
    if f.numbers is not None:
        v = f.numbers
        for unit, scale in _EPOCH_UNITS.items():
            if len(v) and _whole(v) and v.min() >= _EPOCH_RANGE[0] * scale and v.max() <= _EPOCH_RANGE[1] * scale:
                return f"whole numbers that are Unix times in {unit} (1980-2100)", {"epoch_unit": unit}
        return None
    if f.text is None or not f.n_valid or f.text.str.fullmatch(_DATE_LIKE).mean() < 0.9:
        return None
    values = f.text.drop_duplicates()
    probe, best, best_ok = values.head(500), None, 0.0
    for fmt in DATE_FORMATS:
        ok = parse_dates(probe, {"datetime_format": fmt}).notna().mean()
        best, best_ok = (fmt, ok) if ok > best_ok else (best, best_ok)
        if ok == 1.0:
            break
    parsed = parse_dates(values, {"datetime_format": best}).notna() if best else None
    if parsed is None or parsed.mean() < 0.95:
        return None
    details = {"datetime_format": best, "dayfirst": best.startswith("%d")}
    reason = f"{parsed.mean():.0%} of distinct values read as dates ({best})"
    if "%m" in best and "%d" in best:  # numeric day and month: which comes first?
        swapped = best.replace("%d", "\0").replace("%m", "%d").replace("\0", "%m")
        other = parse_dates(values, {"datetime_format": swapped}).notna()
        if other.mean() >= parsed.mean():
            details["ambiguous"] = True
            first = "day" if details["dayfirst"] else "month"
            reason += f"; day and month could be swapped in every value: read {first} first"
        elif details["dayfirst"]:
            reason += f"; day first, as in {values[parsed & ~other].iloc[0]!r}"
    return reason, details


def _yes_no(values: list) -> dict | None:
    """{"true_values", "false_values"} when two sorted values are one true and one false word."""
    trues = [v for v in values if v in TRUE_WORDS or v == 1]
    falses = [v for v in values if v in FALSE_WORDS or v == 0]
    return (
        {"true_values": trues, "false_values": falses} if len(trues) == len(falses) == 1 == len(values) // 2 else None
    )


def _full_missing(f: _Facts) -> float:
    if not f.sampled:
        return f.missing
    return float((f.full.isna() | (is_sentinel(as_text(f.full)) if f.text is not None else False)).mean())


def _whole(v) -> bool:
    return v is not None and bool((v == np.floor(v)).all())


def _tokens(name) -> set[str]:
    return {t.lower() for t in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+", str(name))}


def _says_id(name) -> bool:
    return bool(_tokens(name) & _ID_WORDS)


def _says_count(name) -> bool:
    return any(p in str(name).lower() for p in _COUNT_PARTS) or bool(_tokens(name) & _COUNT_WORDS)


def _canon_kind(kind) -> str:
    return _ALIASES.get(str(kind).strip().lower(), str(kind).strip().lower())


def _check_kind(name, kind, where: str) -> None:
    if _canon_kind(kind) not in KINDS:
        raise _error(f"unknown column kind {kind!r} for {name!r}", where, f"use one of {', '.join(KINDS)}")


def _error(what: str, where: str, fix: str, cls=ConfigError) -> Exception:
    return cls(problem(what, where=where, fix=fix))


# ---- hints and overrides ----------------------------------------------------------------------


def parse_type_overrides(items) -> dict[str, str]:
    """``["age=numeric", "zip=categorical,day=datetime"]`` -> {"age": "numeric", ...} (--types)."""
    out: dict[str, str] = {}
    for item in items or []:
        for part in item.split(",") if all("=" in p for p in item.split(",")) else [item]:
            name, sep, kind = (x.strip() for x in part.rpartition("="))
            if not sep or not name:
                raise _error(
                    f"cannot read type setting {part!r}", "--types", "write --types column=kind, e.g. zip=categorical"
                )
            _check_kind(name, kind, "--types")
            if out.setdefault(name, _canon_kind(kind)) != _canon_kind(kind):
                raise _error(f"column {name!r} given two types", "--types", "give each column one type")
    return out


def read_types_file(path) -> tuple[dict[str, str], str]:
    """Column kinds from a file, and whose word they are: "metadata" for a PMLB metadata.yaml
    (features typed continuous/categorical/ordinal/binary: pass as hints=), "user" for a schema
    file: a YAML/JSON mapping column -> kind, or ``{"columns": ...}`` as Schema.to_dict writes it
    (pass as overrides=). PMLB ordinal features that list string codes are categorical (their
    codes are alphabetical, not ordered); without codes they are numeric."""
    path = Path(path)
    if not path.is_file():
        raise _error("types file not found", str(path), "check the path of the schema or metadata file")
    try:
        text = path.read_text(encoding="utf-8")
        doc = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise _error(f"cannot parse the types file: {exc}", str(path), "write valid YAML or JSON") from exc
    if isinstance(doc, dict) and isinstance(doc.get("features"), list):
        out = {}
        for feat in doc["features"]:
            kind = str(feat.get("type", "")).lower()
            out[str(feat.get("name"))] = (
                ("categorical" if feat.get("code") else "numeric") if kind == "ordinal" else _PMLB.get(kind, kind)
            )
            _check_kind(feat.get("name"), out[str(feat.get("name"))], str(path))
        return out, "metadata"
    cols = doc.get("columns", doc) if isinstance(doc, dict) else None
    if isinstance(cols, list):
        cols = {c.get("name"): c.get("kind") for c in cols if isinstance(c, dict)}
    if not isinstance(cols, dict):
        raise _error(
            "the types file is not a mapping of column to kind", str(path), "write one 'column: kind' per line"
        )
    cols = {str(k): (v.get("kind") if isinstance(v, dict) else v) for k, v in cols.items()}
    for name, kind in cols.items():
        _check_kind(name, kind, str(path))
    return {name: _canon_kind(kind) for name, kind in cols.items()}, "user"


def load_hints(path) -> dict[str, str]:
    """Column -> kind from a PMLB metadata.yaml or a schema file (see read_types_file)."""
    return read_types_file(path)[0]
