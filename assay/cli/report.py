"""`assay report`: the model's report (HTML and JSON), regenerated, optionally on test rows."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.markup import escape

from assay.cli.app import command
from assay.cli.render import console
from assay.errors import ConfigError, problem
from assay.predictor import Predictor


@command("report")
def report(
    model: Path = typer.Argument(..., help="model folder written by `assay fit`"),
    data: str = typer.Option(None, "--data", "-d", help="labelled test rows, never used in training, to evaluate too"),
    out: Path = typer.Option(None, "--out", "-o", help="where to write the HTML (default: MODEL/report.html)"),
):
    """Write MODEL's report: data, search, model with intervals and baselines, diagnostics, errors,
    explanations; one self-contained HTML page and the same content as JSON beside it."""
    start = time.perf_counter()
    out = out or model / "report.html"
    if out.suffix.lower() not in (".html", ".htm"):
        raise ConfigError(problem(f"{out} is not an .html file", where="--out", fix="name a .html file"))
    predictor = Predictor.load(model)
    path = predictor.report(out, data=data)
    seconds = time.perf_counter() - start
    console.print(
        f"report written to [bold]{escape(str(path.resolve()))}[/] and {escape(path.with_suffix('.json').name)}"
        f" ({seconds:.1f} s, {path.stat().st_size / 2**20:.1f} MB)"
    )
    import json

    content = json.loads(path.with_suffix(".json").read_text())
    for line in content.get("warnings", []):
        console.print(f"[yellow]warning[/]: {escape(line)}", highlight=False)
    verdict = (content["diagnostics"].get("learning") or {}).get("verdict") or {}
    if verdict:
        console.print(f"verdict: [bold]{escape(verdict['label'])}[/]: {escape(verdict['headline'])}", highlight=False)
