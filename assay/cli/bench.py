"""`assay bench`: many systems and assay's components on many datasets, side by side, resumable.

assay bench --suite SUITE.yaml --systems assay,flaml,autogluon-best,lightgbm-default --budget 60
assay bench --suite pmlb/ --systems assay --matrix "search=portfolio,tpe,random; ensemble=on,off"
assay bench setup-peers                    # FLAML and AutoGluon in venvs of their own
assay bench peers                          # what is installed where
assay bench report --out DIR               # rebuild summary.md and report.html from the store
"""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path

import typer
from rich.markup import escape

from assay.cli.app import app, err_console
from assay.cli.render import console
from assay.errors import ConfigError

bench_app = typer.Typer(
    invoke_without_command=True,
    no_args_is_help=False,
    help="Benchmark systems and assay's components on a suite, under the shared protocol (resumable).",
)
app.add_typer(bench_app, name="bench")

DEFAULT_SYSTEMS = "assay,lightgbm-default"


def _default_suite() -> Path | None:
    """The public suite when assay runs from its repository beside shared/ (as in development)."""
    here = Path(__file__).resolve().parents[2]
    candidate = here.parent / "shared" / "datasets" / "suites" / "public.yaml"
    return candidate if candidate.is_file() else None


def _user_errors(fn):
    """A bad suite, system or matrix is the user's to fix: one red line and exit code 2, as elsewhere."""
    from assay.bench.suite import BenchError
    from assay.errors import AssayError

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (BenchError, AssayError) as exc:
            err_console.print(f"[bold red]error[/]: {escape(str(exc))}", highlight=False)
            raise typer.Exit(2) from None

    return wrapper


@bench_app.callback()
@_user_errors
def bench(
    ctx: typer.Context,
    suite: Path = typer.Option(None, "--suite", "-s", help="suite YAML, or a folder of PMLB-style datasets"),
    systems: str = typer.Option(
        DEFAULT_SYSTEMS,
        "--systems",
        help="comma-separated: assay, lightgbm-default, flaml, autogluon-best, autogluon-medium",
    ),  # fmt: skip
    budget: str = typer.Option("60", "--budget", "-b", help="seconds per fit; several for anytime curves: 10,30,60"),
    repeats: int = typer.Option(1, "--repeats", "-r", min=1, help="seeds per cell (seed, seed+1, ...)"),
    seed: int = typer.Option(0, "--seed", min=0, help="first seed"),
    out: Path = typer.Option(
        Path("assay-bench"), "--out", "-o", help="folder: results.sqlite, summary.md, report.html"
    ),
    matrix: str = typer.Option(
        None,
        "--matrix",
        "-m",
        help="assay components, one swapped at a time: "
        '"search=portfolio,tpe,random; ensemble=on,off; models=all,gbdt-only"',
    ),  # fmt: skip
    reference: str = typer.Option(None, "--reference", help="system the ratios are against (default lightgbm-default)"),
    only: str = typer.Option(None, "--only", help="comma-separated dataset names of the suite to run"),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="run failed cells again (finished ones are kept)"),
    peers_dir: Path = typer.Option(None, "--peers-dir", help="where peer venvs live (default ~/.assay/peers)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="list the cells to run and stop"),
    executor: str = typer.Option(None, "--executor", help="ray: run cells as Ray tasks over a cluster"),
    cluster: str = typer.Option(None, "--cluster", help="Ray cluster address (RAY_ADDRESS is honoured too)"),
):
    """Run every system on every dataset of SUITE, each fit in its own process, then write the report."""
    if ctx.invoked_subcommand is not None:
        return
    from assay.bench import harness
    from assay.bench.runner import hard_timeout
    from assay.bench.store import ResultStore
    from assay.bench.suite import load_suite, suite_name
    from assay.search.executors import resolve_executor

    use_executor = resolve_executor(executor, cluster)
    if use_executor == "local":
        raise ConfigError("--executor local does not apply to bench cells. Fix: leave it out, or use --executor ray")
    suite = suite or _default_suite()
    if suite is None:
        raise ConfigError("no suite given (--suite). Fix: pass a suite YAML or a folder of PMLB-style datasets")
    suite = suite.resolve()
    specs = load_suite(suite)
    if only:
        wanted = [n.strip() for n in only.split(",") if n.strip()]
        unknown = sorted(set(wanted) - {s.name for s in specs})
        if unknown:
            raise harness.BenchError(f"unknown dataset(s) {', '.join(unknown)} in {suite}")
        specs = [s for s in specs if s.name in wanted]
    entries = harness.parse_systems(systems)
    factors = harness.parse_matrix(matrix)
    entries = list(dict.fromkeys(entries + harness.matrix_entries(factors)))
    plan = harness.BenchPlan(
        suite=suite_name(suite),
        suite_path=suite,
        specs=specs,
        entries=entries,
        budgets=harness.parse_budgets(budget),
        seeds=list(range(seed, seed + repeats)),
        reference=harness.choose_reference(entries, reference),
        matrix=factors,
        peers_dir=peers_dir.resolve() if peers_dir else None,
    )
    store = ResultStore(out / "results.sqlite")
    todo, done = harness.pending(plan, store, retry_failed)
    console.print(
        f"[bold]{len(specs)} dataset(s)[/] of {escape(plan.suite)} · {len(entries)} system(s): "
        f"{escape(', '.join(e.label for e in entries))} · budget(s) {', '.join(f'{b:g}' for b in plan.budgets)} s · "
        f"seed(s) {', '.join(map(str, plan.seeds))}: {len(todo)} run(s) to do, {done} already in {store.path}",
        highlight=False,
    )
    if dry_run:
        for cell in todo:
            b = "-" if cell.budget is None else f"{cell.budget:g}"
            console.print(
                escape(f"  {cell.spec.name} · {cell.entry.label} · budget {b} · seed {cell.seed}"), highlight=False
            )
        return
    session, started = harness.new_session()
    store.add_session(session, started, {**harness.session_meta(plan), "started": started})
    n = len(todo)

    def on_start(i, cell):
        b = max(plan.budgets) if cell.budget is None else cell.budget
        console.print(
            escape(f"[{i}/{n}] {cell.spec.name} ({cell.spec.task}) · {cell.entry.label} · ")
            + f"{'no budget' if cell.budget is None else f'{cell.budget:g} s'} · seed {cell.seed} "
            f"(hard limit {hard_timeout(b):.0f} s) …",
            highlight=False,
            end=" ",
        )

    def on_record(i, cell, record):
        console.print(describe(record), highlight=False)

    try:
        harness.run_cells(plan, store, todo, session, on_start, on_record, use_executor, cluster)
    except KeyboardInterrupt:
        console.print("\n[yellow]interrupted[/]: finished runs are in the store; the same command resumes")
        raise typer.Exit(130) from None
    _write_report(store, out, plan.reference, plan.suite, [e.label for e in entries], factors)


def describe(record: dict) -> str:
    status = record.get("status")
    if status != "ok":
        colour = "yellow" if status == "unavailable" else "red"
        return f"[{colour}]{status}[/]: {escape(str(record.get('message', ''))[:160])}"
    fit = f"fit {record['fit_s']:.1f} s"
    if record.get("within_budget") is False:
        fit = f"[yellow]{fit} (over budget)[/]"
    keys = ("system_peak_mb",) if record.get("system_peak_mb") else ("rss_self_mb", "rss_children_mb", "peak_tree_mb")
    peaks = [record.get(k) for k in keys if record.get(k)]
    peak = f", peak {max(peaks):,.0f} MB" if peaks else ""
    return f"[green]ok[/] {record['metric']} {record['value']:.4g}, {fit}{peak}"


def _write_report(store, out: Path, reference: str, suite: str | None, systems: list[str] | None, matrix) -> None:
    from assay.bench.report import build_report, render_markdown, write_outputs

    records = store.latest(suite)
    if not records:
        console.print(f"no records in {store.path}")
        return
    sessions = [s for s in store.sessions() if suite is None or s.get("suite") == suite]
    if not matrix:  # the latest session that ran an ablation says which one
        matrix = next((s["matrix"] for s in reversed(sessions) if s.get("matrix")), {})
    report = build_report(
        records, reference, systems=systems, matrix=matrix, sessions=sessions, title=f"assay bench: {suite or 'all'}"
    )
    md, page = write_outputs(report, out)
    _export_parquet(records, out / "records.parquet")
    section = render_markdown(report).split("### Per dataset")[0]
    console.print(escape(section.replace("**", "")), highlight=False)
    console.print(f"summary: {md}\nreport:  {page}\nstore:   {store.path}", highlight=False)


def _export_parquet(records: list[dict], path: Path) -> None:
    """A flat copy of the latest records for analysis elsewhere; the store stays the source of truth."""
    import json

    import pandas as pd

    flat = [
        {k: (json.dumps(v, default=str) if isinstance(v, (dict, list)) else v) for k, v in r.items()} for r in records
    ]
    frame = pd.DataFrame(flat)
    for col in frame.columns:
        if frame[col].dtype == object:
            frame[col] = frame[col].map(lambda v: v if v is None or isinstance(v, str) else str(v))
    frame.to_parquet(path, index=False)


@bench_app.command("report")
@_user_errors
def report(
    out: Path = typer.Option(Path("assay-bench"), "--out", "-o", help="the folder a bench run wrote"),
    reference: str = typer.Option(None, "--reference", help="system the ratios are against"),
    suite: str = typer.Option(None, "--suite-name", help="only this suite's records (default: the latest session's)"),
    matrix: str = typer.Option(None, "--matrix", "-m", help="the ablation to tabulate (default: the latest one run)"),
):
    """Rebuild summary.md, report.html and records.parquet from the results store."""
    from assay.bench import harness
    from assay.bench.store import ResultStore
    from assay.bench.systems import REFERENCE, canonical

    path = out / "results.sqlite"
    if not path.is_file():
        raise harness.BenchError(f"no results store at {path}: run `assay bench --out {out}` first")
    store = ResultStore(path)
    sessions = store.sessions()
    suite = suite or (sessions[-1]["suite"] if sessions else None)
    systems = list(dict.fromkeys(label for s in sessions if s.get("suite") == suite for label in s.get("systems", [])))
    if reference:
        with contextlib.suppress(KeyError):  # a variant's label is not a registry name: keep it as given
            reference = canonical(reference)
    else:
        last = next((s for s in reversed(sessions) if s.get("suite") == suite), {})
        reference = last.get("reference") or REFERENCE
    _write_report(store, out, reference, suite, systems, harness.parse_matrix(matrix))


@bench_app.command("setup-peers")
@_user_errors
def setup_peers(
    peer: list[str] = typer.Option(None, "--peer", "-p", help="flaml or autogluon (repeatable; default: both)"),
    peers_dir: Path = typer.Option(None, "--peers-dir", help="where peer venvs live (default ~/.assay/peers)"),
    python: str = typer.Option(None, "--python", help="interpreter for the venvs (default: the one under assay's)"),
    fresh: bool = typer.Option(False, "--fresh", help="delete and recreate the venvs"),
):
    """Create FLAML's and AutoGluon's virtual environments (minutes; needs the package index)."""
    from assay.bench.peers import PEERS, setup_peer
    from assay.bench.peers import peers_dir as resolve_dir

    names = peer or list(PEERS)
    unknown = [n for n in names if n not in PEERS]
    if unknown:
        raise ConfigError(f"unknown peer(s) {', '.join(unknown)}. Fix: use {', '.join(PEERS)}")
    console.print(f"peers folder: {resolve_dir(peers_dir)}", highlight=False)
    failed = []
    for name in names:
        manifest = setup_peer(name, peers_dir, python, fresh, log=lambda line: console.print(escape(line)))
        if manifest["ok"]:
            versions = ", ".join(f"{k} {v}" for k, v in manifest["versions"].items())
            console.print(f"[green]{name} ready[/] in {manifest['setup_s']:.0f} s: {escape(versions)}", highlight=False)
        else:
            failed.append(name)
            console.print(f"[red]{name} failed[/]: {escape(manifest.get('message', ''))}", highlight=False)
    if failed:
        raise typer.Exit(1)


@bench_app.command("peers")
def peers(peers_dir: Path = typer.Option(None, "--peers-dir", help="where peer venvs live")):
    """Which peers are installed, where, with which versions."""
    from assay.bench.peers import PEERS, peer_python, peer_status

    for name in PEERS:
        status = peer_status(name, peers_dir)
        if status["ok"]:
            versions = ", ".join(f"{k} {v}" for k, v in status["versions"].items())
            console.print(f"[green]{name}[/]: {peer_python(name, peers_dir)} ({escape(versions)})", highlight=False)
        else:
            console.print(f"[yellow]{name}[/]: {escape(status['message'])}", highlight=False)
