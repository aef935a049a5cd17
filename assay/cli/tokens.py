"""`assay tokens ...`: API tokens for the REST server, kept hashed in the registry."""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table

from assay.cli.app import command, group
from assay.cli.models import REGISTRY_HELP
from assay.cli.render import console
from assay.registry import Registry

tokens = group("tokens", "API tokens for `assay serve`: create (shown once), list, revoke.")


@command("create", on=tokens)
def create(
    label: str = typer.Argument(..., help="what the token is for, e.g. 'web-app'"),
    registry: str = typer.Option(None, "--registry", help=REGISTRY_HELP),
):
    """Create a token and print it once: only its hash is stored, so it cannot be shown again."""
    with Registry(registry) as reg:
        secret = reg.create_token(label)
    typer.echo(secret)
    console.print(
        "[yellow]store this token now; it will not be shown again[/] (send it as 'Authorization: Bearer TOKEN')",
        highlight=False,
    )


@command("list", on=tokens)
def list_tokens(registry: str = typer.Option(None, "--registry", help=REGISTRY_HELP)):
    """Every token's id, label and state; never a secret."""
    with Registry(registry) as reg:
        rows = reg.list_tokens()
    table = Table(title="API tokens", title_justify="left")
    for col in ("id", "label", "created", "state"):
        table.add_column(col)
    for t in rows:
        state = "[green]active[/]" if t.active else f"[dim]revoked {t.revoked:%Y-%m-%d %H:%M}[/]"
        table.add_row(t.id, escape(t.label), f"{t.created:%Y-%m-%d %H:%M}", state)
    console.print(table)


@command("revoke", on=tokens)
def revoke(
    token_id: str = typer.Argument(..., metavar="ID", help="the token's id, from `assay tokens list`"),
    registry: str = typer.Option(None, "--registry", help=REGISTRY_HELP),
):
    """Revoke a token: requests carrying it are refused from now on."""
    with Registry(registry) as reg:
        token = reg.revoke_token(token_id)
    console.print(f"token {token.id} ({escape(token.label)}) revoked")
