"""Profile a table: what each column holds, what is missing, how values are spread, and how
strongly each column goes with the target. The result is plain data (``Profile.to_dict()`` is
JSON) read by the ``assay profile`` page and by the fit report.

Counts are exact, on every row (rows, memory, duplicates, missing and distinct values, top values,
min, max, zeros); distributions and associations are estimated on a random sample of
``sample_rows`` rows when the table is larger. ``Profile.basis`` says so in words.

Association with the target, each between 0 (none) and 1, one named measure per pairing:
  numeric target (regression)  |Spearman rho| for numeric and datetime columns; eta, the
                               correlation ratio adjusted for the number of categories, for
                               categorical and boolean columns
  class target                 Cramer's V, bias-corrected (Bergsma 2013): numbers cut into 10
                               quantile bins, categories past the 50 most frequent pooled
Missing values count as a category of their own (missingness can carry signal), except for
Spearman, which uses the complete pairs. Identifier, text, constant and empty columns are not
scored. The task is read off the target as the fit reads it (``assay.task.detect_task``).
"""

from __future__ import annotations

import difflib
import time
from collections import Counter
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from assay.data.clean import ROWS, CleaningLog, clean_frame
from assay.data.schema import ColumnType, Schema, as_text, infer_schema, parse_dates, parse_numbers
from assay.errors import AssayError, ConfigError, TargetError, problem
from assay.task import detect_task

__all__ = ["ColumnProfile", "Profile", "check_target", "profile_table"]

TOP_VALUES = 20
MAX_LEVELS = 50  # categories kept apart when measuring association
N_BINS = 10  # quantile bins of a number for Cramer's V
TOKEN_ROWS = 20_000  # text values whose words are counted
MEASURES = {"spearman": "|Spearman ρ|", "eta": "η (correlation ratio)", "cramers_v": "Cramér's V (bias-corrected)"}
_QUANTILES = {"p5": 0.05, "p25": 0.25, "median": 0.5, "p75": 0.75, "p95": 0.95}
_PERIODS = (("hour", "h", 1 / 24), ("day", "D", 1), ("month", "M", 30.44), ("year", "Y", 365.25))
_MAX_PERIODS = 120


@dataclass
class ColumnProfile:
    name: str
    kind: str
    reason: str
    dtype: str
    n_missing: int
    pct_missing: float
    n_distinct: int
    is_target: bool = False
    stats: dict = field(default_factory=dict)  # kind-specific numbers, in display order
    histogram: dict | None = None  # {"edges": [...], "counts": [...]} (numeric)
    top_values: list = field(default_factory=list)  # [[label, count], ...], most frequent first
    other_count: int = 0  # rows holding a value outside top_values
    periods: dict | None = None  # {"unit": "month", "labels": [...], "counts": [...]} (datetime)
    tokens: list = field(default_factory=list)  # [[word, count], ...] (text)
    examples: list = field(default_factory=list)  # a few values (identifier, constant)
    association: float | None = None  # 0..1, see the module docstring
    measure: str = ""  # a key of MEASURES
    association_note: str = ""  # e.g. "Spearman ρ = -0.412 on 99,812 rows"
    cleaning: list = field(default_factory=list)  # what clean_frame changed in this column


@dataclass
class Profile:
    n_rows: int
    n_columns: int
    memory_bytes: int
    duplicate_rows: int | None  # None when the rows could not be compared
    missing_cells: int
    target: str | None
    task: str | None  # "binary", "multiclass", "regression" or None
    sample_size: int  # rows behind the sampled statistics
    sampled: bool
    seed: int
    basis: str  # which numbers are exact and which sampled, in words
    association_measure: str  # the measure(s) used for this target, in words
    columns: list[ColumnProfile]
    ranking: list[dict] = field(default_factory=list)  # [{"column", "association", "measure"}], strongest first
    kinds: dict = field(default_factory=dict)  # kind -> number of columns
    source: str = ""  # how the table was read (ReadReport.summary)
    read_notes: list = field(default_factory=list)
    cleaning: list = field(default_factory=list)  # every cleaning action, described
    seconds: float = 0.0

    def column(self, name) -> ColumnProfile:
        return next(c for c in self.columns if c.name == name)

    def to_dict(self) -> dict:
        return {"version": 1, **asdict(self)}

    @classmethod
    def from_dict(cls, d: dict) -> Profile:
        d = {k: v for k, v in d.items() if k != "version"}
        return cls(**{**d, "columns": [ColumnProfile(**c) for c in d["columns"]]})


def profile_table(
    frame: pd.DataFrame, *, target=None, schema: Schema | None = None, cleaning: CleaningLog | None = None,
    read_report=None, sample_rows: int = 100_000, seed: int = 0,
) -> Profile:  # fmt: skip
    """The :class:`Profile` of ``frame``. Pass the ``schema`` (and ``cleaning`` log) of an
    already cleaned frame; without a schema the frame is typed and cleaned here first."""
    start = time.perf_counter()
    check_target(frame, target)
    if int(sample_rows) < 100:
        raise ConfigError(problem(f"sample_rows={sample_rows}", where="sample_rows", fix="use at least 100"))
    if schema is None:
        schema = infer_schema(frame, target=target)
        if cleaning is None:
            frame, cleaning = clean_frame(frame, schema, target=target)
    target = schema.target if target is None and schema.target in frame.columns else target
    n = len(frame)
    sampled = n > sample_rows
    rows = np.sort(np.random.default_rng(seed).choice(n, int(sample_rows), replace=False)) if sampled else None
    sample = frame.iloc[rows] if sampled else frame
    task, y = _target_values(sample, target)
    actions = list(cleaning) if cleaning is not None else []
    columns = []
    for i, name in enumerate(frame.columns):
        ct = schema[name] if name in schema else ColumnType(name, _dtype_kind(frame.iloc[:, i]), "not in the schema")
        col = _profile_column(frame.iloc[:, i], sample.iloc[:, i], ct, name == target, task, y)
        col.cleaning = [a.describe()[len(str(name)) + 2 :] for a in actions if a.column == str(name)]
        columns.append(col)
    scored = sorted((c for c in columns if c.association is not None), key=lambda c: -c.association)
    ranking = [{"column": c.name, "association": c.association, "measure": c.measure} for c in scored]
    return Profile(
        n_rows=n, n_columns=frame.shape[1], memory_bytes=int(frame.memory_usage(deep=True).sum()),
        duplicate_rows=_duplicate_rows(frame, cleaning), missing_cells=sum(c.n_missing for c in columns),
        target=None if target is None else str(target), task=task, sample_size=len(sample), sampled=sampled,
        seed=seed, basis=_basis(n, len(sample), seed), association_measure=_measure_words(task), columns=columns,
        ranking=ranking, kinds=dict(Counter(c.kind for c in columns)),
        source=read_report.summary() if read_report is not None else "",
        read_notes=list(getattr(read_report, "notes", [])), cleaning=[a.describe() for a in actions],
        seconds=round(time.perf_counter() - start, 3),
    )  # fmt: skip


def check_target(frame: pd.DataFrame, target) -> None:
    """Raise TargetError, naming close matches, when ``target`` is not a column of ``frame``."""
    if target is not None and target not in frame.columns:
        close = difflib.get_close_matches(str(target), [str(c) for c in frame.columns], n=3)
        hint = f", e.g. {', '.join(map(repr, close))}" if close else ""
        raise TargetError(problem(f"no column named {target!r}", where="--target", fix=f"name a column{hint}"))


# ---- one column ------------------------------------------------------------------------------


def _profile_column(full: pd.Series, sample: pd.Series, ct: ColumnType, is_target: bool, task, y) -> ColumnProfile:
    kind = ct.kind
    if is_target and kind not in ("numeric", "categorical"):
        kind = "numeric" if _is_number(full) else "categorical"
    full, sample = _coerce(full, kind, ct.details), _coerce(sample, kind, ct.details)
    n_missing = int(full.isna().sum())
    pct_missing = round(100 * n_missing / max(len(full), 1), 3)
    col = ColumnProfile(str(ct.name), kind, ct.reason, str(full.dtype), n_missing, pct_missing, 0, is_target)
    if kind == "numeric":
        _numeric(col, full, sample)
    elif kind == "datetime":
        _datetime(col, full, sample)
    else:
        counts = full.value_counts(dropna=True, sort=True)
        col.n_distinct = len(counts)
        if kind in ("categorical", "boolean"):
            labels = _bool_labels(ct.details) if kind == "boolean" else {}
            col.top_values = [[labels.get(_label(v), _label(v)), int(c)] for v, c in counts.head(TOP_VALUES).items()]
            col.other_count = int(counts.iloc[TOP_VALUES:].sum())
        elif kind == "text":
            _text(col, sample.dropna())
        else:  # identifier, constant, empty
            col.examples = [_label(v) for v in counts.index[:5]]
    if not is_target and task is not None:
        col.association, col.measure, col.association_note = _associate(sample, kind, task, y)
    return col


def _numeric(col: ColumnProfile, full: pd.Series, sample: pd.Series) -> None:
    whole = full.to_numpy(dtype="float64", na_value=np.nan)
    finite = whole[np.isfinite(whole)]
    col.n_distinct = int(pd.Series(finite).nunique())
    v = sample.to_numpy(dtype="float64", na_value=np.nan)
    v = v[np.isfinite(v)]
    if not len(v):
        return
    q = dict(zip(_QUANTILES, np.quantile(v, list(_QUANTILES.values())), strict=True))
    iqr = q["p75"] - q["p25"]
    outliers = int(((v < q["p25"] - 1.5 * iqr) | (v > q["p75"] + 1.5 * iqr)).sum())
    stats = {"mean": v.mean(), "std": v.std(ddof=1) if len(v) > 1 else 0.0, "min": finite.min(), **q}
    stats |= {"max": finite.max(), "zeros": (finite == 0).sum(), "outliers": outliers}
    col.stats = _plain({**stats, "pct_outliers": round(100 * outliers / len(v), 3)})
    col.histogram = _histogram(v)


def _histogram(v: np.ndarray) -> dict:
    lo, hi = float(v.min()), float(v.max())
    if lo == hi:
        return {"edges": [lo - 0.5, hi + 0.5], "counts": [len(v)]}
    n_bins = int(np.clip(len(np.histogram_bin_edges(v, bins="fd")) - 1, 10, 60))
    if np.all(v == np.floor(v)):  # whole numbers: bars of whole widths centred on them, 1 up to a span of 30
        width = 1.0 if hi - lo <= 30 else float(np.ceil((hi - lo + 1) / n_bins))
        edges = np.arange(lo - 0.5, hi + 0.5 + width, width)
    else:
        edges = np.linspace(lo, hi, n_bins + 1)
    counts, edges = np.histogram(v, bins=edges)
    return {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]}


def _datetime(col: ColumnProfile, full: pd.Series, sample: pd.Series) -> None:
    col.n_distinct = int(full.nunique())
    valid = full.dropna()
    if valid.empty:
        return
    lo, hi = valid.min(), valid.max()
    col.stats = {"min": lo.isoformat(), "max": hi.isoformat(), "span_days": round((hi - lo) / pd.Timedelta(days=1), 2)}
    days = max(col.stats["span_days"], 1e-9)
    unit, code = next(((u, c) for u, c, d in _PERIODS if days / d <= _MAX_PERIODS), _PERIODS[-1][:2])
    sample = sample.dt.tz_localize(None) if sample.dt.tz is not None else sample  # periods in local time
    values = sample.dropna().to_numpy(dtype="datetime64[ns]").astype(f"datetime64[{code}]")
    labels, counts = np.unique(values, return_counts=True)
    labels = labels.astype("datetime64[m]") if code == "h" else labels  # "2016-02-17T11:00" reads as a time
    col.periods = {"unit": unit, "labels": [str(x) for x in labels], "counts": [int(c) for c in counts]}


def _text(col: ColumnProfile, values: pd.Series) -> None:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    text = as_text(values)
    lengths, words = text.str.len(), text.str.count(r"\S+")
    if not len(text):
        return
    stats = {"mean_length": lengths.mean(), "min_length": lengths.min(), "median_length": lengths.median()}
    col.stats = _plain({**stats, "max_length": lengths.max(), "mean_words": words.mean()})
    tokens = text.iloc[:TOKEN_ROWS].str.lower().str.findall(r"[^\W\d_]{2,}").explode().dropna()
    counts = tokens[~tokens.isin(ENGLISH_STOP_WORDS)].value_counts()
    col.tokens = [[str(t), int(c)] for t, c in counts.head(TOP_VALUES).items()]


# ---- association with the target -------------------------------------------------------------


def _target_values(sample: pd.DataFrame, target):
    """(task, values): floats for regression, class codes otherwise; None where not measurable."""
    if target is None:
        return None, None
    y = sample[target]
    try:
        task = detect_task(y).kind
    except AssayError:  # one class, or nothing usable: profile anyway, without associations
        return None, None
    if task == "regression":
        return task, y.to_numpy(dtype="float64", na_value=np.nan)
    codes = _codes(y).astype("float64")
    codes[y.isna().to_numpy()] = np.nan
    return task, codes


def _associate(sample: pd.DataFrame | pd.Series, kind: str, task: str, y: np.ndarray):
    if kind not in ("numeric", "datetime", "categorical", "boolean"):
        return None, "", ""
    known = ~np.isnan(y)
    x, yk = sample[known], y[known]
    if len(yk) < 3:
        return None, "", ""
    if kind in ("numeric", "datetime"):
        v = x.to_numpy(dtype="float64", na_value=np.nan) if kind == "numeric" else _ns(x.to_numpy("datetime64[ns]"))
        if task == "regression":
            ok = np.isfinite(v)
            if ok.sum() < 3 or np.ptp(v[ok]) == 0:
                return None, "", ""
            rho = float(np.corrcoef(rankdata(v[ok]), rankdata(yk[ok]))[0, 1])
            return round(abs(rho), 4), "spearman", f"Spearman ρ = {rho:+.3f} on {ok.sum():,} rows"
        codes = _bins(v)
    else:
        codes = _codes(x)
    if task == "regression":
        return round(_eta(codes, yk), 4), "eta", f"η on {len(yk):,} rows, {codes.max() + 1} groups"
    v = _cramers_v(codes, yk.astype(np.int64))
    return round(v, 4), "cramers_v", f"Cramér's V on {len(yk):,} rows, {codes.max() + 1} groups"


def _codes(values: pd.Series) -> np.ndarray:
    """0..k-1 per distinct value (the MAX_LEVELS most frequent apart, the rest pooled), missing last."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    if len(uniques) > MAX_LEVELS:
        counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
        remap = np.full(len(uniques), MAX_LEVELS)
        remap[np.argsort(-counts, kind="stable")[:MAX_LEVELS]] = np.arange(MAX_LEVELS)
        codes = np.where(codes >= 0, remap[np.maximum(codes, 0)], -1)
    return np.where(codes < 0, codes.max() + 1, codes)


def _bins(v: np.ndarray) -> np.ndarray:
    ok = np.isfinite(v)
    edges = np.unique(np.quantile(v[ok], np.linspace(0, 1, N_BINS + 1)[1:-1])) if ok.any() else np.array([])
    return np.where(ok, np.searchsorted(edges, np.where(ok, v, 0), side="right"), len(edges) + 1)


def _eta(codes: np.ndarray, y: np.ndarray) -> float:
    """The correlation ratio, adjusted like R^2 for the number of groups (no free lunch for many levels)."""
    counts, sums = np.bincount(codes).astype(float), np.bincount(codes, weights=y)
    n, k, mean = len(y), int((counts > 0).sum()), y.mean()
    sst = float(((y - mean) ** 2).sum())
    if sst == 0 or n <= k:
        return 0.0
    ssb = float((sums[counts > 0] ** 2 / counts[counts > 0]).sum() - n * mean**2)
    eta2 = 1 - (1 - ssb / sst) * (n - 1) / (n - k)
    return float(np.sqrt(np.clip(eta2, 0, 1)))


def _cramers_v(a: np.ndarray, b: np.ndarray) -> float:
    k = int(b.max()) + 1
    table = np.bincount(a * k + b, minlength=(int(a.max()) + 1) * k).reshape(-1, k).astype(float)
    table = table[table.sum(1) > 0][:, table.sum(0) > 0]
    (r, c), n = table.shape, table.sum()
    if min(r, c) < 2 or n < 2:
        return 0.0
    expected = np.outer(table.sum(1), table.sum(0)) / n
    phi2 = ((table - expected) ** 2 / expected).sum() / n
    phi2 = max(0.0, phi2 - (r - 1) * (c - 1) / (n - 1))
    denom = min(r - (r - 1) ** 2 / (n - 1), c - (c - 1) ** 2 / (n - 1)) - 1
    return float(np.sqrt(min(phi2 / denom, 1.0))) if denom > 0 else 0.0


# ---- helpers ---------------------------------------------------------------------------------


def _coerce(col: pd.Series, kind: str, details: dict) -> pd.Series:
    """Values as their kind says (a no-op on frames from clean_frame)."""
    if kind == "numeric" and not _is_number(col):
        return parse_numbers(as_text(col)) if not pd.api.types.is_bool_dtype(col) else col.astype("float64")
    if kind == "datetime" and not pd.api.types.is_datetime64_any_dtype(col):
        return parse_dates(as_text(col) if not _is_number(col) else col, details)
    return col


def _is_number(col: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)


def _ns(v: np.ndarray) -> np.ndarray:
    return np.where(np.isnat(v), np.nan, v.astype("int64").astype("float64"))


def _dtype_kind(col: pd.Series) -> str:
    return "numeric" if _is_number(col) else "datetime" if pd.api.types.is_datetime64_any_dtype(col) else "categorical"


def _duplicate_rows(frame: pd.DataFrame, cleaning: CleaningLog | None) -> int | None:
    if cleaning is not None:  # clean_frame counted them
        skipped = any(a.column == ROWS and a.action == "duplicate_check_skipped" for a in cleaning)
        return None if skipped else cleaning.count("duplicate_rows")
    try:
        return int(pd.util.hash_pandas_object(frame, index=False).duplicated().sum())
    except TypeError:
        return None


def _bool_labels(details: dict) -> dict:
    """Label of 1/True and of 0/False: the spelling the data used ("yes"/"no"), else true/false."""
    true, false = details.get("true_values") or ["true"], details.get("false_values") or ["false"]
    return {"1": str(true[0]), "0": str(false[0]), "True": str(true[0]), "False": str(false[0])}


def _label(value) -> str:
    if isinstance(value, (float, np.floating)):
        return str(int(value)) if float(value).is_integer() else f"{value:.6g}"
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value)


def _plain(d: dict) -> dict:
    """Python numbers, JSON-safe: NaN and inf become None."""
    return {k: int(v) if isinstance(v, (int, np.integer)) else float(v) if np.isfinite(v) else None
            for k, v in d.items()}  # fmt: skip


def _basis(n: int, n_sample: int, seed: int) -> str:
    if n_sample >= n:
        return f"Every statistic is computed on all {n:,} rows."
    return (
        f"Rows, memory, duplicates, missing and distinct values, top values, min, max and zeros are counted on all "
        f"{n:,} rows; means, quantiles, histograms, outliers, counts per period, text statistics and associations "
        f"are estimated on a random sample of {n_sample:,} rows (seed {seed})."
    )


def _measure_words(task) -> str:
    regression = f"{MEASURES['spearman']} for numeric and datetime columns, {MEASURES['eta']} for categorical ones"
    return "" if task is None else regression if task == "regression" else f"{MEASURES['cramers_v']}, numbers binned"
