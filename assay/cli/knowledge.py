"""`assay knowledge`: the knowledge base of past tasks and the portfolio learnt from it.

assay knowledge build-portfolio --corpus ../shared/datasets/pmlb --exclude-suite public.yaml --minutes 25
assay knowledge show [--portfolio default] [--db PATH]
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from assay.cli.app import command, group
from assay.cli.render import console
from assay.errors import ConfigError, problem

knowledge_app = group("knowledge", "The knowledge base of past tasks, and the zero-shot portfolio learnt from it.")

_PACKAGE_PORTFOLIOS = Path(__file__).resolve().parents[1] / "knowledge" / "portfolios"


def _shared(*parts) -> Path | None:
    candidate = Path(__file__).resolve().parents[3] / "shared" / "datasets" / Path(*parts)
    return candidate if candidate.exists() else None


@command("build-portfolio", on=knowledge_app)
def build_portfolio_cmd(
    corpus: Path = typer.Option(
        None, "--corpus", help="folder of PMLB-style datasets (default ../shared/datasets/pmlb)"
    ),
    exclude_suite: Path = typer.Option(
        None, "--exclude-suite", help="suite whose datasets and their copies stay out (default the public suite)"
    ),
    configs: int = typer.Option(2, "--configs", help="random configurations per family, besides its defaults"),
    size: int = typer.Option(16, "--size", help="portfolio entries per task kind at most"),
    max_rows: int = typer.Option(1000, "--max-rows", help="rows per corpus dataset (stratified subsample)"),
    max_datasets: int = typer.Option(None, "--max-datasets", help="corpus datasets at most (kinds taken in turn)"),
    trial_seconds: float = typer.Option(10.0, "--trial-seconds", help="time cap per measured trial"),
    minutes: float = typer.Option(
        None, "--minutes", help="stop measuring after this long (0: only select from what is measured); rerun to resume"
    ),
    families: str = typer.Option(None, "--families", help="comma-separated families (default all available)"),
    with_portfolio: str = typer.Option(
        "default",
        "--with-portfolio",
        help="also measure this portfolio's configurations as candidates (a shipped name or a .json file; "
        "'none': only defaults and random draws)",
    ),
    cost_aware: bool = typer.Option(
        True, "--cost-aware/--by-gain", help="order by gain per measured second (what short budgets need) or by gain"
    ),
    db: Path = typer.Option(None, "--db", help="knowledge base file (default ASSAY_HOME/knowledge.db)"),
    out: Path = typer.Option(_PACKAGE_PORTFOLIOS / "learnt.json", "--out", "-o", help="portfolio file to write"),
    seed: int = typer.Option(0, "--seed"),
):
    """Measure candidate configurations on the corpus (resumable), then write the greedy portfolio."""
    from assay.knowledge.build import Protocol, build_portfolio, write_portfolio
    from assay.knowledge.store import KnowledgeStore
    from assay.search.strategies import load_portfolio

    corpus = corpus or _shared("pmlb")
    if corpus is None or not Path(corpus).is_dir():
        raise ConfigError(problem(f"no corpus folder {corpus}", where="--corpus", fix="pass --corpus PMLB_FOLDER"))
    exclude_suite = exclude_suite or _shared("suites", "public.yaml")
    if configs < 0 or size < 1 or max_rows < 20:
        raise ConfigError(problem("--configs >= 0, --size >= 1, --max-rows >= 20", where="options", fix="raise them"))
    extra = [] if with_portfolio.lower() == "none" else load_portfolio(with_portfolio)
    store = KnowledgeStore(db)
    with Progress(
        TextColumn("[bold blue]measuring"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        bar = progress.add_task("", total=None)

        def tick(dataset, cand):
            progress.update(bar, advance=1, description=f"{dataset}: {cand.family}")

        doc = build_portfolio(
            corpus,
            exclude_suite,
            store,
            families=families.split(",") if families else None,
            configs_per_family=configs,
            size=size,
            protocol=Protocol(max_rows, 3, trial_seconds, seed),
            minutes=minutes,
            max_datasets=max_datasets,
            extra=extra,
            cost_aware=cost_aware,
            command="assay knowledge " + " ".join(sys.argv[2:])
            if len(sys.argv) > 2
            else "assay knowledge build-portfolio",
            progress=tick,
        )
    if not doc["entries"]:
        raise ConfigError(
            problem(
                "no dataset has every candidate measured yet", where="build-portfolio", fix="rerun with more --minutes"
            )
        )
    path = write_portfolio(doc, out)
    prov = doc["provenance"]
    used = {k: len(v) for k, v in prov["datasets_used"].items()}
    console.print(
        f"portfolio of {len(doc['entries'])} entries written to [bold]{path}[/] from datasets {used}; "
        f"{len(prov['excluded'])} excluded as the suite's or its copies; "
        f"{prov['measured_this_run']} trials measured now"
    )


@command("show", on=knowledge_app)
def show(
    portfolio: str = typer.Option("default", "--portfolio", help="portfolio name (shipped) or a JSON file"),
    db: Path = typer.Option(None, "--db", help="knowledge base file (default ASSAY_HOME/knowledge.db)"),
):
    """The portfolio in order (with each entry's cost and effect) and what the knowledge base holds."""
    from assay.knowledge.store import KnowledgeStore
    from assay.search.strategies.portfolio import load_document

    doc = load_document(portfolio)
    table = Table(title=f"portfolio {doc.get('name', portfolio)} (format {doc['format']})")
    for col in ("#", "tasks", "family", "params", "seconds", "avg after"):
        table.add_column(col)
    for i, e in enumerate(doc["entries"], 1):
        params = ", ".join(
            f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in e.get("params", {}).items()
        )
        table.add_row(
            str(i),
            ",".join(e.get("tasks", ["all"])),
            e["family"],
            params,
            str(e.get("seconds", "")),
            str(e.get("portfolio_average_after", "")),
        )
    console.print(table)
    prov = doc.get("provenance")
    if prov:
        console.print(f"built {prov['created']} by: {prov['command']}")
        for kind, curve in prov.get("held_out_curve", {}).items():
            points = ", ".join(f"{k}: {v:.3f}" for k, v in enumerate(curve, 1) if k in (1, 2, 4, 8, len(curve)))
            console.print(f"{kind}, held out (mean normalised error after k entries): {points}")
            defaults = prov.get("defaults_curve", {}).get(kind, [])
            if defaults:
                base = ", ".join(f"{k}: {v:.3f}" for k, v in enumerate(defaults, 1))
                console.print(f"{kind}, family defaults in registry order instead: {base}")
            anytime = prov.get("held_out_anytime", {}).get(kind)
            if anytime and anytime["by_gain"]:  # empty with fewer than two datasets to hold out
                for order in ("by_gain_per_second", "by_gain"):
                    points = ", ".join(
                        f"{b:g} s: {v:.3f}" for b, v in zip(anytime["budgets"], anytime[order], strict=True)
                    )
                    console.print(f"{kind}, held out, ordered {order.replace('_', ' ')}, after: {points}")
        console.print(
            f"excluded ({len(prov['excluded'])}): " + ", ".join(f"{k} ({v})" for k, v in prov["excluded"].items())
        )
    if db is not None or KnowledgeStore.exists_default():
        summary = KnowledgeStore(db).summary()
        console.print(f"knowledge base {summary['path']}: tasks {summary['tasks']}, {summary['trials']} trials")


@command("describe", on=knowledge_app)
def describe(
    data: str = typer.Argument(..., help="a table file"),
    target: str = typer.Option(..., "--target", "-t", help="the column to predict"),
    task: str = typer.Option(None, "--task", help="binary, multiclass or regression (default: detected)"),
    db: Path = typer.Option(None, "--db", help="also list the nearest tasks in this knowledge base"),
):
    """DATA's meta-features (what warm start compares), and its nearest recorded tasks."""
    from assay.data.read import read_table
    from assay.fit import require_target
    from assay.knowledge.metafeatures import describe_table

    frame = read_table(data)
    require_target(frame, target)
    meta = describe_table(frame, target, task=task)
    table = Table(title=f"meta-features of {Path(data).name}")
    table.add_column("feature")
    table.add_column("value", justify="right")
    for name, value in meta.items():
        table.add_row(name, f"{value:.4g}")
    console.print(table)
    from assay.knowledge.store import KnowledgeStore, default_path

    path = db or default_path()
    if path.is_file():
        from assay.knowledge.warmstart import nearest_tasks

        kind = "regression" if meta["n_classes"] == 0 else ("binary" if meta["n_classes"] == 2 else "multiclass")
        near = nearest_tasks(meta, KnowledgeStore(path).tasks(kind=kind), k=5)
        console.print(f"nearest recorded {kind} tasks: " + (", ".join(t.name for t in near) or "none"))
