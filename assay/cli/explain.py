"""`assay explain`: why a saved model predicts what it does, row by row."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from assay.cli.app import command
from assay.cli.predict import write_table
from assay.cli.render import console
from assay.predictor import Predictor


@command("explain")
def explain(
    model: Path = typer.Argument(..., help="model folder written by `assay fit`"),
    rows: str = typer.Argument(..., help="rows to explain (a table file; the target column, if present, is ignored)"),
    output: Path = typer.Option(None, "--output", "-o", help="write every contribution to this .csv or .parquet"),
    top: int = typer.Option(5, "--top", help="largest contributions shown per row"),
    limit: int = typer.Option(10, "--limit", help="rows shown in the terminal"),
    explain_class: str = typer.Option(None, "--class", help="class to explain (default: the predicted one)"),
):
    """Split each prediction of MODEL for ROWS into a baseline plus one contribution per column."""
    predictor = Predictor.load(model)
    frame = predictor.explain(rows, explain_class=explain_class)
    if output is not None:
        write_table(frame.reset_index(names="row"), output)
        console.print(f"{len(frame):,} explanations written to [bold]{escape(str(output.resolve()))}[/]")
    features = [c for c in frame.columns if c not in ("predicted", "explained_class", "baseline")]
    space = frame.attrs.get("space", "")
    table = Table(title=f"contributions, in {escape(space)}", title_justify="left")
    for col in ("row", "predicted", "baseline", f"top {top} contributions"):
        table.add_column(col, justify="right" if col in ("row", "baseline") else "left")
    for index, row in frame.head(limit).iterrows():
        values = row[features].astype(float)
        order = values.abs().sort_values(ascending=False).index[:top]
        parts = ", ".join(f"{escape(str(f))} {values[f]:+.3g}" for f in order)
        predicted = (
            str(row["predicted"])
            if "explained_class" not in frame
            else (f"{row['predicted']} (explaining {row['explained_class']})")
        )
        table.add_row(str(index), escape(predicted), f"{row['baseline']:.3g}", parts)
    if len(frame) > limit:
        table.caption = f"{len(frame) - limit} more rows" + ("" if output else "; --output writes them all")
    console.print(table)
    share = frame.attrs.get("explained_share", 1.0)
    if share < 0.999:
        console.print(
            f"[yellow]note[/]: contributions come from the boosted members ({', '.join(frame.attrs['members'])}),"
            f" {share:.0%} of the ensemble's weight"
        )
