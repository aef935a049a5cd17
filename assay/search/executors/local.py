"""Trials in a pool of local worker processes.

The pool starts with 'spawn': OpenMP runtimes (LightGBM, XGBoost, torch) hold threads that a
forked child inherits in a broken state. Each worker receives the data once, in its
initializer, and keeps it for every trial it runs; a trial then ships only its spec and returns
its fold models. Workers x threads per worker stays within the machine's cores, since OpenMP
libraries slow down 10-100x when oversubscribed.

A worker that dies (killed, out of memory) breaks the whole pool in concurrent.futures: the pool
is rebuilt and the trials that were in flight are retried once (RemoteExecutor's rule). A trial
that overruns its allowance cannot be cancelled inside a running process, so the pool's
processes are killed, which costs the other in-flight trials a retry; models honour their own
deadlines, so this is rare.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import time
from concurrent.futures.process import BrokenProcessPool

from assay.search.executors.base import RemoteExecutor, TrialOutput, WorkerLost, run_trial
from assay.search.trial import TrialSpec

_CTX = None  # the TrialContext, set once per worker process


def _init_worker(ctx) -> None:
    global _CTX
    _CTX = ctx


def _work(spec: TrialSpec, seconds: float | None, earlier: TrialOutput | None = None) -> TrialOutput:
    return run_trial(spec, _CTX, seconds, earlier=earlier)


def _ping(_=None) -> int:
    time.sleep(0.2)  # long enough that the pool starts a process per call
    return os.getpid()


class LocalExecutor(RemoteExecutor):
    name = "local"

    def __init__(self, workers: int | None = None, n_threads: int | None = None):
        super().__init__()
        cores = os.cpu_count() or 1
        self.parallelism = workers or cores
        self.n_threads = n_threads or max(1, cores // self.parallelism)
        self._pool: cf.ProcessPoolExecutor | None = None
        self._ctx = None

    def start(self, ctx) -> None:
        from dataclasses import replace

        self._metric = ctx.metric
        self._ctx = replace(ctx, n_threads=self.n_threads)
        self._new_pool()

    def warm_up(self) -> None:
        """Start every worker now (import assay, receive the data) rather than at the first trial."""
        list(self._pool.map(_ping, range(self.parallelism)))

    def _new_pool(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = cf.ProcessPoolExecutor(
            self.parallelism,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(self._ctx,),
        )

    def _launch(self, spec: TrialSpec, seconds: float | None, earlier: TrialOutput | None):
        try:
            return self._pool.submit(_work, spec, seconds, earlier)
        except (BrokenProcessPool, RuntimeError):  # a worker died earlier: start a fresh pool
            self._new_pool()
            return self._pool.submit(_work, spec, seconds, earlier)

    def _wait(self, handles: list, timeout: float):
        done, _ = cf.wait(handles, timeout=timeout, return_when=cf.FIRST_COMPLETED)
        out = []
        for future in done:
            try:
                out.append((future, future.result()))
            except BrokenProcessPool as exc:
                out.append((future, WorkerLost(f"a worker process died ({exc})")))
            except Exception as exc:
                out.append((future, exc))
        return out

    def _cancel(self, handle) -> None:
        if handle.cancel():
            return
        for process in list(getattr(self._pool, "_processes", {}).values()):  # no per-task kill in the pool
            process.kill()

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
