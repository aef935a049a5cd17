"""`assay export`: a saved model as ONNX graphs, or as a scoring package without training libraries;
`assay compile`: its LightGBM boosters as native code, in place (assay.serve.compile)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from assay.cli.app import command
from assay.cli.render import console
from assay.errors import ConfigError, problem
from assay.predictor import Predictor

_FORMATS = ("onnx", "python")
_NEEDS = ("onnx", "onnxruntime", "onnxmltools", "skl2onnx")


@command("export")
def export(
    model: Path = typer.Argument(..., help="model folder written by `assay fit`"),
    output: Path = typer.Option(..., "--output", "-o", help="new folder to write the export into"),
    fmt: str = typer.Option("onnx", "--format", help="onnx (graphs + blend.json) or python (a scoring package)"),
    data: str = typer.Option(None, "--data", help="rows like the training data, for the parity check"),
    name: str = typer.Option(None, "--name", help="python package name (default: from the output folder)"),
    rows: int = typer.Option(200, "--check-rows", help="rows the parity check scores"),
):
    """Export MODEL and check that the export scores as the model does."""
    if fmt not in _FORMATS:
        raise ConfigError(problem(f"unknown export format {fmt!r}", where="--format", fix="use onnx or python"))
    missing = [m for m in _NEEDS if importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigError(
            problem(f"export needs {', '.join(missing)}", where="export", fix="pip install 'assay[export]'")
        )
    from assay.export import export_onnx, export_python

    predictor = Predictor.load(model)
    if fmt == "onnx":
        report = export_onnx(predictor, output, data, n_check=rows)
    else:
        report = export_python(predictor, output, data, name=name, n_check=rows)
    table = Table(title=f"parity on {report.n_rows} {report.rows_from} rows", title_justify="left")
    table.add_column("family")
    table.add_column("max |native - onnx| (relative above 1)", justify="right")
    for family, diff in sorted(report.by_family.items()):
        table.add_row(family, f"{diff:.2e}")
    table.add_row("[bold]ensemble[/]", f"{report.blend_parity:.2e}")
    console.print(table)
    console.print(f"{len(report.parity)} model file(s) exported to [bold]{escape(str(report.folder.resolve()))}[/]")
    if fmt == "python":
        console.print(f"install with: pip install {escape(str(report.folder))}")


@command("compile")
def compile_trees(
    model: Path = typer.Argument(..., help="model folder written by `assay fit`; rewritten in place"),
):
    """Compile MODEL's LightGBM boosters to native code for this CPU: batches predict several times
    faster, equal to LightGBM's predictions within 1e-9 (checked on the model's reference rows)."""
    from assay.serve.compile import compile_model

    with console.status(f"compiling the boosters of {escape(str(model))} ..."):
        report = compile_model(model)
    table = Table(title=f"checked on {report.n_rows} reference rows", title_justify="left")
    table.add_column("booster")
    table.add_column("max |compiled - LightGBM|", justify="right")
    for booster, diff in report.difference.items():
        table.add_row(escape(booster), f"{diff:.2e}")
    console.print(table)
    console.print(
        f"{len(report.difference)} booster(s) compiled in {report.seconds:.1f} s into "
        f"[bold]{escape(str(report.folder))}[/]; `assay serve` and Predictor.load use them on this kind of CPU"
    )
