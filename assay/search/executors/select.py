"""Choosing an executor from the user's words: `--executor`, `--workers`, `--cluster`, RAY_ADDRESS."""

from __future__ import annotations

import os

from assay.errors import ConfigError, problem
from assay.search.executors.base import Executor

EXECUTORS = ("inline", "local", "ray")


def resolve_executor(kind: str | None, cluster: str | None = None, workers: int | None = None) -> str:
    """The executor a fit will use: named, else Ray when a cluster is given (argument or
    RAY_ADDRESS), else local processes when several workers are asked for, else inline: one
    trial at a time in this process (executors/inline.py says why that is still the default)."""
    if workers is not None and (not isinstance(workers, int) or isinstance(workers, bool) or workers < 1):
        raise ConfigError(
            problem(f"workers must be a whole number >= 1, got {workers!r}", where="workers", fix="pass workers=2")
        )
    if kind is None:
        if cluster or os.environ.get("RAY_ADDRESS"):
            return "ray"
        return "local" if workers and workers > 1 else "inline"
    if kind not in EXECUTORS:
        raise ConfigError(
            problem(f"unknown executor {kind!r}", where="executor", fix=f"use one of {', '.join(EXECUTORS)}")
        )
    if cluster and kind != "ray":
        raise ConfigError(
            problem(
                f"a cluster address was given with executor {kind!r}",
                where="cluster",
                fix="use executor='ray' with a cluster, or leave the cluster out",
            )
        )
    return kind


def make_executor(
    kind: str | None = None, *, cluster: str | None = None, workers: int | None = None, n_threads: int | None = None
) -> Executor:
    kind = resolve_executor(kind, cluster, workers)
    if kind == "inline":
        from assay.search.executors.inline import InlineExecutor

        return InlineExecutor(workers or 1)
    if kind == "local":
        from assay.search.executors.local import LocalExecutor

        return LocalExecutor(workers, n_threads=n_threads)
    from assay.search.executors.ray import RayExecutor  # the only import of ray, and only here

    return RayExecutor(cluster or os.environ.get("RAY_ADDRESS"), workers, n_threads=n_threads)
