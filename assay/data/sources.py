"""One reader per kind of source, each filling a :class:`ReadReport` as it goes.

Delimited text has its own module, :mod:`assay.data.delimited`, as it has most to get right; this one
holds what every reader shares (the report, opening possibly compressed files, the conversion of Arrow
tables to pandas' view of the values) and the readers of the other formats.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import zipfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from assay.data.encoding import SAMPLE_BYTES
from assay.errors import DataSourceError, problem

# Spellings of "missing" beyond pandas' own: none here on purpose. Placeholders such as "?" or
# "-" are left as text for assay.data.clean, which turns them into missing values and reports it.
EXTRA_NA_VALUES: list[str] = []
# pandas' default missing-value spellings, so the pyarrow path reads the same values as missing.
NA_VALUES = [
    *("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>"),
    *("N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"),
    *EXTRA_NA_VALUES,
]
_PY_OPENERS = {None: open, "gzip": gzip.open, "bz2": bz2.open, "xz": lzma.open}
_NA = pa.array(NA_VALUES)
_BOOLS = pa.array(["true", "false", "True", "False", "TRUE", "FALSE"])


@dataclass
class ReadReport:
    """What was read and how: the facts a user needs to trust (or question) the table."""

    source: str
    format: str = ""
    encoding: str | None = None
    encoding_guessed: bool = False
    delimiter: str | None = None
    comment_lines: int = 0
    engine: str = ""
    n_rows: int = 0
    n_cols: int = 0
    rejected: int = 0
    rejects_path: str | None = None
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{self.n_rows:,} rows x {self.n_cols:,} columns from {self.source} ({self.format}, {self.engine})"]
        if self.encoding:
            parts.append(f"encoding {self.encoding}{' (guessed)' if self.encoding_guessed else ''}")
        if self.delimiter:
            parts.append(f"delimiter {self.delimiter!r}")
        if self.rejected:
            parts.append(f"{self.rejected:,} rows rejected -> {self.rejects_path}")
        return "; ".join(parts)


# ---------------------------------------------------------------- opening files


class Source:
    """A file, possibly compressed, that can be opened any number of times as a binary stream."""

    def __init__(self, path: Path, compression: str | None):
        self.path, self.compression, self.where = path, compression, str(path)
        self.member = _zip_member(path) if compression == "zip" else None

    def open(self):
        if self.compression == "zip":
            try:
                return zipfile.ZipFile(self.path).open(self.member)
            except NotImplementedError:  # Deflate64, PPMd ... (Windows zips large files with Deflate64)
                raise DataSourceError(
                    problem(
                        "the zip archive uses a compression method Python cannot read",
                        where=self.where,
                        fix="unzip it and read the table itself, or zip it again with plain deflate",
                    )
                ) from None
        return _PY_OPENERS[self.compression](self.path, "rb")

    def for_arrow(self):
        """What pyarrow reads fastest: the path itself, or its native decompressing stream."""
        if self.compression is None:
            return str(self.path)
        if self.compression in ("gzip", "bz2"):
            return pa.input_stream(str(self.path), compression=self.compression)
        return self.open()

    def head(self, n_bytes: int = SAMPLE_BYTES) -> bytes:
        with self.open() as fh:
            return fh.read(n_bytes)


def _zip_member(path: Path) -> str:
    with zipfile.ZipFile(path) as zf:
        names = [n for n in zf.namelist() if not n.endswith("/") and "__MACOSX" not in n]
    names = [n for n in names if not Path(n).name.startswith(".")]
    if len(names) != 1:
        raise DataSourceError(
            problem(
                f"the zip archive holds {len(names)} files, expected exactly one" + (f": {names[:5]}" if names else ""),
                where=str(path),
                fix="extract the table you want, or zip that one file alone",
            )
        )
    return names[0]


def check_unique(names: list[str], where: str) -> None:
    seen, dupes = set(), []
    for name in names:
        if name and name in seen and name not in dupes:
            dupes.append(name)
        seen.add(name)
    if dupes:
        raise DataSourceError(
            problem(
                f"duplicate column name(s) {', '.join(map(repr, dupes[:10]))}",
                where=where,
                fix="rename the columns so that every header name is unique",
            )
        )


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


# ---------------------------------------------------------------- arrow tables


@cache
def arrow_pool() -> pa.MemoryPool:
    """jemalloc where pyarrow ships it: reading a large CSV with it took a third to a half less CPU time
    than with pyarrow's default mimalloc, for about 5% more peak memory (bench/ingest.py). Passed to each
    call rather than set globally, so the host process keeps its own default."""
    try:
        return pa.jemalloc_memory_pool()
    except (NotImplementedError, pa.ArrowNotImplementedError):
        return pa.default_memory_pool()


def arrow_to_pandas(holder: list[pa.Table], ltrim: bool = False) -> pd.DataFrame:
    """pandas.read_csv's view of the Arrow table in ``holder``: dates stay text, all-empty columns are
    float NaN. The table is taken out of ``holder`` so that its memory goes as the frame is built."""
    table = holder.pop()
    columns = []
    for column in table.columns:
        kind = column.type
        if pa.types.is_temporal(kind):
            column = pc.cast(column, pa.large_string())  # dates are the cleaning step's business, as with pandas
        elif pa.types.is_null(kind):
            column = column.cast(pa.float64())
        elif ltrim and (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
            column = type_text(pc.utf8_ltrim_whitespace(column))
        columns.append(column)
    names = [name if name.strip() else f"Unnamed: {i}" for i, name in enumerate(table.column_names)]
    table = pa.Table.from_arrays(columns, names=names)
    del columns
    return table.to_pandas(split_blocks=True, self_destruct=True, memory_pool=arrow_pool())


def type_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Text read as text for want of a sure type (blanks after the delimiter, "a, 1, true", or a type the
    samples could not settle): missing, bool, whole or real numbers, or text, as pandas would see it."""
    column = pc.if_else(pc.is_in(column, _NA), pa.scalar(None, column.type), column)
    if column.null_count == len(column):
        return column.cast(pa.float64())
    if pc.all(pc.or_kleene(pc.is_in(column, _BOOLS), pc.is_null(column))).as_py():
        return pc.equal(pc.utf8_lower(column), "true")
    for target in (pa.int64(), pa.float64()):
        try:
            return column.cast(target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
    return column


# ---------------------------------------------------------------- other formats


def read_parquet(src: Source, report: ReadReport) -> pd.DataFrame:
    report.engine = "pyarrow"
    return valid_text(pd.read_parquet(src.path), src.where)


def read_feather(src: Source, report: ReadReport) -> pd.DataFrame:
    report.engine = "pyarrow"
    return valid_text(pd.read_feather(src.path), src.where)


def valid_text(frame: pd.DataFrame, where: str) -> pd.DataFrame:
    """pyarrow's JSON, Parquet and Feather readers keep text bytes as they find them: invalid UTF-8
    would reach pandas and fail in the first string operation to touch it, far from the file
    (bench/fuzz.py found it). Refused here instead, naming the column."""
    for i, dtype in enumerate(frame.dtypes.tolist()):
        if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
            try:
                pa.array(frame.iloc[:, i]).validate(full=True)
            except pa.ArrowInvalid:
                raise DataSourceError(
                    problem(
                        f"column {str(frame.columns[i])[:100]!r} holds text that is not valid UTF-8",
                        where=where,
                        fix="save the file again with its text encoded as UTF-8",
                    )
                ) from None
    return frame


def read_excel(src: Source, report: ReadReport, sheet=None) -> pd.DataFrame:
    _need("openpyxl", "Excel files")
    report.engine = "openpyxl"
    try:
        with pd.ExcelFile(src.path, engine="openpyxl") as book:
            names = book.sheet_names
            if sheet is None:
                sheet = names[0]
                if len(names) > 1:
                    report.notes.append(f"read the first sheet {sheet!r} of {len(names)}; pass sheet= for another")
            elif sheet not in names and not (isinstance(sheet, int) and 0 <= sheet < len(names)):
                raise DataSourceError(
                    problem(f"no sheet {sheet!r} in the workbook", where=src.where, fix=f"pass one of sheet={names}")
                )
            return book.parse(sheet)
    except (DataSourceError, MemoryError):
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged workbook fails in zipfile, zlib, the XML parser or
        # openpyxl itself, with no common base class (bench/fuzz.py found zlib.error)
        raise DataSourceError(
            problem(
                f"could not read the workbook: {type(exc).__name__}: {first_line(exc)}",
                where=src.where,
                fix="open it in a spreadsheet program and save it again as .xlsx, or export it as CSV",
            )
        ) from None


def read_json(src: Source, report: ReadReport, lines: bool) -> pd.DataFrame:
    if lines:
        import pyarrow.json as pjson

        try:
            holder = [pjson.read_json(src.for_arrow())]
            report.engine = "pyarrow"
            return valid_text(arrow_to_pandas(holder), src.where)
        except pa.ArrowInvalid as exc:
            report.notes.append(f"pyarrow could not read the JSON lines ({first_line(exc)}); read them with pandas")
    report.engine = "pandas"
    with src.open() as fh:
        text = fh.read()
    try:
        return pd.read_json(io.BytesIO(text), lines=lines)
    except ValueError:
        if lines:
            raise
        report.notes.append("the .json file holds one record per line: read as JSON lines")
        return pd.read_json(io.BytesIO(text), lines=True)


def read_sql(url: str, query: str, report: ReadReport) -> pd.DataFrame:
    _need("sqlalchemy", "a database URL")
    import sqlalchemy as sa

    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        raise DataSourceError(
            problem("not a valid database URL", where=url, fix="use a SQLAlchemy URL such as sqlite:///file.db")
        ) from None
    safe = parsed.render_as_string(hide_password=True)
    report.source, report.engine, report.format = safe, f"sqlalchemy ({parsed.get_backend_name()})", "sql"
    db = parsed.database
    if parsed.get_backend_name() == "sqlite" and db and db != ":memory:" and not Path(db).exists():
        raise DataSourceError(problem("database file not found", where=db, fix="check the path in the sqlite:/// URL"))
    try:
        engine = sa.create_engine(parsed)
    except ImportError as exc:
        raise DataSourceError(
            problem(f"the database driver is not installed ({exc.name})", where=safe, fix=f"pip install {exc.name}")
        ) from None
    try:
        with engine.connect() as conn:
            return pd.read_sql_query(sa.text(query), conn)
    except (sa.exc.SQLAlchemyError, pd.errors.DatabaseError) as exc:
        exc = exc.__cause__ if isinstance(exc, pd.errors.DatabaseError) and exc.__cause__ else exc
        raise DataSourceError(
            problem(
                f"the query failed: {first_line(getattr(exc, 'orig', None) or exc)}",
                where=safe,
                fix="check the query, the table names and the database URL",
            )
        ) from None
    finally:
        engine.dispose()


def read_duckdb(query: str, report: ReadReport, database: Path | None = None) -> pd.DataFrame:
    _need("duckdb", "query= over local files")
    import duckdb

    report.engine, report.format = "duckdb", "sql"
    report.source = f"duckdb ({database or 'in-process'})"
    try:
        with duckdb.connect(str(database) if database else ":memory:", read_only=database is not None) as con:
            relation = con.sql(query)
            if relation is None:
                raise DataSourceError(
                    problem("the query returned no table", where="query", fix="end with a SELECT that returns rows")
                )
            return relation.df()
    except duckdb.Error as exc:
        raise DataSourceError(
            problem(f"the DuckDB query failed: {first_line(exc)}", where="query", fix="check the query and file paths")
        ) from None


def _need(module: str, purpose: str) -> None:
    try:
        __import__(module)
    except ImportError:
        raise DataSourceError(
            problem(f"reading {purpose} needs the package {module}", where=purpose, fix=f"pip install {module}")
        ) from None
