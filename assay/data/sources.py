"""One reader per kind of source, each filling a :class:`ReadReport` as it goes.

Delimited text is parsed by pyarrow (multithreaded, columnar); rows with the wrong number of fields
are set aside with their line numbers instead of failing the read. pandas' python engine is the
fallback for what pyarrow cannot parse, and says so in the notes.
"""

from __future__ import annotations

import bz2
import codecs
import csv
import gzip
import io
import lzma
import os
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from assay.data.encoding import SAMPLE_BYTES, TextSniff, decode_sample, guess_single_byte, sniff_encoding, sniff_layout
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
_RAW_LIMIT = 10_000  # characters of a rejected row kept in the rejects file


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
            return zipfile.ZipFile(self.path).open(self.member)
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


# ---------------------------------------------------------------- delimited text


def read_delimited(src: Source, report: ReadReport, *, encoding=None, delimiter=None, tab=False, rejects_path=None):
    raw = src.head(SAMPLE_BYTES + 1)
    complete = len(raw) <= SAMPLE_BYTES
    sniff = sniff_encoding(raw[:SAMPLE_BYTES], src.where, encoding)
    text = decode_sample(raw[:SAMPLE_BYTES], sniff, src.where, complete, declared=bool(encoding))
    sniff = sniff_layout(text, sniff, src.where, delimiter, tab)
    check_unique([h.strip() for h in sniff.header], src.where)
    if sniff.encoding in ("utf-8", "utf-8-sig"):
        sniff.sample = raw if complete else _whole_records(raw[:SAMPLE_BYTES])
    try:
        table, bad, comments = _arrow_decoded(src, sniff, declared=bool(encoding))
        report.engine = "pyarrow"
    except (pa.ArrowInvalid, UnicodeError) as exc:
        if isinstance(exc, UnicodeError) or "decod" in str(exc).lower():
            raise DataSourceError(
                problem(
                    f"the file cannot be decoded as {sniff.encoding}",
                    where=src.where,
                    fix="pass the file's real encoding, e.g. encoding='cp1252' or 'utf-16'",
                )
            ) from None
        frame, bad = _pandas_csv(src, sniff, exc)
        table, comments = None, 0
        report.engine = "pandas (python engine)"
        report.notes.append(f"pyarrow could not parse the file ({_first_line(exc)}); read with pandas' slower engine")
    report.encoding, report.encoding_guessed, report.delimiter = sniff.encoding, sniff.guessed, sniff.delimiter
    report.comment_lines = sniff.comment_lines + comments
    report.notes += sniff.notes
    if report.comment_lines:
        report.notes.append(f"{report.comment_lines} comment line(s) starting with '#' skipped")
    if table is not None:
        check_unique([c.strip() for c in table.column_names], src.where)
        width = table.num_columns
        if bad or _last_row_multiline(table):
            _locate(src, sniff, width, bad)  # fills in line numbers, raises on a quote never closed
        n_rows, holder = table.num_rows, [table]
        del table  # so that the conversion can free each Arrow column as soon as it is copied
        frame = arrow_to_pandas(holder, ltrim=sniff.leading_spaces)
    else:
        width, n_rows = frame.shape[1], len(frame)
        if bad:
            _locate(src, sniff, width, bad)
    if bad:
        _set_aside(bad, n_rows, width, src, sniff, report, rejects_path)
    return frame


def _whole_records(raw: bytes) -> bytes:
    """The sample up to a line end outside quotes, so that its last row is not cut in two."""
    cut = raw.rfind(b"\n") + 1
    quotes = raw.count(b'"', 0, cut)
    for _ in range(1000):
        if cut <= 0 or quotes % 2 == 0:
            break
        start = raw.rfind(b"\n", 0, cut - 1) + 1
        quotes -= raw.count(b'"', start, cut)
        cut = start
    return raw[:cut] if quotes % 2 == 0 else b""


def _arrow_decoded(src: Source, sniff: TextSniff, declared: bool):
    """Read with pyarrow; non-UTF-8 bytes past the sample mean a re-read as Windows-1252, then Latin-1."""
    for _ in range(3):
        try:
            table, bad, comments = _arrow_csv(src, sniff)
            not_utf8 = any(pa.types.is_binary(t) for t in table.schema.types)
        except UnicodeDecodeError:
            if not (sniff.guessed and sniff.encoding == "cp1252"):
                raise
            sniff.encoding, sniff.notes = "latin-1", [n.replace("Windows-1252", "ISO-8859-1") for n in sniff.notes]
            continue  # bytes that Windows-1252 leaves undefined
        except pa.ArrowInvalid as exc:
            if "invalid UTF8" not in str(exc):
                raise
            not_utf8 = True  # a column typed as text from the sample meets bytes that are not UTF-8
        if not not_utf8:
            return table, bad, comments
        if not declared and sniff.encoding == "utf-8":
            sniff.encoding, sniff.guessed, sniff.notes = _late_guess(src, sniff)
        if sniff.encoding.startswith("utf-8"):
            raise UnicodeDecodeError(sniff.encoding, b"", 0, 0, "invalid bytes")
    raise UnicodeDecodeError(sniff.encoding, b"", 0, 0, "no single-byte encoding decodes the file")


def _arrow_csv(src: Source, sniff: TextSniff, sample: bytes | None = None):
    """pyarrow's read with pandas' missing values; ``sample`` (bytes) reads just those, once."""
    bad: list[list] = []
    comments = [0]

    def on_invalid(row) -> str:
        text = row.text or ""
        if text.lstrip().startswith("#"):
            comments[0] += 1
        else:
            bad.append([None, f"expected {row.expected_columns} fields, found {row.actual_columns}", text])
        return "skip"

    encoding = "utf8" if sniff.encoding in ("utf-8", "utf-8-sig") else sniff.encoding
    block = max(1 << 20, 8 * sniff.longest_line)
    column_types = _sample_types(src, sniff) if sample is None and sniff.sample else {}
    from_sample = any(not pa.types.is_string(t) for t in column_types.values())
    nulls = NA_VALUES + [" " + v for v in NA_VALUES if v] if sniff.leading_spaces else NA_VALUES  # "a, ?"
    for _ in range(50):
        bad.clear()
        comments[0] = 0
        try:
            table = pcsv.read_csv(
                src.for_arrow() if sample is None else pa.BufferReader(sample),
                read_options=pcsv.ReadOptions(skip_rows=sniff.skip_lines, encoding=encoding, block_size=block),
                parse_options=pcsv.ParseOptions(
                    delimiter=sniff.delimiter, newlines_in_values=True, invalid_row_handler=on_invalid
                ),
                convert_options=pcsv.ConvertOptions(
                    null_values=nulls, strings_can_be_null=True, column_types=column_types, timestamp_parsers=[]
                ),
            )
            return table, bad, comments[0]
        except pa.ArrowInvalid as exc:
            msg = str(exc)
            if sample is not None or "invalid UTF8" in msg:
                raise
            column = re.search(r"In CSV column #(\d+)", msg)
            if column and "conversion error" in msg and from_sample:
                column_types = {k: t for k, t in column_types.items() if pa.types.is_string(t)}
                from_sample = False  # a type from the sample fails further on: let pyarrow infer on everything
            elif column and int(column.group(1)) < len(sniff.header) and "conversion error" in msg:
                name = sniff.header[int(column.group(1))]
                if column_types.get(name) == pa.string():
                    raise
                column_types[name] = pa.string()  # older pyarrow: a column of mixed values is text
            elif "straddl" in msg and block < 1 << 30:
                block *= 8  # a row longer than a block
            else:
                raise
    raise pa.ArrowInvalid("too many columns change type part-way through the file")


def _sample_types(src: Source, sniff: TextSniff) -> dict[str, pa.DataType]:
    """Column types inferred on the first megabyte, dates as text. Given up front, they spare pyarrow
    from keeping every parsed block in memory in case a later one changes a column's type."""
    try:
        head = _arrow_csv(src, sniff, sniff.sample)[0]
    except (pa.ArrowInvalid, UnicodeError):
        return {}
    if len(set(head.column_names)) < head.num_columns:
        return {}
    return {
        f.name: pa.string() if pa.types.is_temporal(f.type) else f.type
        for f in head.schema
        if not pa.types.is_null(f.type)
    }


def _late_guess(src: Source, sniff: TextSniff):
    """UTF-8 in the sample but not further on: find the first bad bytes and guess a single-byte encoding."""
    decoder, offset = codecs.getincrementaldecoder("utf-8")(), 0
    with src.open() as fh:
        while chunk := fh.read(1 << 22):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                guess = guess_single_byte(chunk[exc.start : exc.start + 65536], src.where, f"byte {offset + exc.start}")
                return guess.encoding, True, guess.notes
            offset += len(chunk)
    return sniff.encoding, sniff.guessed, sniff.notes


def _pandas_csv(src: Source, sniff: TextSniff, arrow_error: Exception):
    bad: list[list] = []

    def on_bad(fields: list[str]) -> None:
        bad.append([None, "too many fields", sniff.delimiter.join(fields)])
        return None

    try:
        with src.open() as fh:
            frame = pd.read_csv(
                fh,
                sep=sniff.delimiter,
                skiprows=sniff.skip_lines,
                encoding=sniff.encoding,
                engine="python",
                na_values=EXTRA_NA_VALUES,
                skipinitialspace=True,
                on_bad_lines=on_bad,
            )
    except (ValueError, pd.errors.ParserError, csv.Error) as exc:
        raise DataSourceError(
            problem(
                f"could not parse the file: {_first_line(arrow_error)}; pandas: {_first_line(exc)}",
                where=src.where,
                fix="check the delimiter and quoting (pass delimiter=...), or re-export the file as CSV",
            )
        ) from None
    return frame, bad


def _last_row_multiline(table: pa.Table) -> bool:
    """A quote left open swallows the rest of the file into the last row's value."""
    if table.num_rows == 0:
        return False
    for column in table.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            value = column[-1].as_py()
            if isinstance(value, str) and "\n" in value:
                return True
    return False


def _key(text: str) -> str:
    return text.replace("\r", "").rstrip("\n")


def _locate(src: Source, sniff: TextSniff, width: int, bad: list[list]) -> None:
    """Second pass (only when something went wrong): line numbers of rejected rows, and unclosed quotes."""
    found: dict[str, list[int]] = {}
    line_no, buf = 0, []
    with io.TextIOWrapper(src.open(), encoding=sniff.encoding, errors="replace", newline="") as stream:

        def lines():
            nonlocal line_no
            for line in stream:
                line_no += 1
                buf.append(line)
                yield line

        feed = lines()
        for _ in range(sniff.skip_lines):
            next(feed, None)
        reader = csv.reader(feed, delimiter=sniff.delimiter)
        next(reader, None)  # the header
        raw, start = "", line_no + 1
        last = start
        try:
            while True:
                buf.clear()
                start = line_no + 1
                row = next(reader, None)
                if row is None:
                    break
                raw, last = "".join(buf), start
                if row and len(row) != width:
                    found.setdefault(_key(raw), []).append(start)
        except csv.Error:  # a field past the csv module's size limit: a quote left open, or a giant value
            raw, last = "".join(buf), start
        if "\n" in raw.rstrip("\r\n") and raw.count('"') % 2:
            _unclosed(last, src.where)  # the last record ran to the end of the file inside quotes
    for entry in bad:
        numbers = found.get(_key(entry[2]))
        if numbers:
            entry[0] = numbers.pop(0)
        elif "\n" in entry[2] and entry[2].count('"') % 2:
            _unclosed(None, src.where)


def _unclosed(line: int | None, where: str):
    at = f"on line {line} " if line else ""
    raise DataSourceError(
        problem(
            f"unbalanced quote: a quoted field opened {at}is never closed, so the rest of the file reads as one value",
            where=where,
            fix=f"close or remove the stray quote character{' on line ' + str(line) if line else ''}",
        )
    )


def _set_aside(bad, n_rows, width, src: Source, sniff: TextSniff, report: ReadReport, rejects_path) -> None:
    if len(bad) > n_rows:
        raise DataSourceError(
            problem(
                f"{len(bad):,} of {len(bad) + n_rows:,} rows do not have the header's {width} fields",
                where=src.where,
                fix=f"check the delimiter (detected {sniff.delimiter!r}; pass delimiter=...) and the header line",
            )
        )
    path = Path(rejects_path) if rejects_path else _default_rejects(src.path)
    try:
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["line_number", "reason", "raw"])
            writer.writerows([n if n else "", why, text[:_RAW_LIMIT]] for n, why, text in bad)
        report.rejects_path = str(path)
        where = f"set aside in {path}"
    except OSError as exc:
        where = f"could not write the rejects file ({exc.strerror})"
    report.rejected = len(bad)
    lines = [str(n) for n, _, _ in bad[:5] if n]
    at = f" (lines {', '.join(lines)}{', ...' if len(bad) > 5 else ''})" if lines else ""
    report.notes.append(f"{len(bad):,} malformed row(s) with the wrong number of fields skipped{at}; {where}")


def _default_rejects(path: Path) -> Path:
    folder = path.parent if os.access(path.parent, os.W_OK) else Path.cwd()
    return folder / f"{path.name}.rejects.csv"


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


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


# ---------------------------------------------------------------- arrow tables


def arrow_to_pandas(holder: list[pa.Table], ltrim: bool = False) -> pd.DataFrame:
    """pandas.read_csv's view of the Arrow table in ``holder``: dates stay text, all-empty columns are
    float NaN. The table is taken out of ``holder`` so that its memory goes as the frame is built."""
    table = holder.pop()
    columns = []
    for column in table.columns:
        kind = column.type
        if pa.types.is_temporal(kind):
            column = pc.cast(column, pa.string())  # dates are the cleaning step's business, as with pandas
        elif pa.types.is_null(kind):
            column = column.cast(pa.float64())
        elif ltrim and pa.types.is_string(kind):
            column = _retype(pc.utf8_ltrim_whitespace(column))
        columns.append(column)
    names = [name if name.strip() else f"Unnamed: {i}" for i, name in enumerate(table.column_names)]
    table = pa.Table.from_arrays(columns, names=names)
    del columns
    return table.to_pandas(split_blocks=True, self_destruct=True)


def _retype(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Text that had blanks after the delimiter ("a, 1, true"): missing, number or bool as pandas would see it."""
    column = pc.if_else(pc.is_in(column, _NA), pa.scalar(None, pa.string()), column)
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
    return pd.read_parquet(src.path)


def read_feather(src: Source, report: ReadReport) -> pd.DataFrame:
    report.engine = "pyarrow"
    return pd.read_feather(src.path)


def read_excel(src: Source, report: ReadReport, sheet=None) -> pd.DataFrame:
    _need("openpyxl", "Excel files")
    report.engine = "openpyxl"
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


def read_json(src: Source, report: ReadReport, lines: bool) -> pd.DataFrame:
    if lines:
        import pyarrow.json as pjson

        try:
            holder = [pjson.read_json(src.for_arrow())]
            report.engine = "pyarrow"
            return arrow_to_pandas(holder)
        except pa.ArrowInvalid as exc:
            report.notes.append(f"pyarrow could not read the JSON lines ({_first_line(exc)}); read them with pandas")
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
                f"the query failed: {_first_line(getattr(exc, 'orig', None) or exc)}",
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
            problem(f"the DuckDB query failed: {_first_line(exc)}", where="query", fix="check the query and file paths")
        ) from None


def _need(module: str, purpose: str) -> None:
    try:
        __import__(module)
    except ImportError:
        raise DataSourceError(
            problem(f"reading {purpose} needs the package {module}", where=purpose, fix=f"pip install {module}")
        ) from None
