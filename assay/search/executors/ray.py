"""Trials as Ray tasks, on a local Ray instance or a cluster: the only module that imports ray.

- Where: `ray.init(address=...)` with `--cluster ADDRESS` or RAY_ADDRESS; otherwise a Ray
  instance on this machine, started here and stopped at shutdown. A Ray session that the caller
  started is used as it is and left running.
- Data: the TrialContext (preprocessed table, labels, folds) goes to the object store once, with
  `ray.put`; each trial task receives the reference, and a node fetches the data once, not once
  per trial.
- Resources: each trial asks for `num_cpus = n_threads` (1 unless told), and its models use that
  many threads, so a node never runs more OpenMP threads than it has cores.
- Deadlines: a trial carries its allowance in seconds (monotonic clocks differ between nodes);
  the driver cancels (force-kills) a task that overruns it by the grace period.
- Faults: a worker process or node that dies surfaces as WorkerCrashedError / NodeDiedError /
  ObjectLostError...; Ray's own retries are off (`max_retries=0`) so that RemoteExecutor retries
  the trial once and the fit's notes and leaderboard say so.
- Serialisation: results (fold models included) come back pickled by Ray. That is safe within one
  cluster running one assay version, which Ray requires anyway (same Python and libraries on
  every node); saved models still use each family's own format.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace

import ray
import ray.exceptions as rex

from assay.errors import AssayError, ConfigError, problem
from assay.search.executors.base import RemoteExecutor, TrialOutput, WorkerLost, run_trial
from assay.search.trial import TrialSpec

_LOST = (
    rex.WorkerCrashedError,
    rex.NodeDiedError,
    rex.ObjectLostError,
    rex.OwnerDiedError,
    rex.LocalRayletDiedError,
    rex.RaySystemError,
    rex.TaskUnschedulableError,
    rex.OutOfMemoryError,
)


def _trial_task(spec: TrialSpec, ctx, seconds: float | None, earlier: TrialOutput | None = None) -> TrialOutput:
    return run_trial(spec, ctx, seconds, earlier=earlier)


def _touch(ctx) -> int:
    time.sleep(0.2)  # long enough that every slot gets its own worker
    return len(ctx.y)


def _call(fn: Callable, item):
    return fn(item)


def connect(address: str | None, num_cpus: int | None = None) -> bool:
    """Join the cluster at `address` (or start a local instance); True when this call started Ray,
    so the caller knows whether to stop it."""
    if ray.is_initialized():
        return False
    kwargs = {"log_to_driver": False, "configure_logging": False}
    try:
        if address:
            ray.init(address=address, **kwargs)
        else:
            ray.init(num_cpus=num_cpus, include_dashboard=False, **kwargs)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise ConfigError(
            problem(
                f"could not reach a Ray cluster at {address!r}: {exc}" if address else f"Ray did not start: {exc}",
                where="cluster",
                fix="start it with `ray start --head`, check the address (host:port), or unset RAY_ADDRESS",
            )
        ) from None
    return True


class RayExecutor(RemoteExecutor):
    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None, n_threads: int | None = None):
        super().__init__()
        self.address = address
        self.n_threads = n_threads or 1
        self._owns_ray = connect(address, None if address else (workers or os.cpu_count()) * self.n_threads)
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.parallelism = workers or max(1, cpus // self.n_threads)
        self._task = ray.remote(_trial_task).options(num_cpus=self.n_threads, max_retries=0, retry_exceptions=False)
        self._touch = ray.remote(_touch).options(num_cpus=self.n_threads)
        self._ctx_ref = None

    def start(self, ctx) -> None:
        self._metric = ctx.metric
        self._ctx_ref = ray.put(replace(ctx, n_threads=self.n_threads))

    def warm_up(self) -> None:
        """Start a worker process per slot and have each fetch the data now, not at the first trial."""
        ray.get([self._touch.remote(self._ctx_ref) for _ in range(self.parallelism)])

    def _launch(self, spec: TrialSpec, seconds: float | None, earlier: TrialOutput | None):
        return self._task.remote(spec, self._ctx_ref, seconds, earlier)

    def _wait(self, handles: list, timeout: float):
        ready, _ = ray.wait(handles, num_returns=1, timeout=timeout)
        if ready:
            ready, _ = ray.wait(handles, num_returns=len(handles), timeout=0)
        return [(ref, _fetch(ref)) for ref in ready]

    def _cancel(self, handle) -> None:
        ray.cancel(handle, force=True)

    def shutdown(self) -> None:
        self._ctx_ref = None
        if self._owns_ray and ray.is_initialized():
            ray.shutdown()
            self._owns_ray = False


def _fetch(ref):
    """The task's value, or what ended it: WorkerLost for a dead process or node (retried), the
    AssayError itself (the user's mistake), any other exception as it is (a failed trial)."""
    try:
        return ray.get(ref)
    except rex.TaskCancelledError as exc:
        return exc
    except _LOST as exc:
        return WorkerLost(f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}".rstrip(": "))
    except rex.RayTaskError as exc:
        cause = getattr(exc, "cause", None)
        return cause if isinstance(cause, AssayError) else exc
    except AssayError as exc:
        return exc


def map_tasks(
    fn: Callable, items: Iterable, *, address: str | None = None, num_cpus: float = 1
) -> Iterator[tuple[int, object]]:
    """(index, fn(item)) as each finishes, every call a Ray task: how bench cells spread over a
    cluster. A task whose worker dies yields the WorkerLost instead of a value."""
    owns = connect(address)
    try:
        task = ray.remote(_call).options(num_cpus=num_cpus, max_retries=1)
        refs = {task.remote(fn, item): i for i, item in enumerate(items)}
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1)
            for ref in ready:
                yield refs.pop(ref), _fetch(ref)
    finally:
        if owns:
            ray.shutdown()


def read_parquet(path: str, address: str | None = None):
    """A Parquet file or folder read by Ray Data's parallel readers, as one pandas frame with the
    same dtypes pyarrow's own reader gives (Ray's to_pandas keeps Arrow-backed columns)."""
    owns = connect(address)
    try:
        import pyarrow as pa
        import ray.data

        blocks = ray.get(ray.data.read_parquet(path).to_arrow_refs())
        return pa.concat_tables(blocks).to_pandas()
    finally:
        if owns:
            ray.shutdown()
