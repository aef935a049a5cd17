"""`assay bench`: systems x component variants x datasets x budgets x seeds, one isolated run per cell.

The plan is a list of cells; the store says which are finished, so the same command resumes an
interrupted run and a longer budget or another system only adds cells. Cells run one at a time
(the protocol's machine has 2 cores; parallel fits would steal each other's time), or with
`--executor ray` as Ray tasks spread over a cluster's nodes. A peer whose
environment is missing is recorded as unavailable without starting a process, and is tried again
once `assay bench setup-peers` has made it.

The component matrix swaps one component at a time and keeps the rest: with
`search=portfolio,tpe,random; ensemble=on,off` the first level of each factor is the baseline,
and each other level is one variant, so k factors with n_i levels cost 1 + sum(n_i - 1) systems,
not their product.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import platform
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from assay import __version__
from assay.bench.peers import peer_status, peers_dir
from assay.bench.runner import base_record, run_isolated
from assay.bench.store import FINISHED, ResultStore, cell_key
from assay.bench.suite import BenchError, DatasetSpec
from assay.bench.systems import REFERENCE, SYSTEMS, canonical

# What assay does when a factor is not named: the levels that make a variant plain "assay".
ASSAY_DEFAULTS = {
    "search": "portfolio",
    "ensemble": "on",
    "models": "all",
    "portfolio": "default",
    "warm_start": "off",
    "screen": "off",
}
LIBRARIES = ("lightgbm", "xgboost", "catboost", "scikit-learn", "numpy", "pandas", "optuna", "scipy", "pyarrow")
LIBRARIES += ("torch", "plotly")


@dataclass(frozen=True)
class Entry:
    """One column of the results: a system, possibly with assay components swapped."""

    label: str
    system: str  # canonical registry name
    config: tuple[tuple[str, str], ...] = ()  # non-default component levels, sorted

    @property
    def options(self) -> dict:
        return dict(self.config)


@dataclass(frozen=True)
class Cell:
    entry: Entry
    spec: DatasetSpec
    budget: float | None  # None: a system without a budget; one run serves every budget
    seed: int

    def key(self, suite: str) -> str:
        return cell_key(suite, self.spec.name, self.entry.label, self.budget, self.seed)


@dataclass
class BenchPlan:
    suite: str  # the suite's name: part of every cell's key
    suite_path: Path
    specs: list[DatasetSpec]
    entries: list[Entry]
    budgets: list[float]
    seeds: list[int]
    reference: str
    matrix: dict[str, list[str]] = field(default_factory=dict)
    peers_dir: Path | None = None

    def cells(self) -> list[Cell]:
        """Seeds, then budgets from the smallest (early anytime points come first), then datasets."""
        out, seen = [], set()
        for seed in self.seeds:
            for budget in sorted(self.budgets):
                for spec in self.specs:
                    for entry in self.entries:
                        b = budget if SYSTEMS[entry.system].takes_budget else None
                        cell = Cell(entry, spec, b, seed)
                        if (entry.label, spec.name, b, seed) not in seen:
                            seen.add((entry.label, spec.name, b, seed))
                            out.append(cell)
        return out


# --- parsing the command line's lists ------------------------------------------------------------
def parse_systems(text: str) -> list[Entry]:
    entries = []
    for name in [n.strip() for n in text.split(",") if n.strip()]:
        try:
            key = canonical(name)
        except KeyError as exc:
            raise BenchError(str(exc.args[0])) from None
        entries.append(Entry(key, key))
    if not entries:
        raise BenchError("no systems given: pass e.g. --systems assay,lightgbm-default")
    return list(dict.fromkeys(entries))


def parse_budgets(text: str) -> list[float]:
    try:
        budgets = [float(b) for b in str(text).split(",") if b.strip()]
    except ValueError:
        raise BenchError(f"budget {text!r}: give seconds, or several joined by commas (10,30,60,300)") from None
    if not budgets or any(b <= 0 for b in budgets):
        raise BenchError(f"budget {text!r}: every budget must be a positive number of seconds")
    return sorted(set(budgets))


def parse_matrix(text: str | None) -> dict[str, list[str]]:
    """'search=portfolio,tpe,random; ensemble=on,off' -> {"search": [...], "ensemble": [...]}, checked."""
    from assay.bench.systems.assay_system import predictor_options

    matrix: dict[str, list[str]] = {}
    for part in [p.strip() for p in (text or "").split(";") if p.strip()]:
        factor, sep, levels = part.partition("=")
        factor = factor.strip()
        values = [v.strip() for v in levels.split(",") if v.strip()]
        if not sep or not factor or not values:
            raise BenchError(f"matrix part {part!r}: write factor=level1,level2 (factors separated by ;)")
        if factor in matrix:
            raise BenchError(f"matrix factor {factor!r} appears twice")
        for value in values:
            predictor_options({factor: value})  # BenchError names an unknown factor or level
        matrix[factor] = list(dict.fromkeys(values))
    return matrix


def matrix_entries(matrix: dict[str, list[str]]) -> list[Entry]:
    """The baseline (first level of every factor), then one variant per other level."""
    if not matrix:
        return []
    baseline = {f: levels[0] for f, levels in matrix.items()}
    configs = [baseline] + [{**baseline, f: level} for f, levels in matrix.items() for level in levels[1:]]
    return list(dict.fromkeys(assay_entry(c) for c in configs))


def assay_entry(levels: dict[str, str]) -> Entry:
    """Named by what differs from assay as shipped, so the baseline and plain "assay" share runs."""
    changed = tuple(sorted((f, str(v)) for f, v in levels.items() if not _is_default(f, str(v))))
    label = "assay" if not changed else "assay[" + ",".join(f"{f}={v}" for f, v in changed) + "]"
    return Entry(label, "assay", changed)


def _is_default(factor: str, level: str) -> bool:
    if factor == "search":
        from assay.search.strategies import parse_search

        return parse_search(level) == parse_search(ASSAY_DEFAULTS["search"])
    if factor == "ensemble":
        return level.lower() in ("on", "true")
    return level == ASSAY_DEFAULTS.get(factor)


def choose_reference(entries: list[Entry], wanted: str | None) -> str:
    labels = [e.label for e in entries]
    if wanted:
        try:
            name = canonical(wanted)
        except KeyError:
            name = wanted
        if name not in labels:
            raise BenchError(f"reference {wanted!r} is not among the systems run ({', '.join(labels)})")
        return name
    return REFERENCE if REFERENCE in labels else labels[0]


# --- running -------------------------------------------------------------------------------------
def pending(plan: BenchPlan, store: ResultStore, retry_failed: bool = False) -> tuple[list[Cell], int]:
    """(cells still to run, cells already finished): finished means a record that is not
    'unavailable' (and, with retry_failed, one that succeeded)."""
    statuses = store.statuses()
    done_statuses = ("ok",) if retry_failed else FINISHED
    todo, done = [], 0
    for cell in plan.cells():
        if statuses.get(cell.key(plan.suite)) in done_statuses:
            done += 1
        else:
            todo.append(cell)
    return todo, done


def run_cells(
    plan: BenchPlan,
    store: ResultStore,
    cells: list[Cell],
    session: str,
    on_start: Callable[[int, Cell], None] = lambda i, c: None,
    on_record: Callable[[int, Cell, dict], None] = lambda i, c, r: None,
    executor: str | None = None,
    cluster: str | None = None,
) -> list[dict]:
    """Run `cells`, appending each record to the store as soon as it exists: one after another,
    or with executor="ray" as Ray tasks over a cluster (one CPU each; each cell still runs in its
    own subprocess on whichever node takes it, with the same time-out and memory accounting)."""
    env = {"ASSAY_PEERS_DIR": str(plan.peers_dir)} if plan.peers_dir else {}
    hashes: dict[str, str] = {}
    records = []

    def keep(i: int, cell: Cell, record: dict) -> None:
        if cell.spec.name not in hashes:
            hashes[cell.spec.name] = file_digest(cell.spec.path)
        record["data_sha256"] = hashes[cell.spec.name]
        store.add(session, plan.suite, record, now())
        records.append(record)
        on_record(i, cell, record)

    if executor == "ray":
        from assay.search.executors.ray import map_tasks

        for i, cell in enumerate(cells, 1):
            on_start(i, cell)
        jobs = [(plan, cell, env) for cell in cells]
        for index, record in map_tasks(_cell_job, jobs, address=cluster):
            cell = cells[index]
            if isinstance(record, BaseException):  # the node running it died, twice
                lost = record
                record = base_record(cell.entry.system, cell.spec, cell.spec.name, _size(plan, cell), cell.seed)
                record.update(status="failed", message=f"lost on the cluster: {lost}", system=cell.entry.label)
                record["budget"] = cell.budget
            keep(index + 1, cell, record)
        return records
    for i, cell in enumerate(cells, 1):
        on_start(i, cell)
        keep(i, cell, run_cell(plan, cell, env))
    return records


def _size(plan: BenchPlan, cell: Cell) -> float:
    return cell.budget if cell.budget is not None else max(plan.budgets)  # only sizes the time-out


def _cell_job(job: tuple) -> dict:
    return run_cell(*job)


def run_cell(plan: BenchPlan, cell: Cell, env: dict) -> dict:
    """One cell's record: the system run in an isolated child process, or 'unavailable'."""
    system = SYSTEMS[cell.entry.system]
    budget = _size(plan, cell)
    status = peer_status(system.peer, plan.peers_dir) if system.peer else {"ok": True}
    if not status["ok"]:
        record = base_record(cell.entry.system, cell.spec, cell.spec.name, budget, cell.seed)
        record.update(status="unavailable", message=status["message"], system=cell.entry.label)
    else:
        record = run_isolated(
            cell.entry.system,
            cell.spec,
            plan.suite_path,
            budget,
            cell.seed,
            config=cell.entry.options or None,
            label=cell.entry.label if cell.entry.label != cell.entry.system else None,
            env=env,
        )
    record["budget"] = cell.budget
    return record


# --- versions of everything ----------------------------------------------------------------------
def session_meta(plan: BenchPlan) -> dict:
    peers = sorted({SYSTEMS[e.system].peer for e in plan.entries if SYSTEMS[e.system].peer})
    return {
        "suite": plan.suite,
        "suite_path": str(plan.suite_path),
        "suite_sha256": file_digest(plan.suite_path) if plan.suite_path.is_file() else None,
        "datasets": [s.name for s in plan.specs],
        "systems": [e.label for e in plan.entries],
        "budgets": plan.budgets,
        "seeds": plan.seeds,
        "matrix": plan.matrix,
        "reference": plan.reference,
        "assay_version": __version__,
        "git": git_state(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "libraries": library_versions(),
        "peers": {p: peer_status(p, plan.peers_dir).get("versions") or "unavailable" for p in peers},
        "peers_dir": str(peers_dir(plan.peers_dir)),
        # OpenMP's spin-waiting makes LightGBM far slower when other work shares the cores: say how it was set
        "openmp_env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY") if k in os.environ} or "unset",
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


def library_versions() -> dict[str, str]:
    out = {}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def commit_label() -> str:
    """The commit as benchmark pages print it: short hash, and a mark when the tree had edits."""
    state = git_state()
    return "unknown" if state is None else state["commit"][:7] + ("+uncommitted changes" if state["dirty"] else "")


def git_state() -> dict | None:
    """The commit of the code under measurement, and whether the tree had edits (read-only git)."""
    root = Path(__file__).resolve().parents[2]
    try:
        git = ["git", "-C", str(root)]
        commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        return {"commit": commit.stdout.strip(), "dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return None


def file_digest(path: Path) -> str | None:
    try:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        return h.hexdigest()[:16]
    except OSError:
        return None


def new_session() -> tuple[str, str]:
    started = now()
    return f"{started.replace(':', '').replace('-', '')}-{uuid.uuid4().hex[:6]}", started


def now() -> str:
    return dt.datetime.now().isoformat(timespec="seconds")
