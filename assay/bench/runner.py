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
from assay.bench.systems import SYSTEMS, get_system

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


def base_record(system: str, spec: DatasetSpec | None, dataset: str, budget: float, seed: int) -> dict:
    task = spec.task if spec else None
    return {
        "dataset": dataset,
        "system": system,
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


def run_pair(system: str, dataset: str, suite: Path, budget: float, seed: int) -> dict:
    """The child's work: read, split, fit, predict, score. Never raises; failures become the record."""
    started = time.perf_counter()
    record = base_record(system, None, dataset, budget, seed)
    record["load_avg_1m"] = round(os.getloadavg()[0], 2)  # other work on the machine skews timings
    try:
        specs = {s.name: s for s in load_suite(suite)}
        if dataset not in specs:
            raise BenchError(f"dataset {dataset!r} is not in {suite}")
        spec = specs[dataset]
        record.update(base_record(system, spec, dataset, budget, seed))
        train, test = protocol_split(read_dataset(spec), spec.target, spec.task)
        record.update(n_train=len(train), n_test=len(test), n_features=train.shape[1] - 1)
        record["read_s"] = round(time.perf_counter() - started, 3)
        out = get_system(system)(train, test, spec.target, spec.task, budget, seed)
        record.update(fit_s=round(out["fit_s"], 3), predict_s=round(out["predict_s"], 3), info=out.get("info", {}))
        if system == "assay":
            record["within_budget"] = out["fit_s"] <= budget_limit(budget)
        output = out["pred"] if spec.task == "regression" else out["proba"]
        score = test_error(spec.task, test[spec.target], output, out.get("classes"))
        record.update(value=score.value, error=score.error, extra_value=score.extra_value, status="ok")
    except Exception as exc:  # a record must come back whatever went wrong
        record["message"] = f"{type(exc).__name__}: {exc}"
        record["traceback"] = traceback.format_exc(limit=-8)
    record["peak_rss_mb"] = peak_rss_mb()
    record["wall_s"] = round(time.perf_counter() - started, 3)
    return record


def failure_record(system: str, spec: DatasetSpec, budget: float, seed: int, status: str, message: str) -> dict:
    record = base_record(system, spec, spec.name, budget, seed)
    record.update(status=status, message=message)
    if system == "assay" and status == "timeout":
        record["within_budget"] = False
    return record


def run_isolated(
    system: str, spec: DatasetSpec, suite: Path, budget: float, seed: int, timeout: float | None = None
) -> dict:
    """Start the child, wait at most `timeout` s (default: the fit promise plus reading), return its record."""
    limit = hard_timeout(budget) if timeout is None else timeout
    package_root = str(Path(__file__).resolve().parents[2])  # the child imports this very checkout
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
    with tempfile.TemporaryDirectory(prefix="assay-bench-") as tmp:
        out = Path(tmp) / "record.json"
        cmd = [
            sys.executable,
            "-m",
            "assay.bench.runner",
            "--system",
            system,
            "--dataset",
            spec.name,
            "--suite",
            str(suite),
            "--budget",
            str(budget),
            "--seed",
            str(seed),
            "--json-out",
            str(out),
        ]
        started = time.perf_counter()
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True
        )
        try:
            _, stderr = proc.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            proc.communicate()
            record = failure_record(system, spec, budget, seed, "timeout", f"killed after {limit:.0f} s")
        else:
            if out.is_file():
                record = json.loads(out.read_text())
            else:
                tail = " | ".join((stderr or "").strip().splitlines()[-3:])
                record = failure_record(
                    system, spec, budget, seed, "crashed", f"exit code {proc.returncode}: {tail or 'no output'}"
                )
        record["parent_wall_s"] = round(time.perf_counter() - started, 3)
    return record


def _kill_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):  # it may have exited on its own meanwhile
        os.killpg(proc.pid, signal.SIGKILL)  # the child leads its own session: this reaches its helpers too


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run one benchmark system on one dataset and write a JSON record.")
    parser.add_argument("--system", required=True, choices=sorted(SYSTEMS))
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--suite", required=True, type=Path)
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json-out", required=True, type=Path)
    args = parser.parse_args(argv)
    record = run_pair(args.system, args.dataset, args.suite, args.budget, args.seed)
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
