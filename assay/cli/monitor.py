"""`assay monitor` and `assay feedback`: drift, performance and alerts from the terminal.

Exit codes of `assay monitor` (see assay/monitor/alerts.py): 0 nothing fired, 3 an alert fired,
2 a user error, 1 an unexpected failure; so a cron job or CI step can act on drift directly.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import typer
from rich.markup import escape
from rich.table import Table

from assay.cli.app import command
from assay.cli.render import console
from assay.errors import ConfigError, DataSourceError, RegistryError, problem

REGISTRY_HELP = "registry URL, where the prediction log lives (default $ASSAY_REGISTRY_URL, else sqlite in ~/.assay)"
SHOWN = 15  # columns listed in the terminal; --html and --json have them all


@command("monitor")
def monitor(
    model: str = typer.Argument(..., help="model folder, or a registered model NAME[:VERSION]"),
    data: str = typer.Option(None, "--data", "-d", help="recent rows to compare with the training data"),
    from_log: str = typer.Option(None, "--from-log", help="compare the rows the prediction log holds for NAME"),
    reference: str = typer.Option(None, "--reference", help="training rows, for model folders saved without them"),
    html: Path = typer.Option(None, "--html", help="write the monitoring page here"),
    json_out: Path = typer.Option(None, "--json", help="write the full result as JSON here"),
    webhook: str = typer.Option(None, "--webhook", envvar="ASSAY_WEBHOOK_URL", help="POST fired alerts here as JSON"),
    alpha: float = typer.Option(None, "--alpha", help="false discovery rate across all tests [0.05]"),
    psi: float = typer.Option(None, "--psi", help="PSI at which a real shift counts as material [0.2]"),
    distance: float = typer.Option(None, "--distance", help="KS D / total variation counted as material [0.15]"),
    auc: float = typer.Option(None, "--auc", help="classifier AUC whose lower bound fires [0.6]"),
    multivariate: bool = typer.Option(True, "--multivariate/--no-multivariate", help="run the classifier check"),
    since: str = typer.Option(None, "--since", help="with --from-log: from this time (ISO) or age (24h, 7d)"),
    until: str = typer.Option(None, "--until", help="with --from-log: up to this time or age"),
    version: str = typer.Option(None, "--log-version", help="with --from-log: only rows of this model version"),
    limit: int = typer.Option(10_000, "--limit", help="with --from-log: at most this many most recent rows"),
    time_col: str = typer.Option(None, "--time-col", help="with --data: the column giving each row's time"),
    every: str = typer.Option(None, "--every", help="performance per time window: 1h, 1D, 7D ..."),
    rows: int = typer.Option(None, "--rows", help="performance per window of this many labelled rows"),
    threshold: float = typer.Option(None, "--threshold", help="alert when the metric is worse than this"),
    registry: str = typer.Option(None, "--registry", help=REGISTRY_HELP),
    seed: int = typer.Option(0, "--seed"),
):
    """Compare recent rows (--data, or the prediction log with --from-log) with MODEL's training data.

    Exit status: 0 nothing fired, 3 an alert fired, 2 a user error, 1 an unexpected failure."""
    from assay.monitor import Thresholds, alerts, monitor_log
    from assay.monitor import monitor as run_monitor

    if (data is None) == (from_log is None):
        raise ConfigError(
            problem("give exactly one of --data and --from-log", where="assay monitor", fix="--data recent.csv")
        )
    if webhook is not None:
        alerts.check_webhook(webhook)
    thresholds = Thresholds.given(alpha=alpha, psi=psi, distance=distance, auc=auc)
    predictor = load_model(model, registry)
    shared = dict(
        reference=reference,
        thresholds=thresholds,
        multivariate=multivariate,
        every=every,
        rows=rows,
        threshold=threshold,
        seed=seed,
    )
    with console.status("comparing recent rows with the training reference..."):
        if from_log is not None:
            from assay.monitor import PredictionLog

            with PredictionLog(registry) as log:
                result = monitor_log(
                    predictor, log, from_log, version=version, since=since, until=until, limit=limit, **shared
                )
        else:
            result = run_monitor(predictor, data, time_column=time_col, name=_display(model), **shared)
    _print(result)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(result.to_dict(), indent=2, default=str))
        console.print(f"JSON written to [bold]{escape(str(json_out.resolve()))}[/]")
    if html is not None:
        from assay.monitor.page import write_page

        console.print(f"page written to [bold]{escape(str(write_page(result, html).resolve()))}[/]")
    if result.fired:
        alerts.to_log(result.alerts, model=result.model)
        if webhook is not None:
            delivery = alerts.to_webhook(webhook, result.alerts, model=result.model)
            note = "delivered" if delivery.ok else f"[red]not delivered[/] ({escape(str(delivery.error))})"
            console.print(f"webhook: {note}")
    raise typer.Exit(result.exit_code)


@command("feedback")
def feedback(
    name: str = typer.Argument(..., help="the model name predictions were logged under"),
    data: str = typer.Option(..., "--data", "-d", help="a table of labels (CSV, Parquet, ...)"),
    request_id_col: str = typer.Option("request_id", "--request-id-col", help="column holding the request id"),
    label_col: str = typer.Option("label", "--label-col", help="column holding the true label"),
    row_col: str = typer.Option(
        None, "--row-col", help="column holding the row within its request (default: 'row' if present, else 0, 1, ...)"
    ),
    registry: str = typer.Option(None, "--registry", help=REGISTRY_HELP),
):
    """Attach true labels to logged predictions of NAME, by request id (and row)."""
    from assay.data.read import read_table
    from assay.monitor import PredictionLog

    table = read_table(data)
    row_col = row_col or ("row" if "row" in table.columns else None)
    for col, option in ((request_id_col, "--request-id-col"), (label_col, "--label-col"), (row_col, "--row-col")):
        if col is not None and col not in table.columns:
            raise ConfigError(
                problem(f"no column {col!r} in {data}", where=option, fix=f"columns are {list(table.columns)[:15]}")
            )
    table = table[table[label_col].notna()]
    ids = table[request_id_col].astype(str)
    rows = table[row_col] if row_col is not None else ids.groupby(ids).cumcount()
    records = pd.DataFrame({"request_id": ids.to_numpy(), "row": rows.to_numpy(), "label": table[label_col].to_numpy()})
    with PredictionLog(registry) as log:
        n = log.feedback_many(name, records)
    console.print(f"{n:,} label(s) attached to logged predictions of [bold]{escape(name)}[/]")


def load_model(model: str, registry: str | None):
    """A model folder if MODEL is one, else NAME or NAME:VERSION from the registry (production
    version by default)."""
    from assay.predictor import Predictor

    if Path(model).exists():
        return Predictor.load(model)
    if any(sep in model for sep in ("/", "\\")) or model.startswith((".", "~")):
        raise DataSourceError(
            problem(f"no model folder {model}", where="MODEL", fix="give a folder written by `assay fit`, or a NAME")
        )
    from assay.registry import Registry

    name, _, version = model.partition(":")
    try:
        with Registry(registry) as reg:
            return reg.load(name, version or None)
    except RegistryError as exc:
        raise RegistryError(f"{exc} (and {model!r} is not a model folder either)") from None


def _display(model: str) -> str:
    return Path(model).name if Path(model).exists() else model


def _print(result) -> None:
    drift = result.drift
    table = Table(title=f"drift of {result.recent.get('n_rows', 0):,} recent rows vs the training reference",
                  title_justify="left")  # fmt: skip
    for col in ("column", "role", "PSI", "distance", "adj. p", "missing", "unseen", "fired"):
        table.add_column(col, justify="left" if col in ("column", "role", "fired") else "right")
    frame = drift.table()
    for row in frame.head(SHOWN).itertuples(index=False):
        missing = f"{100 * row.missing_reference:.1f}→{100 * row.missing_recent:.1f}%"
        unseen = "-" if pd.isna(row.unseen_share) else f"{100 * row.unseen_share:.1f}%"
        table.add_row(
            escape(str(row.feature)),
            row.role,
            _num(row.psi),
            _num(row.distance),
            "-" if pd.isna(row.p_adjusted) else f"{row.p_adjusted:.2g}",
            missing,
            unseen,
            f"[bold red]{row.fired}[/]" if row.fired else "",
        )
    if len(frame) > SHOWN:
        table.caption = f"{len(frame) - SHOWN} more columns in --json / --html"
    console.print(table)
    multi = drift.multivariate
    if multi is not None and multi.auc is not None:
        console.print(f"classifier AUC {multi.auc:.3f} (95% interval {multi.low:.3f} to {multi.high:.3f})")
    if result.performance is not None:
        for w in result.performance.windows[-5:]:
            value = "-" if w.value is None else f"{w.value:.4f}"
            interval = "" if w.low is None else f" [{w.low:.4f}, {w.high:.4f}]"
            console.print(f"{result.performance.metric} {escape(w.start)}: {value}{interval} on {w.n:,} rows")
    for note in result.notes:
        console.print(f"[yellow]note[/]: {escape(note)}")
    if result.fired:
        console.print(f"[bold red]{len(result.alerts)} alert(s)[/]")
        for alert in result.alerts:
            console.print(f"  [red]•[/] {escape(alert.message)}")
    else:
        console.print("[green]nothing fired[/]")


def _num(v) -> str:
    return "-" if v is None or pd.isna(v) else f"{v:.3f}"


def predict_and_log(predictor, data, output: Path, name: str, version, registry, *, proba: bool, strict: bool):
    """`assay predict ... --log NAME`: predict, record inputs and predictions in the prediction
    log as one request, and write request_id and row beside each prediction, so labels can be
    sent back later with `assay feedback NAME --data labels.csv`."""
    from assay.cli.predict import write_table
    from assay.data.read import read_table
    from assay.monitor import PredictionLog

    frame = read_table(data)
    inputs = frame.drop(columns=[predictor.target], errors="ignore")
    target = f"predicted_{predictor.target}"
    probs = None
    if predictor.info["task"]["kind"] != "regression":
        probs = predictor.predict_proba(inputs, strict=strict)
        labels = probs.idxmax(axis=1).rename(target)
    else:
        labels = predictor.predict(inputs, strict=strict).rename(target)
    with PredictionLog(registry) as log:
        request_id = log.record(name, version, inputs, labels.tolist(), probs, source="batch")
    result = labels.to_frame()
    if proba and probs is not None:
        result = result.join(probs.add_prefix("proba_"))
    result.insert(0, "row", range(len(result)))
    result.insert(0, "request_id", request_id)
    write_table(result, output)
    console.print(f"{len(result):,} predictions written to [bold]{escape(str(output.resolve()))}[/]")
    console.print(f"logged as request [bold]{request_id}[/] of {escape(name)}: send labels with `assay feedback`")
