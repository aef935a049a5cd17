"""Property-based tests of ingest: whatever table a person writes, in whatever format, the reader
gives it back whole or says clearly why not; type inference and cleaning hold their invariants.

Each property is one promise of issue 3 checked on generated tables instead of hand-picked ones:
no exception but an AssayError, no row lost without being counted, numbers back as numbers,
one kind per column. The examples replay identically on every run (tests/hardening/conftest.py).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import os
import string
import warnings
import zipfile
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, note, settings
from hypothesis import strategies as st

from assay.data.clean import clean_frame
from assay.data.read import read_with_report
from assay.data.schema import KINDS, infer_schema
from assay.data.sources import NA_VALUES
from assay.errors import AssayError

SCALE = int(os.environ.get("ASSAY_PROPERTY_SCALE", "1"))


def examples(n: int) -> settings:
    return settings(max_examples=n * SCALE, deadline=None)


# ---------------------------------------------------------------- generated tables

_TRICKY = ",;\t|\"'\n\r #$%()-." + "éüß€中文🙂\u00a0"
TEXT = st.text(alphabet=st.sampled_from(list(string.ascii_letters + string.digits + _TRICKY + "  ")), max_size=12)
NAME = st.one_of(
    st.text(alphabet=string.ascii_letters + string.digits + "_ -.", min_size=1, max_size=10),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=8),
).filter(lambda s: s.strip() != "")
FLOAT = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e308, -1e308, 0.0, -0.0, 5e-324, -123.456, 1e-300]),
)
DAY = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1))


@st.composite
def column(draw, kind: str, n: int):
    if kind == "float":
        return pd.Series(draw(st.lists(FLOAT, min_size=n, max_size=n)), dtype="float64")
    if kind == "int":
        return pd.Series(draw(st.lists(st.integers(-(2**62), 2**62), min_size=n, max_size=n)), dtype="int64")
    if kind == "bool":
        return pd.Series(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    if kind == "date":
        values = draw(st.lists(st.one_of(DAY, st.none()), min_size=n, max_size=n))
        return pd.Series(pd.to_datetime(values))
    return pd.Series(draw(st.lists(st.one_of(TEXT, st.none()), min_size=n, max_size=n)), dtype=object)


@st.composite
def tables(draw, max_rows: int = 20, max_cols: int = 5):
    n, k = draw(st.integers(1, max_rows)), draw(st.integers(1, max_cols))
    names = draw(st.lists(NAME, min_size=k, max_size=k, unique_by=lambda s: s.strip()))
    kinds = draw(st.lists(st.sampled_from(["float", "int", "text", "bool", "date"]), min_size=k, max_size=k))
    frame = pd.DataFrame({name: draw(column(kind, n)) for name, kind in zip(names, kinds, strict=True)})
    return frame, dict(zip(names, kinds, strict=True))


ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "latin-1"]
FORMATS = st.one_of(
    st.tuples(
        st.just("csv"),
        st.sampled_from([",", ";", "\t", "|"]),
        st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]),
        st.sampled_from(ENCODINGS),
        st.sampled_from([None, "gzip"]),
    ),
    st.tuples(st.sampled_from(["parquet", "jsonl"])),
)


def _encodable(frame: pd.DataFrame, encoding: str) -> pd.DataFrame:
    """Latin-1 cannot hold every character: the writer replaces them (as a person's editor would).
    Its C1 controls (0x80-0x9f) go too: nobody types them, and a file holding them reads, rightly,
    as Windows-1252, where the same bytes are letters."""
    if encoding != "latin-1":
        return frame

    def fit(value):
        if not isinstance(value, str):
            return value
        value = value.encode("latin-1", "replace").decode("latin-1")
        return "".join("?" if "\x80" <= ch <= "\x9f" else ch for ch in value)

    out = frame.rename(columns=fit)
    for name in out.columns:
        if out[name].dtype == object:
            out[name] = out[name].map(fit)
    return out


def write(frame: pd.DataFrame, fmt: tuple, folder: Path) -> tuple[Path, pd.DataFrame]:
    """The table in a file of the drawn format, and the table as that file can hold it."""
    if fmt[0] == "parquet":
        path = folder / "t.parquet"
        frame.to_parquet(path, index=False)
        return path, frame
    if fmt[0] == "jsonl":
        path = folder / "t.jsonl"  # by hand: pandas' writer keeps only 10 significant digits
        path.write_text("".join(json.dumps({k: _json_value(v) for k, v in row.items()}) + "\n" for row in
                                frame.to_dict(orient="records")))  # fmt: skip
        return path, frame
    _, sep, quoting, encoding, compression = fmt
    frame = _encodable(frame, encoding)
    suffix = (".tsv" if sep == "\t" else ".csv") + (".gz" if compression else "")
    path = folder / f"t{suffix}"
    # "\r\n" line ends: pandas quotes a value holding a lone "\r" only when "\r" is part of them
    text = frame.to_csv(index=False, sep=sep, quoting=quoting, lineterminator="\r\n")
    data = text.encode(encoding)
    # Latin-1 bytes that are valid UTF-8 as well ("Â" + no-break space is the UTF-8 of a no-break
    # space) read, rightly, as UTF-8: the file does not say which was meant
    assume(encoding != "latin-1" or data.isascii() or not _valid_utf8(data))
    path.write_bytes(gzip.compress(data) if compression else data)
    return path, frame


def _valid_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _json_value(value):
    if isinstance(value, float) and not math.isfinite(value) or value is None or value is pd.NaT:
        return None
    return value.isoformat() if isinstance(value, (pd.Timestamp, datetime)) else value


def read_or_refuse(path, **options):
    """The reader's answer: (frame, report), or None after an AssayError: any other exception fails."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return read_with_report(path, **options)
    except AssayError as exc:
        assert "Fix:" in str(exc), str(exc)
        return None


def _same_numbers(read: pd.Series, wrote: pd.Series, infinite_as_missing: bool) -> None:
    expected = wrote.to_numpy(dtype="float64")
    if infinite_as_missing:
        expected = np.where(np.isinf(expected), np.nan, expected)
    assert pd.api.types.is_numeric_dtype(read), f"{wrote.name!r} read as {read.dtype}: {read.tolist()[:5]}"
    got = read.to_numpy(dtype="float64", na_value=np.nan)
    same = (got == expected) | (np.isnan(got) & np.isnan(expected)) | np.isclose(got, expected, rtol=1e-12, atol=0)
    assert same.all(), f"{wrote.name!r}: wrote {expected[~same][:3]}, read {got[~same][:3]}"


def _same_text(read: pd.Series, wrote: pd.Series, delimited: bool) -> None:
    """Text comes back as written. In a delimited file, a missing-value spelling ("NA", "", ...)
    reads as missing, and blanks after a delimiter may be trimmed ("a, b" is read as "a" and "b")."""
    for got, value in zip(read.tolist(), wrote.tolist(), strict=True):
        if not isinstance(value, str):  # None, or NaN after Latin-1's replacements
            assert pd.isna(got), (got, value)
        elif pd.isna(got):
            assert delimited and (value.strip() == "" or value.lstrip() in NA_VALUES), (got, value)
        else:
            assert got == value or delimited and got == value.lstrip(), (got, value)


# ---------------------------------------------------------------- reading


@examples(70)
@given(table=tables(), fmt=FORMATS)
def test_written_tables_come_back_whole(tmp_path_factory, table, fmt):
    """A table written by a well-behaved tool comes back with every row and column, numbers equal;
    where the reader refuses it, the refusal is an AssayError with a fix."""
    frame, kinds = table
    path, frame = write(frame, fmt, tmp_path_factory.mktemp("w"))
    names = frame.columns.str.strip()  # after Latin-1's replacements; "#..." first is a comment line
    assume(not names.duplicated().any() and not names.str.startswith("#").any())
    note(f"{fmt}\n{frame!r}\n{frame.dtypes}\n{path.read_bytes()[:2000]!r}")
    read, report = read_with_report(path)  # a file a well-behaved tool wrote is never refused
    assert read.shape == frame.shape, report
    assert report.rejected == 0 and (report.n_rows, report.n_cols) == frame.shape
    assert list(read.columns) == [str(c).strip() for c in frame.columns]
    for i, kind in enumerate(kinds.values()):
        if kind in ("float", "int"):
            _same_numbers(read.iloc[:, i], frame.iloc[:, i], infinite_as_missing=fmt[0] == "jsonl")
        elif kind == "text" and pd.api.types.is_string_dtype(read.iloc[:, i]):
            _same_text(read.iloc[:, i], frame.iloc[:, i], delimited=fmt[0] == "csv")
    schema = infer_schema(read)
    assert schema.names == list(read.columns)
    assert all(c.kind in KINDS for c in schema)
    cleaned, log = clean_frame(read, schema)
    assert cleaned.shape == read.shape


@st.composite
def ragged_files(draw):
    """A CSV with some rows carrying a field too many or too few, and where they are."""
    frame, _ = draw(tables(max_rows=15, max_cols=4))
    assume(frame.shape[1] >= 2)
    frame = frame.rename(columns=lambda c: f"c{list(frame.columns).index(c)}")
    lines = frame.to_csv(index=False, lineterminator="\n").splitlines(keepends=True)
    assume(len(lines) == len(frame) + 1)  # no value spans lines, so line numbers are plain
    good = len(frame)
    n_bad = draw(st.integers(1, max(1, good)))  # never more bad rows than good ones
    for _ in range(n_bad):
        at = draw(st.integers(1, len(lines)))
        width = draw(st.sampled_from([1, frame.shape[1] + 1, frame.shape[1] + 3]))
        lines.insert(at, ",".join(f"x{i}" for i in range(width)) + "\n")
    bad = [i + 1 for i, line in enumerate(lines) if line.startswith("x0")]
    return "".join(lines), good, bad


@examples(40)
@given(case=ragged_files())
def test_ragged_rows_are_counted_and_located(tmp_path_factory, case):
    """Nothing a user gave is lost: each row is read or set aside with its line number."""
    text, good, bad = case
    folder = tmp_path_factory.mktemp("r")
    path = folder / "ragged.csv"
    path.write_text(text)
    answer = read_or_refuse(path, rejects_path=folder / "rejects.csv")
    if answer is None:
        return
    read, report = answer
    assert report.n_rows + report.rejected == good + len(bad)
    if report.rejected:
        rejects = pd.read_csv(report.rejects_path, keep_default_na=False)
        assert sorted(rejects["line_number"].tolist()) == sorted(bad)


MAGIC = [b"", b"\x1f\x8b", b"PAR1", b"PK\x03\x04", b"ARROW1", b"BZh9", b"\xfd7zXZ\x00", b"\xef\xbb\xbf", b"\xff\xfe"]
SUFFIXES = [".csv", ".tsv", ".txt", ".csv.gz", ".csv.bz2", ".csv.xz", ".csv.zip", ".parquet", ".feather"]
SUFFIXES += [".xlsx", ".jsonl", ".json", ""]


@examples(150)
@given(
    head=st.sampled_from(MAGIC),
    body=st.one_of(st.binary(max_size=600), st.text(alphabet=_TRICKY + "ab1", max_size=300).map(str.encode)),
    suffix=st.sampled_from(SUFFIXES),
    encoding=st.sampled_from([None, None, "utf-8", "latin-1", "utf-16", "cp1252", "ascii", "no-such-codec"]),
    delimiter=st.sampled_from([None, None, ",", ";", "\t", "|", "ab", '"']),
)
def test_any_bytes_are_a_table_or_an_assay_error(tmp_path_factory, head, body, suffix, encoding, delimiter):
    """Arbitrary bytes behind any suffix, read with or without a declared encoding and delimiter."""
    path = tmp_path_factory.mktemp("b") / f"junk{suffix}"
    path.write_bytes(head + body)
    answer = read_or_refuse(path, encoding=encoding, delimiter=delimiter)
    if answer is not None:
        read, report = answer
        assert read.shape == (report.n_rows, report.n_cols) and min(read.shape) > 0


def _well_formed(kind: str) -> bytes:
    """A small valid file of each binary or compressed kind, for the damage below."""
    frame = pd.DataFrame({"x": [1.5, 2.5, None] * 4, "name": ["a", "b,c", "中"] * 4})
    text = frame.to_csv(index=False).encode()
    if kind == ".csv.gz":
        return gzip.compress(text)
    if kind == ".csv.zip":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("t.csv", text * 20)
        return buf.getvalue()
    buf = io.BytesIO()
    {".parquet": frame.to_parquet, ".feather": frame.to_feather, ".xlsx": frame.to_excel}[kind](buf)
    return buf.getvalue()


DAMAGEABLE = {kind: _well_formed(kind) for kind in (".csv.gz", ".csv.zip", ".parquet", ".feather", ".xlsx")}


@examples(60)
@given(kind=st.sampled_from(sorted(DAMAGEABLE)), data=st.data())
def test_damaged_files_are_a_table_or_an_assay_error(tmp_path_factory, kind, data):
    """Valid containers with bytes overwritten or cut short: what reaches the inner parsers
    (zlib, the XML of a workbook, Parquet's pages) rather than what their headers reject."""
    raw = bytearray(DAMAGEABLE[kind])
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(4, len(raw) - 1))
        raw[at : at + 4] = data.draw(st.binary(min_size=1, max_size=4))
    cut = data.draw(st.one_of(st.none(), st.integers(8, len(raw))))
    path = tmp_path_factory.mktemp("d") / f"damaged{kind}"
    path.write_bytes(bytes(raw[:cut]))
    answer = read_or_refuse(path)
    if answer is not None:
        read, _ = answer
        infer_schema(read)


@pytest.mark.parametrize("kind", sorted(DAMAGEABLE))
def test_a_damaged_body_is_refused_with_a_fix(tmp_path, kind):
    """Regression (bench/fuzz.py): damaged deflate data escaped as zlib.error, a damaged
    workbook as whatever openpyxl or the XML parser raised."""
    raw = bytearray(DAMAGEABLE[kind])
    middle = len(raw) // 2
    raw[middle : middle + 16] = b"\xff" * 16
    path = tmp_path / f"damaged{kind}"
    path.write_bytes(bytes(raw))
    answer = read_or_refuse(path)
    assert answer is None or answer[0].shape[1] == 2


def test_a_zip_of_an_unreadable_method_is_refused(tmp_path):
    """Regression (bench/fuzz.py): a member packed with Deflate64 (how Windows zips large files)
    escaped as NotImplementedError."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("t.csv", "a,b\n1,2\n")
    raw = bytearray(buf.getvalue())
    for signature, at in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):  # local and central headers
        start = raw.find(signature)
        raw[start + at : start + at + 2] = (9).to_bytes(2, "little")  # method 9: Deflate64
    path = tmp_path / "t.csv.zip"
    path.write_bytes(bytes(raw))
    with pytest.raises(AssayError, match="compression method Python cannot read"):
        read_with_report(path)


def test_json_lines_with_invalid_utf8_text_are_refused(tmp_path):
    """Regression (bench/fuzz.py): pyarrow's JSON reader let invalid UTF-8 into the frame, where
    the first string operation failed with ArrowInvalid."""
    path = tmp_path / "t.jsonl"
    path.write_bytes(b'{"a": 1, "island": "Torgersen"}\n{"a": 2, "island": "Torgers\xe6\xe6n"}\n')
    with pytest.raises(AssayError, match="'island' holds text that is not valid UTF-8"):
        read_with_report(path)


@pytest.mark.parametrize("values", [[True] * 5, pd.to_datetime(["2024-01-01"] * 5).tolist()])
def test_a_constant_bool_or_date_column_is_constant(values):
    """Regression: naming the one value of a constant yes/no or date column raised AttributeError."""
    ct = infer_schema(pd.DataFrame({"flag": values, "n": range(5)}))["flag"]
    assert ct.kind == "constant" and ct.reason.startswith("one value (")


# ---------------------------------------------------------------- numbers written as text

CENTS = st.integers(-(10**9), 10**9)


def _styled(cents: int, style: str) -> str:
    value, sign = abs(cents) / 100, "-" if cents < 0 else ""
    return {
        "thousands": f"{sign}{value:,.2f}",
        "dollars": f"{sign}${value:,.2f}",
        "percent": f"{sign}{value:.2f}%",
        "spaces": f"  {sign}{value:.2f} ",
        "brackets": f"({value:,.2f})" if cents < 0 else f"{value:.2f}",
    }[style]


@examples(40)
@given(
    cents=st.lists(CENTS, min_size=20, max_size=40),
    style=st.sampled_from(["thousands", "dollars", "percent", "spaces", "brackets"]),
    sep=st.sampled_from([",", ";", "\t"]),
)
def test_numbers_written_as_text_are_cleaned_to_their_value(tmp_path_factory, cents, style, sep):
    assume(len(set(cents)) > 1)  # one value is a constant column, whatever its spelling
    values = [_styled(c, style) for c in cents]
    path = tmp_path_factory.mktemp("n") / "amounts.csv"
    pd.DataFrame({"amount": values, "k": range(len(values))}).to_csv(path, index=False, sep=sep)
    read, _ = read_with_report(path)
    schema = infer_schema(read)
    assert schema["amount"].kind in ("numeric", "identifier"), schema["amount"].reason
    cleaned, log = clean_frame(read, schema)
    if schema["amount"].kind == "identifier":
        return  # whole, distinct numbers in a run (cents of 0): identifier-like is right
    got = cleaned["amount"].to_numpy(dtype="float64")
    expected = np.array(cents) / 100
    assert np.allclose(got, expected, rtol=1e-12, atol=1e-9), (values[:3], got[:3])
    if not pd.api.types.is_numeric_dtype(read["amount"]):  # cleaning did it, and says so
        assert log.count("number_from_text", "amount") == len(values)


# ---------------------------------------------------------------- type inference


@examples(30)
@given(
    k=st.integers(3, 10),
    start=st.sampled_from([0, 1]),
    per=st.integers(20, 30),
    seed=st.integers(0, 2**32 - 1),
)
def test_few_integer_levels_may_be_categorical(k, start, per, seed):
    rng = np.random.default_rng(seed)
    codes = np.tile(np.arange(start, start + k), per)
    rng.shuffle(codes)
    frame = pd.DataFrame({"region": codes, "pets_count": codes})
    schema = infer_schema(frame)
    assert schema["region"].kind == "categorical", schema["region"].reason
    assert schema["pets_count"].kind == "numeric", schema["pets_count"].reason


@examples(30)
@given(words=st.lists(st.text(alphabet=string.ascii_letters + string.digits, min_size=3, max_size=12), min_size=20,
                      max_size=60, unique_by=str.lower))  # fmt: skip
def test_unique_strings_are_identifier_like_or_text(words):
    assume(not any(w.isdigit() for w in words))
    kind = infer_schema(pd.DataFrame({"who": words}))["who"].kind
    assert kind in ("identifier", "text", "datetime"), kind


@examples(30)
@given(value=st.one_of(FLOAT.filter(math.isfinite), TEXT.filter(lambda s: s.strip() != ""), st.booleans()),
       n=st.integers(2, 50))  # fmt: skip
def test_a_constant_column_is_constant(value, n):
    frame = pd.DataFrame({"same": [value] * n, "other": range(n)})
    ct = infer_schema(frame)["same"]
    sentinel = isinstance(value, str) and value.strip().lower() in {"?", "na", "n/a", "nan", "null", "none", "-"}
    assert ct.kind == ("empty" if sentinel else "constant"), ct.reason


@examples(50)
@given(table=tables(max_rows=30, max_cols=4), kind=st.sampled_from(KINDS), data=st.data())
def test_a_user_override_always_wins(table, kind, data):
    frame, _ = table
    name = data.draw(st.sampled_from(list(frame.columns)))
    try:
        schema = infer_schema(frame, overrides={name: kind})
    except AssayError as exc:  # a kind the values cannot take (3 values as yes/no): says which column
        assert "Fix:" in str(exc) and repr(name) in str(exc), str(exc)
        return
    assert schema[name].kind == kind and schema[name].source == "user"


@examples(40)
@given(table=tables(max_rows=40, max_cols=5), seed=st.integers(0, 2**32 - 1))
def test_inference_is_stable_under_row_shuffling(table, seed):
    frame, _ = table
    shuffled = frame.sample(frac=1.0, random_state=seed % (2**32)).reset_index(drop=True)
    before, after = infer_schema(frame), infer_schema(shuffled)
    assert [(c.kind, c.details) for c in before] == [(c.kind, c.details) for c in after]


@pytest.mark.parametrize("kind", ["float", "int", "text", "bool", "date"])
def test_each_generated_kind_is_read_back(tmp_path, kind):
    """The generators above do reach each kind (a property over an empty space proves nothing)."""
    frame = pd.DataFrame({"v": _fixed(kind)})
    path, frame = write(frame, ("csv", ",", csv.QUOTE_MINIMAL, "utf-8", None), tmp_path)
    read, report = read_with_report(path)
    assert read.shape == (5, 1) and report.rejected == 0


def _fixed(kind: str) -> list:
    return {
        "float": [1.5, np.nan, -np.inf, 1e308, 0.0],
        "int": [1, -2, 2**62, 0, 7],
        "text": ["a,b", 'say "hi"', "two\nlines", " pad ", "中文"],
        "bool": [True, False, True, True, False],
        "date": pd.to_datetime(["2020-01-01", None, "1999-12-31", "2100-01-01", "1900-01-01"]).tolist(),
    }[kind]


def test_the_fuzzing_corpus_holds_readable_tables(tmp_path):
    """bench/fuzz.py starts from these seeds: real tables in every format, so that the fuzzer
    mutates files that get deep into the readers rather than bytes refused at the first check."""
    from bench.fuzz import SUFFIXES, reader_seeds

    read = 0
    for i, seed in enumerate(reader_seeds()):
        path = tmp_path / f"seed{i}{SUFFIXES[seed[0]]}"
        path.write_bytes(seed[1:])
        answer = read_or_refuse(path, rejects_path=tmp_path / "rejects.csv")
        read += answer is not None and answer[0].shape[0] > 0
    assert read >= len(reader_seeds()) - 1  # one seed holds a quote never closed, on purpose
