"""Run one (system, dataset) pair in a fresh process and write one JSON record.

A fresh process per pair is what makes the numbers mean something: peak RSS (getrusage) covers
that fit alone, one system's leaks or thread pools cannot slow the next, and a crash or a hang
costs one record instead of the whole run. The parent (`run_isolated`) enforces a hard wall-clock
limit and turns a kill or a crash into a failure record, so a record always comes back.

    python -m assay.bench.runner --system assay --dataset penguins --suite public.yaml \
        --budget 60 --seed 0 --json-out record.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

from assay.bench.suite import (
    EXTRA_OF_TASK,
    METRIC_OF_TASK,
    BenchError,
    DatasetSpec,
    load_suite,
    protocol_split,
    read_dataset,
    test_error,
)
from assay.bench.systems import ALIASES, SYSTEMS, canonical, get_system

READ_ALLOWANCE_S = 120.0  # reading, splitting and importing, on top of the fit's own promise


def budget_limit(budget: float) -> float:
    """assay's promise: the whole fit ends within budget x 1.05 + 5 s."""
    return budget * 1.05 + 5.0


def hard_timeout(budget: float) -> float:
    return budget_limit(budget) + READ_ALLOWANCE_S


def peak_rss_mb() -> float:
    """Peak resident memory of this process plus its largest finished child, in MiB."""
    scale = 1024.0 * 1024.0 if sys.platform == "darwin" else 1024.0  # bytes on macOS, KiB on Linux
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round((own + children) / scale, 1)


def rss_parts_mb() -> dict:
    """This process's peak and its largest finished child's, apart: their sum (peak_rss_mb) counts
    a forked helper's copy of the parent twice, their maximum misses a child running beside it."""
    scale = 1024.0 * 1024.0 if sys.platform == "darwin" else 1024.0
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / scale
    return {"rss_self_mb": round(own, 1), "rss_children_mb": round(children, 1)}


def base_record(
    system: str,
    spec: DatasetSpec | None,
    dataset: str,
    budget: float,
    seed: int,
    config: dict | None = None,
    label: str | None = None,
) -> dict:
    task = spec.task if spec else None
    extra = {"base_system": canonical(system), "config": config} if (config or label) else {}
    return {
        "dataset": dataset,
        "system": label or system,
        **extra,
        "task": task,
        "metric": METRIC_OF_TASK.get(task),
        "value": None,
        "error": None,
        "extra_metric": EXTRA_OF_TASK.get(task),
        "extra_value": None,
        "fit_s": None,
        "predict_s": None,
        "peak_rss_mb": None,
        "budget": budget,
        "seed": seed,
        "within_budget": None,
        "status": "error",
        "message": "",
    }


def run_pair(
    system: str,
    dataset: str,
    suite: Path | None,
    budget: float,
    seed: int,
    *,
    spec: DatasetSpec | None = None,
    config: dict | None = None,
    label: str | None = None,
) -> dict:
    """The child's work: read, split, fit, predict, score. Never raises; failures become the record.
    The dataset is `spec` when given, else looked up by name in `suite`."""
    from assay.bench.systems.peer import PeerUnavailable

    started = time.perf_counter()
    record = base_record(system, None, dataset, budget, seed, config, label)
    record["load_avg_1m"] = round(os.getloadavg()[0], 2)  # other work on the machine skews timings
    try:
        if spec is None:
            specs = {s.name: s for s in load_suite(suite)}
            if dataset not in specs:
                raise BenchError(f"dataset {dataset!r} is not in {suite}")
            spec = specs[dataset]
        record.update(base_record(system, spec, dataset, budget, seed, config, label))
        train, test = protocol_split(read_dataset(spec), spec.target, spec.task)
        record.update(n_train=len(train), n_test=len(test), n_features=train.shape[1] - 1)
        record["read_s"] = round(time.perf_counter() - started, 3)
        out = get_system(system, config)(train, test, spec.target, spec.task, budget, seed)
        record.update(fit_s=round(out["fit_s"], 3), predict_s=round(out["predict_s"], 3), info=out.get("info", {}))
        if out.get("peak_mb") is not None:  # the fit ran outside this process (a peer): its own peak
            record["system_peak_mb"] = round(out["peak_mb"], 1)
        if SYSTEMS[canonical(system)].takes_budget:
            record["within_budget"] = out["fit_s"] <= budget_limit(budget)
        output = out["pred"] if spec.task == "regression" else out["proba"]
        score = test_error(spec.task, test[spec.target], output, out.get("classes"))
        record.update(value=score.value, error=score.error, extra_value=score.extra_value, status="ok")
    except PeerUnavailable as exc:  # reported, not a failure of the system
        record.update(status="unavailable", message=str(exc))
    except Exception as exc:  # a record must come back whatever went wrong
        record["message"] = f"{type(exc).__name__}: {exc}"
        record["traceback"] = traceback.format_exc(limit=-8)
    record["peak_rss_mb"] = peak_rss_mb()
    record.update(rss_parts_mb())
    record["wall_s"] = round(time.perf_counter() - started, 3)
    return record


def failure_record(
    system: str,
    spec: DatasetSpec,
    budget: float,
    seed: int,
    status: str,
    message: str,
    config: dict | None = None,
    label: str | None = None,
) -> dict:
    record = base_record(system, spec, spec.name, budget, seed, config, label)
    record.update(status=status, message=message)
    if SYSTEMS[canonical(system)].takes_budget and status == "timeout":
        record["within_budget"] = False
    return record


def run_isolated(
    system: str,
    spec: DatasetSpec,
    suite: Path | None,
    budget: float,
    seed: int,
    timeout: float | None = None,
    *,
    config: dict | None = None,
    label: str | None = None,
    env: dict | None = None,
) -> dict:
    """Start the child, wait at most `timeout` s (default: the fit promise plus reading), return its record.

    The child gets the dataset itself (path, target, task), so a suite of many datasets is not
    re-read per run; `suite` is only recorded. While it runs, the resident memory of its whole
    process tree is sampled: getrusage alone misses helpers that are still alive when it reads.
    """
    limit = hard_timeout(budget) if timeout is None else timeout
    package_root = str(Path(__file__).resolve().parents[2])  # the child imports this very checkout
    env = {**os.environ, **(env or {})}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    with tempfile.TemporaryDirectory(prefix="assay-bench-") as tmp:
        out = Path(tmp) / "record.json"
        cmd = [sys.executable, "-m", "assay.bench.runner", "--system", system, "--dataset", spec.name]
        cmd += ["--path", str(spec.path), "--target", spec.target, "--task", spec.task]
        cmd += ["--budget", str(budget), "--seed", str(seed), "--json-out", str(out)]
        if config:
            cmd += ["--config", json.dumps(config)]
        if label:
            cmd += ["--label", label]
        started = time.perf_counter()
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True
        )
        sampler = TreeMemory(proc.pid)
        try:
            _, stderr = proc.communicate(timeout=limit)
        except BaseException as exc:  # a time-out, or Ctrl-C: the child leads its own session, so end it here
            _kill_group(proc)
            proc.communicate()
            if not isinstance(exc, subprocess.TimeoutExpired):
                raise
            record = failure_record(system, spec, budget, seed, "timeout", f"killed after {limit:.0f} s", config, label)
        else:
            if out.is_file():
                record = json.loads(out.read_text())
            else:
                tail = " | ".join((stderr or "").strip().splitlines()[-3:])
                message = f"exit code {proc.returncode}: {tail or 'no output'}"
                record = failure_record(system, spec, budget, seed, "crashed", message, config, label)
        finally:
            sampler.stop()
        record["parent_wall_s"] = round(time.perf_counter() - started, 3)
        record["peak_tree_mb"], record["peak_tree_rss_mb"] = sampler.peak_mb, sampler.peak_rss_mb
        if suite is not None:
            record.setdefault("suite_path", str(suite))
    return record


class TreeMemory:
    """Samples the memory of a process and all its descendants every `interval` s, in a thread.

    Two peaks: `peak_mb`, the private (anonymous) resident memory of every process plus the largest
    shared part, which counts the libraries that a peer's worker processes all map (torch, Ray)
    once; and `peak_rss_mb`, the plain sum of resident sizes, an upper bound. Both read
    /proc/PID/statm through psutil, cheap enough not to disturb the fit being measured.
    """

    def __init__(self, pid: int, interval: float = 0.25):
        import threading

        self.pid, self.interval, self.peak_mb, self.peak_rss_mb = pid, interval, None, None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self._stop.is_set():
            rss, private, shared = 0, 0, 0
            try:
                for p in [root, *root.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error):
                        info = p.memory_info()
                        part = getattr(info, "shared", 0)
                        rss, private, shared = rss + info.rss, private + info.rss - part, max(shared, part)
            except psutil.Error:
                break
            if rss:
                self.peak_rss_mb = round(max(self.peak_rss_mb or 0.0, rss / 2**20), 1)
                self.peak_mb = round(max(self.peak_mb or 0.0, (private + shared) / 2**20), 1)
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


def _kill_group(proc: subprocess.Popen) -> None:
    """The child leads its own session, so killing its group reaches its helpers; descendants that
    left the group (a peer's Ray daemons start sessions of their own) are found first and killed too."""
    import psutil

    try:
        strays = psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        strays = []
    with contextlib.suppress(ProcessLookupError):  # it may have exited on its own meanwhile
        os.killpg(proc.pid, signal.SIGKILL)
    for p in strays:
        with contextlib.suppress(psutil.Error):
            p.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run one benchmark system on one dataset and write a JSON record.")
    parser.add_argument("--system", required=True, choices=sorted({*SYSTEMS, *ALIASES}))
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--suite", type=Path, help="look the dataset up here (or give --path, --target, --task)")
    parser.add_argument("--path", type=Path)
    parser.add_argument("--target")
    parser.add_argument("--task")
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--config", type=json.loads, default=None, help="JSON options for the system's adapter")
    parser.add_argument("--label", default=None, help="the name the record carries (default: --system)")
    parser.add_argument("--json-out", required=True, type=Path)
    args = parser.parse_args(argv)
    spec = None
    if args.path is not None:
        if not (args.target and args.task):
            parser.error("--path needs --target and --task")
        spec = DatasetSpec(args.dataset, args.path, args.target, args.task)
    elif args.suite is None:
        parser.error("give --suite, or --path with --target and --task")
    record = run_pair(
        args.system, args.dataset, args.suite, args.budget, args.seed, spec=spec, config=args.config, label=args.label
    )
    tmp = args.json_out.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=2, default=_jsonable))
    tmp.replace(args.json_out)
    return 0 if record["status"] == "ok" else 1


def _jsonable(value):
    if hasattr(value, "item"):
        return value.item()
    return str(value)


if __name__ == "__main__":
    sys.exit(main())
