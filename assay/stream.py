"""Predicting a file too large for memory: read a chunk, predict it, append it, forget it.

Each chunk goes through exactly what `Predictor.predict` does to a whole table (cleaning by the
training schema, the input contract, the preprocessor, the ensemble), so the predictions are the
same whatever the chunk size. What must span chunks does: the contract's findings are merged
(counts summed, row numbers counted from the start of the file, one warning per column at the
end rather than one per chunk), and the output is written beside its destination and moved into
place only when every chunk succeeded, so a failure never leaves a file that looks complete.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from assay.data.chunks import ChunkSource, iter_chunks
from assay.errors import ConfigError, SchemaError, problem, storage_error
from assay.preprocess.contract import MAX_ROWS, ColumnIssue, ContractReport

DEFAULT_CHUNK_ROWS = 100_000


@dataclass
class StreamResult:
    path: Path
    n_rows: int
    n_chunks: int
    report: ContractReport  # the input contract over the whole file
    source: ChunkSource


def predict_file(
    predictor,
    src,
    dst,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    proba: bool = False,
    strict: bool = False,
    progress: bool = False,
) -> StreamResult:
    if not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise ConfigError(
            problem(
                f"chunk_rows must be a whole number >= 1, got {chunk_rows!r}",
                where="chunk_rows",
                fix="pass chunk_rows=100_000",
            )
        )
    dst = Path(dst)
    writer = _Writer(dst)
    info = ChunkSource("")
    merged: dict[tuple[str, str], ColumnIssue] = {}
    n_rows = n_chunks = 0
    bar = _Progress(Path(src).name) if progress else None
    try:
        for chunk in iter_chunks(src, chunk_rows, info):
            frame, report = predictor._contract(chunk, strict)
            urgent = [i for i in report.errors if i.issue != "unreadable_column"]
            if urgent:  # a missing column, or a wrong type under strict: no later chunk changes that
                _shift(urgent, n_rows)
                ContractReport(len(chunk), urgent, strict, info.first_line).enforce()
            _merge(merged, report.issues, n_rows)
            X = frame.drop(columns=[predictor.target], errors="ignore")
            raw = predictor._ensemble.predict_raw(predictor._preprocessor.transform(X))
            writer.write(_predictions(predictor, raw, proba))
            n_rows += len(chunk)
            n_chunks += 1
            if bar is not None:
                bar.update(info, n_rows)
        total = ContractReport(n_rows, _final(merged, n_chunks, strict), strict, info.first_line)
        total.enforce(stacklevel=3)
        writer.commit()
    except BaseException as exc:
        writer.discard()
        error = storage_error(exc, "predictions could not be written", str(dst), "free space or write elsewhere (-o)")
        if error is not None:
            raise error from exc
        raise
    finally:
        if bar is not None:
            bar.stop()
    return StreamResult(dst, n_rows, n_chunks, total, info)


def _predictions(predictor, raw: np.ndarray, proba: bool) -> pd.DataFrame:
    """The columns `assay predict` writes: predicted_<target>, and proba_<class> with --proba."""
    task = predictor._task
    name = f"predicted_{predictor.target}"
    if not task.is_classification:
        return pd.DataFrame({name: raw})
    out = pd.DataFrame({name: task.decode(np.argmax(raw, axis=1))})
    if proba:
        for j, c in enumerate(task.classes):
            out[f"proba_{c}"] = raw[:, j]
    return out


def _shift(issues: list[ColumnIssue], offset: int) -> None:
    for issue in issues:
        issue.rows = [r + offset for r in issue.rows]


def _merge(merged: dict, issues: list[ColumnIssue], offset: int) -> None:
    _shift(issues, offset)
    for issue in issues:
        key = (issue.column, issue.issue)
        if key not in merged:
            merged[key] = issue
            issue.chunks = 1  # type: ignore[attr-defined]
            continue
        seen = merged[key]
        seen.count += issue.count
        seen.rows = (seen.rows + issue.rows)[:MAX_ROWS]
        seen.examples = list(dict.fromkeys(seen.examples + issue.examples))[:3]
        seen.chunks += 1  # type: ignore[attr-defined]


def _final(merged: dict, n_chunks: int, strict: bool) -> list[ColumnIssue]:
    """A column unreadable in some chunks only had readable values elsewhere: over the whole file
    that is a wrong type (set missing), as the one-table path would have said."""
    out = []
    for (column, kind), issue in merged.items():
        if kind == "unreadable_column" and issue.chunks < n_chunks:
            wrong = merged.get((column, "wrong_type"))
            if wrong is not None:
                wrong.count += issue.count
                wrong.rows = sorted(wrong.rows + issue.rows)[:MAX_ROWS]
                continue
            issue.issue, issue.severity = "wrong_type", "error" if strict else "warning"
        out.append(issue)
    return out


class _Writer:
    """Appends chunks to a temporary file beside `dst`; `commit` moves it into place."""

    def __init__(self, dst: Path):
        suffix = dst.suffix.lower()
        if suffix not in (".csv", ".tsv", ".parquet", ""):
            raise ConfigError(problem(f"cannot write {suffix} files", where=str(dst), fix="use .csv or .parquet"))
        self.dst, self.kind = dst, "parquet" if suffix == ".parquet" else "csv"
        self.sep = "\t" if suffix == ".tsv" else ","
        dst.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = dst.with_name(f".{dst.name}.partial")
        self._parquet = None
        self._csv = None

    def write(self, frame: pd.DataFrame) -> None:
        if self.kind == "csv":
            if self._csv is None:
                self._csv = open(self.tmp, "w", newline="", encoding="utf-8")  # noqa: SIM115  (closed in commit)
                frame.to_csv(self._csv, index=False, sep=self.sep)
            else:
                frame.to_csv(self._csv, index=False, header=False, sep=self.sep)
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self._parquet is None:
            table = pa.Table.from_pandas(frame, preserve_index=False)
            self._parquet = pq.ParquetWriter(self.tmp, table.schema)
        else:
            table = pa.Table.from_pandas(frame, schema=self._parquet.schema, preserve_index=False)
        self._parquet.write_table(table)

    def _close(self) -> None:
        for handle in (self._csv, self._parquet):
            if handle is not None:
                handle.close()
        self._csv = self._parquet = None

    def commit(self) -> None:
        self._close()
        if not self.tmp.exists():
            raise SchemaError(problem("the file has no rows", where=str(self.dst), fix="supply rows to predict"))
        os.replace(self.tmp, self.dst)

    def discard(self) -> None:
        self._close()
        self.tmp.unlink(missing_ok=True)


class _Progress:
    """A Rich progress bar on stderr, in bytes for CSV and rows for Parquet."""

    def __init__(self, label: str):
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.bar = Progress(
            TextColumn("[bold]predicting[/] {task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TextColumn("{task.fields[rows]:,} rows"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self.task = self.bar.add_task(label, total=None, rows=0)
        self.bar.start()

    def update(self, info: ChunkSource, n_rows: int) -> None:
        self.bar.update(self.task, total=info.total, completed=info.position, rows=n_rows)

    def stop(self) -> None:
        self.bar.stop()
