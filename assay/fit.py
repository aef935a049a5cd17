"""The whole fit on one page: one named stage per line.

read -> schema -> clean -> target -> task and metric -> preprocess -> validation plan -> search -> ensemble

The budget is a promise (whole fit within budget x 1.05 + 5 s): the clock starts before the
data is read, and the search stops early enough to leave room for ensembling.
"""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from assay.data.clean import CleaningLog, clean_frame
from assay.data.leakage import Leak, excluded_columns, find_leaks, row_hashes
from assay.data.profile import profile_table
from assay.data.read import ReadReport, read_with_report
from assay.data.schema import Schema, infer_schema
from assay.ensemble import BaggedModel, EnsembleModel, ensemble_selection
from assay.ensemble.calibrate import apply_temperature, fit_temperature
from assay.ensemble.refit import refit_on_all_rows
from assay.errors import ConfigError, TargetError, problem
from assay.evaluate import diagnostics as fit_diagnostics
from assay.evaluate.diagnostics import Diagnostics
from assay.evaluate.metrics import Metric, get_metric
from assay.knowledge.warmstart import attach_knowledge
from assay.models.registry import available_families
from assay.preprocess.table import TablePreprocessor
from assay.search.budget import Budget, Deadline
from assay.search.engine import SearchOutcome, oof_matrix, run_search
from assay.search.events import Callback, Events
from assay.search.executors import TrialContext, make_executor, resolve_executor
from assay.search.scheduler import Scheduler
from assay.search.strategies import DEFAULT_SEARCH, PortfolioStrategy, load_portfolio, parse_search
from assay.search.subsample import SEARCH_ROWS, check_search_rows, search_sample
from assay.split import ValidationPlan, check_split_columns, choose_validation, make_folds, split_by
from assay.task import Task, detect_task


@dataclass
class FitSettings:
    target: str
    budget: Budget
    task: str | None = None
    metric: str | None = None
    seed: int = 0
    families: list[str] | None = None
    device: str = "cpu"
    n_threads: int | None = None
    portfolio: str = "default"
    types: dict[str, str] | None = None  # the user's column kinds (--types, schema file)
    hints: dict[str, str] | None = None  # weaker: e.g. a PMLB metadata.yaml
    allow_leaky: bool = False  # keep columns the leakage guard would exclude
    group_column: str | None = None  # rows of one group stay in one part of every fold
    time_column: str | bool | None = None  # validate on later rows; None: detect one, False: never
    search: str = DEFAULT_SEARCH  # strategies chained, e.g. "portfolio+tpe", "random" (see search/strategies)
    ensemble: bool = True  # False: only the best trial (its fold models still bagged), for ablations
    screen: bool = False  # time budgets: every portfolio entry on the first fold before any runs all folds
    knowledge: bool | str = False  # record this fit's trials in the knowledge base (True: ASSAY_HOME's, or a path)
    warm_start: bool | None = None  # seed the tuners from the nearest past tasks (opt-in: None/False = off)
    name: str = "fit"  # how the knowledge base names this task
    executor: str | None = None  # inline | local | ray (assay/search/executors); None: Ray if a cluster is named
    cluster: str | None = None  # a Ray cluster address; RAY_ADDRESS is honoured too
    workers: int | None = None  # trials in flight at once (also fixes the order of a --trials search)
    search_rows: int | None = SEARCH_ROWS  # above this many rows, search on a sample, refit on all (None: never)
    checkpoint: str | None = None  # a folder journaling finished trials (assay.search.journal); None: no journal
    resume: bool = False  # continue the interrupted fit journaled in `checkpoint`


ADVANCED_SETTINGS = ("search", "ensemble", "portfolio", "warm_start", "screen")


def override_settings(settings: FitSettings, overrides: dict | None) -> FitSettings:
    """Advanced settings by name, for ablations and experts: one checked entry point instead of one
    Predictor argument per experiment, and a typo fails here, before any data is read."""
    if not overrides:
        return settings
    unknown = sorted(set(overrides) - set(ADVANCED_SETTINGS))
    if unknown:
        raise ConfigError(
            problem(
                f"unknown setting(s) {', '.join(unknown)}", where="settings", fix=f"use {', '.join(ADVANCED_SETTINGS)}"
            )
        )
    if "search" in overrides:
        parse_search(overrides["search"])
    for flag in ("ensemble", "screen"):
        if flag in overrides and not isinstance(overrides[flag], bool):
            raise ConfigError(
                problem(f"{flag} must be True or False, not {overrides[flag]!r}", where="settings", fix="a bool")
            )
    return replace(settings, **overrides)


@dataclass
class FitResult:
    schema: Schema
    cleaning: CleaningLog
    read_report: ReadReport
    leaks: list[Leak]
    row_hashes: np.ndarray
    task: Task
    metric: Metric
    preprocessor: TablePreprocessor
    plan: ValidationPlan
    outcome: SearchOutcome
    ensemble: EnsembleModel
    ensemble_error: float
    fingerprint: str
    n_rows: int
    seconds: float
    notes: list[str] = field(default_factory=list)
    diagnostics: Diagnostics | None = None  # what the report needs from the fit (assay.evaluate.diagnostics)
    sample: TrainingSample | None = None  # training rows kept for monitoring (assay.monitor.reference)


REFERENCE_ROWS = 5_000  # training rows kept beside the model: bounded memory, enough to measure drift


@dataclass
class TrainingSample:
    """Up to REFERENCE_ROWS training rows as the model took them (cleaned, before preprocessing),
    their labels and the ensemble's out-of-fold output: what monitoring compares new rows with.
    Sampled here because only the fit still holds the whole table."""

    rows: pd.DataFrame
    target: pd.Series
    oof: np.ndarray | None
    n_rows: int


def training_sample(X: pd.DataFrame, y_raw: pd.Series, outcome, ensemble, seed: int) -> TrainingSample:
    keep = np.arange(len(X))
    if len(X) > REFERENCE_ROWS:
        keep = np.sort(np.random.default_rng(seed).choice(len(X), size=REFERENCE_ROWS, replace=False))
    try:
        oof = fit_diagnostics.ensemble_oof(outcome, ensemble)[keep]
    except Exception:  # e.g. no out-of-fold rows: monitoring then has no prediction reference, nothing worse
        oof = None
    rows = X.iloc[keep].reset_index(drop=True)
    return TrainingSample(rows, y_raw.iloc[keep].reset_index(drop=True), oof, len(X))


def fit_table(data, settings: FitSettings, callbacks: list[Callback] = (), query: str | None = None) -> FitResult:
    started = time.monotonic()
    budget = settings.budget  # the user's: it shapes the validation plan, which a resumed fit must keep
    executor_kind = resolve_executor(settings.executor, settings.cluster, settings.workers)  # fails before reading
    check_search_rows(settings.search_rows)
    notes: list[str] = []
    run_budget = session_budget(settings, notes)  # what this run may spend (less when resuming)
    work, _ = fit_diagnostics.reserve(run_budget)  # the search and ensemble leave time for the report's diagnostics
    deadline = Deadline.after(None if work.seconds is None else work.seconds - _reserve(work.seconds))
    clock = fit_diagnostics.TrialClock(started)
    events = Events([*callbacks, clock])

    if executor_kind == "ray" and query is None:
        data = parquet_through_ray(data, settings.cluster)
    frame, read_report = read_with_report(data, query=query)
    notes += read_report.notes
    require_target(frame, settings.target)
    check_split_columns(frame.columns, settings.target, settings.group_column, settings.time_column)
    schema = infer_schema(frame, target=settings.target, overrides=settings.types, hints=settings.hints)
    frame, cleaning = clean_frame(frame, schema, target=settings.target)
    X, y_raw = split_target(frame, settings.target, notes)
    profile = profile_for_report(frame, settings.target, schema, cleaning, read_report, settings.seed)
    task = detect_task(y_raw, settings.task)
    metric = get_metric(settings.metric, task)
    y = task.encode(y_raw)
    by, split_notes = split_by(X, schema, settings.group_column, settings.time_column)
    notes += split_notes
    time_column = by.column if by is not None and by.kind == "time" else None
    leaks, X = guard_leaks(X, y_raw, task, schema, settings.allow_leaky, notes, time_column)
    fingerprint = data_fingerprint(frame)

    preprocessor = TablePreprocessor().fit(X, schema)
    Xp = preprocessor.transform(X)
    notes += [f"column {c!r} dropped: {why}" for c, why in preprocessor.dropped_.items()]
    full, X_kept, y_kept = None, X, y_raw
    groups = by.values if by is not None and by.kind == "grouped" else None
    sample = search_sample(y, task.is_classification, settings.search_rows or len(y), settings.seed, groups)
    if sample is not None:  # big data: search on a sample; build_ensemble refits the chosen members on all rows
        notes.append(
            f"searched on a sample of {len(sample):,} of {len(y):,} rows (search_rows {settings.search_rows:,})"
        )
        full = (Xp, y)
        Xp, y = Xp.iloc[sample].reset_index(drop=True), y[sample]
        X_kept, y_kept = X.iloc[sample].reset_index(drop=True), y_raw.iloc[sample].reset_index(drop=True)
        by = None if by is None else replace(by, values=by.values[sample])

    plan = choose_validation(len(Xp), Xp.shape[1], task, budget, by, y)
    folds = make_folds(y, task, plan, settings.seed, by)
    if by is not None:
        notes.append(f"validation: {plan.reason}")

    families = available_families(settings.families)
    if not families:
        raise ConfigError(problem("no usable model family", where="families", fix="install the libraries they need"))
    use_portfolio, tuner = parse_search(settings.search)
    entries = load_portfolio(settings.portfolio) if use_portfolio else []
    portfolio = PortfolioStrategy(entries, families, task, len(Xp), Xp.shape[1])
    traits = {
        "n_cols": Xp.shape[1],
        "has_missing": bool(Xp.isna().any().any()),
        "has_categorical": any(isinstance(dt, pd.CategoricalDtype) for dt in Xp.dtypes),
    }  # what evolved pipelines may change on this data
    scheduler = Scheduler(
        portfolio,
        families,
        task,
        len(Xp),
        Xp.shape[1],
        settings.seed,
        budget.timed,
        len(folds),
        tuner,
        traits,
        screen_metric=metric if settings.screen else None,
    )
    ctx = TrialContext(Xp, y, folds, task, metric, settings.n_threads, resolve_device(settings.device))
    learnt = attach_knowledge(
        settings.knowledge,
        settings.warm_start,
        ctx,
        schema,
        scheduler,
        events,
        settings.name,
        fingerprint,
        settings.seed,
    )
    if "warm_start" in learnt:
        notes.append(
            f"warm start: {learnt['warm_start']['configs']} configuration(s) from {learnt['warm_start']['from']}"
        )
    events.emit("on_search_start", total_seconds=run_budget.seconds, total_trials=budget.trials, plan=plan)
    executor = make_executor(
        settings.executor, cluster=settings.cluster, workers=settings.workers, n_threads=settings.n_threads
    )
    if settings.checkpoint:
        describe = fit_identity(settings, fingerprint, task, metric, plan, families)
        executor = journaled(executor, settings, describe, started, notes)
    try:
        outcome = run_search(ctx, run_budget, deadline, scheduler, settings.seed, events, executor)
    finally:
        executor.shutdown()
    notes += outcome.notes
    if not settings.ensemble:  # selection then has one candidate: the best trial
        outcome.outputs = {outcome.best().spec.trial_id: outcome.outputs[outcome.best().spec.trial_id]}

    full_ctx = None if full is None else replace(ctx, X=full[0], y=full[1])
    ensemble, ensemble_error = build_ensemble(outcome, ctx, plan, work, started, notes, full_ctx)
    events.emit("on_ensemble", weights=ensemble_weights(ensemble), score=metric.from_error(ensemble_error))
    until = fit_diagnostics.deadline(run_budget, started)
    diagnostics = fit_diagnostics.collect(
        ctx, plan, outcome, ensemble, preprocessor, settings.seed, clock, until, notes
    )
    if profile is not None:
        diagnostics.data["profile"] = profile

    return FitResult(
        schema,
        cleaning,
        read_report,
        leaks,
        row_hashes(X),
        task,
        metric,
        preprocessor,
        plan,
        outcome,
        ensemble,
        ensemble_error,
        fingerprint,
        len(frame),
        time.monotonic() - started,
        notes,
        diagnostics,
        training_sample(X_kept, y_kept, outcome, ensemble, settings.seed),
    )


def session_budget(settings: FitSettings, notes: list[str]) -> Budget:
    """The budget of this run: the user's, or for a resumed timed fit what the interrupted run
    left of it (assay.search.journal.resumed_seconds). Read before the data, so `--resume`
    without a journal fails at once."""
    if not settings.resume:
        return settings.budget
    from assay.search.journal import read_header, resumed_seconds

    if not settings.checkpoint:
        raise ConfigError(
            problem("resume asked without a checkpoint folder", where="resume", fix="pass checkpoint=FOLDER")
        )
    used = float(read_header(settings.checkpoint).get("seconds_used", 0.0))
    if not settings.budget.timed:
        return settings.budget
    seconds = resumed_seconds(settings.budget.seconds, used)
    notes.append(f"resumed after {used:.1f} s of an interrupted fit; this run's budget: {seconds:.1f} s")
    return Budget(seconds, settings.budget.trials)


def fit_identity(settings: FitSettings, fingerprint: str, task, metric, plan, families) -> dict:
    """What makes a journal's trials valid for this fit: the same data, folds and search. The
    budget is not part of it: a resumed fit spends what is left, or runs more trials."""
    from assay import __version__

    return {
        "assay": __version__,
        "data": fingerprint,
        "target": settings.target,
        "task": task.kind,
        "metric": metric.name,
        "seed": settings.seed,
        "families": families,
        "search": settings.search,
        "portfolio": settings.portfolio,
        "validation": f"{plan.kind} x{plan.n_folds} repeats {plan.n_repeats}",
        "types": settings.types,
        "allow_leaky": settings.allow_leaky,
        "group_column": settings.group_column,
        "time_column": settings.time_column,
        "search_rows": settings.search_rows,
        "workers": settings.workers,
        "warm_start": settings.warm_start,
    }


def journaled(executor, settings: FitSettings, describe: dict, started: float, notes: list[str]):
    """The executor wrapped so that finished trials are journaled (and, resuming, replayed). A
    journal that cannot be created (a full or read-only disk) costs resumability, not the fit."""
    from assay.search.executors.journaled import JournaledExecutor
    from assay.search.journal import TrialJournal

    key = hashlib.sha256(json.dumps(describe, sort_keys=True, default=str).encode()).hexdigest()
    try:
        journal = TrialJournal.open(settings.checkpoint, key, describe, resume=settings.resume)
    except OSError as exc:
        if settings.resume:
            executor.shutdown()
            raise ConfigError(
                problem(f"cannot read the journal: {exc}", where=str(settings.checkpoint), fix="check the folder")
            ) from exc
        notes.append(f"no journal (this fit cannot be resumed if interrupted): {exc}")
        return executor
    except BaseException:
        executor.shutdown()
        raise
    return JournaledExecutor(executor, journal, started)


_PROFILE_MAX_COLUMNS = 300  # above this the per-column profile would swell the saved report
_PROFILE_SAMPLE_ROWS = 20_000


def profile_for_report(frame, target, schema, cleaning, read_report, seed) -> dict | None:
    """The data profile (the same one `assay profile` draws) for the report's Data section, on a
    sample so it costs a fraction of a second; a failure costs the report a figure, never the fit."""
    if frame.shape[1] > _PROFILE_MAX_COLUMNS:
        return None
    try:
        profile = profile_table(
            frame,
            target=target,
            schema=schema,
            cleaning=cleaning,
            read_report=read_report,
            sample_rows=_PROFILE_SAMPLE_ROWS,
            seed=seed,
        )
    except Exception as exc:
        warnings.warn(f"data profile skipped ({type(exc).__name__}: {exc})", UserWarning, stacklevel=2)
        return None
    return profile.to_dict()


def guard_leaks(X, y_raw, task, schema, allow_leaky: bool, notes: list[str], time_column=None):
    """Flag leaks; drop the columns that give the answer away unless the user insists."""
    leaks = find_leaks(X, y_raw, task.kind, schema, time_column=time_column)
    excluded = [] if allow_leaky else [c for c in excluded_columns(leaks) if c in X.columns]
    for leak in leaks:
        notes.append(leak.describe())
        if leak.severity == "exclude":
            warnings.warn(leak.describe(), LeakWarning, stacklevel=3)
    return leaks, X.drop(columns=excluded)


class LeakWarning(UserWarning):
    """A column looks like it gives the answer away."""


def require_target(frame: pd.DataFrame, target: str) -> None:
    if target not in frame.columns:
        close = [c for c in frame.columns if c.lower() == str(target).lower()]
        hint = f"did you mean {close[0]!r}?" if close else f"columns are: {list(frame.columns)[:20]}"
        raise TargetError(
            problem(f"target column {target!r} not found", where="data", fix=f"pass --target COL; {hint}")
        )


def split_target(frame: pd.DataFrame, target: str, notes: list[str]) -> tuple[pd.DataFrame, pd.Series]:
    """Features and target, rows without a target left out (the caller checked the column exists)."""
    y = frame[target]
    missing = int(y.isna().sum())
    if missing == len(y):
        raise TargetError(
            problem(
                f"target column {target!r} is entirely missing",
                where="data",
                fix="choose a column that has values, or fill in the target",
            )
        )
    if missing:
        notes.append(f"{missing} row(s) with a missing target were left out of training")
    keep = y.notna().to_numpy()
    return frame.loc[keep].drop(columns=[target]).reset_index(drop=True), y[keep].reset_index(drop=True)


def build_ensemble(
    outcome: SearchOutcome,
    ctx: TrialContext,
    plan: ValidationPlan,
    budget: Budget,
    started: float,
    notes: list[str],
    full_ctx: TrialContext | None = None,
):
    """Weights by ensemble selection on out-of-fold predictions; then, time allowing, each chosen
    configuration refit on all rows joins its bag (assay.ensemble.bagging says why). The returned
    error is the out-of-fold one: it describes the fold models, the only ones validated.
    `full_ctx`: every row, when the search saw a sample; the refits then learn from all of them."""
    y, task, metric = ctx.y, ctx.task, ctx.metric
    ids, preds = oof_matrix(outcome)

    def time_left(share: float):
        return None if budget.seconds is None else budget.seconds * share - (time.monotonic() - started)

    weights = ensemble_selection(preds, y, metric, task.n_classes, deadline=Deadline.after(time_left(1.03)))
    chosen = sorted([(i, w) for i, w in zip(ids, weights, strict=True) if w > 0], key=lambda iw: -iw[1])
    refits = {}
    refit_ctx = full_ctx or ctx
    if plan.n_repeats == 1:  # repeated CV (tiny data) already bags many models; refits there hurt
        refits = refit_on_all_rows(
            [(i, outcome.outputs[i]) for i, _ in chosen], refit_ctx, Deadline.after(time_left(1.02))
        )
    if refits:
        notes.append(
            f"{len(refits)} of {len(chosen)} ensemble member(s) refit on all {len(refit_ctx.y):,} rows and blended "
            "with their fold models; the validation score describes the fold models"
        )
    members = [
        BaggedModel(task, outcome.outputs[i].models, outcome.outputs[i].result.spec.name, refits.get(i))
        for i, _ in chosen
    ]
    blend = sum(w * outcome.outputs[i].oof for i, w in chosen)
    held = ~np.isnan(blend if blend.ndim == 1 else blend[:, 0])
    temperature = 1.0
    if metric.name == "log_loss":
        temperature = fit_temperature(blend[held], y[held])
        blend = apply_temperature(blend[held], temperature)
    else:
        blend = blend[held]
    error = metric.error(y[held], blend, task.n_classes)
    return EnsembleModel(task, members, [w for _, w in chosen], temperature), float(error)


def ensemble_weights(ensemble: EnsembleModel) -> dict[str, float]:
    return {m.name: w for m, w in zip(ensemble.members, ensemble.weights, strict=True)}


def data_fingerprint(frame: pd.DataFrame) -> str:
    """Identifies the training table: same rows and columns -> same fingerprint."""
    h = hashlib.sha256(",".join(map(str, frame.columns)).encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()


def resolve_device(device: str) -> str:
    """'auto' means CUDA when a GPU is visible, else CPU; CPU is the tested default."""
    if device not in ("auto", "cpu", "cuda"):
        raise ConfigError(problem(f"unknown device {device!r}", where="device", fix="use auto, cpu or cuda"))
    if device != "auto":
        return device
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:
        import shutil
        import subprocess

        smi = shutil.which("nvidia-smi")
        ok = smi and subprocess.run([smi, "-L"], capture_output=True, timeout=10).returncode == 0
        return "cuda" if ok else "cpu"


_RAY_PARQUET_BYTES = 512 * 2**20  # below this pyarrow alone reads a file faster than Ray can start readers


def parquet_through_ray(data, cluster: str | None):
    """A large Parquet file or folder read by Ray Data's parallel readers (on the cluster when one
    is named); anything else is left to the ordinary reader."""
    from pathlib import Path

    if not isinstance(data, (str, Path)) or "://" in str(data):
        return data
    path = Path(data)
    files = sorted(path.rglob("*.parquet")) if path.is_dir() else [path] if path.suffix == ".parquet" else []
    if not files or sum(f.stat().st_size for f in files if f.is_file()) < _RAY_PARQUET_BYTES:
        return data
    from assay.search.executors.ray import read_parquet

    return read_parquet(str(path), cluster)


def _reserve(seconds: float) -> float:
    """Time kept back from the search for ensembling, refitting the chosen members, and wrap-up."""
    return min(max(0.5, 0.06 * seconds), 20.0)
