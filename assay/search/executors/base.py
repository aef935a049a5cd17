"""The executor contract: trials go out as units of work, results come back as they finish.

    executor.start(ctx)                      # the data goes to the workers once
    executor.submit(spec, seconds, prune)    # up to `parallelism` trials in flight
                                             # (earlier=: a screened fold to continue from)
    outputs = executor.collect(timeout)      # whatever finished, in any order
    executor.shutdown()

An executor only runs trials; what to run next and when to stop is the engine's and the
scheduler's business. Deadlines cross machines as *seconds allowed* rather than as a
`time.monotonic()` value, because monotonic clocks are per machine.

Pruning: an in-process executor asks `prune(fold_errors)` after each fold and stops early; a
remote one runs every fold and applies the same rule to the finished folds when the result is
collected (`prune_finished`). Both give the same record, so results do not depend on where a
trial ran; the remote one only spends the time of the folds it would have skipped.

`RemoteExecutor` holds what process pools and Ray share: the in-flight book, the trial deadline
(an overdue trial is cancelled), and fault tolerance (a worker that dies mid-trial gets the
trial retried once while time allows, else the trial is recorded as failed with the reason).
"""

from __future__ import annotations

import math
import time
import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from assay.errors import AssayError
from assay.search.budget import Deadline
from assay.search.trial import TrialResult, TrialSpec

Prune = Callable[[list[float]], bool]


@dataclass
class TrialOutput:
    result: TrialResult
    oof: np.ndarray | None  # out-of-fold predictions (NaN rows were never held out)
    models: list  # fitted fold models, in fold order


class Executor(ABC):
    """Runs trials. `parallelism` is how many trials may be in flight at once: the engine keeps
    that many submitted, and with a trial-count budget it is also what fixes the order of
    proposals (see assay.search.engine), so it must not depend on timing."""

    name: str = "executor"
    parallelism: int = 1

    def start(self, ctx) -> None:  # noqa: B027 (an optional hook: the inline executor has nothing to ship)
        """Ship the data (a TrialContext) to wherever trials run; called once per search."""

    @abstractmethod
    def submit(self, spec: TrialSpec, seconds: float | None, prune: Prune, earlier: TrialOutput | None = None) -> None:
        """Queue one trial; `seconds` is its allowance (None: no time limit); `earlier`: a screening
        trial of the same configuration, whose fitted fold this trial keeps instead of refitting."""

    @abstractmethod
    def collect(self, timeout: float | None = None) -> list[TrialOutput]:
        """Block until at least one submitted trial has finished (or `timeout` seconds passed) and
        return every finished one. An empty list with nothing in flight means nothing is pending."""

    @abstractmethod
    def in_flight(self) -> int:
        """Trials submitted and not yet collected."""

    def shutdown(self) -> None:  # noqa: B027 (an optional hook)
        """Release workers; safe to call twice."""

    def discard(self, trial_ids) -> None:  # noqa: B027 (an optional hook)
        """The engine let these trials' fold models go; an executor keeping copies may too."""

    def notes(self) -> list[str]:
        """What the user should know about how the trials ran (retries, failures, workers)."""
        return []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.shutdown()


def failed_output(spec: TrialSpec, message: str, **extra) -> TrialOutput:
    return TrialOutput(TrialResult(spec, "failed", math.nan, math.nan, message=message[:500], extra=extra), None, [])


def describe_exception(exc: BaseException) -> str:
    return traceback.format_exception_only(type(exc), exc)[-1].strip()


def trial_deadline(spec: TrialSpec, seconds: float | None) -> Deadline:
    """The trial's allowance, counted from when its family's libraries are loaded (see
    Model.load_libraries); the search's own deadline still counts the import."""
    from assay.models.registry import get_family

    get_family(spec.family).load_libraries()
    return Deadline.after(seconds)


def run_trial(
    spec: TrialSpec, ctx, seconds: float | None, prune: Prune | None = None, earlier: TrialOutput | None = None
) -> TrialOutput:
    """Run one trial where this function is called (a worker process, a Ray task, or here).
    A family failing on this data is a failed trial, not a failed search; an AssayError (the
    user's mistake) still stops the fit."""
    from assay.search.executors.inline import run_folds

    try:
        return run_folds(spec, ctx, trial_deadline(spec, seconds), prune or (lambda errors: False), earlier)
    except AssayError:
        raise
    except Exception as exc:
        return failed_output(spec, describe_exception(exc))


def prune_finished(output: TrialOutput, prune: Prune, metric) -> TrialOutput:
    """Apply the pruning rule to a trial that ran all its folds: the record an in-process run
    would have made had it asked after each fold."""
    result = output.result
    errors = list(result.fold_errors)
    if result.status != "ok" or len(errors) < 2:
        return output
    for n in range(1, len(errors)):
        if prune(errors[:n]):
            mean = float(np.mean(errors[:n]))
            pruned = replace(
                result,
                status="pruned",
                error=mean,
                score=metric.from_error(mean),
                fold_errors=tuple(errors[:n]),
                best_iterations=tuple(result.best_iterations[:n]),
                message=f"pruned after fold {n} of {len(errors)}",
            )
            return TrialOutput(pruned, None, [])
    return output


class WorkerLost(Exception):
    """The process running a trial died (killed, out of memory, its node went away)."""


@dataclass
class _Flight:
    spec: TrialSpec
    seconds: float | None
    prune: Prune
    handle: object
    earlier: TrialOutput | None = None
    started: float = field(default_factory=time.monotonic)
    attempts: int = 1
    history: list[str] = field(default_factory=list)


GRACE = 5.0  # seconds past its allowance before a trial is cancelled: models stop themselves first


class RemoteExecutor(Executor):
    """Trials run elsewhere; subclasses say how to launch, wait for and cancel one."""

    retries = 1

    def __init__(self):
        self._metric = None
        self._flights: dict[int, _Flight] = {}
        self._retried: list[str] = []
        self._failed: list[str] = []

    # --- what a subclass provides ---------------------------------------------------------
    @abstractmethod
    def _launch(self, spec: TrialSpec, seconds: float | None, earlier: TrialOutput | None) -> object:
        """Start the trial (continuing `earlier`'s folds when given); return a handle."""

    @abstractmethod
    def _wait(self, handles: list, timeout: float) -> list[tuple[object, TrialOutput | BaseException]]:
        """(handle, output or the exception that ended it) for those finished within `timeout`."""

    @abstractmethod
    def _cancel(self, handle) -> None:
        """Stop an overdue trial, killing its worker if need be."""

    # --- the shared book-keeping ----------------------------------------------------------
    def submit(self, spec: TrialSpec, seconds: float | None, prune: Prune, earlier: TrialOutput | None = None) -> None:
        self._flights[spec.trial_id] = _Flight(spec, seconds, prune, self._launch(spec, seconds, earlier), earlier)

    def in_flight(self) -> int:
        return len(self._flights)

    def collect(self, timeout: float | None = None) -> list[TrialOutput]:
        stop = None if timeout is None else time.monotonic() + timeout
        while self._flights:
            wait = 0.5 if stop is None else max(0.0, min(0.5, stop - time.monotonic()))
            by_handle = {f.handle: f for f in self._flights.values()}  # futures and Ray refs hash by identity/id
            done = []
            for handle, outcome in self._wait(list(by_handle), wait):
                flight = by_handle[handle]
                output = self._settle(flight, outcome)
                if output is not None:
                    done.append(output)
            done += self._cancel_overdue()
            if done or (stop is not None and time.monotonic() >= stop):
                return done
        return []

    def _settle(self, flight: _Flight, outcome) -> TrialOutput | None:
        """The trial's output, or None when it was sent out again."""
        spec = flight.spec
        if isinstance(outcome, AssayError):
            self._flights.pop(spec.trial_id, None)
            raise outcome
        if isinstance(outcome, WorkerLost):
            reason = f"attempt {flight.attempts}: {outcome}"
            flight.history.append(reason)
            left = None if flight.seconds is None else flight.seconds - (time.monotonic() - flight.started)
            if flight.attempts <= self.retries and (left is None or left > 1.0):
                self._retried.append(f"{spec.name} ({outcome})")
                flight.handle = self._launch(spec, left, flight.earlier)
                flight.attempts += 1
                return None
            self._flights.pop(spec.trial_id, None)
            self._failed.append(f"{spec.name} ({outcome})")
            return failed_output(spec, "worker lost; " + "; ".join(flight.history), attempts=flight.attempts)
        self._flights.pop(spec.trial_id, None)
        if isinstance(outcome, BaseException):
            return failed_output(spec, describe_exception(outcome), attempts=flight.attempts)
        output = prune_finished(outcome, flight.prune, self._metric)
        if flight.attempts > 1:
            note = f"retried after: {'; '.join(flight.history)}"
            result = output.result
            message = f"{result.message}; {note}" if result.message else note
            output.result = replace(result, message=message, extra={**result.extra, "attempts": flight.attempts})
        return output

    def _cancel_overdue(self) -> list[TrialOutput]:
        out = []
        now = time.monotonic()
        for flight in list(self._flights.values()):
            if flight.seconds is None or now - flight.started <= flight.seconds + max(GRACE, 0.2 * flight.seconds):
                continue
            self._cancel(flight.handle)
            self._flights.pop(flight.spec.trial_id, None)
            waited = now - flight.started
            self._failed.append(
                f"{flight.spec.name} (unfinished {waited:.0f} s after sending, allowance {flight.seconds:.0f} s)"
            )
            message = (
                f"cancelled: unfinished {waited:.1f} s after it was sent, for an allowance of "
                f"{flight.seconds:.1f} s (a trial waiting for a free CPU counts too)"
            )
            extra = {}
            if flight.history:  # a resent trial: say what its earlier attempts ended in
                message += f"; retried after: {'; '.join(flight.history)}"
                extra["attempts"] = flight.attempts
            out.append(failed_output(flight.spec, message, **extra))
        return out

    def notes(self) -> list[str]:
        notes = []
        if self._retried:
            notes.append(f"{self.name} executor: {len(self._retried)} trial(s) retried: {', '.join(self._retried)}")
        if self._failed:
            notes.append(f"{self.name} executor: {len(self._failed)} trial(s) failed: {', '.join(self._failed)}")
        return notes
