"""Several trials at once on threads of this process, each on a share of the cores.

On a small table a boosting round is too short for a second OpenMP thread to pay: one LightGBM
round on car (1,382 rows) takes 1.15 ms on one thread and 1.06 ms on two, and most of the public
suite's tables gain less than 1.2x from the second core. Two one-thread trials side by side then
run nearly twice the trials of one two-thread trial. Threads, not processes: a process pool takes
3-3.5 s to start and pickles every fold model back (executors/local.py), which a short budget
cannot pay, while LightGBM, XGBoost, CatBoost, scikit-learn and torch release the GIL while they
train. `fit` picks this executor itself for time budgets on small tables (`prefer_threads`).

A running trial cannot be cancelled; every model honours its own deadline, as inline. Trials share
the training frame read-only. With a trial-count budget results would depend on which thread
finished first, so those fits stay inline and replay exactly.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
from dataclasses import replace

from assay.errors import AssayError
from assay.search.executors.base import Executor, Prune, TrialOutput, describe_exception, failed_output, trial_deadline
from assay.search.executors.inline import run_folds
from assay.search.trial import TrialSpec

# Above this many cells (rows x columns x sqrt(classes)), two threads per trial pay well enough
# (letter, 16,000 x 16 x 26 classes: 1.5x per round) that the first model should not wait for a
# second trial's share of the cores.
THREADS_MAX_CELLS = 250_000


def prefer_threads(n_rows: int, n_cols: int, n_classes: int, timed: bool, n_threads: int | None) -> bool:
    """Whether a fit left to choose its executor should run two trials at once on threads: a time
    budget (a trial count must replay exactly), a table small enough that one trial cannot use two
    cores, and nobody asked for a thread count."""
    cells = n_rows * max(n_cols, 1) * max(1.0, n_classes**0.5)
    return timed and n_threads is None and (os.cpu_count() or 1) >= 2 and cells <= THREADS_MAX_CELLS


class ThreadExecutor(Executor):
    name = "threads"

    def __init__(self, workers: int | None = None, n_threads: int | None = None):
        cores = os.cpu_count() or 1
        self.parallelism = max(1, workers or 2)
        self.n_threads = n_threads or max(1, cores // self.parallelism)
        self._pool: cf.ThreadPoolExecutor | None = None
        self._futures: set[cf.Future] = set()
        self._ctx = None

    def start(self, ctx) -> None:
        self._ctx = replace(ctx, n_threads=self.n_threads)
        self._ctx.X.iloc[:1]  # any lazy consolidation of the frame happens here, not in two threads at once
        self._pool = cf.ThreadPoolExecutor(self.parallelism, thread_name_prefix="assay-trial")

    def submit(self, spec: TrialSpec, seconds: float | None, prune: Prune) -> None:
        self._futures.add(self._pool.submit(self._run, spec, seconds, prune))

    def _run(self, spec: TrialSpec, seconds: float | None, prune: Prune) -> TrialOutput:
        try:
            return run_folds(spec, self._ctx, trial_deadline(spec, seconds), prune)
        except AssayError:
            raise
        except Exception as exc:  # a family failing on this data must not end the search
            return failed_output(spec, describe_exception(exc))

    def in_flight(self) -> int:
        return len(self._futures)

    def collect(self, timeout: float | None = None) -> list[TrialOutput]:
        if not self._futures:
            return []
        done, _ = cf.wait(self._futures, timeout=timeout, return_when=cf.FIRST_COMPLETED)
        self._futures -= done
        return [future.result() for future in sorted(done, key=lambda f: f.result().result.spec.trial_id)]

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._futures = set()
