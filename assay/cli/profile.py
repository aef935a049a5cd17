"""`assay profile`: a table in, one self-contained HTML page about it out."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from assay.cli.app import command
from assay.cli.render import console
from assay.data.clean import clean_frame
from assay.data.profile import MEASURES, Profile, check_target, profile_table
from assay.data.read import read_with_report
from assay.data.schema import infer_schema
from assay.errors import ConfigError, problem
from assay.report.html import render_profile_html


@command("profile")
def profile(
    data: str = typer.Argument(..., help="CSV/TSV/Parquet/Feather/Excel/JSON-lines file"),
    target: str = typer.Option(None, "--target", "-t", help="measure every column's association with this one"),
    out: Path = typer.Option(Path("profile.html"), "--out", "-o", help="where to write the HTML page"),
    sample_rows: int = typer.Option(100_000, "--sample-rows", help="rows behind the sampled statistics"),
    seed: int = typer.Option(0, "--seed", help="random seed of the sample"),
):
    """Profile DATA: statistics, missing values, distributions and association with TARGET, as HTML."""
    start = time.perf_counter()
    if out.suffix.lower() not in (".html", ".htm"):
        raise ConfigError(problem(f"{out} is not an .html file", where="--out", fix="name a .html file"))
    frame, report = read_with_report(data)
    check_target(frame, target)  # before the work, not after it
    schema = infer_schema(frame, target=target)
    frame, cleaning = clean_frame(frame, schema, target=target)
    result = profile_table(
        frame, target=target, schema=schema, cleaning=cleaning, read_report=report, sample_rows=sample_rows, seed=seed
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(render_profile_html(result, f"Profile of {Path(data).name}"), encoding="utf-8")
    tmp.replace(out)  # never a half-written page
    for table in _summary(result):
        console.print(table)
    seconds = time.perf_counter() - start
    console.print(f"profile written to [bold]{escape(str(out.resolve()))}[/] ({seconds:.1f} s)")


def _summary(p: Profile, top: int = 5) -> list[Table]:
    facts = Table(title=f"{p.n_rows:,} rows x {p.n_columns:,} columns", title_justify="left", show_header=False)
    facts.add_column(style="dim")
    facts.add_column()
    facts.add_row("kinds", ", ".join(f"{n} {k}" for k, n in sorted(p.kinds.items(), key=lambda kv: -kv[1])))
    facts.add_row(
        "missing cells", f"{p.missing_cells:,} ({100 * p.missing_cells / max(p.n_rows * p.n_columns, 1):.1f}%)"
    )
    facts.add_row("duplicate rows", "not checked" if p.duplicate_rows is None else f"{p.duplicate_rows:,}")
    if p.target is not None:
        facts.add_row("target", escape(f"{p.target} ({p.task or 'no associations: a single class or no values'})"))
    if p.sampled:
        facts.add_row("sample", f"{p.sample_size:,} rows for distributions and associations")
    if not p.ranking:
        return [facts]
    ranked = Table(title=f"most associated with {escape(p.target)}", title_justify="left")
    ranked.add_column("#", justify="right")
    ranked.add_column("column")
    ranked.add_column("measure")
    ranked.add_column("value", justify="right")
    for i, r in enumerate(p.ranking[:top], start=1):
        ranked.add_row(str(i), escape(r["column"]), MEASURES[r["measure"]], f"{r['association']:.3f}")
    return [facts, ranked]
