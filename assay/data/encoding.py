"""Sniff what a text table is made of from its first megabyte: encoding, comment lines, delimiter, header.

Nothing here reads a whole file. The readers in :mod:`assay.data.sources` act on what this returns.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass, field

from assay.errors import DataSourceError, problem

SAMPLE_BYTES = 1 << 20
DELIMITERS = (",", "\t", ";", "|")
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: its BOM starts with the UTF-16 LE one
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_BINARY_FIX = "export the table as CSV (or Parquet), or name the file with the extension of its real format"


@dataclass
class TextSniff:
    """How the start of a text file decodes, and how its table is laid out."""

    encoding: str
    guessed: bool = False
    notes: list[str] = field(default_factory=list)
    skip_lines: int = 0  # comment and blank lines before the header
    comment_lines: int = 0
    delimiter: str = ","
    header: list[str] = field(default_factory=list)
    leading_spaces: bool = False  # fields start with blanks after the delimiter ("a, b")
    longest_line: int = 0
    sample: bytes = b""  # whole lines from the start of the file, for pyarrow to infer types on


def check_encoding(name: str, where: str) -> str:
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise DataSourceError(
            problem(f"unknown encoding {name!r}", where=where, fix="use a Python codec name: utf-8, cp1252, utf-16 ...")
        ) from None


def sniff_encoding(raw: bytes, where: str, declared: str | None = None) -> TextSniff:
    """The encoding of ``raw`` (a file's first bytes): declared, from a BOM, UTF-8, else guessed."""
    if declared:
        return TextSniff(check_encoding(declared, where))
    for bom, name in _BOMS:
        if raw.startswith(bom):
            return TextSniff(name)
    if b"\x00" in raw[:4096]:
        head = raw[:4096]
        odd, even = head[1::2].count(0), head[0::2].count(0)
        half = max(len(head) // 2, 1)
        if odd > 0.4 * half and even < 0.05 * half:
            return TextSniff("utf-16-le", True, ["encoding guessed as UTF-16 LE (no byte-order mark)"])
        if even > 0.4 * half and odd < 0.05 * half:
            return TextSniff("utf-16-be", True, ["encoding guessed as UTF-16 BE (no byte-order mark)"])
        what = "the file looks binary, not text (it contains NUL bytes)"
        raise DataSourceError(problem(what, where=where, fix=_BINARY_FIX))
    try:
        codecs.getincrementaldecoder("utf-8")().decode(raw, final=len(raw) < SAMPLE_BYTES)
        return TextSniff("utf-8")
    except UnicodeDecodeError as exc:
        return guess_single_byte(raw, where, f"byte {exc.start}")


def guess_single_byte(raw: bytes, where: str, at: str) -> TextSniff:
    """Not UTF-8: Windows-1252 if it decodes, else Latin-1 (which decodes anything), reported as a guess."""
    try:
        raw.decode("cp1252")
        name, label = "cp1252", "latin-1 (Windows-1252)"
    except UnicodeDecodeError:
        name, label = "latin-1", "latin-1 (ISO-8859-1)"
    note = f"encoding guessed as {label}: the file is not valid UTF-8 ({at}); pass encoding=... if text looks wrong"
    return TextSniff(name, True, [note])


def decode_sample(raw: bytes, sniff: TextSniff, where: str, complete: bool, declared: bool = False) -> str:
    """The sample as text; a file whose text is mostly control characters is binary."""
    try:
        text = codecs.getincrementaldecoder(sniff.encoding)().decode(raw, final=complete)
    except UnicodeDecodeError as exc:
        if declared:
            raise DataSourceError(
                problem(
                    f"the file cannot be decoded as {sniff.encoding} (byte {exc.start})",
                    where=where,
                    fix="pass the file's real encoding (e.g. encoding='cp1252'), or leave encoding out to detect it",
                )
            ) from None
        text = codecs.getincrementaldecoder(sniff.encoding)(errors="replace").decode(raw, final=complete)
    sample = text[:20000]
    control = sum(1 for ch in sample if ch < " " and ch not in "\t\r\n" or ch == "\ufffd")
    if sample and control > 0.05 * len(sample):
        raise DataSourceError(problem("the file looks binary, not text", where=where, fix=_BINARY_FIX))
    if not complete and "\n" in text:
        text = text[: text.rindex("\n") + 1]  # drop the last, possibly cut, line
    return text


def sniff_layout(text: str, sniff: TextSniff, where: str, delimiter: str | None = None, tab: bool = False) -> TextSniff:
    """Fill in comment lines, delimiter and header from the decoded sample."""
    lines = text.splitlines(keepends=True)
    skip = comments = 0
    while skip < len(lines) and (not lines[skip].strip() or lines[skip].lstrip().startswith("#")):
        comments += lines[skip].lstrip().startswith("#")
        skip += 1
    body = "".join(lines[skip:])
    if not body.strip():
        raise DataSourceError(problem("the file has no header line", where=where, fix="supply a header and rows"))
    sniff.skip_lines, sniff.comment_lines = skip, comments
    sniff.longest_line = max(len(line) for line in lines[skip : skip + 200])
    if delimiter is None:
        delimiter = "\t" if tab else _best_delimiter(body)
    elif len(delimiter) != 1:
        raise DataSourceError(
            problem(f"delimiter must be one character, not {delimiter!r}", where="delimiter", fix="pass e.g. ';'")
        )
    sniff.delimiter = delimiter
    rows = _records(body, delimiter, 50)
    sniff.header = rows[0] if rows else []
    sniff.leading_spaces = any(f[:1] in (" ", "\t") and f.strip() for row in rows for f in row if delimiter != "\t")
    return sniff


def _records(body: str, delimiter: str, limit: int) -> list[list[str]]:
    rows: list[list[str]] = []
    try:
        for row in csv.reader(io.StringIO(body), delimiter=delimiter):
            if row and not (len(row) == 1 and row[0].lstrip().startswith("#")):
                rows.append(row)
            if len(rows) >= limit:
                break
    except csv.Error:
        pass  # a sample cut inside a quoted field, or a stray quote: judge on what was read
    return rows


def _best_delimiter(body: str) -> str:
    """The candidate that splits the header into most fields and the rows into as many as the header;
    none that splits at most half the rows like the header (then the file has one column, e.g. a
    header ';' over numbers: found by tests/hardening/test_properties_ingest.py)."""
    best, best_score = ",", (0.0, 0)
    for delim in DELIMITERS:
        rows = _records(body, delim, 50)
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        agree = sum(len(r) == width for r in rows[1:]) / max(len(rows) - 1, 1)
        if len(rows) > 1 and agree < 0.5:  # splits the header but not the rows: one column that holds it
            continue
        score = (round(agree, 2), width)
        if score > best_score:
            best, best_score = delim, score
    return best
