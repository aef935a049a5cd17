"""Fix what the schema says is fixable, and report every fix: nothing is changed silently.

``clean_frame(frame, schema)`` returns a new frame (the input is never mutated) and a
:class:`CleaningLog`: one :class:`CleaningAction` per kind of change per column, with a count
and up to three of the original values. What it does, by the column's kind:

  every text column     placeholders ("?", "NA", "N/A", "null", "None", "-", "--", "", spaces;
                        any case) become missing                               missing_sentinel
  numeric               numbers written as text become floats: "1,234" -> 1234, "$5.00" -> 5,
                        " 7 " -> 7, "(5)" -> -5, and "12%" -> 12 (the percent sign is dropped,
                        NOT divided by 100, so "12%" and "12" agree)           number_from_text
  numeric, any number   +-inf become missing                                   infinity_to_missing
  categorical text      spellings that differ only by case or surrounding spaces become the most
                        frequent spelling, trimmed ("male", " Male" -> "Male")  spelling_unified
  boolean               true/false spellings become 1.0/0.0                     boolean_to_number
  datetime              text parsed with the schema's format (day first where detected), Unix
                        epochs with its unit, into datetime64                   datetime_parsed
  numeric/boolean/      values that cannot be converted become missing          unparseable_to_missing
  datetime
  rows                  exact duplicate rows (after the fixes above) are counted; dropped only
                        with drop_duplicates=True                               duplicate_rows

Identifier, text, constant and empty columns only lose their placeholders. Columns missing from
the schema are left as they are. Work is vectorised: each text column is factorised once and
every string operation runs on its distinct values only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from assay.data.schema import FALSE_WORDS, TRUE_WORDS, Schema, as_text, is_sentinel, parse_dates, parse_numbers

_MESSAGES = {
    "missing_sentinel": "{n} placeholder values read as missing",
    "number_from_text": "{n} numbers written as text converted to numbers",
    "infinity_to_missing": "{n} infinite values set to missing",
    "spelling_unified": "{n} values respelled to the most frequent spelling (differed only in case or spaces)",
    "boolean_to_number": "{n} true/false values encoded as 1/0",
    "datetime_parsed": "{n} values converted to dates",
    "unparseable_to_missing": "{n} values that could not be converted set to missing",
    "duplicate_rows": "{n} exact duplicate rows",
    "duplicate_check_skipped": "duplicate rows not checked",
}
ROWS = "(rows)"  # the column name of row-level actions


@dataclass
class CleaningAction:
    column: str
    action: str
    count: int
    examples: list[str] = field(default_factory=list)
    note: str = ""

    def describe(self) -> str:
        text = _MESSAGES.get(self.action, self.action.replace("_", " ") + " ({n})").format(n=f"{self.count:,}")
        if self.examples:
            text += f" (e.g. {', '.join(self.examples)})"
        return f"{self.column}: {text}" + (f"; {self.note}" if self.note else "")


@dataclass
class CleaningLog:
    actions: list[CleaningAction] = field(default_factory=list)

    def add(self, column, action: str, count: int, examples=(), note: str = "") -> None:
        if count or action.endswith("skipped"):
            self.actions.append(CleaningAction(str(column), action, int(count), [str(e) for e in examples][:3], note))

    def __iter__(self):
        return iter(self.actions)

    def __len__(self) -> int:
        return len(self.actions)

    def count(self, action: str | None = None, column=None) -> int:
        """Values (or rows) changed, optionally for one action and/or one column."""
        return sum(
            a.count
            for a in self.actions
            if (action is None or a.action == action) and (column is None or a.column == str(column))
        )

    def describe(self) -> list[str]:
        return [a.describe() for a in self.actions]

    def to_dict(self) -> dict:
        return {"actions": [asdict(a) for a in self.actions]}

    @classmethod
    def from_dict(cls, d: dict) -> CleaningLog:
        return cls([CleaningAction(**a) for a in d["actions"]])


def clean_frame(
    frame: pd.DataFrame, schema: Schema, *, target=None, drop_duplicates: bool = False, count_duplicates: bool = True
) -> tuple[pd.DataFrame, CleaningLog]:
    """A cleaned copy of ``frame`` and the log of every change (see the module docstring).

    The target (``target=``, else ``schema.target``) is only ever cleaned as numeric or
    categorical, whatever the schema says about it. ``count_duplicates=False`` skips the
    duplicate-row count (prediction: rows are answered one by one, and hashing every row cost more
    than the rest of cleaning a small batch)."""
    target = schema.target if target is None else target
    log = CleaningLog()
    out = frame.copy(deep=False)  # copy-on-write: replacing a column never touches `frame`
    finite = _finite_numbers(frame, schema, target)
    for i, name in enumerate(frame.columns.tolist()):
        if name not in schema or i in finite:
            continue
        ct = schema[name]
        kind = ct.kind
        if name == target and kind not in ("numeric", "categorical"):
            kind = "numeric" if pd.api.types.is_numeric_dtype(frame.iloc[:, i]) else "categorical"
        new = _clean_column(frame.iloc[:, i], kind, ct.details, name, log)
        if new is not None:
            out.isetitem(i, new)
    if not (count_duplicates or drop_duplicates):
        return out, log
    return _duplicates(out, log, drop_duplicates), log


def _finite_numbers(frame: pd.DataFrame, schema: Schema, target) -> set[int]:
    """Positions of columns stored as NumPy numbers with no infinity, of a kind whose only fix for
    numbers is infinity -> missing (all but dates and yes/no): cleaning leaves them as they are.
    Checked as one block, because looking at them one Series at a time was most of the cost of
    cleaning a few rows (a prediction request)."""
    dtypes = frame.dtypes.tolist()
    positions = [
        i
        for i, (name, dtype) in enumerate(zip(frame.columns.tolist(), dtypes, strict=True))
        if name != target
        and isinstance(dtype, np.dtype)
        and dtype.kind in "iuf"
        and name in schema
        and schema[name].kind not in ("datetime", "boolean")
    ]
    if not positions:
        return set()
    block = float_block(frame, positions, dtypes)
    return {i for i, inf in zip(positions, np.isinf(block).any(axis=0), strict=True) if not inf}


def float_block(frame: pd.DataFrame, positions: list[int], dtypes: list | None = None) -> np.ndarray:
    """The columns at `positions`, all NumPy numbers, as one float64 array; the whole frame at once
    when it holds numbers only (a sub-frame costs more than the conversion for a few rows)."""
    dtypes = frame.dtypes.tolist() if dtypes is None else dtypes
    if all(isinstance(d, np.dtype) and d.kind in "fiub" for d in dtypes):
        block = frame.to_numpy(dtype=float)
        return (
            block
            if len(positions) == block.shape[1] and positions == list(range(block.shape[1]))
            else block[:, positions]
        )
    return frame.take(positions, axis=1).to_numpy(dtype=float)


def _clean_column(col: pd.Series, kind: str, details: dict, name, log: CleaningLog) -> pd.Series | None:
    """The cleaned column, or None when nothing changes."""
    dtype = col.dtype
    if pd.api.types.is_bool_dtype(dtype):
        if kind not in ("numeric", "boolean"):
            return None
        log.add(name, "boolean_to_number", col.notna().sum(), _seen(col))
        return pd.Series(col.to_numpy(dtype="float64", na_value=np.nan), index=col.index, name=col.name)
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return None
    if pd.api.types.is_numeric_dtype(dtype):
        return _clean_numbers(col, kind, details, name, log)
    return _clean_text(col, kind, details, name, log)


def _clean_numbers(col: pd.Series, kind: str, details: dict, name, log: CleaningLog) -> pd.Series | None:
    values = col.to_numpy(dtype="float64", na_value=np.nan)
    if kind == "datetime":
        unit = details.get("epoch_unit", "s")
        out = pd.to_datetime(values, unit=unit, errors="coerce")
        failed = ~np.isnan(values) & np.isnat(out.to_numpy())
        _failures(log, name, "date", _seen(col[failed]), failed.sum())
        log.add(
            name, "datetime_parsed", (~np.isnat(out.to_numpy())).sum(), _seen(col[~failed]), f"Unix times in {unit}"
        )
        return pd.Series(out, index=col.index, name=col.name)
    if kind == "boolean":
        trues, falses = details.get("true_values", [1]), details.get("false_values", [0])
        mapped = np.where(np.isin(values, trues), 1.0, np.where(np.isin(values, falses), 0.0, np.nan))
        failed = ~np.isnan(values) & np.isnan(mapped)
        changed = ~np.isnan(mapped) & (mapped != values)
        if not (failed.any() or changed.any()):  # already 0/1: no examples to gather (a per-request cost)
            return None
        _failures(log, name, "yes/no", _seen(col[failed]), failed.sum())
        log.add(name, "boolean_to_number", changed.sum(), _seen(col[changed]))
        return pd.Series(mapped, index=col.index, name=col.name)
    infinite = np.isinf(values)
    if not infinite.any():
        return None
    log.add(name, "infinity_to_missing", infinite.sum(), _seen(col[infinite]))
    return pd.Series(np.where(infinite, np.nan, values), index=col.index, name=col.name)


class _Distinct:
    """A column as codes into its distinct values: string work is done once per distinct value."""

    def __init__(self, col: pd.Series):
        codes, uniques = pd.factorize(col, use_na_sentinel=True)
        self.col, self.codes = col, codes
        self.raw = as_text(pd.Series(np.asarray(uniques, dtype=object)))  # original spellings
        self.counts = np.bincount(codes[codes >= 0], minlength=len(self.raw))
        self.valid = np.ones(len(self.raw), dtype=bool)  # distinct values not (yet) missing

    def examples(self, mask) -> list[str]:
        """Up to three original spellings among `mask`, most frequent first."""
        idx = np.flatnonzero(mask)
        return [repr(self.raw.iloc[i]) for i in idx[np.argsort(-self.counts[idx], kind="stable")][:3]]

    def total(self, mask) -> int:
        return int(self.counts[np.asarray(mask, dtype=bool)].sum())

    def take(self, per_value) -> pd.Series:
        """Expand one value per distinct value (missing where not valid) back to the rows."""
        arr = pd.array(per_value) if not isinstance(per_value, pd.api.extensions.ExtensionArray) else per_value
        codes = np.where(self.valid[self.codes] & (self.codes >= 0), self.codes, -1) if len(self.raw) else self.codes
        return pd.Series(arr.take(codes, allow_fill=True), index=self.col.index, name=self.col.name)


def _clean_text(col: pd.Series, kind: str, details: dict, name, log: CleaningLog) -> pd.Series | None:
    d = _Distinct(col)
    sentinel = is_sentinel(d.raw).to_numpy()
    log.add(name, "missing_sentinel", d.total(sentinel), d.examples(sentinel))
    d.valid &= ~sentinel
    stripped = d.raw.str.strip()
    if kind == "numeric":
        nums = parse_numbers(d.raw).to_numpy()
        failed, infinite = d.valid & np.isnan(nums), d.valid & np.isinf(nums)
        _failures(log, name, "number", d.examples(failed), d.total(failed))
        ok = d.valid & ~failed & ~infinite
        formatted = ok & d.raw.str.contains(r"[,$€£¥%()]|^\s|\s$", regex=True).fillna(False).to_numpy(dtype=bool)
        pct = d.raw[ok].str.contains("%", regex=False).any()
        note = "percent signs dropped: '12%' became 12, not 0.12" if pct else ""
        log.add(name, "number_from_text", d.total(ok), d.examples(formatted if formatted.any() else ok), note)
        log.add(name, "infinity_to_missing", d.total(infinite), d.examples(infinite))
        d.valid &= ok
        return d.take(pd.array(nums, dtype="float64")).astype("float64")
    if kind == "boolean":
        nums = parse_numbers(stripped)  # "1.0" and 1 are the same answer
        keys = stripped.str.lower().where(nums.isna(), nums.map(_key))
        trues = [_key(v) for v in details.get("true_values", TRUE_WORDS)]
        falses = [_key(v) for v in details.get("false_values", FALSE_WORDS)]
        mapped = np.where(keys.isin(trues), 1.0, np.where(keys.isin(falses), 0.0, np.nan))
        failed = d.valid & np.isnan(mapped)
        _failures(log, name, "yes/no", d.examples(failed), d.total(failed))
        d.valid &= ~failed
        note = f"1 = {', '.join(map(repr, trues))}; 0 = {', '.join(map(repr, falses))}"
        log.add(name, "boolean_to_number", d.total(d.valid), d.examples(d.valid), note)
        return d.take(pd.array(mapped, dtype="float64")).astype("float64")
    if kind == "datetime":
        parsed = parse_dates(stripped, details)
        failed = d.valid & parsed.isna().to_numpy()
        _failures(log, name, "date", d.examples(failed), d.total(failed))
        d.valid &= ~failed
        fmt = details.get("datetime_format") or "each value's own format"
        note = f"format {fmt}" + (", day first" if details.get("dayfirst") else "")
        log.add(name, "datetime_parsed", d.total(d.valid), d.examples(d.valid), note)
        return d.take(parsed.array)
    new = d.raw
    if kind == "categorical":
        new = _unify(d, stripped, name, log)
    if not sentinel.any() and new is d.raw:
        return None
    return d.take(pd.array(new, dtype="str"))


def _unify(d: _Distinct, stripped: pd.Series, name, log: CleaningLog) -> pd.Series:
    """Each spelling -> the most frequent (trimmed) spelling of its case-insensitive group."""
    table = pd.DataFrame({"key": stripped.str.lower(), "spelling": stripped, "n": d.counts})[d.valid]
    if table.empty:
        return d.raw
    ranked = table.groupby(["key", "spelling"], sort=False)["n"].sum().reset_index()
    ranked = ranked.sort_values(["n", "spelling"], ascending=[False, True]).drop_duplicates("key")
    canonical = table["key"].map(pd.Series(ranked["spelling"].to_numpy(), index=ranked["key"]))
    new = d.raw.copy()
    new[d.valid] = canonical.to_numpy()
    changed = d.valid & (new != d.raw).fillna(False).to_numpy(dtype=bool)
    if not changed.any():
        return d.raw
    idx = np.flatnonzero(changed)[np.argsort(-d.counts[changed], kind="stable")][:3]
    note = ", ".join(f"{d.raw.iloc[i]!r} -> {new.iloc[i]!r}" for i in idx)
    log.add(name, "spelling_unified", d.total(changed), d.examples(changed), note)
    return new


def _failures(log: CleaningLog, name, what: str, examples: list[str], count) -> None:
    log.add(name, "unparseable_to_missing", count, examples, note=f"not readable as a {what}")


def _key(value) -> str:
    """One spelling per yes/no answer: numbers as "1"/"0", words lower case."""
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        return f"{value:g}"
    return str(value).strip().lower()


def _seen(values: pd.Series) -> list[str]:
    """The most frequent values among the first 10,000, as examples."""
    return [repr(v) for v in values.iloc[:10_000].value_counts().index[:3]]


def _duplicates(out: pd.DataFrame, log: CleaningLog, drop: bool) -> pd.DataFrame:
    """Count exact duplicate rows: a row hash finds candidates, an exact comparison confirms."""
    if len(out) < 2:
        return out
    try:
        hashes = pd.util.hash_pandas_object(out, index=False)
    except TypeError as exc:
        log.add(ROWS, "duplicate_check_skipped", 0, note=f"values cannot be compared ({exc})")
        return out
    candidates = hashes.duplicated(keep=False).to_numpy()
    if not candidates.any():
        return out
    dup = np.zeros(len(out), dtype=bool)
    dup[np.flatnonzero(candidates)[out[candidates].duplicated().to_numpy()]] = True
    labels = [f"row {label}" for label in out.index[dup][:3]]
    note = "dropped" if drop else "kept; pass drop_duplicates=True to drop them"
    log.add(ROWS, "duplicate_rows", dup.sum(), labels, note)
    return out[~dup] if drop and dup.any() else out
