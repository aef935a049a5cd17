"""The `assay` command line (Typer); every command mirrors something the Python API does."""

from assay.cli import (  # noqa: F401  (each registers its commands)
    bench,
    demo,
    explain,
    export,
    fit,
    knowledge,
    models,
    monitor,
    predict,
    profile,
    report,
    retrain,
    serve,
    tokens,
)
from assay.cli.app import app, main

__all__ = ["app", "main"]
