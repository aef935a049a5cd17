"""Ingest speed and memory: assay's reader against plain ``pandas.read_csv`` on a generated messy CSV,
and the time that ``assay profile`` takes on the same file.

Why a script and not a test: the figures depend on the machine and its load, and are reported, not
asserted. The file is generated (1,000,000 rows x 30 columns by default): whole and real numbers,
numbers written as text ("1,234.50", "$5", "12.5%", "?", "n/a"), a column that turns dirty only far
past the first megabyte, categories, three date formats, free text (a few values span lines), missing
values, and a few ragged rows with too few or too many fields.

Each read runs in a fresh process, so that its peak RSS (VmHWM) belongs to that reader alone;
the readers alternate, and the best of the repetitions is reported, because a shared machine slows
whichever run it happens to collide with.

    .venv/bin/python bench/ingest.py                                    # 1,000,000 rows, 3 repetitions
    .venv/bin/python bench/ingest.py --rows 50000 --repeat 1 --out /tmp/ingest.md   # a smoke test
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
N_COLUMNS = 30
STAGES = ("seconds", "schema_seconds", "clean_seconds", "profile_seconds")  # of a profile run; "seconds" is the read
PANDAS_CALL = 'pandas.read_csv(path, on_bad_lines="skip")'  # the default raises on the rows with too many fields


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="assay's reader vs pandas.read_csv on a generated messy CSV.")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="reads per reader (the best is reported)")
    parser.add_argument("--profile-repeat", type=int, default=2, help="runs of the profile (the best is reported)")
    parser.add_argument("--ragged", type=int, default=20, help="rows with the wrong number of fields")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--target", default="flag", help="target column of the profile (associations)")
    parser.add_argument("--csv", type=Path, help="keep the generated file here, or reuse it if it exists")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "ingest.md")
    parser.add_argument("--worker", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# ---------------------------------------------------------------- the file


def generate(path: Path, n: int, seed: int, ragged: int) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)

    def holes(values, rate):
        values = np.asarray(values).astype(object)
        values[rng.random(n) < rate] = None
        return values

    def dirty(text, rate, spellings):
        text = np.asarray(text).astype(object)
        at = np.flatnonzero(rng.random(n) < rate)
        text[at] = rng.choice(np.array(spellings, dtype=object), len(at))
        return text

    cols: dict[str, np.ndarray] = {"id": np.arange(1, n + 1)}
    for i, high in enumerate((10, 100, 1000, 100_000, 10**9, 5)):
        cols[f"int_{i}"] = holes(rng.integers(0, high, n), 0.05) if i == 3 else rng.integers(0, high, n)
    for i in range(7):
        values = np.round(rng.normal(100 * i, 10 + i, n), 3)
        cols[f"num_{i}"] = holes(values, 0.03) if i % 2 else values
    amount = np.round(rng.lognormal(6, 1.5, n), 2)
    text = amount.astype(str).astype(object)
    at = np.flatnonzero(rng.random(n) < 0.02)
    text[at] = [f"{v:,.2f}" for v in amount[at]]  # "1,234.50", quoted in the file
    at = np.flatnonzero(rng.random(n) < 0.01)
    text[at] = [f"${v:.0f}" for v in amount[at]]
    cols["amount"] = dirty(text, 0.005, ["?"])
    cols["qty"] = dirty(rng.integers(0, 50, n).astype(str), 0.002, ["?", "n/a", "-", "unknown"])
    cols["pct"] = np.char.add(np.round(rng.uniform(0, 100, n), 1).astype(str), "%")
    cols["late_dirty"] = dirty(np.round(rng.uniform(0, 1, n), 4).astype(str), 2.5e-5, ["?", "#DIV/0!"])
    for i, k in enumerate((3, 12, 60, 2000)):
        levels = np.array([f"level_{j}" for j in range(k)], dtype=object)
        cols[f"cat_{i}"] = holes(levels[rng.zipf(1.5, n) % k], 0.02 * i)
    cols["flag"] = rng.random(n) < 0.3
    base, days = np.datetime64("2015-01-01"), rng.integers(0, 3650, n)
    cols["date_iso"] = holes((base + days).astype(str), 0.01)
    stamps = (base.astype("datetime64[s]") + rng.integers(0, 3650 * 86400, n)).astype(str)
    cols["stamp"] = np.char.replace(stamps, "T", " ")
    cols["date_us"] = np.array([f"{d.month:02d}/{d.day:02d}/{d.year}" for d in (base + days).astype(object)])
    words = np.array(["the", "of", "data", "model", "value", "quick", "brown", "fox", "jumps", "over", "lazy", "dog"])
    lengths = rng.integers(3, 13, n)
    sentences = np.split(words[rng.integers(0, len(words), lengths.sum())], np.cumsum(lengths)[:-1])
    comment = np.array([" ".join(s) for s in sentences], dtype=object)
    at = np.flatnonzero(rng.random(n) < 0.0005)
    comment[at] = [c.replace(" ", "\n", 1) for c in comment[at]]  # a value over two lines
    cols["comment"] = holes(comment, 0.1)
    cols["note"] = np.char.add(np.char.add("ok, item ", rng.integers(0, 10**6, n).astype(str)), ", checked")
    cols["code"] = np.char.add("AB-", rng.integers(10000, 99999, n).astype(str))
    cols["zip"] = np.char.zfill(rng.integers(0, 99999, n).astype(str), 5)
    assert len(cols) == N_COLUMNS
    clean = path.with_suffix(".tmp")
    pd.DataFrame(cols).to_csv(clean, index=False)
    _make_ragged(clean, path, n, ragged, rng)


def _make_ragged(src: Path, dst: Path, n: int, ragged: int, rng) -> None:
    """Cut the last two fields off some lines and add one to others. Only lines that hold a whole
    record (an even number of quotes) are touched, so no quoted value is cut open."""
    chosen = set(rng.choice(range(2, n), min(ragged, n - 2), replace=False).tolist()) if ragged else set()
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        for number, line in enumerate(fin, 1):
            if number in chosen and line.count(b'"') % 2 == 0:
                body = line.rstrip(b"\r\n")
                line = (body.rsplit(b",", 2)[0] if len(chosen) % 2 else body + b",extra") + b"\n"
                chosen.discard(number)
            fout.write(line)
    src.unlink()


# ---------------------------------------------------------------- one measured run, in its own process


def _peak_bytes() -> int:
    """The process's peak RSS. On Linux VmHWM, as ru_maxrss survives exec and so starts at the RSS of
    the parent that forked the worker."""
    try:
        with open("/proc/self/status") as fh:
            return next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def worker(kind: str, path: str, target: str) -> dict:
    warnings.simplefilter("ignore")  # pandas' DtypeWarning on the mixed column
    import pandas as pd

    if kind != "pandas":
        from assay.data.read import read_with_report
    before = _peak_bytes()
    start, cpu = time.perf_counter(), _cpu()
    if kind == "pandas":
        frame = pd.read_csv(path, on_bad_lines="skip")
    else:
        frame, report = read_with_report(path, rejects_path=Path(path).with_suffix(".rejects.csv"))
    record = {
        "kind": kind,
        "seconds": time.perf_counter() - start,
        "cpu_seconds": _cpu() - cpu,
        "peak_before_mb": before / 2**20,
        "peak_mb": _peak_bytes() / 2**20,
        "rows": len(frame),
        "columns": frame.shape[1],
        "text_columns": int(sum(not pd.api.types.is_numeric_dtype(t) for t in frame.dtypes)),
    }
    if kind == "assay":
        record["rejected"] = report.rejected
    if kind == "profile":
        record |= _profile(frame, report, target)
    record["frame_mb"] = float(frame.memory_usage(deep=True).sum()) / 2**20
    return record


def _profile(frame, report, target: str) -> dict:
    """The stages of ``assay profile`` after the read (without the HTML page), timed one by one."""
    from assay.data.clean import clean_frame
    from assay.data.profile import profile_table
    from assay.data.schema import infer_schema

    times = {}
    start = time.perf_counter()
    schema = infer_schema(frame, target=target)
    times["schema_seconds"] = time.perf_counter() - start
    start = time.perf_counter()
    frame, cleaning = clean_frame(frame, schema, target=target)
    times["clean_seconds"] = time.perf_counter() - start
    start = time.perf_counter()
    profile_table(frame, target=target, schema=schema, cleaning=cleaning, read_report=report)
    times["profile_seconds"] = time.perf_counter() - start
    return times | {"profile_peak_mb": _peak_bytes() / 2**20}


def run_worker(kind: str, path: Path, target: str) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", kind, str(path), "--target", target]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    if done.returncode != 0:
        raise RuntimeError(f"the {kind} run failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- the report


def _best(records: list[dict], kind: str) -> dict:
    runs = [r for r in records if r["kind"] == kind]
    return {
        "runs": len(runs),
        "seconds": min(r["seconds"] for r in runs),
        "median": statistics.median(r["seconds"] for r in runs),
        "cpu": min(r["cpu_seconds"] for r in runs),
        "peak": min(r["peak_mb"] for r in runs),
        "added": min(r["peak_mb"] - r["peak_before_mb"] for r in runs),
        "rows": runs[0]["rows"],
        "frame": runs[0]["frame_mb"],
        "rejected": runs[0].get("rejected"),
    }


def render(meta: dict, records: list[dict]) -> str:
    pandas, assay = _best(records, "pandas"), _best(records, "assay")
    lines = [
        "# Ingest: assay's reader vs pandas.read_csv",
        "",
        f"{meta['rows']:,} rows x {N_COLUMNS} columns, {meta['file_mb']:.0f} MB of CSV with {assay['rejected']} "
        f"ragged rows (set aside by assay); generated with seed {meta['seed']}. {meta['machine']}; "
        f"Python {meta['python']}, pandas {meta['pandas']}, pyarrow {meta['pyarrow']}; {meta['started']}. "
        f"Load average {meta['load_before']} before, {meta['load_after']} after.",
        "",
        "Each read ran in a fresh process, the readers alternating. The figures are the best of the "
        f"{meta['repeat']} runs (a shared machine slows whichever run it collides with; the median is beside it). "
        "Peak RSS is the process's high-water mark; 'added' subtracts the mark after the imports, as "
        "`import assay` loads more than `import pandas` does.",
        "",
        "| reader | rows/s | best s | median s | CPU s | peak RSS MB | added by the read MB | frame MB | rows |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, b in ((PANDAS_CALL, pandas), ("assay.data.read.read_with_report(path)", assay)):
        lines.append(
            f"| `{name}` | {b['rows'] / b['seconds']:,.0f} | {b['seconds']:.2f} | {b['median']:.2f} | {b['cpu']:.2f} | "
            f"{b['peak']:.0f} | {b['added']:.0f} | {b['frame']:.0f} | {b['rows']:,} |"
        )
    speed, median = pandas["seconds"] / assay["seconds"], pandas["median"] / assay["median"]
    added, peak = 1 - assay["added"] / pandas["added"], 1 - assay["peak"] / pandas["peak"]
    lines += [
        "",
        f"assay is **{speed:.2f}x** as fast as pandas (best against best; median {median:.2f}x), and the read adds "
        f"**{abs(added):.0%} {'less' if added >= 0 else 'more'} memory** ({abs(peak):.0%} "
        f"{'lower' if peak >= 0 else 'higher'} peak RSS in all). "
        "Target: at least 2x as fast, or as fast with clearly lower memory.",
    ]
    profile = [r for r in records if r["kind"] == "profile"]
    if profile:
        best = min(profile, key=lambda r: sum(r[k] for k in STAGES))
        total = sum(best[k] for k in STAGES)
        lines += [
            "",
            f"## Profile of the same file (target `{meta['target']}`), best of {len(profile)}",
            "",
            "The stages of `assay profile` without writing the HTML page.",
            "",
            "| read | schema | clean | profile_table | total | peak RSS MB |",
            "|---:|---:|---:|---:|---:|---:|",
            f"| {best['seconds']:.2f} s | {best['schema_seconds']:.2f} s | {best['clean_seconds']:.2f} s | "
            f"{best['profile_seconds']:.2f} s | {total:.2f} s | {best['profile_peak_mb']:.0f} |",
        ]
    lines += [
        "",
        "## Every run",
        "",
        "| # | reader | s | CPU s | peak RSS MB | added MB |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for i, r in enumerate(records, 1):
        lines.append(
            f"| {i} | {r['kind']} | {r['seconds']:.2f} | {r['cpu_seconds']:.2f} | {r['peak_mb']:.0f} | "
            f"{r['peak_mb'] - r['peak_before_mb']:.0f} |"
        )
    lines += ["", f"Command: `{meta['command']}`", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(worker(*args.worker, args.target)))
        return 0
    import pandas as pd
    import pyarrow as pa

    with tempfile.TemporaryDirectory(prefix="assay-ingest-") as tmp:
        path = args.csv or Path(tmp) / "messy.csv"
        if not path.exists():
            print(f"generating {args.rows:,} rows x {N_COLUMNS} columns in {path} ...", flush=True)
            start = time.perf_counter()
            generate(path, args.rows, args.seed, args.ragged)
            print(f"  {path.stat().st_size / 2**20:.0f} MB in {time.perf_counter() - start:.0f} s", flush=True)
        meta = {
            "rows": args.rows, "seed": args.seed, "repeat": args.repeat, "target": args.target,
            "file_mb": path.stat().st_size / 2**20, "machine": f"{platform.machine()}, {os.cpu_count()} cores",
            "python": platform.python_version(), "pandas": pd.__version__, "pyarrow": pa.__version__,
            "started": dt.datetime.now().isoformat(timespec="seconds"),
            "load_before": " ".join(f"{x:.1f}" for x in os.getloadavg()),
            "command": " ".join([".venv/bin/python", "bench/ingest.py", *(argv if argv is not None else sys.argv[1:])]),
        }  # fmt: skip
        records = []
        for i in range(args.repeat):
            for kind in ("pandas", "assay") if i % 2 == 0 else ("assay", "pandas"):
                record = run_worker(kind, path, args.target)
                records.append(record)
                print(
                    f"  {kind:7s} {record['seconds']:6.2f} s  cpu {record['cpu_seconds']:5.2f} s  "
                    f"peak {record['peak_mb']:5.0f} MB (+{record['peak_mb'] - record['peak_before_mb']:.0f})",
                    flush=True,
                )
        for _ in range(args.profile_repeat):
            record = run_worker("profile", path, args.target)
            records.append(record)
            stages = ", ".join(f"{k.split('_')[0] if '_' in k else 'read'} {record[k]:.2f} s" for k in STAGES)
            print(f"  profile: {stages}", flush=True)
        meta["load_after"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
    report = render(meta, records)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report)
    print(report)
    print(f"report: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
