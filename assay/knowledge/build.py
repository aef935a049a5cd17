"""Build a zero-shot portfolio from a corpus of past tasks (auto-sklearn 2.0, TabRepo).

1. The corpus: every dataset of a folder minus those of the evaluation suite and their copies
   (assay.knowledge.corpus says how copies are found).
2. Candidates, per task kind: each family's search-space defaults plus N seeded random draws.
3. Every candidate on every corpus dataset under one cheap fixed protocol (at most MAX_ROWS
   rows, 3-fold CV, a time cap per trial, one thread), each result stored in the knowledge base
   as it comes, so a run stopped by its time limit resumes, and a later run with more datasets
   or candidates only measures what is new.
4. Errors normalised per dataset, (error - best) / (median - best) clipped to [0, 1], so that
   datasets of every scale count alike; then the greedy choice: the candidate that most lowers
   the average over datasets of the best-so-far normalised error, again and again. The order is
   what a fit tries first, so whatever the budget cuts off is the least valuable tail.

Each entry keeps its median measured cost, so the scheduler can skip what cannot fit.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from assay.knowledge.corpus import CorpusDataset, list_corpus, read_corpus_table, split_corpus, suite_fingerprints
from assay.knowledge.store import KnowledgeStore, TrialRecord, params_key

KINDS = ("binary", "multiclass", "regression")
PORTFOLIO_FORMAT = 2
# What a trial costs a fit beyond the model's own fit and predict (fold bookkeeping, scoring),
# so that a very cheap configuration's gain per second is not inflated without bound.
TRIAL_OVERHEAD_SECONDS = 0.05
MIN_SECONDS = 0.01
ANYTIME_BUDGETS = (1.0, 2.0, 5.0, 10.0, 30.0)  # seconds of the build protocol, for the held-out curves


@dataclass
class Protocol:
    max_rows: int = 1_000
    folds: int = 3
    trial_seconds: float = 10.0
    seed: int = 0

    @property
    def tag(self) -> str:
        return f"portfolio-build/v1 rows<={self.max_rows} folds={self.folds} cap={self.trial_seconds:g}s"


@dataclass
class Candidate:
    kind: str
    family: str
    params: dict

    @property
    def key(self) -> str:
        return params_key(self.family, self.params)


# --- the pure parts --------------------------------------------------------------------------------
def normalise(errors: np.ndarray) -> np.ndarray:
    """(configs x datasets) errors -> the same shape in [0, 1], 0 = best on that dataset, 1 = median or
    worse; a failed or missing measurement (NaN) counts as 1."""
    errors = np.asarray(errors, dtype=float)
    out = np.ones_like(errors)
    for j in range(errors.shape[1]):
        col = errors[:, j]
        finite = np.isfinite(col)
        if not finite.any():
            continue
        best, median = np.min(col[finite]), np.median(col[finite])
        spread = median - best
        if spread <= 0:
            spread = np.max(col[finite]) - best
        if spread <= 0:
            out[finite, j] = 0.0
            continue
        out[finite, j] = np.clip((col[finite] - best) / spread, 0.0, 1.0)
    return out


def greedy_portfolio(normalised: np.ndarray, size: int, cost: np.ndarray | None = None) -> list[int]:
    """Row indices in portfolio order: each the row that most lowers the mean over columns of the
    best-so-far value (starting from 1, median or worse, everywhere); ties go to the lower index.
    Stops early when nothing improves any more.

    With `cost` (seconds per row), each step takes the largest gain *per second* instead: the
    greedy schedule of Streeter & Golovin (2008), within a factor of 4 of the best possible area
    under the anytime curve. A fit whose budget ends early then has spent it on what pays most
    per second, not on one slow row that is best on average."""
    normalised = np.asarray(normalised, dtype=float)
    n_configs = normalised.shape[0]
    seconds = (
        np.ones(n_configs)
        if cost is None
        else np.maximum(np.asarray(cost, dtype=float), MIN_SECONDS) + TRIAL_OVERHEAD_SECONDS
    )
    chosen: list[int] = []
    best = np.ones(normalised.shape[1])
    for _ in range(min(size, n_configs)):
        current = float(np.mean(best))
        gains = [
            -np.inf if i in chosen else (current - float(np.mean(np.minimum(best, normalised[i])))) / seconds[i]
            for i in range(n_configs)
        ]
        pick = int(np.argmax(gains))
        if not gains[pick] > 1e-12:
            break
        chosen.append(pick)
        best = np.minimum(best, normalised[pick])
    return chosen


def held_out_orders(normalised: np.ndarray, size: int, seconds: np.ndarray | None = None) -> list[list[int]]:
    """For each dataset (column), the greedy portfolio built without it; with `seconds` (configs x
    datasets), ordered by gain per second, the cost averaged over the other datasets."""
    normalised = np.asarray(normalised, dtype=float)
    orders = []
    for j in range(normalised.shape[1]):
        cost = None if seconds is None else mean_cost(np.delete(seconds, j, axis=1))
        orders.append(greedy_portfolio(np.delete(normalised, j, axis=1), size, cost))
    return orders


def held_out_curve(normalised: np.ndarray, size: int, seconds: np.ndarray | None = None) -> list[float]:
    """The honest anytime curve of the greedy portfolio on its own corpus: for each dataset, the
    portfolio built without it, scored on it after 1..size entries; averaged over datasets. The
    in-sample curve would reach 0 as soon as every dataset's own best is picked."""
    normalised = np.asarray(normalised, dtype=float)
    n = normalised.shape[1]
    if n < 2:
        return []
    curves = np.ones((n, size))
    for j, order in enumerate(held_out_orders(normalised, size, seconds)):
        running = 1.0
        for k in range(size):
            if k < len(order):
                running = min(running, float(normalised[order[k], j]))
            curves[j, k] = running
    return [round(float(v), 4) for v in curves.mean(axis=0)]


def held_out_anytime(
    normalised: np.ndarray, seconds: np.ndarray, budgets: list[float], size: int, cost_aware: bool
) -> list[float]:
    """The held-out curve against time instead of entries: for each dataset, the portfolio built
    without it is run in order on it, each entry costing what it cost there (`seconds`, configs x
    datasets); the mean over datasets of the best normalised error among the entries finished
    within each budget (1 where none has). This is what a short fit sees, and what cost-awareness
    is for."""
    normalised = np.asarray(normalised, dtype=float)
    filled = _fill_failed(seconds)
    n = normalised.shape[1]
    if n < 2:
        return []
    out = np.ones((n, len(budgets)))
    for j, order in enumerate(held_out_orders(normalised, size, filled if cost_aware else None)):
        spent = np.cumsum([filled[i, j] + TRIAL_OVERHEAD_SECONDS for i in order])
        for b, budget in enumerate(budgets):
            done = [i for i, t in zip(order, spent, strict=True) if t <= budget]
            out[j, b] = min([1.0, *(float(normalised[i, j]) for i in done)])
    return [round(float(v), 4) for v in out.mean(axis=0)]


def mean_cost(seconds: np.ndarray) -> np.ndarray:
    """Expected seconds per config over datasets (configs x datasets in)."""
    filled = _fill_failed(seconds)
    return filled.mean(axis=1) if filled.shape[1] else np.zeros(filled.shape[0])


def _fill_failed(seconds: np.ndarray) -> np.ndarray:
    """A failed or unmeasured run (NaN) counts as its config's largest measured time (0 if none)."""
    seconds = np.asarray(seconds, dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN row
        largest = np.nan_to_num(np.nanmax(seconds, axis=1, initial=-np.inf), neginf=0.0)
    return np.where(np.isfinite(seconds), seconds, largest[:, None])


# --- candidates -------------------------------------------------------------------------------------
def make_candidates(
    families: list[str], per_family: int, seed: int, extra: list[dict] | None = None
) -> list[Candidate]:
    """Per task kind and family: the defaults first, then `extra`'s configurations of that family
    (entries of an existing portfolio, completed with the defaults as a fit completes them), then
    `per_family` seeded random draws. Random draws are mostly mediocre; a hand-made list's
    configurations give the greedy stronger material, and the corpus, not the person who wrote
    the list, decides their order."""
    from assay.models.registry import get_family
    from assay.search.space import defaults
    from assay.search.strategies.random import sample
    from assay.task import Task

    out = []
    for kind in KINDS:
        task = Task(kind, () if kind == "regression" else tuple(range(2 if kind == "binary" else 3)))
        for family in families:
            space = get_family(family).search_space(task, 1000, 20)
            rng = np.random.default_rng([seed, KINDS.index(kind), sorted(families).index(family)])
            given = [
                {**defaults(space), **{k: v for k, v in e.get("params", {}).items() if k in space}}
                for e in extra or []
                if e["family"] == family and kind in e.get("tasks", [kind])
            ]
            configs = [defaults(space), *given] + [sample(space, rng) for _ in range(per_family)]
            for params in configs:
                cand = Candidate(kind, family, params)
                if all(c.key != cand.key or c.kind != kind for c in out):
                    out.append(cand)
    return out


# --- measuring --------------------------------------------------------------------------------------
@dataclass
class Prepared:
    ctx: object
    schema: object
    fingerprint: str


def prepare(ds: CorpusDataset, protocol: Protocol) -> Prepared:
    """A corpus dataset as a fit would see it (metadata hints, cleaning, preprocessing), cut to
    the protocol's rows with every class kept, and split into the protocol's folds."""
    from sklearn.model_selection import KFold, StratifiedKFold

    from assay.data.clean import clean_frame
    from assay.data.schema import infer_schema, load_hints
    from assay.evaluate.metrics import get_metric
    from assay.fit import data_fingerprint
    from assay.preprocess.table import TablePreprocessor
    from assay.search.executors import TrialContext
    from assay.task import detect_task

    frame = read_corpus_table(ds.path)
    frame = frame.loc[:, ~frame.columns.duplicated()]
    frame = frame[frame["target"].notna()].reset_index(drop=True)
    rng = np.random.default_rng(protocol.seed)
    if ds.kind != "regression":
        counts = frame["target"].map(frame["target"].value_counts())
        frame = frame[counts >= 2 * protocol.folds].reset_index(drop=True)
    if len(frame) > protocol.max_rows:
        if ds.kind != "regression":  # stratified: every class keeps its share, and at least `folds` rows
            from sklearn.model_selection import train_test_split

            keep, _ = train_test_split(
                np.arange(len(frame)),
                train_size=protocol.max_rows,
                stratify=frame["target"],
                random_state=protocol.seed,
            )
        else:
            keep = rng.choice(len(frame), protocol.max_rows, replace=False)
        frame = frame.iloc[np.sort(keep)].reset_index(drop=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        schema = infer_schema(frame, target="target", hints=load_hints(ds.meta_path))
        frame, _ = clean_frame(frame, schema, target="target")
    X, y_raw = frame.drop(columns=["target"]), frame["target"]
    task = detect_task(y_raw, ds.kind)
    y = task.encode(y_raw)
    if task.is_classification and np.bincount(y).min() < protocol.folds:
        raise ValueError("a class has fewer rows than folds")
    Xp = TablePreprocessor().fit(X, schema).transform(X)
    splitter = (StratifiedKFold if task.is_classification else KFold)(
        protocol.folds, shuffle=True, random_state=protocol.seed
    )
    folds = list(splitter.split(Xp, y if task.is_classification else None))
    ctx = TrialContext(Xp, y, folds, task, get_metric(None, task), n_threads=1)
    return Prepared(ctx, schema, data_fingerprint(frame))


def measure(prepared: Prepared, cand: Candidate, protocol: Protocol) -> TrialRecord:
    from assay.search.budget import Deadline
    from assay.search.executors import InlineExecutor
    from assay.search.trial import TrialSpec

    spec = TrialSpec(0, cand.family, cand.params, protocol.seed, "portfolio-build")
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = InlineExecutor().run(spec, prepared.ctx, Deadline.after(protocol.trial_seconds), lambda errs: False)
        r = out.result
        return TrialRecord(
            0, cand.family, cand.params, "portfolio-build", r.status, r.error, r.fit_seconds + r.predict_seconds
        )
    except Exception as exc:  # a failure is a measurement too: it counts as the worst score
        seconds = time.perf_counter() - start
        return TrialRecord(0, cand.family, cand.params, "portfolio-build", "failed", math.nan, seconds, str(exc)[:300])


@dataclass
class BuildReport:
    corpus: list[str] = field(default_factory=list)
    excluded: dict[str, str] = field(default_factory=dict)
    measured: int = 0
    skipped: dict[str, str] = field(default_factory=dict)
    stopped_early: bool = False


def run_measurements(
    datasets: list[CorpusDataset],
    candidates: list[Candidate],
    store: KnowledgeStore,
    protocol: Protocol,
    minutes: float | None,
    progress=None,
) -> BuildReport:
    """Measure what the store lacks, dataset by dataset (so a stop leaves whole columns), until done
    or `minutes` run out."""
    from assay.knowledge.metafeatures import meta_features

    report = BuildReport(corpus=[d.name for d in datasets])
    end = None if minutes is None else time.monotonic() + 60 * minutes
    for ds in datasets:
        if end is not None and time.monotonic() > end:
            report.stopped_early = True
            break
        mine = [c for c in candidates if c.kind == ds.kind]
        known = _known(store, ds, protocol)
        if known is not None and all(c.key in store.measured(known) for c in mine):
            continue
        try:
            prepared = prepare(ds, protocol)
        except Exception as exc:
            report.skipped[ds.name] = f"{type(exc).__name__}: {exc}"[:200]
            continue
        ctx = prepared.ctx
        meta = meta_features(ctx.X, ctx.y, ctx.task, prepared.schema, seed=protocol.seed)
        task_id = store.add_task(
            ds.name,
            prepared.fingerprint,
            ctx.task.kind,
            ctx.metric.name,
            meta,
            source=str(ds.path),
            protocol=protocol.tag,
        )
        done = store.measured(task_id)
        for cand in mine:
            if cand.key in done:
                continue
            if end is not None and time.monotonic() > end:
                report.stopped_early = True
                break
            record = measure(prepared, cand, protocol)
            store.add_trials([replace(record, task=task_id)])
            report.measured += 1
            if progress is not None:
                progress(ds.name, cand)
    return report


def _known(store: KnowledgeStore, ds: CorpusDataset, protocol: Protocol) -> int | None:
    return next((t.id for t in store.tasks(protocol.tag) if t.name == ds.name), None)


def score_table(store: KnowledgeStore, candidates: list[Candidate], kind: str, protocol: Protocol):
    """(errors configs x datasets, dataset names, seconds configs x datasets) over the datasets
    that have every candidate of this kind measured."""
    mine = [c for c in candidates if c.kind == kind]
    columns, names, costs = [], [], []
    for task in store.tasks(protocol.tag, kind):
        done = store.measured(task.id)
        if not all(c.key in done for c in mine):
            continue
        columns.append([done[c.key].error if done[c.key].status == "ok" else math.nan for c in mine])
        costs.append([done[c.key].fit_seconds for c in mine])
        names.append(task.name)
    errors = np.array(columns, dtype=float).T if columns else np.zeros((len(mine), 0))
    seconds = np.array(costs, dtype=float).T if costs else np.zeros((len(mine), 0))
    return errors, names, seconds


def build_portfolio(
    corpus_dir: str | Path,
    exclude_suite: str | Path | None,
    store: KnowledgeStore,
    *,
    families: list[str] | None = None,
    configs_per_family: int = 2,
    size: int = 16,
    protocol: Protocol | None = None,
    minutes: float | None = None,
    max_datasets: int | None = None,
    extra: list[dict] | None = None,
    cost_aware: bool = True,
    command: str = "",
    progress=None,
) -> dict:
    """Measure (resumably) and select; returns the portfolio document (format 2). `extra`: entries
    of an existing portfolio to add as candidates; `cost_aware`: order by gain per second."""
    from assay.models.registry import available_families

    protocol = protocol or Protocol()
    families = available_families(families)
    corpus = list_corpus(corpus_dir)
    held_out = suite_fingerprints(exclude_suite) if exclude_suite else []
    kept, excluded = split_corpus(corpus, held_out)
    kept = _interleave(kept, protocol.seed)[:max_datasets] if max_datasets else _interleave(kept, protocol.seed)
    candidates = make_candidates(families, configs_per_family, protocol.seed, extra)
    report = run_measurements(kept, candidates, store, protocol, minutes, progress)
    entries, used, curves, baseline, anytime = [], {}, {}, {}, {}
    for kind in KINDS:
        errors, names, seconds = score_table(store, candidates, kind, protocol)
        used[kind] = names
        if not names:
            continue
        mine = [c for c in candidates if c.kind == kind]
        norm = normalise(errors)
        cost = np.nanmedian(seconds, axis=1)
        order = greedy_portfolio(norm, size, mean_cost(seconds) if cost_aware else None)
        curves[kind] = held_out_curve(norm, size, seconds if cost_aware else None)
        anytime[kind] = {
            "budgets": list(ANYTIME_BUDGETS),
            "by_gain_per_second": held_out_anytime(norm, seconds, list(ANYTIME_BUDGETS), size, True),
            "by_gain": held_out_anytime(norm, seconds, list(ANYTIME_BUDGETS), size, False),
        }
        firsts = [i for i, c in enumerate(mine) if i == 0 or mine[i - 1].family != c.family]  # defaults
        baseline[kind] = [round(float(np.mean(np.min(norm[firsts[: k + 1]], axis=0))), 4) for k in range(len(firsts))]
        running = np.full(norm.shape[1], np.inf)
        for i in order:
            running = np.minimum(running, norm[i])
            entries.append(
                {
                    "family": mine[i].family,
                    "params": mine[i].params,
                    "tasks": [kind],
                    "seconds": round(float(cost[i]), 3),
                    "mean_normalised_error": round(float(np.mean(norm[i])), 4),
                    "portfolio_average_after": round(float(np.mean(running)), 4),
                }
            )
    return {
        "format": PORTFOLIO_FORMAT,
        "name": "learnt",
        "about": "Learnt: greedy zero-shot portfolio per task kind over a corpus (assay knowledge build-portfolio).",
        "provenance": {
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": command,
            "corpus": str(corpus_dir),
            "datasets_used": used,
            "excluded": excluded,
            "excluded_from": str(exclude_suite) if exclude_suite else None,
            "skipped": report.skipped,
            "candidates": {k: sum(1 for c in candidates if c.kind == k) for k in KINDS},
            "families": families,
            "configs_per_family": configs_per_family,
            "extra_candidates": len(extra or []),
            "order": "gain per second (cost-aware greedy)" if cost_aware else "gain (greedy)",
            "protocol": {
                **protocol.__dict__,
                "tag": protocol.tag,
                "normalisation": "(err-best)/(median-best) in [0,1]",
            },
            "held_out_curve": curves,  # leave-one-dataset-out: mean normalised error after 1..size entries
            "defaults_curve": baseline,  # the same, trying each family's defaults in registry order (nothing learnt)
            # leave-one-dataset-out against time: mean normalised error once `budgets` protocol seconds
            # are spent, with each entry costing what it cost on that dataset; both orders, to compare
            "held_out_anytime": anytime,
            "measured_this_run": report.measured,
            "trials_used": sum(sum(c.kind == k for c in candidates) * len(v) for k, v in used.items()),
            "stopped_early": report.stopped_early,
        },
        "entries": entries,
    }


def _interleave(datasets: list[CorpusDataset], seed: int) -> list[CorpusDataset]:
    """Seeded shuffle, then task kinds taken in turn, so a time-limited run covers all three."""
    rng = np.random.default_rng(seed)
    by_kind = {k: [d for d in datasets if d.kind == k] for k in KINDS}
    for k in KINDS:
        by_kind[k] = [by_kind[k][i] for i in rng.permutation(len(by_kind[k]))]
    out = []
    while any(by_kind.values()):
        for k in KINDS:
            if by_kind[k]:
                out.append(by_kind[k].pop(0))
    return out


def write_portfolio(doc: dict, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=1, default=str) + "\n")
    tmp.replace(path)
    return path


def frame_of(doc: dict) -> pd.DataFrame:
    return pd.DataFrame(doc.get("entries", []))
