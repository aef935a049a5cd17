"""`assay predict`, `assay evaluate`, `assay leaderboard`: using a saved model."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import typer

from assay.cli.app import command
from assay.cli.render import console, leaderboard_table, metrics_table
from assay.data.chunks import chunk_format
from assay.errors import ConfigError, problem
from assay.predictor import Predictor

STREAM_BYTES = 64 * 2**20  # larger files are predicted chunk by chunk, with bounded memory
STREAM_ROWS = 100_000


@command("predict")
def predict(
    model: Path = typer.Argument(..., help="model folder written by `assay fit`"),
    data: str = typer.Argument(..., help="rows to predict (the target column, if present, is ignored)"),
    output: Path = typer.Option(..., "--output", "-o", help="where to write predictions (.csv or .parquet)"),
    proba: bool = typer.Option(False, "--proba", help="also write class probabilities"),
    strict: bool = typer.Option(False, "--strict", help="refuse wrong-type values instead of setting them missing"),
    chunk_rows: int = typer.Option(
        None, "--chunk-rows", help=f"predict this many rows at a time (default: {STREAM_ROWS:,} for files over 64 MB)"
    ),
    log: str = typer.Option(
        None, "--log", help="also log inputs and predictions under this model name, for feedback and monitoring"
    ),
    log_version: str = typer.Option(None, "--log-version", help="with --log: the model version to record"),
    registry: str = typer.Option(None, "--registry", help="with --log: registry URL holding the prediction log"),
):
    """Predict DATA with MODEL and write one row per input row, in input order."""
    predictor = Predictor.load(model)
    if log is not None:
        from assay.cli.monitor import predict_and_log

        if chunk_rows is not None or _large(data):
            raise ConfigError(
                problem(
                    "--log keeps every row's inputs in the prediction log and is not available for streamed "
                    "prediction (--chunk-rows, or files over 64 MB)",
                    where="--log",
                    fix="split the file into parts under 64 MB, or log a sample of it",
                )
            )

        predict_and_log(predictor, data, output, log, log_version, registry, proba=proba, strict=strict)
        return
    if chunk_rows is not None or _large(data):
        result = predictor.predict_file(
            data, output, chunk_rows or STREAM_ROWS, proba=proba, strict=strict, progress=True
        )
        console.print(
            f"{result.n_rows:,} predictions written to [bold]{output.resolve()}[/] ({result.n_chunks} chunk(s))"
        )
        for note in result.source.notes:
            console.print(f"[yellow]note[/]: {note}")
        return
    name = f"predicted_{predictor.target}"
    if proba and predictor.info["task"]["kind"] != "regression":
        # one pass over the data: the classes are the columns, so the prediction is the likeliest
        probs = predictor.predict_proba(data, strict=strict)
        result = probs.idxmax(axis=1).rename(name).to_frame().join(probs.add_prefix("proba_"))
    else:
        result = predictor.predict(data, strict=strict).to_frame(name)
    write_table(result, output)
    console.print(f"{len(result):,} predictions written to [bold]{output.resolve()}[/]")


@command("evaluate")
def evaluate(
    model: Path = typer.Argument(..., help="model folder written by `assay fit`"),
    data: str = typer.Argument(..., help="labelled rows, never used in training"),
    as_json: bool = typer.Option(False, "--json", help="print the scores as JSON"),
    strict: bool = typer.Option(False, "--strict", help="refuse wrong-type values instead of setting them missing"),
):
    """Score MODEL on labelled DATA with every metric of its task."""
    scores = Predictor.load(model).evaluate(data, strict=strict)
    if as_json:
        typer.echo(json.dumps(scores, indent=2))
    else:
        console.print(metrics_table(scores, f"evaluation on {data}"))


@command("leaderboard")
def leaderboard(
    model: Path = typer.Argument(..., help="model folder written by `assay fit`"),
    top: int = typer.Option(30, "--top", help="rows to show"),
):
    """Show every trial of MODEL's search, best first, with its ensemble weight."""
    console.print(leaderboard_table(Predictor.load(model).leaderboard(), top=top))


def _large(data: str) -> bool:
    """Files above STREAM_BYTES that can be read in chunks are streamed; smaller ones are read whole."""
    path = Path(data)
    return chunk_format(path) is not None and path.is_file() and path.stat().st_size > STREAM_BYTES


def write_table(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        frame.to_parquet(path, index=False)
    elif suffix in (".csv", ".tsv", ""):
        frame.to_csv(path, index=False, sep="\t" if suffix == ".tsv" else ",")
    else:
        raise ConfigError(problem(f"cannot write {suffix} files", where=str(path), fix="use .csv or .parquet"))
