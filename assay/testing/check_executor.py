"""A conformance check for executors (assay.search.executors.base), shipped with the package so
an executor written elsewhere (another cluster scheduler, a queue) is held to the same contract
as inline, local processes and Ray.

`check_executor(lambda: LocalExecutor(2))` runs real LightGBM trials on a small generated table
and raises AssertionError, naming the executor and the broken promise, if any of these fail:
- `parallelism` is a whole number >= 1;
- every submitted trial comes back exactly once, with its own spec, whatever the order;
- `in_flight()` counts what was submitted and not collected; `collect` with nothing in flight
  returns at once, empty;
- results equal the in-process reference (same spec and seed -> same fold errors and
  out-of-fold predictions): where a trial runs must not change what it finds;
- a family failing on its parameters is a failed trial with a message, not an exception;
- the pruning rule gives the record an in-process run would make;
- a trial submitted with `earlier` (a screening trial's first fold) keeps that fold's model and
  fits only the others;
- `shutdown` may be called twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from sklearn.model_selection import StratifiedKFold

from assay.evaluate.metrics import get_metric
from assay.search.budget import Deadline
from assay.search.executors.base import Executor, TrialOutput
from assay.search.executors.inline import TrialContext, run_folds
from assay.search.trial import TrialSpec
from assay.testing.check_model import make_frame

_PARAMS = [{"n_estimators": 40, "num_leaves": 7}, {"n_estimators": 60, "num_leaves": 15}, {"n_estimators": 30}]


def executor_context(n_rows: int = 300, seed: int = 0) -> TrialContext:
    """A binary task with 3 stratified folds: small enough for a test, real enough to fit."""
    X, y, task = make_frame("binary", n_rows, seed)
    folds = list(StratifiedKFold(3, shuffle=True, random_state=seed).split(X, y))
    return TrialContext(X, y, folds, task, get_metric(None, task), n_threads=1)


def _drain(executor: Executor, name: str, limit: float = 120.0) -> list[TrialOutput]:
    out, stop = [], time.monotonic() + limit
    while executor.in_flight():
        assert time.monotonic() < stop, f"{name}: trials still in flight after {limit:.0f} s"
        out += executor.collect(timeout=5.0)
    return out


def check_executor(make: Callable[[], Executor], ctx: TrialContext | None = None) -> None:
    ctx = ctx or executor_context()
    executor = make()
    name = type(executor).__name__
    try:
        assert isinstance(executor.parallelism, int) and executor.parallelism >= 1, (
            f"{name}: parallelism must be a whole number >= 1, got {executor.parallelism!r}"
        )
        executor.start(ctx)
        started = time.monotonic()
        assert executor.collect(timeout=0.1) == [], f"{name}: collect with nothing in flight must return []"
        assert time.monotonic() - started < 5, f"{name}: collect with nothing in flight must not wait"

        specs = [TrialSpec(i, "lightgbm", p, 7 + i, "portfolio") for i, p in enumerate(_PARAMS)]
        for spec in specs:
            executor.submit(spec, 60.0, lambda errors: False)
        assert executor.in_flight() == len(specs), f"{name}: in_flight() must count submitted trials"
        outputs = _drain(executor, name)
        got = sorted(o.result.spec.trial_id for o in outputs)
        assert got == [s.trial_id for s in specs], f"{name}: each trial must come back once, got ids {got}"
        for output in outputs:
            spec = specs[output.result.spec.trial_id]
            assert output.result.spec == spec, f"{name}: a result came back with another trial's spec"
            assert output.result.status == "ok", f"{name}: {spec.name} {output.result.status}: {output.result.message}"
            reference = run_folds(spec, ctx, Deadline.never(), lambda errors: False)
            assert output.result.fold_errors == reference.result.fold_errors, (
                f"{name}: {spec.name} fold errors differ from the in-process run "
                f"({output.result.fold_errors} vs {reference.result.fold_errors})"
            )
            assert np.allclose(output.oof, reference.oof, equal_nan=True, rtol=0, atol=0), (
                f"{name}: {spec.name} out-of-fold predictions differ from the in-process run"
            )
            assert len(output.models) == len(ctx.folds), f"{name}: {spec.name} must return one model per fold"
            assert np.array_equal(output.models[0].predict_raw(ctx.X), reference.models[0].predict_raw(ctx.X)), (
                f"{name}: {spec.name}'s returned fold model predicts differently from the in-process one"
            )

        bad = TrialSpec(10, "lightgbm", {"num_leaves": -3}, 0, "portfolio")
        executor.submit(bad, 60.0, lambda errors: False)
        [failed] = _drain(executor, name)
        assert failed.result.status == "failed" and failed.result.message, (
            f"{name}: a family that rejects its parameters must give a failed trial with a message, "
            f"got {failed.result.status!r}"
        )

        pruned_spec = TrialSpec(11, "lightgbm", _PARAMS[0], 7, "portfolio")
        executor.submit(pruned_spec, 60.0, lambda errors: len(errors) >= 1)
        [pruned] = _drain(executor, name)
        assert pruned.result.status == "pruned" and len(pruned.result.fold_errors) == 1, (
            f"{name}: a trial whose rule says prune after fold 1 must be recorded pruned with 1 fold error, "
            f"got {pruned.result.status!r} with {len(pruned.result.fold_errors)}"
        )
        assert pruned.oof is None and pruned.models == [], f"{name}: a pruned trial keeps no models"

        screen = run_folds(TrialSpec(12, "lightgbm", _PARAMS[1], 3, "screen"), ctx, Deadline.never(), lambda e: False)
        executor.submit(TrialSpec(13, "lightgbm", _PARAMS[1], 4, "portfolio"), 60.0, lambda errors: False, screen)
        [continued] = _drain(executor, name)
        first_rows = ctx.folds[0][1]
        assert continued.result.status == "ok" and len(continued.models) == len(ctx.folds), (
            f"{name}: a continued trial must finish every fold, got {continued.result.status!r}"
        )
        assert continued.result.fold_errors[0] == screen.result.fold_errors[0] and np.array_equal(
            continued.oof[first_rows], screen.oof[first_rows]
        ), f"{name}: a continued trial must keep its screening trial's first fold, not refit it"
    finally:
        executor.shutdown()
        executor.shutdown()
