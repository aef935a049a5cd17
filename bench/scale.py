"""Trial throughput inline vs local processes vs Ray, per-task overheads, and the driver's proposal
rate: the inputs of the scaling model in docs/scale.md.

    python bench/scale.py [--trials 40] [--rows 5000]   -> bench/results/scale.md + scale.json

The trials are a fixed list (LightGBM configurations drawn from its search space with a fixed
seed, 5 folds on a generated binary table), so every executor runs exactly the same work, and
each executor's fold errors are checked equal to the inline run's.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assay.evaluate.metrics import get_metric  # noqa: E402
from assay.models.registry import get_family  # noqa: E402
from assay.search.executors import TrialContext  # noqa: E402
from assay.search.executors.inline import InlineExecutor  # noqa: E402
from assay.search.executors.local import LocalExecutor  # noqa: E402
from assay.search.strategies import TUNERS  # noqa: E402
from assay.search.trial import TrialSpec  # noqa: E402
from assay.testing.check_model import make_frame  # noqa: E402


def context(rows: int, cols: int = 20, seed: int = 0) -> TrialContext:
    X, y, task = make_frame("binary", rows, seed)
    rng = np.random.default_rng(seed)
    for i in range(cols - X.shape[1]):
        X[f"noise{i}"] = rng.normal(size=rows)
    folds = list(StratifiedKFold(5, shuffle=True, random_state=seed).split(X, y))
    return TrialContext(X, y, folds, task, get_metric(None, task), n_threads=1)


def trial_specs(ctx: TrialContext, n: int, seed: int = 0) -> list[TrialSpec]:
    space = get_family("lightgbm").search_space(ctx.task, len(ctx.y), ctx.X.shape[1])
    tuner = TUNERS["random"]("lightgbm", space, seed)
    return [TrialSpec(i, "lightgbm", tuner.ask(), seed + i, "random") for i in range(n)]


def run_all(executor, ctx, specs) -> tuple[float, float, dict]:
    """(seconds to start, seconds to run every trial, fold errors by trial) keeping
    `parallelism` trials in flight, as the engine does."""
    t0 = time.perf_counter()
    executor.start(ctx)
    if hasattr(executor, "warm_up"):
        executor.warm_up()
    started = time.perf_counter() - t0
    t1 = time.perf_counter()
    queue, errors = list(specs), {}
    while queue or executor.in_flight():
        while queue and executor.in_flight() < executor.parallelism:
            executor.submit(queue.pop(0), None, lambda e: False)
        for out in executor.collect(timeout=5):
            errors[out.result.spec.trial_id] = out.result.fold_errors
    return started, time.perf_counter() - t1, errors


def ray_overheads(ctx: TrialContext, n_tasks: int) -> dict:
    import ray

    from assay.search.executors.ray import RayExecutor

    executor = RayExecutor(None, workers=2)
    out = {}

    @ray.remote(num_cpus=1)
    def noop():
        return None

    @ray.remote(num_cpus=1)
    def touch(c):
        return len(c.y)

    def per_task_ms(make) -> float:
        rounds = []
        for _ in range(3):
            t = time.perf_counter()
            ray.get([make() for _ in range(n_tasks)])
            rounds.append(1000 * (time.perf_counter() - t) / n_tasks)
        return statistics.median(rounds)

    ray.get([noop.remote() for _ in range(4)])  # start the worker processes
    out["empty_task_ms"] = per_task_ms(noop.remote)
    for rows in (len(ctx.y), 200_000):
        big = ctx if rows == len(ctx.y) else context(rows)
        t = time.perf_counter()
        ref = ray.put(big)
        put_s = time.perf_counter() - t
        ray.get(touch.remote(ref))  # first fetch
        out[f"put_{rows}_rows_s"] = put_s
        out[f"task_with_data_{rows}_rows_ms"] = per_task_ms(lambda r=ref: touch.remote(r))
        out[f"data_{rows}_rows_mb"] = big.X.memory_usage(deep=True).sum() / 2**20
    executor.shutdown()
    return out


def local_overheads(n_tasks: int, ctx) -> dict:
    executor = LocalExecutor(2, n_threads=1)
    t = time.perf_counter()
    executor.start(ctx)
    executor.warm_up()
    start_s = time.perf_counter() - t
    rounds = []
    for _ in range(3):
        t = time.perf_counter()
        for future in [executor._pool.submit(abs, i) for i in range(n_tasks)]:  # one task each, as trials go
            future.result()
        rounds.append(1000 * (time.perf_counter() - t) / n_tasks)
    executor.shutdown()
    return {"pool_start_s": start_s, "empty_task_ms": statistics.median(rounds)}


def proposal_rate(ctx: TrialContext, n: int, seed: int = 0) -> dict:
    """Seconds the driver spends per TPE proposal + record after n results: the ceiling on how many
    trials per minute one driver can hand out, however many nodes run them."""
    from assay.search.trial import TrialResult

    space = get_family("lightgbm").search_space(ctx.task, len(ctx.y), ctx.X.shape[1])
    tuner = TUNERS["tpe"]("lightgbm", space, seed)
    rng = np.random.default_rng(seed)
    times = []
    for i in range(n):
        t = time.perf_counter()
        params = tuner.ask()
        spec = TrialSpec(i, "lightgbm", params, i, "tpe")
        err = float(rng.random())
        tuner.tell(params, TrialResult(spec, "ok", err, -err, extra={"tpe_number": tuner._last}))
        times.append(time.perf_counter() - t)
    return {
        "tpe_propose_tell_ms_first10": 1000 * statistics.mean(times[:10]),
        "tpe_propose_tell_ms_last10": 1000 * statistics.mean(times[-10:]),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--render", type=Path, help="only rewrite the .md next to this scale .json")
    args = parser.parse_args()
    if args.render:
        args.render.with_suffix(".md").write_text(render(json.loads(args.render.read_text())))
        return
    load_before = os.getloadavg()[0]
    ctx = context(args.rows)
    specs = trial_specs(ctx, args.trials)
    runs = {}
    few = specs[: max(1, len(specs) // 4)]  # OpenMP on busy cores is slow: a quarter is enough to see it
    configs = [
        ("inline, 1 thread", lambda: InlineExecutor(), 1, specs),
        ("inline, 2 threads", lambda: InlineExecutor(), 2, few),
        ("local, 2 workers x 1 thread", lambda: LocalExecutor(2, n_threads=1), 1, specs),
    ]
    if not args.skip_ray:
        from assay.search.executors.ray import RayExecutor

        configs.append(("ray (local instance), 2 tasks x 1 CPU", lambda: RayExecutor(None, workers=2), 1, specs))
    reference = None
    for label, make, threads, todo in configs:
        executor = make()
        run_ctx = replace(ctx, n_threads=threads)
        t = time.perf_counter()
        started, seconds, errors = run_all(executor, run_ctx, todo)
        executor.shutdown()
        total = time.perf_counter() - t
        same = None
        if reference is None:
            reference = errors
        else:
            same = all(errors[i] == reference[i] for i in errors)
        runs[label] = {
            "trials": len(todo),
            "start_s": round(started, 3),
            "run_s": round(seconds, 3),
            "total_s": round(total, 3),
            "trials_per_minute": round(60 * len(todo) / seconds, 1),
            "same_fold_errors_as_first": same,
        }
        print(label, runs[label], flush=True)
    inline_one = InlineExecutor()
    t = time.perf_counter()
    for spec in specs[:10]:
        inline_one.submit(spec, None, lambda e: False)
        inline_one.start(replace(ctx, n_threads=1))
        inline_one.collect()
    trial_s = (time.perf_counter() - t) / 10
    overheads = {"local": local_overheads(200, ctx)}
    if not args.skip_ray:
        overheads["ray"] = ray_overheads(ctx, 200)
    driver = proposal_rate(ctx, 100)
    result = {
        "command": "python bench/scale.py " + " ".join(sys.argv[1:]),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "load_avg_1m_before": round(load_before, 2),
        "load_avg_1m_after": round(os.getloadavg()[0], 2),
        "rows": args.rows,
        "cols": ctx.X.shape[1],
        "folds": len(ctx.folds),
        "trials": len(specs),
        "runs": runs,
        "mean_trial_s_1_thread": round(trial_s, 4),
        "overheads": overheads,
        "driver": driver,
    }
    out = ROOT / "bench" / "results"
    (out / "scale.json").write_text(json.dumps(result, indent=2, default=float))
    (out / "scale.md").write_text(render(result))
    print(render(result))


def render(r: dict) -> str:
    lines = [
        "# Trial throughput: inline vs local processes vs Ray",
        "",
        f"`{r['command']}` on {r['machine']}; load average {r['load_avg_1m_before']} before, "
        f"{r['load_avg_1m_after']} after (other work shared the machine when above ~1).",
        f"{r['trials']} LightGBM trials (random configurations, fixed seed), {r['folds']} folds, "
        f"{r['rows']:,} rows x {r['cols']} columns.",
        "",
        "| executor | start s | run s | trials / min | same fold errors |",
        "|---|---:|---:|---:|---|",
    ]
    for label, run in r["runs"].items():
        same = {None: "(reference)", True: "yes", False: "NO"}[run["same_fold_errors_as_first"]]
        lines.append(
            f"| {label} | {run['start_s']:.2f} | {run['run_s']:.2f} | {run['trials_per_minute']:.1f} | {same} |"
        )
    two = r["runs"].get("inline, 2 threads")
    lines += ["", f"Mean trial, inline, 1 thread, first 10 trials: {r['mean_trial_s_1_thread']:.3f} s."]
    if two:
        per = two["run_s"] / two["trials"]
        lines.append(
            f"The same first {two['trials']} trials with 2 threads: {per:.3f} s per trial "
            f"({per / r['mean_trial_s_1_thread']:.1f}x the 1-thread time; compare these, not the trials/min "
            "column, whose 2-thread row covers only those first, cheaper trials)."
        )
    lines += ["", "## Overheads", ""]
    for kind, values in r["overheads"].items():
        for key, value in values.items():
            lines.append(f"- {kind} {key.replace('_', ' ')}: {value:.3f}")
    lines += ["", "## Driver", ""]
    for key, value in r["driver"].items():
        lines.append(f"- {key.replace('_', ' ')}: {value:.2f}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
