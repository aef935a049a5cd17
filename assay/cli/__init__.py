"""The `assay` command line (Typer); every command mirrors something the Python API does."""

from assay.cli import demo, fit, predict, profile  # noqa: F401  (each module registers its commands)
from assay.cli.app import app, main

__all__ = ["app", "main"]
