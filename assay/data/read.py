"""Turn whatever the user handed over into a pandas DataFrame: the one place that knows sources.

Accepted: a path (CSV/TSV with any delimiter and encoding, gzip/bz2/xz/zip compressed; Parquet;
Arrow/Feather; Excel .xlsx; JSON lines and JSON records), a pandas, polars or Arrow table, a
SQLAlchemy URL with ``query=``, or ``query=`` alone for in-process DuckDB (which reads local files
with ``read_csv_auto('x.csv')`` / ``read_parquet('x.parquet')``). Every other stage receives a
DataFrame. Errors name the source and say what to do, because "ParserError: line 17" helps nobody;
:func:`read_with_report` also says how the table was read (encoding guesses, rejected rows ...).
"""

from __future__ import annotations

import lzma
import re
import zipfile
import zlib
from pathlib import Path

import pandas as pd
import pyarrow as pa

from assay.data import delimited, sources
from assay.data.sources import EXTRA_NA_VALUES, ReadReport, Source, check_unique
from assay.errors import DataSourceError, problem

__all__ = ["EXTRA_NA_VALUES", "ReadReport", "read_table", "read_with_report"]

_FORMATS = {
    **dict.fromkeys(("", ".csv", ".txt", ".data", ".dat"), "csv"),
    **dict.fromkeys((".tsv", ".tab"), "tsv"),
    **dict.fromkeys((".parquet", ".pq"), "parquet"),
    **dict.fromkeys((".feather", ".arrow", ".ipc"), "feather"),
    **dict.fromkeys((".xlsx", ".xlsm"), "excel"),
    **dict.fromkeys((".jsonl", ".ndjson"), "jsonl"),
    ".json": "json",
}
_COMPRESSION = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zip": "zip"}
_MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"PK\x03\x04", "zip"),
    (b"PAR1", "parquet"),
    (b"ARROW1", "feather"),
)
_DATABASES = {".db": "sqlite", ".sqlite": "sqlite", ".sqlite3": "sqlite", ".duckdb": "duckdb", ".ddb": "duckdb"}
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
_FORMATS_FIX = "use .csv, .tsv, .parquet, .feather, .xlsx, .jsonl or .json (optionally .gz/.bz2/.xz/.zip compressed)"


def read_table(data=None, *, encoding=None, delimiter=None, sheet=None, query=None, rejects_path=None) -> pd.DataFrame:
    """A DataFrame from a path, a DataFrame (copied: the caller's frame is never changed) or a query."""
    return read_with_report(
        data, encoding=encoding, delimiter=delimiter, sheet=sheet, query=query, rejects_path=rejects_path
    )[0]


def read_with_report(
    data=None, *, encoding=None, delimiter=None, sheet=None, query=None, rejects_path=None
) -> tuple[pd.DataFrame, ReadReport]:
    """Like :func:`read_table`, with a :class:`ReadReport` of how the table was read."""
    report = ReadReport(source=_describe(data))
    if query is not None:
        frame = _read_query(data, query, report)
    elif isinstance(data, pd.DataFrame):
        frame, report.format, report.engine = data.copy(), "dataframe", "pandas"
    elif type(data).__module__.split(".")[0] == "polars":
        frame, report.format, report.engine = _from_polars(data), "dataframe", "polars"
    elif isinstance(data, pa.Table):
        frame, report.format, report.engine = sources.arrow_to_pandas([data]), "arrow table", "pyarrow"
    elif isinstance(data, (str, Path)):
        if isinstance(data, str) and _URL.match(data) and not Path(data).exists():
            raise DataSourceError(
                problem(
                    "a URL was given without query=",
                    where=data.split("@")[-1],
                    fix="for a database pass query='SELECT ...'; for a web address download the file first",
                )
            )
        frame = _read_path(Path(data), report, encoding, delimiter, sheet, rejects_path)
    else:
        raise DataSourceError(
            problem(
                f"cannot read data of type {type(data).__name__}",
                where="data",
                fix="pass a file path (CSV, TSV, Parquet, Feather, Excel, JSON lines), a pandas or polars DataFrame, "
                "or a database URL with query=",
            )
        )
    return _finish(frame, report, data), report


def _finish(frame: pd.DataFrame, report: ReadReport, data) -> pd.DataFrame:
    names = [str(c).strip() for c in frame.columns.tolist()]
    where = report.source
    check_unique(names, where)
    # object labels, not pandas 3's Arrow-backed strings: every later select, take and copy of the
    # frame works on its labels, and Arrow-backed ones made that a third of a one-row prediction
    frame.columns = pd.Index(names, dtype=object)
    if frame.shape[1] == 0 or frame.shape[0] == 0:
        raise DataSourceError(
            problem(
                "the table has no rows" if frame.shape[1] else "the table has no columns",
                where=where,
                fix="supply a table with a header line and at least one row of data",
            )
        )
    report.n_rows, report.n_cols = frame.shape
    return frame


def _describe(data) -> str:
    if isinstance(data, (str, Path)):
        return str(data).split("@")[-1] if isinstance(data, str) and _URL.match(data) else str(data)
    return "DataFrame" if data is not None else "query"


def _from_polars(data) -> pd.DataFrame:
    if hasattr(data, "collect") and not hasattr(data, "to_pandas"):
        data = data.collect()  # a LazyFrame
    try:
        return data.to_pandas()
    except Exception as exc:  # noqa: BLE001 - polars raises its own error tree
        raise DataSourceError(
            problem(f"could not convert the polars frame: {exc}", where="data", fix="pass frame.to_pandas() yourself")
        ) from None


def _read_query(data, query: str, report: ReadReport) -> pd.DataFrame:
    if data is None or (isinstance(data, str) and data.lower() == "duckdb"):
        return sources.read_duckdb(query, report)
    if isinstance(data, (str, Path)):
        text, path = str(data), Path(data)
        if _URL.match(text) and not path.exists():
            return sources.read_sql(text, query, report)
        engine = _DATABASES.get(path.suffix.lower())
        if engine and not path.is_file():
            raise DataSourceError(problem("database file not found", where=text, fix="check the path"))
        if engine == "duckdb":
            return sources.read_duckdb(query, report, database=path)
        if engine == "sqlite":
            return sources.read_sql(f"sqlite:///{path}", query, report)
    raise DataSourceError(
        problem(
            "query= needs a database",
            where="query",
            fix="pass a SQLAlchemy URL (sqlite:///file.db, postgresql://...), a .db/.sqlite/.duckdb file, "
            "or data='duckdb' (or nothing) to query local files with DuckDB",
        )
    )


def _read_path(path: Path, report: ReadReport, encoding, delimiter, sheet, rejects_path) -> pd.DataFrame:
    where = str(path)
    if not path.exists():
        raise DataSourceError(problem("file not found", where=where, fix="check the path and the working directory"))
    if path.is_dir():
        raise DataSourceError(problem("expected a file, got a folder", where=where, fix="name the data file itself"))
    if path.stat().st_size == 0:
        raise DataSourceError(problem("the file is empty", where=where, fix="supply a file with a header and rows"))
    suffixes = [s.lower() for s in path.suffixes]
    compression = _COMPRESSION.get(suffixes[-1]) if suffixes else None
    kind = suffixes[-2] if compression and len(suffixes) > 1 else ("" if compression else path.suffix.lower())
    if kind in _DATABASES:
        raise DataSourceError(problem("a database file needs query=", where=where, fix="pass query='SELECT ...'"))
    if kind == ".xls":
        raise DataSourceError(problem("old Excel .xls files are not read", where=where, fix="save it as .xlsx or CSV"))
    fmt = _FORMATS.get(kind)
    if fmt is None:
        raise DataSourceError(
            problem(f"unknown file format {''.join(suffixes) or '(no extension)'}", where=where, fix=_FORMATS_FIX)
        )
    try:
        fmt, compression = _sniff_magic(path, fmt, compression, report)
        if compression and fmt in ("parquet", "feather", "excel"):
            raise DataSourceError(
                problem(f"a compressed {fmt} file cannot be read", where=where, fix="decompress it first")
            )
        report.format = fmt + (f" ({compression})" if compression else "")
        src = Source(path, compression)
        if fmt in ("csv", "tsv"):
            return delimited.read_delimited(
                src, report, encoding=encoding, delimiter=delimiter, tab=fmt == "tsv", rejects_path=rejects_path
            )
        if fmt == "parquet":
            return sources.read_parquet(src, report)
        if fmt == "feather":
            return sources.read_feather(src, report)
        if fmt == "excel":
            return sources.read_excel(src, report, sheet)
        return sources.read_json(src, report, lines=fmt == "jsonl")
    except DataSourceError:
        raise
    except (ValueError, UnicodeError, pd.errors.ParserError, OSError, EOFError, pa.ArrowException) as exc:
        _could_not_parse(exc, where)
    except (zipfile.BadZipFile, lzma.LZMAError, zlib.error, KeyError) as exc:  # damaged compressed data
        _could_not_parse(exc, where)


def _could_not_parse(exc: BaseException, where: str):
    message = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300].rstrip(".")
    raise DataSourceError(
        problem(
            f"could not parse the file: {message}",
            where=where,
            fix="check that it is a well-formed table in the format its extension claims",
        )
    ) from None


def _sniff_magic(path: Path, fmt: str, compression: str | None, report: ReadReport) -> tuple[str, str | None]:
    """A text-named file whose first bytes say gzip, zip, Parquet ...: read it as what it is, and say so."""
    if compression or fmt not in ("csv", "tsv", "json", "jsonl"):
        return fmt, compression
    with open(path, "rb") as fh:
        head = fh.read(8)
    real = next((name for magic, name in _MAGIC if head.startswith(magic)), None)
    if head.startswith(b"BZh") and head[3:4].isdigit():
        real = "bz2"
    if real is None:
        return fmt, compression
    if real == "zip" and _is_workbook(path):
        real = "excel"
    report.notes.append(f"the file's content is {real} although its name says {path.suffix or 'nothing'}")
    if real in ("parquet", "feather", "excel"):
        return real, None
    return fmt, real


def _is_workbook(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            return any(name.startswith("xl/") for name in zf.namelist())
    except zipfile.BadZipFile:
        return False
