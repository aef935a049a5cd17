"""The Typer app: one module per command group, registered here, and one error policy.

Any AssayError becomes a single red line naming the problem and the fix, with exit code 2;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import functools
import warnings

import typer
from rich.console import Console

from assay.errors import AssayError

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="assay: tabular machine learning, end to end, with the rigour shown.",
)
err_console = Console(stderr=True)


def group(name: str, help: str) -> typer.Typer:
    """A command group (`assay models list`): its commands use `command(..., on=the_group)`."""
    sub = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False, help=help)
    app.add_typer(sub, name=name)
    return sub


def command(*args, on: typer.Typer | None = None, **kwargs):
    """app.command (or a group's, with `on`), plus the error policy: user errors exit 2 with one clear message."""

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*a, **kw):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", UserWarning)
                try:
                    return fn(*a, **kw)
                except AssayError as exc:
                    err_console.print(f"[bold red]error[/]: {exc}", highlight=False)
                    raise typer.Exit(exc.exit_code) from None
                finally:
                    for w in caught:
                        if issubclass(w.category, UserWarning) and w.filename.find("assay") >= 0:
                            err_console.print(f"[yellow]warning[/]: {w.message}", highlight=False)

        return (on or app).command(*args, **kwargs)(wrapper)

    return decorate


def main() -> None:
    app()
