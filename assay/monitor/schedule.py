"""Retraining on a cron schedule, inside a long-running process (`assay serve --retrain "0 3 * * *"`,
`assay retrain NAME --schedule "0 3 * * *"`).

    scheduler = RetrainScheduler("0 3 * * *", ["churn"], registry, webhook=url)
    scheduler.start()     # a daemon thread: at each due time, retrain every model, one at a time
    scheduler.stop()      # prompt: the wait is an Event, so stopping does not sit out a sleep

Why in-process and not cron: a server already runs all the time and knows its models; a second
moving part (a crontab) is one more thing to deploy and forget. `assay retrain` with its exit codes
remains for those who prefer cron.

The rules: due times come from the cron expression (croniter) in the given time zone (local time
by default, like cron). Runs never overlap: a run happens in the scheduler's thread, and due times
that pass while a run is still going are skipped, not queued (logged, so a schedule that is too
tight shows). A failing run is logged and recorded as a failed decision, and the scheduler goes
on: nothing a retraining does can stop the server. The clock and the sleep are injected, so tests
drive hours of schedule in milliseconds.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from assay.errors import ConfigError, problem
from assay.registry import Decision, Registry

log = logging.getLogger("assay.monitor.retrain")
MAX_NAP_S = 60.0  # re-read the clock at least this often (suspend, clock changes)


@dataclass(frozen=True)
class Run:
    """One model's retraining at one due time."""

    name: str
    due: float  # the due time it served (epoch seconds)
    started: float
    finished: float
    action: str  # a Decision's action, or "failed"
    decision: Decision | None
    error: str | None = None


class RetrainScheduler:
    def __init__(
        self,
        cron: str,
        names: Sequence[str] | Callable[[], Sequence[str]],
        registry: Registry | None = None,
        *,
        tz: str | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], object] | None = None,
        job: Callable[..., Decision] | None = None,
        history: int = 100,
        **retrain_options,
    ):
        """names: the models to retrain, or a function giving them at each due time (the served
        ones). job: the work for one model, `job(name, registry=..., **retrain_options)`, by
        default assay.monitor.retrain.retrain. clock / sleep: for tests; the default sleep wakes
        at once on stop()."""
        self.cron = check_cron(cron)
        self.tz = _zone(tz)
        self.names = names
        self.registry = registry
        self.options = retrain_options
        self._clock = clock
        self._stopping = threading.Event()
        self._sleep = sleep if sleep is not None else self._stopping.wait
        self._job = job
        self._busy = threading.Lock()
        self._thread: threading.Thread | None = None
        self.history: deque[Run] = deque(maxlen=history)
        self.next_due: float | None = None
        self.skipped = 0  # due times that passed while a run was still going
        self.completed = 0  # runs finished, all time (history keeps the last `history` of them)

    # --- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> RetrainScheduler:
        if self._thread is not None and self._thread.is_alive():
            return self
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name="assay-retrain-scheduler", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> bool:
        """Ask the thread to end and wait up to `timeout` s. A retraining in progress is not cut off
        (a fit cannot be interrupted safely); False says one is still finishing, in a daemon thread
        that will not keep the process alive, and whose promotion is atomic either way."""
        self._stopping.set()
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        if thread.is_alive():
            log.warning("retraining scheduler: a run is still finishing; not waiting for it")
            return False
        self._thread = None
        return True

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # --- the schedule ------------------------------------------------------------------------------
    def due_after(self, t: float) -> float:
        """The first due time strictly after epoch second `t`."""
        return croniter(self.cron, dt.datetime.fromtimestamp(t, self.tz)).get_next(float)

    def run_now(self, due: float | None = None) -> list[Run]:
        """Retrain every model once, now (also what each due time does). Returns [] without running
        when a run is already going: two runs never overlap."""
        if not self._busy.acquire(blocking=False):
            log.warning("retraining scheduler: a run is already going; this one is skipped")
            return []
        try:
            due = self._clock() if due is None else due
            names = list(self.names() if callable(self.names) else self.names)
            return [self._run_one(name, due) for name in names if not self._stopping.is_set()]
        finally:
            self._busy.release()

    def _loop(self) -> None:
        due = self.next_due = self.due_after(self._clock())
        log.info("retraining scheduler started (%s); next run %s", self.cron, _when(due, self.tz))
        while not self._stopping.is_set():
            now = self._clock()
            if now < due:
                self._sleep(min(due - now, MAX_NAP_S))
                continue
            try:
                self.run_now(due)
            except Exception:  # the list of names itself failed: log it, keep the schedule
                log.exception("retraining scheduler: the run due %s failed", _when(due, self.tz))
            finished = self._clock()
            following = self.due_after(max(finished, due))
            missed = self._count_between(due, following)
            if missed:
                self.skipped += missed
                log.warning(
                    "retraining scheduler: %d due time(s) passed while the run due %s was going; skipped",
                    missed,
                    _when(due, self.tz),
                )
            due = self.next_due = following
        log.info("retraining scheduler stopped")

    def _count_between(self, due: float, following: float) -> int:
        count, t = 0, self.due_after(due)
        while t < following:
            count, t = count + 1, self.due_after(t)
        return count

    def _run_one(self, name: str, due: float) -> Run:
        started = self._clock()
        try:
            decision = self._work(name)
            run = Run(name, due, started, self._clock(), decision.action, decision)
        except Exception as exc:
            log.error("retraining %s (due %s) failed: %s", name, _when(due, self.tz), exc)
            recorded = getattr(exc, "decision", None)
            if recorded is None:
                recorded = self._record_failure(name, exc)
            run = Run(name, due, started, self._clock(), "failed", recorded, f"{type(exc).__name__}: {exc}")
        self.history.append(run)
        self.completed += 1
        return run

    def _work(self, name: str) -> Decision:
        job = self._job
        if job is None:
            from assay.monitor.retrain import retrain as job
        registry = self.registry if self.registry is not None else Registry()
        try:
            return job(name, registry=registry, **self.options)
        finally:
            if self.registry is None:
                registry.close()

    def _record_failure(self, name: str, exc: Exception) -> Decision | None:
        """A run that raised before recording anything is recorded here, so it is not silent."""
        registry = self.registry if self.registry is not None else Registry()
        try:
            try:
                champion = registry.production(name).version
            except Exception:
                champion = None
            decision = Decision(
                name,
                "failed",
                f"scheduled retraining raised {type(exc).__name__}: {exc}",
                champion_version=champion,
                details={"error_kind": "scheduler", "traceback": traceback.format_exc()},
            )
            return registry.record_decision(decision)
        except Exception:  # e.g. an unknown model name: the log line above is all there can be
            log.exception("retraining %s: the failure could not be recorded", name)
            return None
        finally:
            if self.registry is None:
                registry.close()


def check_cron(cron: str) -> str:
    if not isinstance(cron, str) or not croniter.is_valid(cron.strip()):
        raise ConfigError(
            problem(
                f"{cron!r} is not a cron expression",
                where="--retrain / --schedule",
                fix='five fields: minute hour day-of-month month day-of-week, e.g. "0 3 * * *" (03:00 daily)',
            )
        )
    return cron.strip()


def _zone(tz: str | None):
    if tz is None:
        return dt.datetime.now().astimezone().tzinfo  # local time, like cron
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            problem(f"unknown time zone {tz!r}", where="tz", fix="an IANA name such as 'UTC' or 'Europe/Paris'")
        ) from None


def _when(t: float, tz) -> str:
    return dt.datetime.fromtimestamp(t, tz).isoformat(timespec="seconds")
