"""Fuzz the file readers and the REST API's JSON payloads with atheris, each for a bounded time.

    python bench/fuzz.py                                   # both targets, 60 s each
    python bench/fuzz.py --target readers --seconds 600    # the long run

Targets:
  readers   bytes -> a temporary file with one of the reader's suffixes (picked by the first byte)
            -> read_with_report -> infer_schema -> clean_frame. Allowed: a table, or an AssayError.
  payloads  bytes -> POST /v1/models/penguins/predict as a JSON body (first byte: strict, explain)
            on the real app in process (TestClient, no socket) serving a tiny penguins model.
            Allowed: a 2xx, or a 4xx (pydantic's 422 validation errors, the contract's 422 field
            errors, a 400 for an AssayError). A 5xx or an exception is a crash.

A crash is any other exception (or a broken invariant: a frame whose row count differs from its
report, rejected rows missing from the rejects file, a 200 with fewer predictions than records).
Each target runs in its own process, so its time bound holds whatever the fuzzed code does: the
worker stops itself at the deadline, and the parent kills it if it does not. Fuzzing goes on after
a crash; distinct crashes (exception type and place) are counted, the first input of each is saved
under bench/results/fuzz-crashes/ with its traceback, and bench/results/fuzz.md sums up. The
corpus is seeded from assay/datasets/penguins.csv written in every format the reader takes, and
from JSON requests built from its rows; libFuzzer grows it in a temporary folder.
"""

from __future__ import annotations

import argparse
import bz2
import contextlib
import csv
import gzip
import hashlib
import io
import json
import logging
import lzma
import os
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TARGETS = ("readers", "payloads")
SUFFIXES = (".csv", ".tsv", ".txt", ".data", "", ".csv.gz", ".csv.bz2", ".csv.xz", ".csv.zip", ".tsv.gz")
SUFFIXES += (".parquet", ".feather", ".xlsx", ".jsonl", ".json")
SETUP_SECONDS = 240  # imports, a tiny fit and the seed corpus, before the clock starts
DEFAULT_OUT = ROOT / "bench" / "results"


# ---------------------------------------------------------------- the parent


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", choices=[*TARGETS, "all"], default="all")
    parser.add_argument("--seconds", type=int, default=60, help="fuzzing time per target (default 60)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where fuzz.md and fuzz-crashes/ go")
    parser.add_argument("--worker", choices=TARGETS, help=argparse.SUPPRESS)
    parser.add_argument("--stats", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.seconds < 1:
        parser.error("--seconds must be >= 1")
    if args.worker:
        return Worker(args.worker, args.seconds, args.out, args.stats).run()
    targets = TARGETS if args.target == "all" else (args.target,)
    results = [_supervise(target, args.seconds, args.out) for target in targets]
    _write_summary(results, args)
    crashes = sum(len(r["crashes"]) for r in results)
    return 1 if crashes or any(r["problem"] for r in results) else 0


def _supervise(target: str, seconds: int, out: Path) -> dict:
    """Run one target's worker in its own process, showing its progress; kill it past its time."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    (out / "fuzz-crashes").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"assay-fuzz-{target}-") as tmp:
        stats_path, log_path = Path(tmp) / "stats.json", Path(tmp) / "libfuzzer.log"
        cmd = [sys.executable, __file__, "--worker", target, "--seconds", str(seconds), "--out", str(out)]
        cmd += ["--stats", str(stats_path)]
        started, problem = time.monotonic(), None
        with (
            open(log_path, "wb") as log,
            Progress(
                TextColumn(f"fuzz {target}"), BarColumn(), TextColumn("{task.fields[status]}"), TimeRemainingColumn()
            ) as progress,
        ):
            task = progress.add_task(target, total=seconds, status="setting up")
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
            while proc.poll() is None:
                time.sleep(1)
                stats = _load(stats_path)
                if stats.get("fuzz_started"):
                    elapsed = time.time() - stats["fuzz_started"]
                    status = f"{stats['executions']:,} inputs, {len(stats['crashes'])} crash(es)"
                    progress.update(task, completed=min(elapsed, seconds), status=status)
                if time.monotonic() - started > seconds + SETUP_SECONDS:
                    proc.kill()
                    problem = f"killed after {seconds + SETUP_SECONDS} s: the worker overran its time"
            progress.update(task, completed=seconds)
        stats = _load(stats_path) or {"executions": 0, "crashes": [], "seeds": 0}
        tail = log_path.read_text(errors="replace")[-3000:]
        if proc.returncode not in (0, None) and problem is None:
            problem = f"the worker exited with code {proc.returncode} (libFuzzer: a hang, memory or a signal)"
        stats.update(target=target, seconds=seconds, problem=problem, log_tail=tail if problem else "")
        if problem:
            print(f"{target}: {problem}\n{tail}", file=sys.stderr)
        return stats


def _load(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _write_summary(results: list[dict], args) -> None:
    cmd = f"python bench/fuzz.py --target {args.target} --seconds {args.seconds}"
    lines = [
        "# Fuzzing (atheris)",
        "",
        f"`{cmd}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} "
        f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores: inputs/s scale with idle CPU); "
        "a crash is an exception other than AssayError (payloads: a 5xx or an exception; 4xx is allowed), "
        "or a broken invariant (rows lost between the table, its report and the rejects file; "
        "fewer predictions than records).",
        "",
        "| target | seconds | inputs tried | inputs/s | seeds | corpus after | distinct crashes | rows lost |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        rate = r["executions"] / max(r.get("fuzz_seconds") or r["seconds"], 1e-9)
        lines.append(
            f"| {r['target']} | {r.get('fuzz_seconds', 0):.0f} | {r['executions']:,} | {rate:,.0f} | "
            f"{r.get('seeds', 0)} | {r.get('corpus', 0)} | {len(r['crashes'])} | {r.get('rows_lost', 0)} |"
        )
    for r in results:
        if r["problem"]:
            lines += ["", f"**{r['target']}: {r['problem']}**", "```", r["log_tail"], "```"]
        for c in r["crashes"]:
            lines += ["", f"- {r['target']}: `{c['kind']}` at {c['where']} ({c['count']}x), input `{c['input']}`: "
                      f"{c['message'][:300]}"]  # fmt: skip
    out = args.out / "fuzz.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines[4:]))
    print(f"wrote {out}")


# ---------------------------------------------------------------- the worker


class Worker:
    """One target under libFuzzer: counts inputs, records distinct crashes, stops at its deadline."""

    def __init__(self, target: str, seconds: int, out: Path, stats: Path):
        self.target, self.seconds, self.stats_path = target, seconds, stats
        self.crash_dir = out / "fuzz-crashes"
        self.executions = self.rows_lost = 0
        self.crashes: dict[tuple, dict] = {}
        self.started = self.deadline = self.last_write = 0.0
        self.tmp = Path(tempfile.mkdtemp(prefix=f"assay-fuzz-{target}-work-"))
        self.corpus = self.tmp / "corpus"
        self.seeds = 0

    def run(self) -> int:
        import atheris

        warnings.simplefilter("ignore")
        logging.disable(logging.CRITICAL)
        with atheris.instrument_imports(include=["assay"]):
            import assay.data.clean
            import assay.data.read
            import assay.data.schema
            import assay.serve  # noqa: F401
        self.corpus.mkdir()
        seeds = reader_seeds() if self.target == "readers" else payload_seeds()
        for i, seed in enumerate(seeds):
            (self.corpus / f"seed-{i:03d}").write_bytes(seed)
        self.seeds = len(seeds)
        self.one = self._reader if self.target == "readers" else self._payload_client()
        self.started = time.time()
        self.deadline = time.monotonic() + self.seconds
        self._write_stats()
        argv = [sys.argv[0], str(self.corpus), f"-max_total_time={self.seconds + 30}", "-timeout=60"]
        argv += ["-rss_limit_mb=4096", f"-max_len={1 << 16}", f"-artifact_prefix={self.crash_dir}/{self.target}-"]
        argv += ["-print_final_stats=1"]
        atheris.Setup(argv, self._test_one)
        atheris.Fuzz()
        return 0

    def _test_one(self, data: bytes) -> None:
        if time.monotonic() > self.deadline:
            self._write_stats()
            self.client_exit()
            os._exit(0)  # libFuzzer offers no clean stop: the stats are written, leave now
        self.executions += 1
        try:
            self.one(data)
        except Exception as exc:  # noqa: BLE001 - what is not allowed is exactly what we are here to find
            self._crash(data, exc)
        if time.monotonic() - self.last_write > 1:
            self._write_stats()

    def client_exit(self) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            with contextlib.suppress(Exception):  # leaving anyway
                client.__exit__(None, None, None)

    # ---- readers

    def _reader(self, data: bytes) -> None:
        from assay.data.clean import clean_frame
        from assay.data.read import read_with_report
        from assay.data.schema import infer_schema
        from assay.errors import AssayError

        suffix = SUFFIXES[data[0] % len(SUFFIXES)] if data else ".csv"
        path, rejects = self.tmp / f"input{suffix}", self.tmp / "rejects.csv"
        path.write_bytes(data[1:])
        rejects.unlink(missing_ok=True)
        try:
            frame, report = read_with_report(path, rejects_path=rejects)
            schema = infer_schema(frame)
            clean_frame(frame, schema)
        except AssayError:
            return
        lost = abs(len(frame) - report.n_rows)
        if report.rejected and report.rejects_path:
            with open(report.rejects_path, newline="", encoding="utf-8") as fh:
                lost += abs(sum(1 for _ in csv.reader(fh)) - 1 - report.rejected)
        if lost:
            self.rows_lost += lost
            raise AssertionError(f"{lost} row(s) unaccounted for: frame {len(frame)}, report {report}")

    # ---- payloads

    def _payload_client(self):
        from fastapi.testclient import TestClient

        from assay import Predictor, datasets
        from assay.serve import create_app

        folder = self.tmp / "penguins"
        Predictor("species", trials=1, families=["lightgbm"], n_threads=1, verbose=False).fit(
            datasets.load("penguins")
        ).save(folder)
        self.client = TestClient(create_app(folder, name="penguins", auth=False), raise_server_exceptions=True)
        self.client.__enter__()

        def one(data: bytes) -> None:
            flags, body = (data[0], data[1:]) if data else (0, b"")
            params = {"strict": "true" if flags & 1 else "false", "explain": "true" if flags & 6 == 6 else "false"}
            response = self.client.post(
                "/v1/models/penguins/predict",
                content=body,
                params=params,
                headers={"Content-Type": "application/json"},
            )
            if response.status_code >= 500:
                raise RuntimeError(f"HTTP {response.status_code}: {response.text[:500]}")
            if response.status_code == 200:
                answer, sent = response.json(), json.loads(body)
                if len(answer["predictions"]) != len(sent["records"]) or answer["n_rows"] != len(sent["records"]):
                    self.rows_lost += abs(len(sent["records"]) - len(answer["predictions"]))
                    raise AssertionError(f"{len(sent['records'])} records, {len(answer['predictions'])} predictions")

        return one

    # ---- bookkeeping

    def _crash(self, data: bytes, exc: BaseException) -> None:
        frames = traceback.extract_tb(exc.__traceback__)
        ours = [f for f in frames if "/assay/" in f.filename] or frames
        where = f"{Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else "?"
        key = (type(exc).__name__, where)
        seen = self.crashes.get(key)
        if seen:
            seen["count"] += 1
            return
        digest = hashlib.sha1(data).hexdigest()[:12]
        stem = self.crash_dir / f"{self.target}-{type(exc).__name__}-{digest}"
        stem.with_suffix(".bin").write_bytes(data)
        stem.with_suffix(".txt").write_text("".join(traceback.format_exception(exc)))
        self.crashes[key] = {
            "kind": type(exc).__name__,
            "where": where,
            "message": str(exc).splitlines()[0][:500] if str(exc) else "",
            "count": 1,
            "input": str(_shown(stem.with_suffix(".bin"))),
        }
        self._write_stats()

    def _write_stats(self) -> None:
        self.last_write = time.monotonic()
        stats = {
            "fuzz_started": self.started,
            "fuzz_seconds": time.time() - self.started if self.started else 0,
            "executions": self.executions,
            "seeds": self.seeds,
            "corpus": sum(1 for _ in self.corpus.iterdir()) if self.corpus.exists() else 0,
            "rows_lost": self.rows_lost,
            "crashes": list(self.crashes.values()),
        }
        tmp = self.stats_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(stats))
        tmp.replace(self.stats_path)


def _shown(path: Path) -> Path:
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


# ---------------------------------------------------------------- seed corpora


def _penguins_head(rows: int = 25):
    import pandas as pd

    return pd.read_csv(ROOT / "assay" / "datasets" / "penguins.csv", nrows=rows)


def reader_seeds() -> list[bytes]:
    """Small real tables in every format and dress the reader knows, each behind its suffix byte."""
    frame = _penguins_head()
    text = frame.to_csv(index=False)
    out: list[tuple[str, bytes]] = [
        (".csv", text.encode()),
        (".tsv", frame.to_csv(index=False, sep="\t").encode()),
        (".csv", frame.to_csv(index=False, sep=";", decimal=",").encode()),
        (".txt", frame.to_csv(index=False, sep="|", quoting=csv.QUOTE_ALL).encode()),
        (".csv", ("# exported 2026-11-21\n# penguins\n" + text).encode()),
        (".csv", text.encode("utf-16")),
        (".csv", text.replace("Biscoe", "Bíscoe").encode("latin-1")),
        (".csv", b"\xef\xbb\xbf" + text.encode()),  # UTF-8 with a byte-order mark
        (".csv", (text + 'Adelie,Dream,1,2,3,4,5,6,7\nAdelie,"open quote,1\n').encode()),
        (".csv", b'id,amount,when\n1,"1,234",2024-01-02\n2,$5.00,03/04/2024\n3,12%,\n4, 7 ,?\n'),
        (".csv.gz", gzip.compress(text.encode())),
        (".csv.bz2", bz2.compress(text.encode())),
        (".csv.xz", lzma.compress(text.encode())),
        (".csv.zip", _zipped("penguins.csv", text.encode())),
        (".jsonl", frame.to_json(orient="records", lines=True).encode()),
        (".json", frame.to_json(orient="records").encode()),
    ]
    for suffix, writer in ((".parquet", "to_parquet"), (".feather", "to_feather"), (".xlsx", "to_excel")):
        buf = io.BytesIO()
        try:
            getattr(frame, writer)(buf, **({"index": False} if writer != "to_feather" else {}))
            out.append((suffix, buf.getvalue()))
        except (ImportError, ValueError):
            pass  # an optional writer not installed: fewer seeds, same fuzzing
    return [bytes([SUFFIXES.index(suffix)]) + content for suffix, content in out]


def _zipped(name: str, content: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(name, content)
    return buf.getvalue()


def payload_seeds() -> list[bytes]:
    """Requests a client might send: good rows, and rows with each kind of misfit."""
    frame = _penguins_head(6).drop(columns=["species"])
    rows = json.loads(frame.to_json(orient="records"))
    first = dict(rows[0])
    bodies = [
        {"records": rows[:1]},
        {"records": rows},
        {"records": [{**first, "bill_length_mm": "long"}]},
        {"records": [{**first, "island": 7}, {**first, "island": "Atlantis"}]},
        {"records": [{k: None for k in first}]},
        {"records": [{**first, "extra": 1}]},
        {"records": [{k: v for k, v in first.items() if k != "island"}]},
        {"records": [{**first, "body_mass_g": "1,234"}]},
        {"records": [{**first, "sex": {"nested": True}}]},
        {"records": []},
        {"records": {}},
        {"rows": rows[:1]},
    ]
    out = [bytes([flags]) + json.dumps(body).encode() for body in bodies for flags in (0, 1)]
    out += [
        b"\x00" + b'{"records": [{"bill_length_mm": 1e999}]}',
        b"\x00not json",
        b"\x07" + json.dumps(bodies[0]).encode(),
    ]
    return out


if __name__ == "__main__":
    sys.exit(main())
