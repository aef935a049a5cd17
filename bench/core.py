"""The core benchmark: assay against default LightGBM on the public suite, under the shared protocol.

Why a script and not a test: a full run takes about 40 minutes (23 datasets x (60 s + LightGBM)),
and its output is a report to read, not a pass/fail. Each (system, dataset) runs in its own process,
one at a time (the machine has 2 cores, and parallel runs would steal each other's time). Records
are saved after every run and skipped when already present, so an interrupted run resumes with the
same command.

    .venv/bin/python bench/core.py                                   # the whole suite, 60 s budget
    .venv/bin/python bench/core.py --budget 5 --only penguins,mpg    # a smoke test
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from assay import __version__
from assay.bench.aggregate import render_markdown, summarize, summary_lines
from assay.bench.runner import hard_timeout, run_isolated
from assay.bench.suite import BenchError, load_suite
from assay.bench.systems import REFERENCE

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SUITE = (REPO / ".." / "shared" / "datasets" / "suites" / "public.yaml").resolve()
SYSTEM_ORDER = ("assay", REFERENCE)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    today = dt.date.today().isoformat()
    parser = argparse.ArgumentParser(description="assay vs default LightGBM on a benchmark suite (shared protocol).")
    parser.add_argument("--suite", type=Path, default=DEFAULT_SUITE, help="suite YAML (default: %(default)s)")
    parser.add_argument("--budget", type=float, default=60.0, help="assay's wall-clock budget per dataset, seconds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", default="", help="comma-separated dataset names to run (default: all)")
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO / "bench" / "results" / f"core-{today}.json",
        help="JSON records; the markdown report goes beside it (.md)",
    )
    return parser.parse_args(argv)


def load_existing(path: Path, budget: float, seed: int, suite: Path) -> list[dict]:
    """Records of an earlier, interrupted run with the same settings; refuses to mix settings."""
    if not path.is_file():
        return []
    doc = json.loads(path.read_text())
    meta = doc.get("meta", {})
    if (meta.get("budget"), meta.get("seed")) != (budget, seed):
        raise BenchError(
            f"{path} holds a run with budget {meta.get('budget')} and seed {meta.get('seed')}, "
            f"not {budget} and {seed}: pass another --out"
        )
    if meta.get("suite") not in (None, str(suite)):
        raise BenchError(f"{path} holds a run of suite {meta.get('suite')}: pass another --out")
    return list(doc.get("records", []))


def run_meta(args: argparse.Namespace) -> dict:
    import lightgbm

    return {
        "suite": str(args.suite),
        "budget": args.budget,
        "seed": args.seed,
        "assay_version": __version__,
        "lightgbm_version": lightgbm.__version__,
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "started": dt.datetime.now().isoformat(timespec="seconds"),
        # OpenMP's spin-waiting makes LightGBM 100x slower when other work shares the 2 cores: say how it was set
        "openmp_env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY") if k in os.environ} or "unset",
    }


def save(out: Path, meta: dict, records: list[dict]) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"meta": meta, "records": records}, indent=2))
    tmp.replace(out)
    md = out.with_suffix(".md")
    md.write_text(render_markdown(records, title=f"Core benchmark: assay vs default LightGBM ({out.stem})", meta=meta))
    return md


def describe(record: dict) -> str:
    if record["status"] != "ok":
        return f"[red]{record['status']}[/red]: {escape(str(record.get('message', ''))[:160])}"
    fit = f"fit {record['fit_s']:.1f} s"
    if record.get("within_budget") is False:
        fit = f"[yellow]{fit} (over budget)[/yellow]"
    return (
        f"[green]ok[/green] {record['metric']} {record['value']:.4g}, {fit}, "
        f"predict {record['predict_s']:.2f} s, peak {record['peak_rss_mb']:.0f} MB"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(soft_wrap=True)
    args.suite = args.suite.resolve()
    try:
        specs = load_suite(args.suite)
        wanted = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = sorted(set(wanted) - {s.name for s in specs})
        if unknown:
            raise BenchError(
                f"unknown dataset(s) {', '.join(unknown)}; the suite has {', '.join(s.name for s in specs)}"
            )
        if wanted:
            specs = [s for s in specs if s.name in wanted]
        records = load_existing(args.out, args.budget, args.seed, args.suite)
    except (BenchError, json.JSONDecodeError) as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        return 2

    meta = run_meta(args)
    done = {(r["dataset"], r["system"]) for r in records}
    todo = [(s, system) for s in specs for system in SYSTEM_ORDER if (s.name, system) not in done]
    console.print(
        f"[bold]{len(specs)} dataset(s)[/bold] from {args.suite.name}, budget {args.budget:g} s, "
        f"seed {args.seed}: {len(todo)} run(s) to do, {len(done)} already in {args.out}"
    )
    try:
        for i, (spec, system) in enumerate(todo, 1):
            label = f"[{i}/{len(todo)}] {spec.name} ({spec.task}) · {system}"
            limit = hard_timeout(args.budget)
            with console.status(f"{label} … (hard limit {limit:.0f} s)"):
                record = run_isolated(system, spec, args.suite, args.budget, args.seed)
            console.print(f"{label}: {describe(record)}")
            records.append(record)
            save(args.out, meta, records)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/yellow]: finished runs are saved; run the same command to resume")
        return 130

    md = save(args.out, meta, records)
    console.print()
    for line in summary_lines(summarize(records)):
        console.print(escape(line.replace("**", "")))
    console.print(f"records: {args.out}\nreport:  {md}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
