"""Delimited text (CSV, TSV and the like), parsed by pyarrow into pandas' view of the values.

Speed and memory hinge on telling pyarrow every column's type up front. A column left for pyarrow to
infer makes it keep every parsed block until the end of the file, in case a later block changes that
column's type: on a large file this about doubles the memory and much of the time. So the types come
from samples (the first megabyte, and for a large plain file eight slices further on), and a column
whose sample type proves wrong later ("?" among numbers) is read again as text and typed afterwards the
way pyarrow would have typed it (a late "2.5" among whole numbers still gives floats). Columns the
samples cannot settle (empty there, or typed differently in two slices) are read as text and typed
afterwards straight away, so a read is repeated only for a surprise past every sample.

Rows with the wrong number of fields are set aside with their line numbers instead of failing the
read; pandas' python engine is the fallback for what pyarrow cannot parse, and says so in the notes.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv

from assay.data.encoding import SAMPLE_BYTES, TextSniff, decode_sample, guess_single_byte, sniff_encoding, sniff_layout
from assay.data.sources import (
    EXTRA_NA_VALUES,
    NA_VALUES,
    ReadReport,
    Source,
    arrow_pool,
    arrow_to_pandas,
    check_unique,
    first_line,
    type_text,
)
from assay.errors import DataSourceError, problem

_RAW_LIMIT = 10_000  # characters of a rejected row kept in the rejects file
_SLICES = 8  # further samples, evenly spread, the last at the end of the file
_SLICE_BYTES = 1 << 18  # each
_SLICES_FROM = 4 * SAMPLE_BYTES  # files smaller than this are sampled at the start only
_CHUNK_BYTES = 1 << 22  # read at a time when numbering rejected lines
_TEXT = pa.large_string()  # what pandas keeps its text in: no conversion to it afterwards


def read_delimited(src: Source, report: ReadReport, *, encoding=None, delimiter=None, tab=False, rejects_path=None):
    raw = src.head(SAMPLE_BYTES + 1)
    complete = len(raw) <= SAMPLE_BYTES
    sniff = sniff_encoding(raw[:SAMPLE_BYTES], src.where, encoding)
    text = decode_sample(raw[:SAMPLE_BYTES], sniff, src.where, complete, declared=bool(encoding))
    sniff = sniff_layout(text, sniff, src.where, delimiter, tab)
    check_unique([h.strip() for h in sniff.header], src.where)
    if sniff.encoding in ("utf-8", "utf-8-sig"):
        sniff.sample = raw if complete else _whole_records(raw[:SAMPLE_BYTES])
    else:  # the types are the same in UTF-8, which is what pyarrow parses anyway
        sniff.sample = text.encode() if complete else _whole_records(text.encode())
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
        report.notes.append(f"pyarrow could not parse the file ({first_line(exc)}); read with pandas' slower engine")
    report.encoding, report.encoding_guessed, report.delimiter = sniff.encoding, sniff.guessed, sniff.delimiter
    report.comment_lines = sniff.comment_lines + comments
    report.notes += sniff.notes
    if report.comment_lines:
        report.notes.append(f"{report.comment_lines} comment line(s) starting with '#' skipped")
    if table is not None:
        check_unique([c.strip() for c in table.column_names], src.where)
        width, multiline = table.num_columns, _last_row_multiline(table)
        if bad or multiline:
            _locate(src, sniff, width, bad, multiline)  # fills in line numbers, raises on a quote never closed
        n_rows, holder = table.num_rows, [table]
        del table  # so that the conversion can free each Arrow column as soon as it is copied
        frame = arrow_to_pandas(holder, ltrim=sniff.leading_spaces)
    else:
        width, n_rows = frame.shape[1], len(frame)
        if bad:
            _locate(src, sniff, width, bad, multiline=False)
    if bad:
        bad.sort(key=lambda entry: entry[0] or float("inf"))  # pyarrow reports them in no set order
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
            not_utf8 = True  # a column typed as text meets bytes that are not UTF-8
        if not not_utf8:
            return table, bad, comments
        if not declared and sniff.encoding == "utf-8":
            sniff.encoding, sniff.guessed, sniff.notes = _late_guess(src, sniff)
        if sniff.encoding.startswith("utf-8"):
            raise UnicodeDecodeError(sniff.encoding, b"", 0, 0, "invalid bytes")
    raise UnicodeDecodeError(sniff.encoding, b"", 0, 0, "no single-byte encoding decodes the file")


def _arrow_csv(src: Source, sniff: TextSniff):
    """pyarrow's read with pandas' missing values and the column types of :func:`_column_types`."""
    bad: list[list] = []
    comments: list[int] = []  # pyarrow calls on_invalid from several threads: an append is atomic, += is not

    def on_invalid(row) -> str:
        text = row.text or ""
        if text.lstrip().startswith("#"):
            comments.append(1)
        else:
            bad.append([None, f"expected {row.expected_columns} fields, found {row.actual_columns}", text])
        return "skip"

    encoding = "utf8" if sniff.encoding in ("utf-8", "utf-8-sig") else sniff.encoding
    block = max(1 << 20, 8 * sniff.longest_line)
    types, later = _column_types(src, sniff) if sniff.sample else ({}, set())
    names, surprises = list(types) or sniff.header, 0
    for _ in range(50):
        bad.clear()
        comments.clear()
        try:
            options = _options(sniff, encoding, block, types, on_invalid)
            if types and _cores() <= 2:
                table = pcsv.open_csv(src.for_arrow(), **options, memory_pool=arrow_pool()).read_all()
            else:
                table = pcsv.read_csv(src.for_arrow(), **options, memory_pool=arrow_pool())
            return _type_later(table, later), bad, len(comments)
        except pa.ArrowInvalid as exc:
            msg = str(exc)
            if "invalid UTF8" in msg:
                raise
            column = re.search(r"In CSV column #(\d+)", msg)
            name = names[int(column.group(1))] if column and int(column.group(1)) < len(names) else None
            if name is not None and "conversion error" in msg and types.get(name) != _TEXT:
                surprises += 1  # a type from the samples fails further on: read that column as text, type it after
                for late in [name] if surprises < 3 else [n for n, t in types.items() if t != _TEXT]:
                    types[late] = _TEXT
                    later.add(late)
            elif "straddl" in msg and block < 1 << 30:
                block *= 8  # a row longer than a block
            else:
                raise
    raise pa.ArrowInvalid("too many columns change type part-way through the file")


def _cores() -> int:
    """Which pyarrow reader pays: its threaded one parses blocks in parallel, but one thread must find
    the blocks first, so on two cores it used about 30% more CPU time for little gain in wall time, and
    with any other work on the machine it was slower. Its streaming one parses block after block: less
    CPU time in all, and it stops at the first value that does not fit its column's type, where the
    threaded one first goes through the rest of the file (bench/ingest.py)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _options(sniff: TextSniff, encoding: str, block: int, types: dict, on_invalid, names=None, skip=None) -> dict:
    nulls = NA_VALUES + [" " + v for v in NA_VALUES if v] if sniff.leading_spaces else NA_VALUES  # "a, ?"
    return {
        "read_options": pcsv.ReadOptions(
            skip_rows=sniff.skip_lines if skip is None else skip,
            column_names=names,
            encoding=encoding,
            block_size=block,
        ),
        "parse_options": pcsv.ParseOptions(
            delimiter=sniff.delimiter, newlines_in_values=True, invalid_row_handler=on_invalid
        ),
        "convert_options": pcsv.ConvertOptions(
            null_values=nulls, strings_can_be_null=True, column_types=types, timestamp_parsers=[]
        ),
    }


def _column_types(src: Source, sniff: TextSniff) -> tuple[dict[str, pa.DataType], set[str]]:
    """Each column's type as the samples agree on it (dates as text), and the columns that they leave
    open: these are read as text and typed after the read by :func:`type_text`."""
    head = _parse_sample(sniff.sample, sniff, skip=sniff.skip_lines)
    if head is None or len(set(head.column_names)) < head.num_columns:
        return {}, set()
    seen = {f.name: [f.type] for f in head.schema}
    for part in _slices(src, sniff):
        table = _parse_sample(part, sniff, names=head.column_names, skip=0)
        if table is not None:
            for f in table.schema:
                seen[f.name].append(f.type)
    types, later = {}, set()
    for name, found in seen.items():
        kinds = {_TEXT if pa.types.is_temporal(t) or pa.types.is_string(t) else t for t in found}
        kinds.discard(pa.null())
        if kinds == {pa.int64(), pa.float64()}:
            kinds = {pa.float64()}
        settled = len(kinds) == 1
        types[name] = kinds.pop() if settled else _TEXT
        if not settled:
            later.add(name)
    return types, later


def _parse_sample(data: bytes, sniff: TextSniff, names=None, skip=0) -> pa.Table | None:
    try:
        options = _options(sniff, "utf8", max(1 << 20, len(data) + 1), {}, lambda row: "skip", names, skip)
        table = pcsv.read_csv(pa.BufferReader(data), **options)
    except (pa.ArrowInvalid, UnicodeError):
        return None
    return None if any(pa.types.is_binary(t) for t in table.schema.types) else table


def _slices(src: Source, sniff: TextSniff) -> list[bytes]:
    """Whole lines from evenly spread places of a large plain file, the end included, as UTF-8. A slice may
    begin inside a quoted value; rows that then misparse are skipped, or at worst make a column's
    type open, which costs time and never a wrong value."""
    if src.compression or _wide(sniff.encoding):
        return []
    size = src.path.stat().st_size
    if size < _SLICES_FROM:
        return []
    parts = []
    with open(src.path, "rb") as fh:
        for at in [size * k // _SLICES for k in range(1, _SLICES)] + [max(size - _SLICE_BYTES, 0)]:
            fh.seek(at)
            raw = fh.read(_SLICE_BYTES)
            end = len(raw) if at + len(raw) >= size else raw.rfind(b"\n") + 1
            parts.append(raw[raw.find(b"\n") + 1 : end].decode(sniff.encoding, errors="replace").encode())
    return parts


def _type_later(table: pa.Table, later: set[str]) -> pa.Table:
    for name in later:
        index = table.schema.get_field_index(name)
        if index >= 0 and table.schema.field(index).type == _TEXT:
            table = table.set_column(index, name, type_text(table.column(index)))
    return table


def _wide(encoding: str) -> bool:
    """UTF-16 and UTF-32: a line end is more than the byte 0x0A."""
    return codecs.lookup(encoding).name.startswith(("utf-16", "utf-32"))


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
                f"could not parse the file: {first_line(arrow_error)}; pandas: {first_line(exc)}",
                where=src.where,
                fix="check the delimiter and quoting (pass delimiter=...), or re-export the file as CSV",
            )
        ) from None
    return frame, bad


# ---------------------------------------------------------------- rejected rows


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


def _locate(src: Source, sniff: TextSniff, width: int, bad: list[list], multiline: bool) -> None:
    """Line numbers of the rejected rows; where a quoted value may run to the end, the slow exact pass."""
    one_line = not any("\n" in _key(entry[2]) or "\r" in entry[2].rstrip("\r\n") for entry in bad)
    if multiline or not one_line or _wide(sniff.encoding) or _bare_carriage_returns(sniff.sample):
        _parse_lines(src, sniff, width, bad)
    else:
        _match_lines(src, sniff, bad)


def _bare_carriage_returns(sample: bytes) -> bool:
    return sample.count(b"\r") > sample.count(b"\r\n")


def _match_lines(src: Source, sniff: TextSniff, bad: list[list]) -> None:
    """Number each rejected row by finding its text among the file's lines, a chunk at a time with
    numpy: a Python loop over a million lines costs seconds, this a fraction of one. Lines are
    compared in Python only when their length and first bytes match a rejected row's; rows with the
    same text are numbered in file order."""
    codec = "utf-8" if sniff.encoding.startswith("utf-8") else sniff.encoding
    wanted: dict[bytes, list[list]] = {}
    for entry in bad:
        wanted.setdefault(_key(entry[2]).encode(codec, errors="replace"), []).append(entry)
    lengths = np.array(sorted({len(k) for k in wanted}))
    width = int(min(8, lengths.min()))
    heads = np.frombuffer(b"".join(k[:width].ljust(8, b"\0") for k in wanted), np.uint64)
    first = sniff.skip_lines + 2  # the first line that can hold a row
    buf, kept, done = bytearray(_CHUNK_BYTES), 0, 0  # read into one buffer: copying the chunks costs as much
    with src.open() as fh:
        while wanted:
            if kept == len(buf):
                buf.extend(bytes(len(buf)))  # a line longer than the buffer
            size = kept + fh.readinto(memoryview(buf)[kept:])
            last = size == kept
            if last:  # the last line may lack its line end
                buf[size : size + 1] = b"\n"
                size += 1
            codes = np.frombuffer(buf, np.uint8, count=size)
            ends = np.flatnonzero(codes == 10)
            if len(ends):
                starts = np.concatenate(([0], ends[:-1] + 1))
                sizes = ends - starts - ((ends > starts) & (codes[np.maximum(ends - 1, 0)] == 13))
                maybe = np.flatnonzero(np.isin(sizes, lengths))
                prefix = np.zeros((len(maybe), 8), np.uint8)
                prefix[:, :width] = codes[starts[maybe, None] + np.arange(width)]
                for i in maybe[np.isin(prefix.view(np.uint64).ravel(), heads)].tolist():
                    line = bytes(buf[starts[i] : starts[i] + sizes[i]])
                    entries = wanted.get(line)
                    if entries and done + i + 1 >= first:
                        entries.pop(0)[0] = done + i + 1
                        if not entries:
                            del wanted[line]
                done, cut = done + len(ends), int(ends[-1]) + 1
            else:
                cut = 0
            del codes  # a buffer with a view on it cannot be resized
            if last:
                break
            buf[: size - cut], kept = buf[cut:size], size - cut


def _parse_lines(src: Source, sniff: TextSniff, width: int, bad: list[list]) -> None:
    """Line numbers of rejected rows from a record-by-record parse, which also finds unclosed quotes."""
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
