"""An executor that writes every finished trial to the journal and answers, from the journal,
the trials an interrupted earlier run of the same fit already finished (assay.search.journal).

It wraps whichever executor runs the trials (inline, local processes, Ray), so resuming works the
same everywhere and the engine does not know it happens: a replayed trial is just a trial that
finished at once. A journal that cannot be written (a full disk) stops journaling, not the fit.
"""

from __future__ import annotations

import time

from assay.search.executors.base import Executor, Prune, TrialOutput
from assay.search.journal import TrialJournal
from assay.search.trial import TrialSpec


class JournaledExecutor(Executor):
    def __init__(self, inner: Executor, journal: TrialJournal, started: float):
        self.inner = inner
        self.journal: TrialJournal | None = journal
        self.name = inner.name
        self.parallelism = inner.parallelism
        self._started = started  # time.monotonic() when this session's fit began
        self._base = journal.seconds_used  # fit time spent by the sessions before this one
        self._ready: list[TrialOutput] = []
        self._replayed = 0
        self._problem: str | None = None

    def start(self, ctx) -> None:
        self.inner.start(ctx)

    def submit(self, spec: TrialSpec, seconds: float | None, prune: Prune, earlier: TrialOutput | None = None) -> None:
        stored = self.journal.lookup(spec) if self.journal is not None else None
        if stored is not None:
            self._ready.append(stored)
            self._replayed += 1
        else:
            self.inner.submit(spec, seconds, prune, earlier)

    def collect(self, timeout: float | None = None) -> list[TrialOutput]:
        if self._ready:  # replayed trials first, without waiting on running ones
            ready, self._ready = self._ready, []
            return ready
        outputs = self.inner.collect(timeout)
        for output in outputs:
            self._write(output)
        return outputs

    def _write(self, output: TrialOutput) -> None:
        if self.journal is None:
            return
        try:
            self.journal.record(output, self._base + time.monotonic() - self._started)
        except OSError as exc:
            self._problem = f"{exc.strerror or exc} ({self.journal.folder})"
            self.journal = None

    def in_flight(self) -> int:
        return len(self._ready) + self.inner.in_flight()

    def discard(self, trial_ids) -> None:
        if self.journal is not None:
            self.journal.discard_models(trial_ids)

    def shutdown(self) -> None:
        self.inner.shutdown()

    def notes(self) -> list[str]:
        notes = list(self.inner.notes())
        if self._replayed:
            notes.append(f"resumed: {self._replayed} finished trial(s) taken from the journal instead of refitted")
        if self._problem:
            notes.append(f"journal stopped, so this fit could not be resumed if interrupted: {self._problem}")
        return notes
