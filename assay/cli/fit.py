"""`assay fit`: a table and a target in, a saved model folder out."""

from __future__ import annotations

from pathlib import Path

import typer

from assay.cli.app import command
from assay.cli.render import console, leaderboard_table
from assay.errors import ConfigError, problem
from assay.predictor import Predictor
from assay.search.journal import journal_path
from assay.search.subsample import SEARCH_ROWS


@command("fit")
def fit(
    data: str = typer.Argument(
        ...,
        help="a table file (CSV, TSV, Parquet, Feather, Excel, JSON lines), or a database URL / 'duckdb' with --query",
    ),
    query: str = typer.Option(None, "--query", "-q", help="SQL to run against DATA (a SQLAlchemy URL, or duckdb)"),
    target: str = typer.Option(..., "--target", "-t", help="the column to predict"),
    budget: float = typer.Option(None, "--budget", "-b", help="wall-clock seconds for the whole fit (default 60)"),
    trials: int = typer.Option(None, "--trials", "-n", help="a number of trials instead of a time budget"),
    metric: str = typer.Option(
        None,
        "--metric",
        "-m",
        help="roc_auc, log_loss, accuracy, balanced_accuracy, f1, rmse, mae, r2 (default by task)",
    ),
    task: str = typer.Option(None, "--task", help="binary, multiclass or regression (default: detected)"),
    seed: int = typer.Option(0, "--seed", help="random seed"),
    out: Path = typer.Option(Path("assay-model"), "--out", "-o", help="folder to save the model in"),
    families: str = typer.Option(None, "--families", help="comma-separated model families to search"),
    device: str = typer.Option("cpu", "--device", help="auto, cpu or cuda"),
    types: list[str] = typer.Option(None, "--types", help="column kinds, e.g. zip=categorical (repeatable)"),
    schema: Path = typer.Option(None, "--schema", help="a schema file (column: kind) or a PMLB metadata.yaml"),
    allow_leaky: bool = typer.Option(False, "--allow-leaky", help="keep columns that look like they leak the target"),
    group_col: str = typer.Option(None, "--group-col", help="keep each group's rows (customer, patient) together"),
    time_col: str = typer.Option(None, "--time-col", help="validate on later rows than trained on (default: detected)"),
    no_time_split: bool = typer.Option(False, "--no-time-split", help="shuffled folds even if a time column is found"),
    register: str = typer.Option(None, "--register", help="also register the model under this name (a candidate)"),
    search: str = typer.Option(
        None, "--search", help="portfolio (default: portfolio+tpe), tpe, random, evolve, portfolio+evolve, ..."
    ),
    remember: bool = typer.Option(
        False, "--remember", help="record this fit's trials in the knowledge base (ASSAY_HOME/knowledge.db)"
    ),
    warm_start: bool = typer.Option(
        None,
        "--warm-start/--no-warm-start",
        help="seed the search from similar past tasks (default off, so runs replay anywhere)",
    ),
    executor: str = typer.Option(
        None, "--executor", help="inline (default), local (worker processes) or ray; a --cluster implies ray"
    ),
    cluster: str = typer.Option(None, "--cluster", help="Ray cluster address host:port (RAY_ADDRESS is honoured too)"),
    workers: int = typer.Option(
        None,
        "--workers",
        help="trials in flight at once (default 1; more runs local worker processes unless --executor says otherwise)",
    ),
    search_rows: int = typer.Option(
        SEARCH_ROWS, "--search-rows", help="above this many rows, search on a sample and refit on all (0: never)"
    ),
    resume: bool = typer.Option(
        False, "--resume", help="continue an interrupted fit with the same --out, reusing its finished trials"
    ),
    journal: bool = typer.Option(
        True, "--journal/--no-journal", help="journal finished trials beside --out (OUT.journal) so --resume works"
    ),
):
    """Search models for DATA's TARGET within the budget, ensemble the best, save the result."""
    if budget is not None and trials is not None:
        raise ConfigError(problem("both --budget and --trials given", where="options", fix="choose one of them"))
    if time_col is not None and no_time_split:
        raise ConfigError(problem("both --time-col and --no-time-split given", where="options", fix="choose one"))
    if register:
        from assay.registry.service import check_name

        check_name(register)  # before the fit, not after it
    if resume and not journal:
        raise ConfigError(problem("--resume needs the journal", where="options", fix="drop --no-journal"))
    checkpoint = journal_path(out) if journal else None
    if checkpoint is not None and not resume and (checkpoint / "journal.json").is_file():
        console.print(
            f"[yellow]note[/]: {checkpoint} holds an interrupted fit; starting over (pass --resume to continue it)"
        )
    predictor = Predictor(
        target,
        budget,
        trials=trials,
        task=task,
        metric=metric,
        seed=seed,
        families=families.split(",") if families else None,
        search=search,
        knowledge=remember,
        warm_start=warm_start,
        device=device,
        types=types,
        schema=schema,
        allow_leaky=allow_leaky,
        group_column=group_col,
        time_column=False if no_time_split else time_col,
        executor=executor,
        cluster=cluster,
        workers=workers,
        search_rows=search_rows or None,
        checkpoint=checkpoint,
    ).fit(data, query=query, resume=resume)
    console.print(leaderboard_table(predictor.leaderboard()))
    for line in predictor.info["cleaning"]:
        console.print(f"[cyan]cleaned[/]: {line}", highlight=False)
    for note in predictor.info["notes"]:
        console.print(f"[yellow]note[/]: {note}", highlight=False)
    path = predictor.save(out)
    console.print(f"model saved to [bold]{path}[/] (fit took {predictor.info['fit_seconds']:.1f} s)")
    if (path / "report.html").is_file():
        console.print(f"report: {path / 'report.html'} (on test rows: assay report {path} --data TEST)")
    if register:
        from assay.registry import Registry

        with Registry() as registry:
            source = str(Path(data).resolve()) if "://" not in data and Path(data).exists() else data
            record = registry.register(path, register, source=source)
        console.print(f"registered as [bold]{register}[/] v{record.version} ({record.stage})")
