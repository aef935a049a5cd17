"""Turn whatever the user handed over (a path or a DataFrame) into a pandas DataFrame.

The one place that knows file formats: every other stage receives a DataFrame. Errors name
the file and say what to do, because "ParserError: line 17" helps nobody.
"""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

import pandas as pd

from assay.errors import DataSourceError, problem

# Spellings of "missing" that pandas does not already know.
EXTRA_NA_VALUES = ["?"]

_TEXT_SUFFIXES = {".csv", ".tsv", ".txt", ".tab", ".data"}
_COMPRESSION = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zip": "zip"}


def read_table(data) -> pd.DataFrame:
    """A DataFrame from a DataFrame (copied, so the caller's frame is never changed) or a path."""
    if isinstance(data, pd.DataFrame):
        frame = data.copy()
    elif isinstance(data, (str, Path)):
        frame = _read_path(Path(data))
    else:
        raise DataSourceError(
            problem(
                f"cannot read data of type {type(data).__name__}",
                where="data",
                fix="pass a file path (CSV, TSV, Parquet, Feather, JSON lines) or a pandas DataFrame",
            )
        )
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.shape[1] == 0 or frame.shape[0] == 0:
        where = str(data) if not isinstance(data, pd.DataFrame) else "DataFrame"
        raise DataSourceError(
            problem(
                "the table has no rows" if frame.shape[1] else "the table has no columns",
                where=where,
                fix="supply a table with a header line and at least one row of data",
            )
        )
    return frame


def _read_path(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise DataSourceError(
            problem("file not found", where=str(path), fix="check the path and the working directory")
        )
    if path.is_dir():
        raise DataSourceError(
            problem("expected a file, got a folder", where=str(path), fix="name the data file itself")
        )
    if path.stat().st_size == 0:
        raise DataSourceError(problem("the file is empty", where=str(path), fix="supply a file with a header and rows"))
    suffixes = [s.lower() for s in path.suffixes]
    compression = _COMPRESSION.get(suffixes[-1]) if suffixes else None
    kind = suffixes[-2] if compression and len(suffixes) > 1 else (suffixes[-1] if suffixes else "")
    try:
        if kind == ".parquet":
            return pd.read_parquet(path)
        if kind in (".feather", ".arrow"):
            return pd.read_feather(path)
        if kind in (".jsonl", ".ndjson"):
            return pd.read_json(path, lines=True, compression=compression)
        if kind in _TEXT_SUFFIXES or kind == "":
            return _read_delimited(path, compression)
    except DataSourceError:
        raise
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError, OSError) as exc:
        raise DataSourceError(
            problem(
                f"could not parse the file: {exc}".rstrip("."),
                where=str(path),
                fix="check that it is a well-formed table in the format its extension claims",
            )
        ) from None
    raise DataSourceError(
        problem(
            f"unknown file format {''.join(suffixes) or '(no extension)'}",
            where=str(path),
            fix="use .csv, .tsv, .parquet, .feather or .jsonl (optionally .gz/.bz2/.xz/.zip compressed)",
        )
    )


def _read_delimited(path: Path, compression: str | None) -> pd.DataFrame:
    head = _head_text(path, compression)
    lines = head.splitlines()
    skip = 0
    while skip < len(lines) and lines[skip].lstrip().startswith("#"):
        skip += 1  # comment lines before the header (common in exported archives)
    body = "\n".join(lines[skip : skip + 50])
    if not body.strip():
        raise DataSourceError(problem("the file has no header line", where=str(path), fix="supply a header and rows"))
    sep = "\t" if path.name.lower().split(".")[1:2] == ["tsv"] else _sniff_delimiter(body)
    return pd.read_csv(
        path,
        sep=sep,
        skiprows=skip,
        compression=compression,
        na_values=EXTRA_NA_VALUES,
        skipinitialspace=True,
        low_memory=False,
    )


def _head_text(path: Path, compression: str | None, n_bytes: int = 65536) -> str:
    opener = {"gzip": gzip.open}.get(compression or "", open)
    if compression not in (None, "gzip"):
        return (
            pd.read_csv(path, compression=compression, nrows=50, header=None, sep="\x1f").iloc[:, 0].str.cat(sep="\n")
        )
    with opener(path, "rb") as fh:
        raw = fh.read(n_bytes)
    if b"\x00" in raw[:4096]:
        raise DataSourceError(
            problem(
                "the file looks binary, not text",
                where=str(path),
                fix="export the table as CSV, or pass a Parquet/Feather file by its extension",
            )
        )
    return io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8", errors="replace").read()


def _sniff_delimiter(sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample, delimiters=",\t;|").delimiter
    except csv.Error:
        return ","
