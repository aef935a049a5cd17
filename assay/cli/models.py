"""`assay models ...`: the registry from the terminal, one command per Registry method."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from assay.cli.app import command, group
from assay.cli.render import console
from assay.errors import ConfigError, problem
from assay.registry import ModelVersion, Registry

models = group(
    "models", "The model registry: register, list, show, promote, roll back, archive, delete versions; decisions."
)
REGISTRY_HELP = "registry URL (default $ASSAY_REGISTRY_URL, else sqlite under $ASSAY_HOME or ~/.assay)"
STAGE_STYLE = {"production": "bold green", "candidate": "cyan", "archived": "dim"}
DECISION_STYLE = {"promoted": "bold green", "kept": "yellow", "rolled_back": "cyan", "failed": "bold red"}


@command("list", on=models)
def list_versions(
    name: str = typer.Argument(None, help="only this model's versions"),
    registry: str = typer.Option(None, "--registry", help=REGISTRY_HELP),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
):
    """Every registered version (of NAME), with stage, validation metric and lineage."""
    with Registry(registry) as reg:
        records = reg.list(name)
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in records], indent=2))
        return
    if not records:
        console.print("no models registered yet: assay models register MODEL_DIR --name NAME")
        return
    console.print(versions_table(records))


@command("show", on=models)
def show(
    name: str = typer.Argument(..., help="model name"),
    version: str = typer.Option(None, "--version", "-v", help="a number, 'production' or 'latest' (default)"),
    registry: str = typer.Option(None, "--registry", help=REGISTRY_HELP),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
):
    """One version in full (the latest unless --version), then all of NAME's versions."""
    with Registry(registry) as reg:
        record = reg.show(name, version)
        others = reg.list(name)
    if as_json:
        typer.echo(json.dumps(record.to_dict(), indent=2))
        return
    table = Table(title=f"{name} v{record.version}", title_justify="left", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in record.to_dict().items():
        shown = json.dumps(value) if isinstance(value, dict) else str(value)
        table.add_row(key, escape(shown))
    console.print(table)
    console.print(versions_table(others))


@command("register", on=models)
def register(
    model_dir: Path = typer.Argument(..., help="model folder written by `assay fit` or Predictor.save"),
    name: str = typer.Option(..., "--name", help="the model's name in the registry"),
    tag: list[str] = typer.Option(None, "--tag", help="a key=value tag (repeatable)"),
    source: str = typer.Option(None, "--source", help="the training data, recorded as lineage"),
    registry: str = typer.Option(None, "--registry", help=REGISTRY_HELP),
):
    """Copy MODEL_DIR into the registry as NAME's next version (stage candidate)."""
    with Registry(registry) as reg:
        record = reg.register(model_dir, name, parse_tags(tag), source=source)
    console.print(
        f"registered [bold]{escape(name)}[/] v{record.version} ({record.stage}) at {escape(str(record.path))}"
    )


@command("promote", on=models)
def promote(
    name: str = typer.Argument(...),
    version: int = typer.Argument(...),
    reason: str = typer.Option(None, "--reason", help="why, for the decision record (`assay models decisions`)"),
    registry: str = typer.Option(None, "--registry", help=REGISTRY_HELP),
):
    """Make VERSION NAME's production version; the previous one is archived."""
    with Registry(registry) as reg:
        record = reg.promote(name, version, reason=reason)
    console.print(f"[bold]{escape(name)}[/] v{record.version} is now in production")


@command("rollback", on=models)
def rollback(
    name: str = typer.Argument(...),
    reason: str = typer.Option(None, "--reason", help="why, for the decision record (`assay models decisions`)"),
    registry: str = typer.Option(None, "--registry", help=REGISTRY_HELP),
):
    """Put NAME's previous production version back; the current one is archived (kept on disk)."""
    with Registry(registry) as reg:
        before = reg.production(name).version
        record = reg.rollback(name, reason=reason)
    console.print(f"[bold]{escape(name)}[/] rolled back: v{record.version} is in production again, v{before} archived")


@command("decisions", on=models)
def decisions(
    name: str = typer.Argument(...),
    limit: int = typer.Option(20, "--limit", help="the newest N decisions"),
    registry: str = typer.Option(None, "--registry", help=REGISTRY_HELP),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
):
    """What changed NAME's production version or kept it, when and why: promotions, retrainings, rollbacks."""
    with Registry(registry) as reg:
        records = reg.decisions(name, limit=limit)
    if as_json:
        typer.echo(json.dumps([d.to_dict() for d in records], indent=2, default=str))
        return
    if not records:
        console.print(f"no decisions recorded for {escape(name)} yet")
        return
    table = Table(title=f"decisions about {escape(name)}, newest first (--json: intervals and details)")
    for col in ("time", "action", "versions", "metric", "scores", "p", "n", "reason"):
        table.add_column(col, justify="right" if col in ("p", "n") else "left", no_wrap=col != "reason")
    for d in records:
        table.add_row(
            d.created.strftime("%Y-%m-%d %H:%M") if d.created else "-",
            f"[{DECISION_STYLE.get(d.action, '')}]{d.action}[/]",
            " -> ".join(f"v{v}" if v else "-" for v in (d.champion_version, d.challenger_version)),
            d.metric or "-",
            " -> ".join(f"{v:.4g}" for v in (d.champion_score, d.challenger_score) if v is not None) or "-",
            f"{d.p_value:.2g}" if d.p_value is not None else "-",
            str(d.holdout_rows) if d.holdout_rows else "-",
            escape(d.reason.split(" (")[0]),  # the figures are in the columns beside it
        )
    console.print(table)


@command("archive", on=models)
def archive(
    name: str = typer.Argument(...),
    version: int = typer.Argument(...),
    registry: str = typer.Option(None, "--registry", help=REGISTRY_HELP),
):
    """Retire VERSION (kept on disk, no longer a candidate or in production)."""
    with Registry(registry) as reg:
        record = reg.archive(name, version)
    console.print(f"[bold]{escape(name)}[/] v{record.version} archived")


@command("delete", on=models)
def delete(
    name: str = typer.Argument(...),
    version: int = typer.Argument(...),
    force: bool = typer.Option(False, "--force", help="delete even the production version"),
    registry: str = typer.Option(None, "--registry", help=REGISTRY_HELP),
):
    """Remove VERSION and its files; the production version only with --force."""
    with Registry(registry) as reg:
        record = reg.delete(name, version, force=force)
    console.print(f"[bold]{escape(name)}[/] v{record.version} deleted")


def versions_table(records: list[ModelVersion]) -> Table:
    table = Table(title="registered models", title_justify="left")
    for col in ("name", "version", "stage", "metric", "created", "assay", "source", "tags"):
        table.add_column(col, justify="right" if col == "version" else "left")
    for r in records:
        metric = ", ".join(f"{k} {v:.4f}" for k, v in r.metrics.items() if isinstance(v, int | float)) or "-"
        table.add_row(
            escape(r.name),
            str(r.version),
            f"[{STAGE_STYLE.get(r.stage, '')}]{r.stage}[/]",
            metric,
            r.created.strftime("%Y-%m-%d %H:%M"),
            r.assay_version or "-",
            escape(r.source or "-"),
            escape(", ".join(f"{k}={v}" for k, v in r.tags.items()) or "-"),
        )
    return table


def parse_tags(pairs: list[str] | None) -> dict[str, str]:
    tags = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(problem(f"tag {pair!r} is not key=value", where="--tag", fix="e.g. --tag team=risk"))
        tags[key.strip()] = value.strip()
    return tags
