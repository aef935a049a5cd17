"""`assay retrain NAME`: fit a challenger on the champion's data plus new labelled rows, compare them
on a fresh holdout with a paired test, promote only a clear winner (assay.monitor.retrain).

Exit codes, for cron: 0 promoted, 4 champion kept, 2 user error, 5 retraining failed (the champion
untouched), 1 a bug. With --schedule it runs in the foreground on a cron schedule instead.
"""

from __future__ import annotations

import json
import logging
import math
import time

import typer
from rich.markup import escape
from rich.table import Table

from assay.cli.app import command
from assay.cli.models import REGISTRY_HELP
from assay.cli.render import console
from assay.monitor.retrain import DEFAULT_HOLDOUT_FRACTION, DEFAULT_MIN_NEW_ROWS, retrain
from assay.registry import Decision, Registry

STYLE = {"promoted": "bold green", "kept": "yellow", "failed": "bold red", "rolled_back": "cyan"}


@command("retrain")
def retrain_command(
    name: str = typer.Argument(..., help="the registered model whose production version is the champion"),
    data: str = typer.Option(None, "--data", "-d", help="new labelled rows: the model's inputs plus the target"),
    base_data: str = typer.Option(None, "--base-data", help="the champion's training table, if its lineage is gone"),
    budget: float = typer.Option(None, "--budget", "-b", help="seconds for the challenger's fit (default: champion's)"),
    trials: int = typer.Option(None, "--trials", "-n", help="a number of trials instead of a time budget"),
    seed: int = typer.Option(None, "--seed", help="the challenger's and the test's seed (default: champion's)"),
    alpha: float = typer.Option(0.05, "--alpha", help="promote only when the one-sided p-value is below this"),
    min_effect: float = typer.Option(0.0, "--min-effect", help="and the gain is at least this, in metric units"),
    holdout_fraction: float = typer.Option(
        DEFAULT_HOLDOUT_FRACTION, "--holdout-fraction", help="the newest share of new rows kept for the comparison"
    ),
    min_new_rows: int = typer.Option(DEFAULT_MIN_NEW_ROWS, "--min-new-rows", help="fewer new rows: no retraining"),
    dry_run: bool = typer.Option(False, "--dry-run", help="fit and compare, change nothing in the registry"),
    webhook: str = typer.Option(None, "--webhook", envvar="ASSAY_WEBHOOK_URL", help="POST each decision here"),
    no_log: bool = typer.Option(False, "--no-log", help="leave out labelled rows from the prediction log"),
    schedule: str = typer.Option(None, "--schedule", help='retrain on this cron schedule until Ctrl-C: "0 3 * * *"'),
    tz: str = typer.Option(None, "--tz", help="time zone of --schedule (default: local time)"),
    registry: str = typer.Option(None, "--registry", help=REGISTRY_HELP),
    as_json: bool = typer.Option(False, "--json", help="print the decision as JSON"),
):
    """Retrain NAME and promote the challenger only if it beats the champion beyond noise."""
    # The decision is printed below; without a handler of the user's, logging's last-resort
    # handler would print its log line a second time.
    logging.getLogger("assay.monitor.retrain").addHandler(logging.NullHandler())
    options = dict(
        base_data=base_data,
        budget=budget,
        trials=trials,
        seed=seed,
        holdout_fraction=holdout_fraction,
        use_log=not no_log,
        min_new_rows=min_new_rows,
        alpha=alpha,
        min_effect=min_effect,
        dry_run=dry_run,
        webhook=webhook,
    )
    if schedule:
        _run_on_schedule(schedule, name, data, registry, tz, options)
        return
    with Registry(registry) as reg:
        decision = retrain(name, data, registry=reg, verbose=not as_json, on_step=None if as_json else _step, **options)
    if as_json:
        typer.echo(json.dumps(decision.to_dict(), indent=2, default=str))
    else:
        show_decision(decision)
    raise typer.Exit(decision.exit_code)


def show_decision(decision: Decision) -> None:
    """Champion against challenger with intervals, the p-value, and the decision in words."""
    if decision.metric is not None:
        challenger = f"challenger v{decision.challenger_version}" if decision.challenger_version else "challenger"
        table = Table(title=f"{decision.name} on {decision.holdout_rows:,} fresh holdout rows", title_justify="left")
        for column in ("model", decision.metric, "95 % interval"):
            table.add_column(column, justify="left" if column == "model" else "right")
        table.add_row(
            f"champion v{decision.champion_version}",
            _num(decision.champion_score),
            f"{_num(decision.champion_low)} to {_num(decision.champion_high)}",
        )
        table.add_row(
            challenger,
            _num(decision.challenger_score),
            f"{_num(decision.challenger_low)} to {_num(decision.challenger_high)}",
        )
        console.print(table)
        test = (decision.details.get("verdict") or {}).get("test", "paired test")
        console.print(f"one-sided p-value {_num(decision.p_value)} ({escape(test)})", highlight=False)
    style = STYLE[decision.action]
    dry = " (dry run: nothing changed)" if decision.details.get("dry_run") else ""
    console.print(f"[{style}]{decision.action}[/]{dry}: {escape(decision.describe())}", highlight=False)


def _run_on_schedule(cron: str, name: str, data, registry_url, tz, options) -> None:
    from assay.monitor.schedule import RetrainScheduler

    reg = Registry(registry_url)
    try:
        reg.show(name)  # an unknown name fails now, not at 3 a.m.
        scheduler = RetrainScheduler(cron, [name], reg, tz=tz, new_data=data, **options)
    except BaseException:
        reg.close()
        raise
    console.print(f"retraining {escape(name)} on schedule {escape(cron)}; Ctrl-C to stop", highlight=False)
    scheduler.start()
    shown = 0
    try:
        while scheduler.running:
            time.sleep(1.0)
            done = scheduler.completed
            for run in list(scheduler.history)[len(scheduler.history) - min(done - shown, len(scheduler.history)) :]:
                if run.decision is not None:
                    show_decision(run.decision)
                else:
                    console.print(f"[bold red]failed[/]: {escape(run.error or '')}", highlight=False)
            shown = done
    except KeyboardInterrupt:
        console.print("stopping the schedule")
    finally:
        scheduler.stop()
        reg.close()


def _step(message: str) -> None:
    console.print(f"[dim]-> {escape(message)}[/]", highlight=False)


def _num(x) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.4g}"
