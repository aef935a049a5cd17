"""The `assay` command line (Typer); every command mirrors something the Python API does."""

from assay.cli import bench, demo, explain, fit, predict, profile, report  # noqa: F401  (each registers its commands)
from assay.cli.app import app, main

__all__ = ["app", "main"]
