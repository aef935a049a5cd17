"""Serving benchmark: how fast a saved LightGBM model answers, in process and over HTTP (loopback).

    python bench/serving.py                       # about 4 minutes, plus AutoGluon's fit when installed
    python bench/serving.py --model DIR --hold-seconds 60 --rate 200 --autogluon-seconds 60

Measured, with the targets of issue 6 beside them:
  in-process single row   p50 / p99 of Predictor.predict_proba on one-row frames     p50 <= 2 ms
  HTTP single row         p50 / p99 at a fixed 200 requests/s, open loop (latency
                          counted from each request's scheduled send time)           p99 <= 20 ms
  batch                   rows/s of predict_proba on ~50k rows in process (as saved,
                          and after `assay compile`), and of the streaming CSV
                          endpoint over HTTP                                          >= 200,000 rows/s
  held load               60 s at concurrency 16: requests, requests/s, errors        errors == 0
  memory                  the serving process's RSS when idle and at its peak
  AutoGluon               where `assay bench setup-peers` installed it: a medium_quality
                          predictor fitted on the same rows, its single-row and batch
                          predict timings in this same run (its own venv, a subprocess)

The server is the real thing: `assay serve MODEL` in a subprocess (uvicorn, one worker), with a
token from a throwaway registry; the client is httpx's async client in this process, so client
and server share the machine's cores, as they would on one host. Nothing leaves 127.0.0.1.
Why a script and not a test: timings are figures to report, and they need a quiet machine (the
load average is recorded at the start and the end).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
ADULT = REPO.parent / "shared" / "datasets" / "pmlb" / "adult" / "adult.tsv.gz"
TARGET = "target"


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, help="a saved model folder to serve (default: fit LightGBM on adult)")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "serving")
    ap.add_argument("--rate", type=float, default=200.0, help="requests/s of the open-loop latency run")
    ap.add_argument("--rate-seconds", type=float, default=30.0)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--hold-seconds", type=float, default=60.0)
    ap.add_argument("--single-rows", type=int, default=2000, help="one-row predictions timed in process")
    ap.add_argument("--autogluon-seconds", type=float, default=60.0, help="AutoGluon's fit time limit; 0 skips it")
    return ap.parse_args(argv)


# --- data and model ---------------------------------------------------------------------------------
def adult_rows(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """(train, test, where from): PMLB's adult when ../shared has it, else a generated table of
    the same shape (numbers and categories, ~25 % positives)."""
    if ADULT.is_file():
        frame = pd.read_csv(ADULT, sep="\t")
        source = str(ADULT.relative_to(REPO.parent))
    else:
        frame = _adult_like(48_842, seed)
        source = "generated adult-like rows (../shared/datasets not found)"
    frame = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    cut = int(len(frame) * 0.8)
    return frame.iloc[:cut].reset_index(drop=True), frame.iloc[cut:].reset_index(drop=True), source


def _adult_like(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.integers(17, 90, n).astype(float),
            "workclass": rng.choice(["Private", "Self-emp", "Gov", "Never-worked"], n, p=[0.7, 0.15, 0.14, 0.01]),
            "fnlwgt": rng.lognormal(12, 0.5, n).round(),
            "education-num": rng.integers(1, 17, n).astype(float),
            "marital-status": rng.choice(["Married", "Never-married", "Divorced", "Widowed"], n),
            "occupation": rng.choice([f"occ-{i}" for i in range(14)], n),
            "sex": rng.choice(["Male", "Female"], n),
            "capital-gain": np.where(rng.random(n) < 0.08, rng.lognormal(8, 1, n).round(), 0.0),
            "hours-per-week": rng.normal(40, 12, n).clip(1, 99).round(),
        }
    )
    signal = 0.05 * (frame["age"] - 38) + 0.3 * (frame["education-num"] - 10) + (frame["marital-status"] == "Married")
    frame[TARGET] = (signal + 0.0003 * frame["capital-gain"] + rng.normal(0, 1.2, n) > 1.2).astype(int)
    return frame


def fit_model(train: pd.DataFrame, folder: Path) -> Path:
    from assay import Predictor

    predictor = Predictor(TARGET, trials=1, families=["lightgbm"], seed=0, verbose=False).fit(train)
    return predictor.save(folder)


# --- in process ------------------------------------------------------------------------------------
def in_process(model_dir: Path, test: pd.DataFrame, n_single: int) -> dict:
    import warnings

    from assay import Predictor
    from assay.models.base import codes_matrix

    warnings.simplefilter("ignore")
    predictor = Predictor.load(model_dir)
    X = test.drop(columns=[TARGET])
    singles = [X.iloc[[i % len(X)]] for i in range(n_single)]
    for row in singles[:50]:
        predictor.predict_proba(row)
    times = []
    for row in singles:
        start = time.perf_counter()
        predictor.predict_proba(row)
        times.append(time.perf_counter() - start)
    batch = pd.concat([X] * max(1, 50_000 // len(X) + 1), ignore_index=True).iloc[:50_000]
    predictor.predict_proba(batch.head(2000))
    batch_s = _best(lambda: predictor.predict_proba(batch), 3)
    members = [b for member in predictor._ensemble.members for b in (*member.members, member.full) if b is not None]
    matrix = codes_matrix(predictor._preprocessor.transform(predictor._clean(batch)))
    booster = members[0].booster_
    one_s = _best(lambda: booster.predict(matrix, num_iteration=members[0].best_iteration_), 3)
    return {
        "single_row_ms": _percentiles(times),
        "batch_rows": len(batch),
        "batch_rows_per_s": len(batch) / batch_s,
        "boosters": len(members),
        "trees_per_booster": booster.num_trees(),
        "one_booster_rows_per_s": len(batch) / one_s,
    }


def compiled_in_process(model_dir: Path, folder: Path, test: pd.DataFrame, n_single: int) -> dict:
    """The same model after `assay compile` (its boosters as native code), or why not measured."""
    import shutil

    from assay.models import compiled
    from assay.serve.compile import compile_model

    if not compiled.available():
        return {"skipped": "lleaves is not installed (pip install 'assay[fast]')"}
    shutil.copytree(model_dir, folder)
    compiled_report = compile_model(folder)
    return {
        **in_process(folder, test, n_single),
        "compile_s": compiled_report.seconds,
        "max_difference": compiled_report.worst,
    }


# --- over HTTP -------------------------------------------------------------------------------------
class Server:
    """`assay serve MODEL` in a subprocess on a free loopback port, with its RSS sampled."""

    def __init__(self, model_dir: Path, home: Path):
        from assay.registry import Registry

        self.home = home
        with Registry(home=home) as registry:
            self.token = registry.create_token("bench")
        self.port = _free_port()
        env = {**os.environ, "ASSAY_HOME": str(home)}
        env.pop("ASSAY_REGISTRY_URL", None)
        command = [
            sys.executable,
            "-m",
            "assay",
            "serve",
            str(model_dir),
            "--name",
            "adult",
            "--port",
            str(self.port),
            "--max-body-mb",
            "200",
            "--max-records",
            "20000",
        ]
        # its output goes to a file: a pipe nobody reads blocks a server that writes enough to fill it
        self.log = home.parent / "server.log"
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
        self.url = f"http://127.0.0.1:{self.port}"
        self.peak_rss = 0
        self._stop = threading.Event()

    def wait_ready(self, seconds: float = 120.0) -> float:
        import httpx

        start = time.monotonic()
        while time.monotonic() - start < seconds:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/ready", timeout=1).status_code == 200:
                    threading.Thread(target=self._sample, daemon=True).start()
                    return time.monotonic() - start
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the server did not become ready")

    def rss_mb(self) -> float:
        import psutil

        return psutil.Process(self.process.pid).memory_info().rss / 2**20

    def _sample(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak_rss = max(self.peak_rss, self.rss_mb())
            except Exception:  # the process ended
                return
            time.sleep(0.2)

    def stop(self) -> None:
        self._stop.set()
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


async def open_loop(url: str, token: str, bodies: list[bytes], rate: float, seconds: float) -> dict:
    """Requests sent on a fixed schedule whatever the answers do (no coordinated omission):
    latency runs from each request's scheduled time to its answer."""
    import httpx

    n = int(rate * seconds)
    latencies, errors = [], 0
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=30) as client:
        await client.post("/v1/models/adult/predict", content=bodies[0])

        async def one(i: int, due: float) -> None:
            nonlocal errors
            try:
                response = await client.post("/v1/models/adult/predict", content=bodies[i % len(bodies)])
                if response.status_code != 200:
                    errors += 1
                    return
            except httpx.HTTPError:
                errors += 1
                return
            latencies.append(time.perf_counter() - due)

        start = time.perf_counter()
        tasks = []
        for i in range(n):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i, due)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    return {"requests": n, "errors": errors, "seconds": elapsed, "rate": rate, "latency_ms": _percentiles(latencies)}


async def closed_loop(url: str, token: str, bodies: list[bytes], concurrency: int, seconds: float) -> dict:
    """`concurrency` clients, each sending its next request as soon as the last one is answered."""
    import httpx

    latencies, errors, count = [], 0, 0
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=30) as client:
        stop = time.perf_counter() + seconds

        async def worker(k: int) -> None:
            nonlocal errors, count
            i = k
            while time.perf_counter() < stop:
                sent = time.perf_counter()
                try:
                    response = await client.post("/v1/models/adult/predict", content=bodies[i % len(bodies)])
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                count += 1
                if ok:
                    latencies.append(time.perf_counter() - sent)
                else:
                    errors += 1
                i += concurrency

        start = time.perf_counter()
        await asyncio.gather(*(worker(k) for k in range(concurrency)))
        elapsed = time.perf_counter() - start
    return {
        "concurrency": concurrency,
        "seconds": elapsed,
        "requests": count,
        "errors": errors,
        "requests_per_s": count / elapsed,
        "latency_ms": _percentiles(latencies),
    }


def http_batch(url: str, token: str, test: pd.DataFrame, folder: Path) -> dict:
    import httpx

    X = test.drop(columns=[TARGET])
    big = pd.concat([X] * max(1, 50_000 // len(X) + 1), ignore_index=True).iloc[:50_000]
    path = folder / "batch.csv"
    big.to_csv(path, index=False)
    payload = path.read_bytes()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "text/csv"}
    times = []
    for _ in range(3):
        start = time.perf_counter()
        response = httpx.post(
            url + "/v1/models/adult/predict/stream?proba=true", content=payload, headers=headers, timeout=300
        )
        times.append(time.perf_counter() - start)
        if response.status_code != 200 or response.text.count("\n") != len(big) + 1:
            raise RuntimeError(f"batch request failed: {response.status_code} {response.text[:300]}")
    return {"rows": len(big), "megabytes": len(payload) / 2**20, "rows_per_s": len(big) / min(times)}


# --- AutoGluon ---------------------------------------------------------------------------------------
AUTOGLUON_SCRIPT = textwrap.dedent(
    """
    import json, sys, time, warnings
    import numpy as np, pandas as pd
    from autogluon.tabular import TabularPredictor
    warnings.simplefilter("ignore")
    train, test, folder, limit, n_single = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5])
    train, test = pd.read_parquet(train), pd.read_parquet(test).drop(columns=["target"])
    start = time.perf_counter()
    predictor = TabularPredictor(label="target", eval_metric="roc_auc", path=folder, verbosity=0).fit(
        train, presets="medium_quality", time_limit=limit)
    fit_s = time.perf_counter() - start
    singles = [test.iloc[[i % len(test)]] for i in range(n_single)]
    for row in singles[:50]:
        predictor.predict_proba(row)
    times = []
    for row in singles:
        t = time.perf_counter(); predictor.predict_proba(row); times.append(time.perf_counter() - t)
    batch = pd.concat([test] * (50_000 // len(test) + 1), ignore_index=True).iloc[:50_000]
    batch_times = []
    for _ in range(3):
        t = time.perf_counter(); predictor.predict_proba(batch); batch_times.append(time.perf_counter() - t)
    best = min(batch_times)
    import autogluon.tabular as agt
    print("RESULT" + json.dumps({"fit_seconds": fit_s, "best_model": predictor.model_best,
        "version": agt.__version__, "single_row_ms": {"p50": float(np.percentile(times, 50) * 1e3),
        "p99": float(np.percentile(times, 99) * 1e3), "n": len(times)},
        "batch_rows": len(batch), "batch_rows_per_s": len(batch) / best}))
    """
)


def autogluon(train: pd.DataFrame, test: pd.DataFrame, folder: Path, seconds: float, n_single: int) -> dict:
    from assay.bench.peers import peer_python, peer_status

    status = peer_status("autogluon")
    if not status["ok"]:
        return {"skipped": status["message"]}
    python = peer_python("autogluon")
    train.to_parquet(folder / "ag_train.parquet", index=False)
    test.to_parquet(folder / "ag_test.parquet", index=False)
    script = folder / "ag.py"
    script.write_text(AUTOGLUON_SCRIPT)
    command = [
        str(python),
        str(script),
        str(folder / "ag_train.parquet"),
        str(folder / "ag_test.parquet"),
        str(folder / "ag_model"),
        str(seconds),
        str(n_single),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds * 4 + 600)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT")]
    if done.returncode != 0 or not lines:
        return {"skipped": f"AutoGluon failed (exit {done.returncode}): {(done.stderr or done.stdout)[-800:]}"}
    return json.loads(lines[-1][len("RESULT") :])


# --- helpers and the report ----------------------------------------------------------------------------
def _percentiles(seconds: list[float]) -> dict:
    values = np.asarray(seconds) * 1e3
    if not len(values):
        return {"p50": None, "p99": None, "n": 0}
    return {
        "p50": float(np.percentile(values, 50)),
        "p99": float(np.percentile(values, 99)),
        "n": int(len(values)),
        "max": float(values.max()),
    }


def _best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bodies(test: pd.DataFrame, n: int = 500) -> list[bytes]:
    X = test.drop(columns=[TARGET]).head(n)
    rows = X.astype(object).where(X.notna(), None).to_dict("records")
    return [json.dumps({"records": [row]}).encode() for row in rows]


def report(results: dict, path: Path) -> None:
    r, ip, http = results, results["in_process"], results["http"]
    ag = results.get("autogluon", {})
    check = lambda ok: "yes" if ok else "**no**"  # noqa: E731
    lines = [
        "# Serving benchmark",
        "",
        f"`python bench/serving.py` at commit {r['commit']} on {r['machine']}; data: {r['data']} "
        f"({r['train_rows']:,} training rows, {r['test_rows']:,} test rows); model: LightGBM only, one "
        f"configuration, {ip['boosters']} boosters of {ip['trees_per_booster']} trees (k-fold bag + refit).",
        f"Load average at start {r['load_start']}, at end {r['load_end']} (2 cores; client and server share them).",
        "",
        "| measure | target | measured | met |",
        "|---|---|---|---|",
        f"| in-process single row p50 / p99 | p50 <= 2 ms | {ip['single_row_ms']['p50']:.2f} / "
        f"{ip['single_row_ms']['p99']:.2f} ms | {check(ip['single_row_ms']['p50'] <= 2)} |",
        f"| HTTP single row p50 / p99 at {http['open_loop']['rate']:.0f} req/s (open loop, "
        f"{http['open_loop']['requests']:,} requests, {http['open_loop']['errors']} errors) | p99 <= 20 ms | "
        f"{http['open_loop']['latency_ms']['p50']:.2f} / {http['open_loop']['latency_ms']['p99']:.2f} ms | "
        f"{check(http['open_loop']['latency_ms']['p99'] <= 20 and http['open_loop']['errors'] == 0)} |",
        f"| batch in process, whole model ({ip['boosters']} boosters) | >= 200,000 rows/s | "
        f"{ip['batch_rows_per_s']:,.0f} rows/s | {check(ip['batch_rows_per_s'] >= 200_000)} |",
        _compiled_row(results.get("compiled", {}), ip["boosters"]),
        f"| batch in process, one GBDT (one booster of the bag, raw predict) | >= 200,000 rows/s | "
        f"{ip['one_booster_rows_per_s']:,.0f} rows/s | {check(ip['one_booster_rows_per_s'] >= 200_000)} |",
        f"| batch over HTTP (streaming CSV endpoint, {http['batch']['rows']:,} rows, "
        f"{http['batch']['megabytes']:.1f} MB) | - | {http['batch']['rows_per_s']:,.0f} rows/s | - |",
        f"| held {http['held']['seconds']:.0f} s at concurrency {http['held']['concurrency']} | 0 errors | "
        f"{http['held']['requests']:,} requests, {http['held']['requests_per_s']:.0f} req/s, "
        f"{http['held']['errors']} errors, p50 {http['held']['latency_ms']['p50']:.1f} ms, "
        f"p99 {http['held']['latency_ms']['p99']:.1f} ms | {check(http['held']['errors'] == 0)} |",
        f"| serving process RSS | - | {http['rss_idle_mb']:.0f} MB idle after load, {http['rss_peak_mb']:.0f} MB "
        f"peak | - |",
        "",
        "## Beside AutoGluon (same rows, same run)",
        "",
    ]
    if "skipped" in ag:
        lines.append(f"Not measured: {ag['skipped']}")
    elif ag:
        lines += [
            "| system | single row p50 / p99 (in process) | batch rows/s (50k rows) |",
            "|---|---|---|",
            f"| assay (LightGBM, {ip['boosters']} boosters) | {ip['single_row_ms']['p50']:.2f} / "
            f"{ip['single_row_ms']['p99']:.2f} ms | {ip['batch_rows_per_s']:,.0f} |",
            f"| AutoGluon {ag['version']} medium_quality ({ag['best_model']}, fit {ag['fit_seconds']:.0f} s) | "
            f"{ag['single_row_ms']['p50']:.2f} / {ag['single_row_ms']['p99']:.2f} ms | {ag['batch_rows_per_s']:,.0f} |",
        ]
    lines += ["", f"Raw figures: `{path.with_suffix('.json').name}`."]
    path.with_suffix(".md").write_text("\n".join(lines) + "\n")


def _compiled_row(c: dict, boosters: int) -> str:
    measure = f"| batch in process, whole model ({boosters} boosters) after `assay compile`"
    if "skipped" in c or not c:
        return f"{measure} | >= 200,000 rows/s | not measured: {c.get('skipped', 'not run')} | - |"
    ok = "yes" if c["batch_rows_per_s"] >= 200_000 else "**no**"
    return (
        f"{measure} (compiled in {c['compile_s']:.0f} s; max difference from LightGBM "
        f"{c['max_difference']:.1e}; single row p50 {c['single_row_ms']['p50']:.2f} ms) | >= 200,000 rows/s | "
        f"{c['batch_rows_per_s']:,.0f} rows/s | {ok} |"
    )


def main(argv=None) -> int:
    from assay.bench.harness import commit_label

    args = parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    load_start = os.getloadavg()
    train, test, source = adult_rows()
    work = Path(tempfile.mkdtemp(prefix="assay-serving-"))
    model_dir = args.model or fit_model(train, work / "model")
    print(f"model: {model_dir}", flush=True)
    results = {
        "commit": commit_label(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "data": source,
        "train_rows": len(train),
        "test_rows": len(test),
        "load_start": [round(x, 2) for x in load_start],
    }
    results["in_process"] = in_process(model_dir, test, args.single_rows)
    print("in process:", json.dumps(results["in_process"]), flush=True)
    results["compiled"] = compiled_in_process(model_dir, work / "compiled", test, args.single_rows)
    print("compiled, in process:", json.dumps(results["compiled"]), flush=True)
    server = Server(model_dir, work / "home")
    try:
        startup = server.wait_ready()
        idle = server.rss_mb()
        bodies = _bodies(test)
        loop = asyncio.run(open_loop(server.url, server.token, bodies, args.rate, args.rate_seconds))
        print("open loop:", json.dumps(loop), flush=True)
        held = asyncio.run(closed_loop(server.url, server.token, bodies, args.concurrency, args.hold_seconds))
        print("held:", json.dumps(held), flush=True)
        batch = http_batch(server.url, server.token, test, work)
        print("http batch:", json.dumps(batch), flush=True)
        results["http"] = {
            "startup_s": startup,
            "rss_idle_mb": idle,
            "open_loop": loop,
            "held": held,
            "batch": batch,
            "rss_peak_mb": max(server.peak_rss, idle),
        }
    finally:
        server.stop()
    if args.autogluon_seconds > 0:
        results["autogluon"] = autogluon(train, test, work, args.autogluon_seconds, min(args.single_rows, 500))
        print("autogluon:", json.dumps(results["autogluon"]), flush=True)
    results["load_end"] = [round(x, 2) for x in os.getloadavg()]
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=2))
    report(results, args.out)
    print(args.out.with_suffix(".md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
