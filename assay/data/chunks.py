"""Reading a large table a chunk of rows at a time, so prediction memory does not grow with the file.

CSV/TSV (optionally gzip/bz2 compressed) stream through pyarrow's block reader and Parquet through
its row-group reader; other formats are read whole by assay.data.read and then sliced (their
readers cannot stream). Each chunk is the DataFrame that assay.data.read would have produced for
those rows, with one difference in how types are found: the whole-file reader types a column from
samples of the file, a chunk reader cannot know the rows to come, so every CSV column is read as
text and typed per chunk the way pandas would (assay.data.sources.type_text). A numeric column
with a stray "?" in one chunk is then text in that chunk only; the training schema, applied
afterwards to every chunk, reads both the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv

from assay.data.encoding import SAMPLE_BYTES, decode_sample, sniff_encoding, sniff_layout
from assay.data.sources import Source, arrow_to_pandas, type_text
from assay.errors import DataSourceError, problem

_COMPRESSION = {".gz": "gzip", ".bz2": "bz2"}
_TEXT = pa.large_string()


@dataclass
class ChunkSource:
    """What a chunked read found out: the format, the size to show progress against, and the
    line of the first data row (None where row and line numbers do not correspond)."""

    format: str
    total: int | None = None  # bytes (CSV) or rows (Parquet), for a progress bar
    unit: str = "rows"
    first_line: int | None = None
    skipped_rows: int = 0  # rows with the wrong number of fields, left out (CSV)
    notes: list[str] = field(default_factory=list)
    position: int = 0  # progress so far, in `unit`


def chunk_format(path) -> str | None:
    """ "csv", "tsv" or "parquet" where `path` can be streamed, else None."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] in _COMPRESSION:
        suffixes = suffixes[:-1]
    kind = suffixes[-1] if suffixes else ""
    return {".csv": "csv", ".txt": "csv", ".tsv": "tsv", ".tab": "tsv", ".parquet": "parquet", ".pq": "parquet"}.get(
        kind
    )


def iter_chunks(path, chunk_rows: int, info: ChunkSource | None = None) -> Iterator[pd.DataFrame]:
    """DataFrames of at most `chunk_rows` rows, in file order; `info` is filled in as it goes."""
    path = Path(path)
    if not path.is_file():
        raise DataSourceError(
            problem("file not found", where=str(path), fix="check the path and the working directory")
        )
    fmt = chunk_format(path)
    info = info if info is not None else ChunkSource(fmt or "other")
    info.format = fmt or "other"
    if fmt == "parquet":
        yield from _parquet(path, chunk_rows, info)
    elif fmt in ("csv", "tsv"):
        yield from _delimited(path, chunk_rows, info, tab=fmt == "tsv")
    else:
        yield from _whole(path, chunk_rows, info)


def _parquet(path: Path, chunk_rows: int, info: ChunkSource) -> Iterator[pd.DataFrame]:
    import pyarrow.parquet as pq

    reader = pq.ParquetFile(path)
    info.total, info.unit, info.first_line = reader.metadata.num_rows, "rows", None
    for batch in reader.iter_batches(batch_size=chunk_rows):
        info.position += batch.num_rows
        yield _named(batch.to_pandas())


def _delimited(path: Path, chunk_rows: int, info: ChunkSource, tab: bool) -> Iterator[pd.DataFrame]:
    from assay.data.delimited import _options  # one definition of pandas' missing values for pyarrow

    suffix = path.suffix.lower()
    src = Source(path, _COMPRESSION.get(suffix))
    raw = src.head(SAMPLE_BYTES + 1)
    complete = len(raw) <= SAMPLE_BYTES
    sniff = sniff_encoding(raw[:SAMPLE_BYTES], src.where)
    text = decode_sample(raw[:SAMPLE_BYTES], sniff, src.where, complete)
    sniff = sniff_layout(text, sniff, src.where, None, tab)
    skipped: list[int] = []

    def on_invalid(row) -> str:
        skipped.append(1)
        return "skip"

    encoding = "utf8" if sniff.encoding in ("utf-8", "utf-8-sig") else sniff.encoding
    # rows per block: a block is about chunk_rows lines long, measured on the sample
    lines = max(text.count("\n"), 1)
    block = int(min(max(len(raw) / lines * chunk_rows, 1 << 16), 1 << 28))
    block = max(block, 8 * sniff.longest_line)
    del raw, text  # the generator lives as long as the read: keep only what it needs
    sniff.sample = b""
    types = dict.fromkeys(sniff.header, _TEXT)
    options = _options(sniff, encoding, block, types, on_invalid)
    # One block at a time: the threaded reader reads ahead of a slower consumer (the models), and
    # its queue of parsed blocks then grew with the file.
    options["read_options"].use_threads = False
    handle = pa.input_stream(str(path)) if src.compression is None else None
    if handle is not None:
        info.total, info.unit = path.stat().st_size, "bytes"
    info.first_line = sniff.skip_lines + 2
    pending: list[pd.DataFrame] = []
    n_pending = 0
    try:
        reader = pcsv.open_csv(handle if handle is not None else src.for_arrow(), **options)
        for batch in reader:
            if batch.num_rows == 0:
                continue
            if handle is not None:
                info.position = handle.tell()
            pending.append(_typed(batch, sniff.leading_spaces))
            n_pending += batch.num_rows
            while n_pending >= chunk_rows:
                frame = pd.concat(pending, ignore_index=True) if len(pending) > 1 else pending[0]
                yield frame.iloc[:chunk_rows].reset_index(drop=True)
                rest = frame.iloc[chunk_rows:].reset_index(drop=True)
                pending, n_pending = ([rest] if len(rest) else []), len(rest)
        if pending:
            yield pd.concat(pending, ignore_index=True) if len(pending) > 1 else pending[0]
    except pa.ArrowInvalid as exc:
        raise DataSourceError(
            problem(
                f"could not parse the file: {str(exc).splitlines()[0][:300]}",
                where=str(path),
                fix="check the file, or predict it without chunks",
            )
        ) from None
    finally:
        if handle is not None:
            handle.close()
        if skipped:
            info.skipped_rows = len(skipped)
            info.first_line = None  # rows after a skipped one are no longer line - offset
            info.notes.append(f"{len(skipped)} row(s) with the wrong number of fields (or comment lines) left out")


def _typed(batch: pa.RecordBatch, ltrim: bool) -> pd.DataFrame:
    table = pa.Table.from_batches([batch])
    for i in range(table.num_columns):
        table = table.set_column(i, table.column_names[i], type_text(table.column(i)))
    return _named(arrow_to_pandas([table], ltrim=ltrim))


def _whole(path: Path, chunk_rows: int, info: ChunkSource) -> Iterator[pd.DataFrame]:
    """Formats with no streaming reader: read whole (memory as for a plain predict), then sliced."""
    from assay.data.read import read_with_report

    frame, report = read_with_report(path)
    info.total, info.unit, info.first_line = len(frame), "rows", None
    info.notes.append(f"{report.format} files are read whole; use CSV or Parquet to bound memory")
    for start in range(0, len(frame), chunk_rows):
        info.position = min(start + chunk_rows, len(frame))
        yield frame.iloc[start : start + chunk_rows]


def _named(frame: pd.DataFrame) -> pd.DataFrame:
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame
