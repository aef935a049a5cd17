"""The reader against a corpus of tricky and broken files, all generated in tmp_path."""

from __future__ import annotations

import bz2
import codecs
import csv
import gzip
import lzma
import sqlite3
import zipfile

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from assay.data import delimited
from assay.data.read import read_table, read_with_report
from assay.errors import DataSourceError

PLAIN = "id,name,score\n1,alpha,0.5\n2,beta,1.5\n3,gamma,\n"


def write(tmp_path, name: str, content: str | bytes):
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def expect_error(path_or_data, *fragments, **options):
    with pytest.raises(DataSourceError) as info:
        read_table(path_or_data, **options)
    message = str(info.value)
    assert "Fix:" in message
    for fragment in fragments:
        assert fragment in message, message
    return message


# ---------------------------------------------------------------- delimiters, quoting, comments


@pytest.mark.parametrize("delimiter", [";", "|", "\t"])
def test_delimiter_is_detected(tmp_path, delimiter):
    text = PLAIN.replace(",", delimiter).replace("0.5", "0,5" if delimiter == ";" else "0.5")
    frame, report = read_with_report(write(tmp_path, "d.csv", text))
    assert list(frame.columns) == ["id", "name", "score"] and len(frame) == 3
    assert report.delimiter == delimiter and report.engine == "pyarrow"


def test_explicit_delimiter_wins(tmp_path):
    frame = read_table(write(tmp_path, "d.txt", "a;b\n1;2\n"), delimiter=",")
    assert list(frame.columns) == ["a;b"]


def test_quoted_fields_keep_delimiters_and_newlines(tmp_path):
    text = 'id,text,v\n1,"hello, world",2\n2,"line one\nline two",3\n3,"say ""hi""",4\n'
    frame = read_table(write(tmp_path, "q.csv", text))
    assert frame["text"].tolist() == ["hello, world", "line one\nline two", 'say "hi"']
    assert frame["v"].tolist() == [2, 3, 4]


def test_comment_lines_are_skipped_and_counted(tmp_path):
    frame, report = read_with_report(write(tmp_path, "c.csv", "# exported\n#\n\n" + PLAIN + "# trailer\n"))
    assert list(frame.columns) == ["id", "name", "score"] and len(frame) == 3
    assert report.comment_lines == 3 and any("comment" in note for note in report.notes)


def test_pandas_semantics_are_kept(tmp_path):
    text = "a, b, when, flag, empty\n1, ?, 2020-01-01, true,\n2, x, 2020-01-02, false,\n"
    frame = read_table(write(tmp_path, "s.csv", text))
    assert list(frame.columns) == ["a", "b", "when", "flag", "empty"]
    stamps = read_table(write(tmp_path, "t.csv", "at,clock\n2020-01-01T10:00:00,10:30\n2020-01-02T11:00:00,11:45\n"))
    assert stamps.loc[0].tolist() == ["2020-01-01T10:00:00", "10:30"]  # the text as written
    assert frame["b"].tolist() == ["?", "x"]  # placeholders are the cleaning step's to find and report
    assert frame["when"].tolist() == ["2020-01-01", "2020-01-02"]  # dates stay text for the cleaning step
    assert frame["flag"].tolist() == [True, False] and frame["empty"].dtype == np.float64


# ---------------------------------------------------------------- encodings


def test_utf8_bom(tmp_path):
    frame, report = read_with_report(write(tmp_path, "b.csv", codecs.BOM_UTF8 + "name,v\ncafé,1\n".encode()))
    assert list(frame.columns) == ["name", "v"] and frame.loc[0, "name"] == "café"
    assert report.encoding == "utf-8-sig" and not report.encoding_guessed


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le"])
def test_utf16_with_and_without_bom(tmp_path, codec):
    frame, report = read_with_report(write(tmp_path, "u.csv", "name,v\ncafé,1\nthé,2\n".encode(codec)))
    assert frame["name"].tolist() == ["café", "thé"] and frame["v"].tolist() == [1, 2]
    assert report.encoding_guessed == (codec == "utf-16-le")


def test_latin1_is_guessed_and_reported(tmp_path):
    frame, report = read_with_report(write(tmp_path, "l.csv", "name,v\ncafé,1\nnaïve,2\n".encode("latin-1")))
    assert frame["name"].tolist() == ["café", "naïve"]
    assert report.encoding_guessed and any("latin-1" in note for note in report.notes)


def test_latin1_after_the_sample_is_guessed_too(tmp_path):
    body = "".join(f"{i},plain\n" for i in range(120_000))  # more than the 1 MiB sample
    path = write(tmp_path, "late.csv", ("n,word\n" + body + "999999,café\n").encode("latin-1"))
    frame, report = read_with_report(path)
    assert frame["word"].iloc[-1] == "café" and report.encoding_guessed
    assert any("latin-1" in note for note in report.notes)


def test_byte_undefined_in_windows_1252_falls_back_to_latin1(tmp_path):
    body = "".join(f"{i},plain\n" for i in range(120_000))
    path = write(tmp_path, "mixed.csv", ("n,word\n0,café\n" + body).encode("latin-1") + b"1,\x81x\n")
    frame, report = read_with_report(path)
    assert frame["word"].iloc[0] == "café" and frame["word"].iloc[-1] == "\x81x" and report.encoding == "latin-1"


@pytest.fixture(params=[1, 8], ids=["streaming", "threaded"])
def cores(request, monkeypatch):
    """Both of pyarrow's readers: the choice between them depends on the machine's cores."""
    monkeypatch.setattr(delimited, "_cores", lambda: request.param)


@pytest.mark.parametrize(("late", "dtype"), [("2.5", np.float64), ("n/a", np.float64), ("x", object)])
def test_types_that_change_after_the_sample(tmp_path, late, dtype, cores):
    body = "".join(f"{i},{i % 7}\n" for i in range(150_000))  # more than the 1 MiB sample
    frame = read_table(write(tmp_path, "late.csv", f"n,v\n{body}7,{late}\n"))
    assert len(frame) == 150_001 and (frame["v"].dtype == dtype or dtype is object and frame["v"].dtype != np.float64)
    assert frame["v"].iloc[0] == (0 if dtype is np.float64 else "0")


def test_two_columns_surprise_after_the_sample_and_one_is_empty_there(tmp_path, cores):
    body = "".join(f"{i},{i % 7},,{i}.5\n" for i in range(150_000))  # more than the 1 MiB sample
    frame = read_table(write(tmp_path, "late2.csv", f"n,whole,empty,real\n{body}7,2.5,5,x\n"))
    assert frame["whole"].dtype == np.float64 and frame["whole"].iloc[-1] == 2.5
    assert frame["empty"].dtype == np.float64 and frame["empty"].iloc[-1] == 5 and frame["empty"].count() == 1
    assert frame["real"].dtype != np.float64 and frame["real"].iloc[-1] == "x" and frame["real"].iloc[0] == "0.5"


def test_slices_through_the_file_spare_a_second_read(tmp_path, monkeypatch):
    monkeypatch.setattr(delimited, "_SLICES_FROM", 0)  # slice this 2 MiB file as if it were large
    reads = []
    for name in ("read_csv", "open_csv"):  # the threaded reader, or the streaming one on two cores or fewer

        def counting(source, real=getattr(delimited.pcsv, name), **options):
            reads.append(isinstance(source, str))
            return real(source, **options)

        monkeypatch.setattr(delimited.pcsv, name, counting)
    body = "".join(f"{i},{i % 7},{'' if i < 150_000 else i}\n" for i in range(200_000))
    frame = read_table(write(tmp_path, "big.csv", f"n,v,sparse\n{body}1,?,2\n"))
    assert reads.count(True) == 1  # the file itself was read once: the slice at the end saw the "?"
    assert frame["v"].iloc[-1] == "?" and frame["v"].iloc[0] == "0"
    assert frame["sparse"].dtype == np.float64 and frame["sparse"].iloc[-2] == 199_999


def test_declared_encoding_overrides(tmp_path):
    path = write(tmp_path, "e.csv", "name\nœuvre\n".encode("cp1252"))
    frame, report = read_with_report(path, encoding="cp1252")
    assert frame.loc[0, "name"] == "œuvre" and not report.encoding_guessed
    expect_error(path, "unknown encoding", encoding="klingon")
    expect_error(path, "cannot be decoded as utf-8", encoding="utf-8")


# ---------------------------------------------------------------- compression and other formats


@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".xz", ".zip"])
def test_compressed_files(tmp_path, suffix):
    data = PLAIN.encode()
    path = tmp_path / f"t.csv{suffix}"
    if suffix == ".zip":
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("t.csv", data)
    else:
        path.write_bytes({".gz": gzip.compress, ".bz2": bz2.compress, ".xz": lzma.compress}[suffix](data))
    frame, report = read_with_report(path)
    pd.testing.assert_frame_equal(frame, read_table(write(tmp_path, "plain.csv", PLAIN)))
    assert report.format.startswith("csv (")


def test_gzip_named_csv_is_read_and_noted(tmp_path):
    frame, report = read_with_report(write(tmp_path, "g.csv", gzip.compress(PLAIN.encode())))
    assert len(frame) == 3 and any("gzip" in note for note in report.notes)


def test_zip_with_several_files(tmp_path):
    path = tmp_path / "two.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("a.csv", PLAIN)
        zf.writestr("b.csv", PLAIN)
    expect_error(path, "holds 2 files")


@pytest.fixture
def frame():
    return pd.DataFrame({"id": [1, 2, 3], "name": ["a", "b", None], "score": [0.5, np.nan, 2.0]})


def test_parquet_feather_jsonl_json(tmp_path, frame):
    frame.to_parquet(tmp_path / "t.parquet")
    frame.to_feather(tmp_path / "t.feather")
    frame.to_json(tmp_path / "t.jsonl", orient="records", lines=True)
    frame.to_json(tmp_path / "t.json", orient="records")
    for name in ("t.parquet", "t.feather", "t.jsonl", "t.json"):
        got = read_table(tmp_path / name)
        assert got["id"].tolist() == [1, 2, 3] and got["name"].isna().tolist() == [False, False, True], name
        assert np.allclose(got["score"], frame["score"], equal_nan=True), name


def test_excel_sheets(tmp_path, frame):
    pytest.importorskip("openpyxl")
    path = tmp_path / "t.xlsx"
    with pd.ExcelWriter(path) as writer:
        frame.to_excel(writer, sheet_name="first", index=False)
        frame.assign(id=[7, 8, 9]).to_excel(writer, sheet_name="second", index=False)
    got, report = read_with_report(path)
    assert got["id"].tolist() == [1, 2, 3] and any("first sheet" in note for note in report.notes)
    assert read_table(path, sheet="second")["id"].tolist() == [7, 8, 9]
    expect_error(path, "no sheet 'third'", sheet="third")


def test_sqlite_url_and_file_with_query(tmp_path):
    pytest.importorskip("sqlalchemy")
    db = tmp_path / "t.db"
    with sqlite3.connect(db) as con:
        con.execute("create table t (id integer, name text)")
        con.executemany("insert into t values (?, ?)", [(1, "a"), (2, "b"), (3, "c")])
    got, report = read_with_report(f"sqlite:///{db}", query="select * from t where id > 1")
    assert got["name"].tolist() == ["b", "c"] and report.engine.startswith("sqlalchemy")
    assert read_table(db, query="select count(*) as n from t")["n"].tolist() == [3]
    expect_error(f"sqlite:///{db}", "the query failed", "no such table", query="select * from nope")
    expect_error(f"sqlite:///{db}", "without query=")
    expect_error(f"sqlite:///{tmp_path / 'absent.db'}", "not found", query="select 1")


def test_duckdb_query_over_a_csv(tmp_path):
    pytest.importorskip("duckdb")
    path = write(tmp_path, "t.csv", PLAIN)
    got, report = read_with_report(query=f"select id, name from read_csv_auto('{path}') where id >= 2")
    assert got["name"].tolist() == ["beta", "gamma"] and report.engine == "duckdb"
    assert len(read_table("duckdb", query="select 42 as answer")) == 1
    expect_error(None, "DuckDB query failed", query="select * from no_such_table")
    expect_error(path, "query= needs a database", query="select 1")


def test_dataframes(frame):
    got = read_table(frame)
    got.loc[0, "id"] = 99
    assert frame.loc[0, "id"] == 1  # a copy
    polars = pytest.importorskip("polars")
    got, report = read_with_report(polars.from_pandas(frame))
    assert got["id"].tolist() == [1, 2, 3] and report.engine == "polars"
    assert read_table(pa.Table.from_pandas(frame))["id"].tolist() == [1, 2, 3]


# ---------------------------------------------------------------- broken files


RAGGED = '# comment\na,b,c\n1,2,3\n4,5\n6,7,8\n9,"x\ny",10\n11,12,13,14\n15,16,17\n'


def test_ragged_lines_go_to_the_rejects_file(tmp_path, cores):
    frame, report = read_with_report(write(tmp_path, "ragged.csv", RAGGED))
    assert frame["a"].tolist() == [1, 6, 9, 15]
    assert report.rejected == 2 and report.rejects_path == str(tmp_path / "ragged.csv.rejects.csv")
    with open(report.rejects_path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["line_number"], r["raw"]) for r in rows] == [("4", "4,5"), ("8", "11,12,13,14")]
    assert rows[0]["reason"] == "expected 3 fields, found 2"
    assert any("2 malformed" in note and "lines 4, 8" in note for note in report.notes)


def test_rejected_lines_are_numbered_across_buffers(tmp_path, monkeypatch, cores):
    monkeypatch.setattr(delimited, "_CHUNK_BYTES", 64)  # many buffers, and lines longer than one
    lines = ["a,b,c"] + [f"{i},{i},{i}" for i in range(300)]
    bad = {10: "1,2", 120: "1,2", 200: "x," * 100 + "y", 302: "9,9"}  # line number -> text
    for number, text in sorted(bad.items()):
        lines.insert(number - 1, text)
    path = write(tmp_path, "crlf.csv", "\r\n".join(lines))  # no line end after the last row
    frame, report = read_with_report(path)
    assert len(frame) == 300 and report.rejected == 4
    with open(report.rejects_path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(int(r["line_number"]), r["raw"]) for r in rows] == sorted(bad.items())


def test_rejects_path_option(tmp_path):
    target = tmp_path / "out" / "bad.csv"
    target.parent.mkdir()
    _, report = read_with_report(write(tmp_path, "r.csv", RAGGED), rejects_path=target)
    assert report.rejects_path == str(target) and target.read_text().count("\n") == 3


def test_mostly_ragged_means_a_wrong_delimiter(tmp_path):
    expect_error(write(tmp_path, "w.csv", "a,b,c\n1,2\n3,4\n5,6,7\n"), "do not have the header's 3 fields", "delimiter")


def test_binary_garbage(tmp_path):
    noise = np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes()
    expect_error(write(tmp_path, "junk.csv", noise), "looks binary")
    expect_error(write(tmp_path, "ctl.csv", bytes(range(1, 32)) * 50), "looks binary")


def test_unbalanced_quote_names_the_line(tmp_path):
    expect_error(write(tmp_path, "q.csv", 'a,b\n1,x\n2,"y\n3,z\n4,w\n'), "unbalanced quote", "line 3")


def test_duplicate_column_names(tmp_path):
    expect_error(write(tmp_path, "dup.csv", "a,b,a\n1,2,3\n"), "duplicate column name", "'a'", "unique")


def test_ten_thousand_columns(tmp_path):
    header = ",".join(f"c{i}" for i in range(10_000))
    rows = "\n".join(",".join(str(i + r) for i in range(10_000)) for r in range(3))
    frame = read_table(write(tmp_path, "wide.csv", header + "\n" + rows + "\n"))
    assert frame.shape == (3, 10_000) and frame["c9999"].tolist() == [9999, 10000, 10001]


def test_header_only_empty_and_comments_only(tmp_path):
    expect_error(write(tmp_path, "h.csv", "a,b,y\n"), "no rows")
    expect_error(write(tmp_path, "e.csv", ""), "empty")
    expect_error(write(tmp_path, "c.csv", "# nothing\n# here\n"), "no header line")


def test_unknown_and_missing(tmp_path):
    expect_error(write(tmp_path, "d.xyz", "a,b\n1,2\n"), "unknown file format")
    expect_error(tmp_path / "absent.csv", "not found")
    expect_error(write(tmp_path, "old.xls", b"\xd0\xcf\x11\xe0"), ".xls")
    expect_error(42, "cannot read data of type int")


def test_pandas_fallback_is_reported(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise pa.ArrowInvalid("CSV parse error: simulated")

    monkeypatch.setattr(delimited, "_arrow_csv", refuse)
    frame, report = read_with_report(write(tmp_path, "f.csv", PLAIN))
    assert len(frame) == 3 and report.engine.startswith("pandas")
    assert any("pyarrow could not parse" in note for note in report.notes)
