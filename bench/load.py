"""Load with a promotion in the middle: the real server under concurrent predict and feedback
traffic while a user promotes a new version, then every request and every logged row counted.

    python bench/load.py                                   # 60 s, 8 clients (the reported figure)
    python bench/load.py --seconds 8 --clients 4           # the CI-sized run (tests/hardening/test_load.py)

What happens:
  1. a throwaway ASSAY_HOME: LightGBM fitted on the bundled penguins table, registered twice
     (v1 in production, v2 a candidate), an API token;
  2. `assay serve --registry --log-sample 1` in a subprocess (uvicorn, 127.0.0.1, a free port);
  3. N client threads (httpx), each in a loop: predict one row, then (for --feedback-share of the
     answers) send its true label to /feedback by the answer's request id, at once;
  4. at --promote-at of the run, `assay models promote penguins 2` in a subprocess, as a user would;
  5. the server is stopped with SIGINT (graceful: in-flight requests finish, the prediction log
     flushes), then the registry database is read back.

Counted: requests sent / succeeded / failed by status (a transport error counts as failed);
predicted rows answered vs rows found in the prediction log, and labels accepted (the `labelled`
of every 200 feedback answer) vs labelled rows found (lost = accepted - stored: must be 0); the
versions that answered before the promotion started and after it was picked up, and how long the
pickup took; p50 / p99 latency of predict and of feedback. Writes `--out`.md and `--out`.json.
Nothing leaves 127.0.0.1; client and server share the machine's cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
MODEL = "penguins"


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0, help="how long the clients send traffic")
    ap.add_argument("--clients", type=int, default=8, help="concurrent client threads")
    ap.add_argument("--promote-at", type=float, default=0.4, help="when to promote v2, as a share of --seconds")
    ap.add_argument("--feedback-share", type=float, default=0.5, help="share of answers whose label is sent back")
    ap.add_argument("--reload-seconds", type=float, default=1.0, help="the server's --reload-seconds")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "load")
    ap.add_argument("--seed", type=int, default=0)
    return ap.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    result = run(
        seconds=args.seconds,
        clients=args.clients,
        promote_at=args.promote_at,
        feedback_share=args.feedback_share,
        reload_seconds=args.reload_seconds,
        seed=args.seed,
        progress=True,
    )
    write(result, args.out)
    print(render(result))
    print(f"wrote {args.out.with_suffix('.md')} and {args.out.with_suffix('.json')}")
    return 0 if result["verdict"]["ok"] else 1


def run(
    *,
    seconds: float = 60.0,
    clients: int = 8,
    promote_at: float = 0.4,
    feedback_share: float = 0.5,
    reload_seconds: float = 1.0,
    seed: int = 0,
    progress: bool = False,
) -> dict:
    """The whole measurement (see the module docstring); returns the figures as a dict."""
    with tempfile.TemporaryDirectory(prefix="assay-load-") as tmp:
        home = Path(tmp) / "home"
        env = {**os.environ, "ASSAY_HOME": str(home)}
        env.pop("ASSAY_REGISTRY_URL", None)
        rows, labels, token, url = _prepare(home, Path(tmp))
        port = _free_port()
        server_log = Path(tmp) / "server.log"
        with server_log.open("wb") as log_file:
            server = subprocess.Popen(
                [
                    _assay(),
                    "serve",
                    "--registry",
                    "--port",
                    str(port),
                    "--log-sample",
                    "1",
                    "--reload-seconds",
                    str(reload_seconds),
                ],  # fmt: skip
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
            try:
                base = f"http://127.0.0.1:{port}"
                _wait_ready(base, server)
                traffic = _Traffic(base, token, rows, labels, feedback_share, seed)
                promotion = _drive(traffic, clients, seconds, promote_at, reload_seconds, env, progress)
            finally:
                stopped = _stop(server)
        figures = _count(traffic, promotion, url, home)
        figures["server"] = {"exit_code": stopped[0], "shutdown_s": round(stopped[1], 2), **_log_problems(server_log)}
    figures["config"] = {
        "seconds": seconds,
        "clients": clients,
        "promote_at": promote_at,
        "feedback_share": feedback_share,
        "reload_seconds": reload_seconds,
        "seed": seed,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    figures["verdict"] = _verdict(figures)
    return figures


# --- setting up ----------------------------------------------------------------------------------
def _prepare(home: Path, tmp: Path):
    """A fitted model registered as v1 (production) and v2 (candidate), a token, the rows to send."""
    from assay import Predictor, datasets
    from assay.registry import Registry

    frame = datasets.load("penguins")
    predictor = Predictor("species", trials=1, families=["lightgbm"], n_threads=1, verbose=False).fit(frame)
    folder = predictor.save(tmp / "model")
    with Registry(home=home) as reg:
        reg.register(folder, MODEL)
        reg.register(folder, MODEL)
        reg.promote(MODEL, 1, reason="load test: the version serving when traffic starts")
        token = reg.create_token("load-test")
        url = reg.url
    features = frame.drop(columns=["species"])
    rows = json.loads(features.to_json(orient="records"))  # NaN -> null
    return rows, frame["species"].tolist(), token, url


def _assay() -> str:
    found = Path(sys.executable).parent / "assay"
    return str(found) if found.exists() else "assay"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(base: str, server: subprocess.Popen, seconds: float = 120.0) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with code {server.returncode} before it was ready")
        try:
            if httpx.get(base + "/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server was not ready within {seconds:.0f} s")


def _stop(server: subprocess.Popen) -> tuple[int | None, float]:
    """SIGINT, as Ctrl+C would: uvicorn finishes in-flight requests, then the lifespan closes the
    prediction log (which writes what is queued)."""
    start = time.monotonic()
    if server.poll() is None:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    return server.returncode, time.monotonic() - start


# --- traffic -------------------------------------------------------------------------------------
class _Traffic:
    """What every client thread records: one tuple per request, appended under a lock."""

    def __init__(self, base, token, rows, labels, feedback_share, seed):
        self.base, self.rows, self.labels = base, rows, labels
        self.headers = {"Authorization": f"Bearer {token}"}
        self.feedback_share, self.seed = feedback_share, seed
        self.predicts: list[tuple] = []  # (sent, done, status, version, n_rows)
        self.feedbacks: list[tuple] = []  # (sent, done, status, labelled)
        self.failures: list[str] = []  # the first few failure bodies, for the report
        self.lock = threading.Lock()
        self.promoted = threading.Event()  # the promotion is over (committed or failed): traffic may stop

    def client(self, index: int, stop_at: list[float]) -> None:
        import httpx

        rng = random.Random(self.seed * 1000 + index)
        with httpx.Client(base_url=self.base, headers=self.headers, timeout=30) as http:
            while not (self.promoted.is_set() and time.monotonic() >= stop_at[0]):
                i = rng.randrange(len(self.rows))
                sent = time.monotonic()
                answer = self._call(http, f"/v1/models/{MODEL}/predict", {"records": [self.rows[i]]})
                body = answer[1] or {}
                with self.lock:
                    self.predicts.append((sent, time.monotonic(), answer[0], body.get("model_version"), 1))
                if answer[0] != 200 or rng.random() >= self.feedback_share:
                    continue
                sent = time.monotonic()
                fed = self._call(
                    http, f"/v1/models/{MODEL}/feedback", {"request_id": body["request_id"], "labels": [self.labels[i]]}
                )
                with self.lock:
                    self.feedbacks.append((sent, time.monotonic(), fed[0], (fed[1] or {}).get("labelled", 0)))

    def _call(self, http, path: str, payload: dict) -> tuple[int | str, dict | None]:
        import httpx

        try:
            response = http.post(path, json=payload)
        except httpx.HTTPError as exc:
            self._failed(f"{path}: {type(exc).__name__}: {exc}")
            return f"error:{type(exc).__name__}", None
        if response.status_code != 200:
            self._failed(f"{path}: {response.status_code} {response.text[:300]}")
            return response.status_code, None
        return 200, response.json()

    def _failed(self, text: str) -> None:
        with self.lock:
            if len(self.failures) < 20:
                self.failures.append(text)


def _drive(
    traffic: _Traffic, clients: int, seconds: float, promote_at: float, reload_seconds: float, env: dict, progress: bool
) -> dict:
    """Run the clients for `seconds` (longer if the promotion lands late), promoting v2 through the
    CLI at `promote_at` of the run."""
    start = time.monotonic()
    stop_at = [start + seconds]  # pushed back if the promotion lands late: see promote()
    threads = [threading.Thread(target=traffic.client, args=(i, stop_at), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    promotion: dict = {}

    def promote() -> None:
        time.sleep(max(0.0, start + seconds * promote_at - time.monotonic()))
        promotion["started"] = time.monotonic()
        try:
            done = subprocess.run(
                [_assay(), "models", "promote", MODEL, "2", "--reason", "load test: promoted during traffic"],
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            promotion["done"] = time.monotonic()
            promotion["exit_code"] = done.returncode
            promotion["output"] = (done.stdout + done.stderr)[-500:]
            # traffic goes on until the server has had time to pick the new version up (two reload
            # periods and a margin), however long the CLI took to start: the run always has an "after"
            stop_at[0] = max(stop_at[0], promotion["done"] + 2 * reload_seconds + 2.0)
        finally:
            traffic.promoted.set()

    promoter = threading.Thread(target=promote, daemon=True)
    promoter.start()
    if progress:
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        with Progress(TextColumn("load"), BarColumn(), TextColumn("{task.description}"), TimeRemainingColumn()) as bar:
            task = bar.add_task("", total=seconds)
            while any(t.is_alive() for t in threads):
                total = stop_at[0] - start
                elapsed = min(total, time.monotonic() - start)
                bar.update(task, total=total, completed=elapsed, description=f"{len(traffic.predicts):,} predictions")
                time.sleep(0.25)
    for t in threads:
        t.join()
    promoter.join()
    promotion["start"], promotion["start_wall"] = start, time.time() - (time.monotonic() - start)
    return promotion


# --- counting ------------------------------------------------------------------------------------
def _count(traffic: _Traffic, promotion: dict, url: str, home: Path) -> dict:
    from assay.monitor.log import PredictionLog

    start = promotion["start"]
    predicts, feedbacks = traffic.predicts, traffic.feedbacks
    everything = predicts + feedbacks
    with PredictionLog(url) as log:
        logged = log.count(MODEL)
        labelled = log.count(MODEL, labelled_only=True)
    answered_rows = sum(p[4] for p in predicts if p[2] == 200)
    accepted = sum(f[3] for f in feedbacks if f[2] == 200)
    began, done = promotion.get("started"), promotion.get("done")
    committed = _committed(url, home, promotion)
    v2_times = [p[1] for p in predicts if p[2] == 200 and p[3] == 2]
    first_v2 = min(v2_times) if v2_times else None
    before = Counter(p[3] for p in predicts if p[2] == 200 and began is not None and p[1] < began)
    # "after the pickup": requests sent once the first v2 answer had arrived. The server swaps the
    # model in one step, so every one of them must be v2 (requests already running may finish on v1)
    after = Counter(p[3] for p in predicts if p[2] == 200 and first_v2 is not None and p[0] >= first_v2)
    last_v1 = max((p[1] for p in predicts if p[2] == 200 and p[3] == 1), default=None)
    return {
        "requests": {
            "sent": len(everything),
            "succeeded": sum(1 for r in everything if r[2] == 200),
            "failed": sum(1 for r in everything if r[2] != 200),
            "failed_by_status": {str(k): v for k, v in Counter(r[2] for r in everything if r[2] != 200).items()},
            "predict": _calls(predicts),
            "feedback": _calls(feedbacks),
            "span_s": round(_span(everything), 2),
            "requests_per_s": round(len(everything) / max(1e-9, _span(everything)), 1),
            "first_failures": traffic.failures,
        },
        "rows": {
            "predicted_rows_answered": answered_rows,
            "predicted_rows_logged": logged,
            "prediction_rows_lost": answered_rows - logged,
            "feedback_labels_accepted": accepted,
            "feedback_labels_stored": labelled,
            "feedback_rows_lost": accepted - labelled,
        },
        "promotion": {
            "cli_exit_code": promotion.get("exit_code"),
            "cli_output": promotion.get("output", ""),
            "started_s": _rel(began, start),
            "cli_returned_s": _rel(done, start),
            "committed_s": _rel(committed, start),
            "first_v2_answer_s": _rel(first_v2, start),
            "last_v1_answer_s": _rel(last_v1, start),
            "pickup_s": None if first_v2 is None or committed is None else round(first_v2 - committed, 3),
            "versions_before": {str(k): v for k, v in before.items()},
            "versions_after": {str(k): v for k, v in after.items()},
        },
    }


def _committed(url: str, home: Path, promotion: dict) -> float | None:
    """When the promotion was committed, on the run's monotonic clock: the time the registry
    recorded on its decision (the CLI returns later: it still prints and exits)."""
    from assay.registry import Registry

    with Registry(url, home=home) as reg:
        decision = reg.last_decision(MODEL, "promoted")
    if decision is None or decision.challenger_version != 2 or decision.created is None:
        return None
    return promotion["start"] + decision.created.timestamp() - promotion["start_wall"]


def _calls(records: list[tuple]) -> dict:
    ms = np.array([(r[1] - r[0]) * 1000 for r in records if r[2] == 200])
    return {
        "sent": len(records),
        "succeeded": int(len(ms)),
        "p50_ms": round(float(np.percentile(ms, 50)), 2) if len(ms) else None,
        "p99_ms": round(float(np.percentile(ms, 99)), 2) if len(ms) else None,
        "max_ms": round(float(ms.max()), 2) if len(ms) else None,
    }


def _span(records: list[tuple]) -> float:
    return max(r[1] for r in records) - min(r[0] for r in records) if records else 0.0


def _rel(t: float | None, start: float) -> float | None:
    return None if t is None else round(t - start, 3)


def _log_problems(path: Path) -> dict:
    text = path.read_text(errors="replace")
    lines = text.splitlines()
    bad = [line for line in lines if line.startswith(("ERROR", "Traceback", "CRITICAL"))]
    return {"error_lines": len(bad), "first_errors": bad[:5]}


def _verdict(figures: dict) -> dict:
    rows, promotion, requests = figures["rows"], figures["promotion"], figures["requests"]
    checks = {
        "no failed request": requests["failed"] == 0,
        "no lost prediction row": rows["prediction_rows_lost"] == 0,
        "no lost feedback row": rows["feedback_rows_lost"] == 0,
        "promotion committed": promotion["cli_exit_code"] == 0,
        "only v1 before the promotion": set(promotion["versions_before"]) <= {"1"},
        "only v2 after the pickup": set(promotion["versions_after"]) == {"2"},
        "server stopped cleanly": figures["server"]["exit_code"] == 0 and figures["server"]["error_lines"] == 0,
    }
    return {"ok": all(checks.values()), "checks": checks}


# --- the report ----------------------------------------------------------------------------------
def write(result: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    out.with_suffix(".md").write_text(render(result))


def render(r: dict) -> str:
    c, q, rows, p = r["config"], r["requests"], r["rows"], r["promotion"]
    lines = [
        "# Load with a promotion during traffic",
        "",
        f"`python bench/load.py --seconds {c['seconds']:g} --clients {c['clients']}` "
        f"(promote at {c['promote_at']:.0%}, feedback for {c['feedback_share']:.0%} of answers, "
        f"--reload-seconds {c['reload_seconds']:g}; {c['cpus']} CPUs, load {c['load_average']})",
        "",
        f"**{'PASS' if r['verdict']['ok'] else 'FAIL'}**: "
        + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in r["verdict"]["checks"].items()),
        "",
        "| requests | sent | succeeded | failed | p50 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind in ("predict", "feedback"):
        k = q[kind]
        lines.append(
            f"| {kind} | {k['sent']:,} | {k['succeeded']:,} | {k['sent'] - k['succeeded']:,} | "
            f"{k['p50_ms']} | {k['p99_ms']} | {k['max_ms']} |"
        )
    lines += [
        "",
        f"{q['sent']:,} requests in {q['span_s']} s, {q['requests_per_s']} requests/s; "
        f"failed by status: {q['failed_by_status'] or 'none'}",
        "",
        "| rows | answered / accepted | found in the registry DB | lost |",
        "|---|---|---|---|",
        f"| predictions logged | {rows['predicted_rows_answered']:,} | {rows['predicted_rows_logged']:,} | "
        f"{rows['prediction_rows_lost']} |",
        f"| feedback labels | {rows['feedback_labels_accepted']:,} | {rows['feedback_labels_stored']:,} | "
        f"{rows['feedback_rows_lost']} |",
        "",
        f"Promotion (`assay models promote {MODEL} 2`, exit {p['cli_exit_code']}): CLI started at {p['started_s']} s, "
        f"committed at {p['committed_s']} s (the registry's decision time), CLI returned at {p['cli_returned_s']} s; "
        f"first v2 answer at {p['first_v2_answer_s']} s (pickup {p['pickup_s']} s after the commit), "
        f"last v1 answer at {p['last_v1_answer_s']} s.",
        f"Versions answering before the promotion: {p['versions_before']}; after the pickup: {p['versions_after']}.",
        "",
        f"Server: exit code {r['server']['exit_code']}, stopped in {r['server']['shutdown_s']} s after SIGINT, "
        f"{r['server']['error_lines']} error line(s) in its log.",
    ]
    if q["first_failures"]:
        lines += ["", "First failures:", *[f"- `{f}`" for f in q["first_failures"][:5]]]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
