"""Retraining: a challenger fit on the champion's data plus what was learnt since, compared with the
champion on fresh rows neither has seen, promoted only when it wins beyond noise.

    decision = retrain("churn", "new_rows.csv")     # -> Decision: promoted / kept / failed, and why
    assay retrain churn --data new_rows.csv         # the same, from cron

One run, step by step:
1. The champion is the production version; its settings (target, metric, task, budget or trials,
   seed, families, group or time column) are the challenger's.
2. Base data: the table the champion was trained on, found through its lineage (`source`) and
   checked against its data fingerprint; when it is gone or changed, `base_data=` / `--base-data`.
3. New labelled rows: the champion's own comparison holdout (never trained on), rows handed in
   earlier and not yet in a production model ("pending", kept under <home>/retrain/NAME/), rows
   handed in now, and labelled rows from the prediction log that arrived after the champion's data.
4. The fresh holdout is the newest `holdout_fraction` of the new rows (by the model's time column,
   else by arrival), minus any row identical to a training row. The challenger never sees it.
5. The challenger is fit on base + the older new rows, saved with its training table as lineage,
   registered as a candidate, and both models are scored on the holdout; the champion rule
   (assay.registry.champion) decides; the decision is recorded with its numbers and reason.
6. Alerts: the "assay.monitor.retrain" logger, and a webhook when one is given.

Promotion clears the pending rows: they are now in the new champion's training table or its
holdout, which the next run reads back. A champion that is kept keeps them pending, so rows
accumulate until a challenger wins. A retrained version's training table is a CSV file under
<home>/retrain/NAME/runs/, so the next retraining can verify and reuse it.

Exit codes of `assay retrain` (Decision.exit_code, plus the CLI's own):
    0  the challenger was promoted
    4  the champion was kept (the challenger was not better beyond noise, or too few new rows)
    2  a user error (unknown model, missing data, bad option); recorded as failed when the model exists
    5  retraining failed (the fit or the comparison raised); the champion is untouched
    1  an unexpected bug in assay
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import math
import os
import time
import traceback
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from assay.data.clean import clean_frame
from assay.data.read import read_table
from assay.data.schema import Schema
from assay.errors import AssayError, ConfigError, DataError, RegistryError, TargetError, problem
from assay.evaluate.metrics import get_metric
from assay.fit import data_fingerprint
from assay.predictor import Predictor
from assay.registry import Decision, Registry
from assay.registry.champion import DEFAULT_ALPHA, MIN_ROWS, check_settings, compare
from assay.task import Task

DEFAULT_MIN_NEW_ROWS = 100
DEFAULT_HOLDOUT_FRACTION = 0.2
ARRIVED = "_assay_arrived"  # internal column: when a new row arrived (epoch seconds), for ordering
TAG_PARENT, TAG_HOLDOUT, TAG_LOG_UNTIL = "retrained_from", "holdout_data", "log_until"
log = logging.getLogger("assay.monitor.retrain")
_LEVEL = {"promoted": logging.WARNING, "rolled_back": logging.WARNING, "kept": logging.INFO, "failed": logging.ERROR}


def retrain(
    name: str,
    new_data=None,
    *,
    registry: Registry | None = None,
    base_data=None,
    labelled: pd.DataFrame | None = None,
    budget: float | None = None,
    trials: int | None = None,
    seed: int | None = None,
    holdout_fraction: float = DEFAULT_HOLDOUT_FRACTION,
    use_log: bool = True,
    min_new_rows: int = DEFAULT_MIN_NEW_ROWS,
    alpha: float = DEFAULT_ALPHA,
    min_effect: float = 0.0,
    dry_run: bool = False,
    webhook: str | None = None,
    verbose: bool = False,
    on_step: Callable[[str], None] | None = None,
) -> Decision:
    """Retrain `name` and decide champion against challenger (see the module docstring).

    new_data: labelled rows (a path or a DataFrame) with the target column. labelled: more labelled
    rows from elsewhere (e.g. a feedback export), same shape. budget / trials: override the
    champion's. seed: the challenger's seed and the bootstrap's (default: the champion's).
    dry_run: fit and compare, change nothing (no registration, no promotion, no pending rows).
    Raises AssayError for user errors (after recording a failed decision when the model exists);
    any other failure is recorded and returned as a failed Decision (the champion untouched)."""
    _check_options(budget, trials, seed, holdout_fraction, min_new_rows, alpha, min_effect)
    if webhook:
        from assay.monitor.alerts import check_webhook

        check_webhook(webhook)
    reg = registry if registry is not None else Registry()
    try:
        reg.show(name)  # an unknown name is a plain error: there is no model to record it against
        with _exclusive(reg.home, name):
            options = dict(
                base_data=base_data,
                budget=budget,
                trials=trials,
                seed=seed,
                fraction=holdout_fraction,
                min_rows=min_new_rows,
                alpha=alpha,
                min_effect=min_effect,
                verbose=verbose,
            )
            run = _Run(reg, name, dry_run, on_step or (lambda message: None), **options)
            try:
                decision = run.execute(new_data, labelled, use_log)
            except AssayError as exc:
                decision = run.failed(str(exc), kind="user")
                exc.decision = decision  # the scheduler sees it was recorded
                alert(decision, None if dry_run else webhook)
                raise
            except Exception as exc:
                log.exception("retraining %s failed", name)
                decision = run.failed(f"{type(exc).__name__}: {exc}", kind="error", trace=traceback.format_exc())
            alert(decision, None if dry_run else webhook)
            return decision
    finally:
        if registry is None:
            reg.close()


def alert(decision: Decision, webhook: str | None = None) -> None:
    """The decision on the log (a promotion or failure as a warning or error: someone should know),
    and POSTed to `webhook` when given; a webhook that is down is logged, never raised."""
    log.log(_LEVEL[decision.action], decision.describe())
    if webhook:
        from assay.monitor.alerts import Alert, to_webhook

        message = Alert("retrain", decision.name, decision.describe(), decision.to_dict())
        to_webhook(webhook, [message], model=decision.name, extra={"decision": decision.to_dict()})


def logged_labelled_rows(registry: Registry, name: str, target: str, since: str | None = None) -> pd.DataFrame:
    """Labelled rows of `name` from the prediction log newer than `since` (an ISO time): the logged
    inputs, the label as `target`, and ARRIVED from the log's timestamp. Empty when nothing is logged."""
    from assay.monitor.log import PredictionLog

    with PredictionLog(registry.url, registry.home) as plog:
        frame = plog.labelled(name)
    if frame.empty:
        return pd.DataFrame()
    names = frame.attrs.get("columns", {})
    stamps = pd.to_datetime(frame[names.get("timestamp", "timestamp")], utc=True)
    rows = frame[list(frame.attrs.get("inputs", []))].copy()
    rows[target] = frame[names.get("label", "label")].to_numpy()
    rows[ARRIVED] = (stamps - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy()
    if since:
        after = pd.Timestamp(since)
        after = after.tz_localize("UTC") if after.tzinfo is None else after.tz_convert("UTC")
        keep = (stamps > after).to_numpy()
        rows, stamps = rows[keep], stamps[keep]
    rows = rows.reset_index(drop=True)
    rows.attrs["until"] = stamps.max().isoformat() if len(stamps) else None  # the next run starts after it
    return rows


class _Run:
    """One retraining's state, so each step reads as one short method."""

    def __init__(self, reg: Registry, name: str, dry_run: bool, step, **options):
        self.reg, self.name, self.dry_run, self.step = reg, name, dry_run, step
        self.base_data, self.budget, self.trials, self.seed = (
            options[k] for k in ("base_data", "budget", "trials", "seed")
        )
        self.fraction, self.min_rows = options["fraction"], options["min_rows"]
        self.alpha, self.min_effect, self.verbose = options["alpha"], options["min_effect"], options["verbose"]
        self.store = Pending(reg.home / "retrain" / name)
        self.champion_version: int | None = None
        self.log_until: str | None = None  # the newest logged row used, as an ISO time
        self.details: dict = {"dry_run": dry_run} if dry_run else {}

    def execute(self, new_data, labelled, use_log: bool) -> Decision:
        self.step(f"loading the production version of {self.name}")
        record = self.reg.production(self.name)
        self.champion_version = record.version
        champion = self.reg.load(self.name)
        info = champion.info
        target = info["target"]

        self.step("reading the base data and the new labelled rows")
        base = self._base(record, target)
        fresh = self._fresh(record, target, base.columns, new_data, labelled, use_log)
        if len(fresh) < self.min_rows:
            return self._keep(
                f"{len(fresh)} new labelled row(s), fewer than the {self.min_rows} needed to train and "
                "test a challenger; no challenger trained, champion kept"
            )

        train_new, holdout = split_fresh(fresh, self.fraction, _time_column(info))
        train = pd.concat([base, train_new.drop(columns=[ARRIVED])], ignore_index=True)
        holdout = drop_seen(holdout.drop(columns=[ARRIVED]), train)
        self.details.update(base_rows=len(base), new_rows=len(fresh), train_rows=len(train), holdout_rows=len(holdout))
        if len(holdout) < MIN_ROWS:
            return self._keep(
                f"only {len(holdout)} fresh holdout row(s) left after removing rows seen in training, "
                f"fewer than the {MIN_ROWS} a paired test needs; no challenger trained, champion kept"
            )
        folder = self.store.run_folder(temporary=self.dry_run)
        train_path, holdout_path = folder / "train.csv", folder / "holdout.csv"
        train.to_csv(train_path, index=False)
        holdout.to_csv(holdout_path, index=False)

        self.step(f"fitting the challenger on {len(train):,} rows ({len(train_new):,} new)")
        settings = challenger_settings(info, self.budget, self.trials, self.seed)
        challenger = Predictor(**settings, verbose=self.verbose).fit(str(train_path))

        self.step(f"comparing champion v{record.version} and the challenger on {len(holdout):,} fresh rows")
        verdict = score_both(
            champion, challenger, holdout, alpha=self.alpha, min_effect=self.min_effect, seed=settings["seed"]
        )
        self.details.update(verdict=verdict.to_dict(), train_data=str(train_path), holdout_data=str(holdout_path))
        if self.dry_run:
            action = "promoted" if verdict.promote else "kept"
            return Decision(
                self.name,
                action,
                verdict.reason,
                champion_version=record.version,
                details=self.details,
                **_evidence(verdict),
            )

        self.step("registering the challenger and recording the decision")
        tags = {
            TAG_PARENT: str(record.version),
            TAG_HOLDOUT: str(holdout_path),
            "retrain_run": folder.name,
            "new_rows": str(len(train_new)),
        }
        if self.log_until or record.tags.get(TAG_LOG_UNTIL):
            tags[TAG_LOG_UNTIL] = self.log_until or record.tags[TAG_LOG_UNTIL]
        candidate = self.reg.register(challenger, self.name, tags, source=str(train_path))
        if not verdict.promote:
            return self.reg.record_decision(
                Decision(
                    self.name,
                    "kept",
                    verdict.reason,
                    champion_version=record.version,
                    challenger_version=candidate.version,
                    details=self.details,
                    **_evidence(verdict),
                )
            )
        self.reg.promote(
            self.name,
            candidate.version,
            reason=verdict.reason,
            evidence=verdict,
            expected_production=record.version,
            details=self.details,
        )
        self.store.clear()  # those rows are now in the champion's training table or its holdout
        return self.reg.last_decision(self.name, "promoted")

    def failed(self, reason: str, *, kind: str, trace: str | None = None) -> Decision:
        details = {**self.details, "error_kind": kind, **({"traceback": trace} if trace else {})}
        decision = Decision(self.name, "failed", reason, champion_version=self.champion_version, details=details)
        return decision if self.dry_run else self.reg.record_decision(decision)

    def _keep(self, reason: str) -> Decision:
        decision = Decision(self.name, "kept", reason, champion_version=self.champion_version, details=self.details)
        return decision if self.dry_run else self.reg.record_decision(decision)

    def _base(self, record, target: str) -> pd.DataFrame:
        """The champion's training table, checked against its fingerprint."""
        schema = Schema.from_dict(json.loads((record.path / "schema.json").read_text()))
        where = f"{self.name} v{record.version}"
        if self.base_data is not None:
            frame = read_table(self.base_data)
            ok = record.data_fingerprint is None or fingerprint(frame, schema, target) == record.data_fingerprint
            if not ok:
                warnings.warn(
                    f"the base data given is not the table {where} was trained on (its fingerprint "
                    "differs); retraining on it anyway, as asked",
                    UserWarning,
                    stacklevel=4,
                )
            self.details.update(base_data=str(self.base_data), base_verified=ok)
            return frame
        source = record.source
        if not source or "://" in source or not Path(source).is_file():
            raise DataError(
                problem(
                    f"the training data of {where} is not available" + (f" at {source}" if source else " (no lineage)"),
                    where="base data",
                    fix="pass the table it was trained on: --base-data PATH (base_data=)",
                )
            )
        frame = read_table(source)
        if record.data_fingerprint and fingerprint(frame, schema, target) != record.data_fingerprint:
            raise DataError(
                problem(
                    f"the training data of {where} changed since it was trained (its fingerprint differs)",
                    where=source,
                    fix="pass the original table with --base-data PATH (base_data=)",
                )
            )
        self.details.update(base_data=source, base_verified=True)
        return frame

    def _fresh(self, record, target, columns, new_data, labelled, use_log) -> pd.DataFrame:
        """Every new labelled row with its arrival time, oldest first, in the base table's columns."""
        parts, counts = [], {}
        previous = record.tags.get(TAG_HOLDOUT)
        if previous and Path(previous).is_file():  # the champion's own holdout: labelled, never trained on
            parts.append(_arrived(read_table(previous), 0.0))
            counts["champion_holdout"] = len(parts[-1])
        pending = self.store.rows()
        handed = None
        if new_data is not None:
            handed = _labelled_only(read_table(new_data), target, "new data")
            counts["new_data"] = len(handed)
            if self.store.seen(handed):
                self.details["new_data_note"] = "these rows were handed in before and are already pending"
                handed = None
            else:
                handed = _arrived(handed, time.time())
                if not self.dry_run:
                    self.store.add(handed, str(new_data) if not isinstance(new_data, pd.DataFrame) else "DataFrame")
                    pending, handed = self.store.rows(), None
        if pending is not None:
            parts.append(pending)
            counts["pending"] = len(pending)
        if handed is not None:
            parts.append(handed)
        if use_log:
            logged = self._logged(record, target)
            if len(logged):
                parts.append(logged)
                counts["log"] = len(logged)
                self.log_until = logged.attrs.get("until")
        if labelled is not None:
            parts.append(_arrived(_labelled_only(read_table(labelled), target, "labelled rows"), time.time()))
            counts["labelled"] = len(parts[-1])
        self.details["sources"] = counts
        if not parts:
            return pd.DataFrame(columns=[*columns, ARRIVED])
        fresh = pd.concat(parts, ignore_index=True)
        fresh = fresh[fresh[target].notna()]
        extra = [c for c in fresh.columns if c not in columns and c != ARRIVED]
        if extra:
            self.details["dropped_columns"] = extra  # the champion never had them
        return fresh.reindex(columns=[*columns, ARRIVED]).sort_values(ARRIVED, kind="stable").reset_index(drop=True)

    def _logged(self, record, target) -> pd.DataFrame:
        try:
            return logged_labelled_rows(self.reg, self.name, target, record.tags.get(TAG_LOG_UNTIL))
        except ImportError:  # a build without the prediction log
            return pd.DataFrame()


class Pending:
    """Labelled rows handed to `retrain` and not yet in a production model's data, on disk so they
    accumulate across runs that keep the champion. Writes are atomic (write, then rename)."""

    def __init__(self, root: Path):
        self.root = root
        self.path, self.index = root / "pending.csv", root / "pending.json"

    def rows(self) -> pd.DataFrame | None:
        return read_table(self.path) if self.path.is_file() else None

    def entries(self) -> list[dict]:
        return json.loads(self.index.read_text()) if self.index.is_file() else []

    def seen(self, frame: pd.DataFrame) -> bool:
        """True when exactly these rows were added before (a cron job handed the same file again)."""
        digest = _content_digest(frame)
        return any(e.get("digest") == digest for e in self.entries())

    def add(self, frame: pd.DataFrame, source: str) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        digest = _content_digest(frame)
        current = self.rows()
        combined = frame if current is None else pd.concat([current, frame], ignore_index=True)
        _atomic_write(self.path, lambda tmp: combined.to_csv(tmp, index=False))
        entry = {"source": source, "rows": len(frame), "digest": digest, "added": _iso_now()}
        _atomic_write(self.index, lambda tmp: Path(tmp).write_text(json.dumps([*self.entries(), entry], indent=2)))

    def clear(self) -> None:
        for path in (self.path, self.index):
            path.unlink(missing_ok=True)

    def run_folder(self, *, temporary: bool = False) -> Path:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        parent = self.root / ("dry-runs" if temporary else "runs")
        folder = parent / f"{stamp}-{uuid.uuid4().hex[:6]}"
        folder.mkdir(parents=True)
        return folder


def challenger_settings(info: dict, budget=None, trials=None, seed=None) -> dict:
    """The champion's fit settings as Predictor arguments; `budget` or `trials` replace its budget."""
    recorded = info.get("budget") or {}
    if budget is None and trials is None:
        budget, trials = recorded.get("seconds"), recorded.get("trials")
    families = sorted({t["family"] for t in info.get("trials", []) if t.get("family")}) or None
    validation = info.get("validation") or {}
    return {
        "target": info["target"],
        "budget": budget,
        "trials": trials,
        "task": info["task"]["kind"],
        "metric": info["metric"],
        "seed": info.get("seed", 0) if seed is None else seed,
        "families": families,
        "group_column": validation.get("column") if validation.get("split") == "grouped" else None,
        "time_column": validation.get("column") if validation.get("split") == "time" else None,
    }


def split_fresh(fresh: pd.DataFrame, fraction: float, time_column: str | None = None):
    """(older rows for training, the newest `fraction` for the holdout): by the time column when the
    model has one, else by arrival; ties keep their order."""
    if time_column is not None and time_column in fresh.columns:
        when = pd.to_datetime(fresh[time_column], errors="coerce", utc=True)
        order = when.reset_index(drop=True).sort_values(kind="stable", na_position="first").index
        fresh = fresh.reset_index(drop=True).iloc[order]
    n_hold = max(1, math.ceil(fraction * len(fresh)))
    return fresh.iloc[:-n_hold].reset_index(drop=True), fresh.iloc[-n_hold:].reset_index(drop=True)


def drop_seen(holdout: pd.DataFrame, train: pd.DataFrame) -> pd.DataFrame:
    """The holdout without rows identical (every column, the label too) to a training row: a row the
    challenger memorised would flatter it. Values compare as numbers where they read as numbers."""
    columns = [c for c in holdout.columns if c in train.columns]
    seen = set(_row_keys(train[columns]))
    keep = ~np.isin(_row_keys(holdout[columns]), list(seen))
    return holdout[keep].reset_index(drop=True)


def score_both(champion: Predictor, challenger: Predictor, holdout: pd.DataFrame, *, alpha, min_effect, seed):
    """The champion rule on both models' outputs for the same holdout rows, in the champion's metric."""
    info = champion.info
    target = info["target"]
    task = Task.from_dict(info["task"])
    metric = get_metric(info["metric"], task)
    rows = holdout[holdout[target].notna()]
    if not task.is_classification:
        y = rows[target].to_numpy(dtype=float)
        raws = [m.predict(rows).to_numpy(dtype=float) for m in (champion, challenger)]
        return compare(metric, y, *raws, 0, alpha=alpha, min_effect=min_effect, seed=seed)
    classes = list(task.classes) + [c for c in challenger.info["task"]["classes"] if c not in task.classes]
    union = Task("binary" if len(classes) == 2 else "multiclass", tuple(classes))
    codes = {}
    for value in rows[target].unique():  # a class neither model knows cannot be scored: left out
        with contextlib.suppress(TargetError):
            codes[value] = int(union.encode(pd.Series([value]))[0])
    rows = rows[rows[target].isin(list(codes))]
    y = rows[target].map(codes).to_numpy(dtype=int)
    raws = [
        m.predict_proba(rows).reindex(columns=classes, fill_value=0.0).to_numpy(float) for m in (champion, challenger)
    ]
    return compare(metric, y, *raws, len(classes), alpha=alpha, min_effect=min_effect, seed=seed)


def fingerprint(frame: pd.DataFrame, schema: Schema, target: str) -> str:
    """The training-data fingerprint a fit would record for this table (cleaned by the model's schema)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cleaned = clean_frame(frame, schema, target=target)[0]
    return data_fingerprint(cleaned)


@contextlib.contextmanager
def _exclusive(home: Path, name: str):
    """One retraining of a model at a time, across processes (a cron job and a server's scheduler)."""
    try:
        import fcntl
    except ImportError:  # not on POSIX: the scheduler's own lock still holds within a process
        yield
        return
    path = home / "retrain" / f"{name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RegistryError(
                problem(
                    f"a retraining of {name} is already running",
                    where=str(path),
                    fix="wait for it to finish, then run again",
                )
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _check_options(budget, trials, seed, fraction, min_rows, alpha, min_effect) -> None:
    if budget is not None and trials is not None:
        raise ConfigError(problem("both budget and trials given", where="--budget / --trials", fix="choose one"))
    if not isinstance(fraction, int | float) or not 0 < fraction < 1:
        raise ConfigError(
            problem(
                f"holdout_fraction must be between 0 and 1, got {fraction!r}",
                where="--holdout-fraction",
                fix="e.g. 0.2 (the default)",
            )
        )
    if not isinstance(min_rows, int) or min_rows < 1:
        raise ConfigError(
            problem(
                f"min_new_rows must be a whole number >= 1, got {min_rows!r}",
                where="--min-new-rows",
                fix=f"e.g. {DEFAULT_MIN_NEW_ROWS}",
            )
        )
    if seed is not None and (not isinstance(seed, int) or seed < 0):
        raise ConfigError(problem(f"seed must be a whole number >= 0, got {seed!r}", where="--seed", fix="e.g. 0"))
    check_settings(alpha, min_effect)


def _time_column(info: dict) -> str | None:
    validation = info.get("validation") or {}
    return validation.get("column") if validation.get("split") == "time" else None


def _labelled_only(frame: pd.DataFrame, target: str, what: str) -> pd.DataFrame:
    if target not in frame.columns:
        raise TargetError(
            problem(
                f"the {what} has no target column {target!r}",
                where=what,
                fix="retrain on labelled rows: the model's inputs plus the true value of the target",
            )
        )
    return frame[frame[target].notna()].reset_index(drop=True)


def _arrived(frame: pd.DataFrame, when: float) -> pd.DataFrame:
    frame = frame.drop(columns=[ARRIVED], errors="ignore").copy()
    frame[ARRIVED] = when
    return frame


def _evidence(verdict) -> dict:
    from assay.registry.decisions import evidence

    return evidence(verdict)


def _row_keys(frame: pd.DataFrame) -> np.ndarray:
    """One hash per row of canonical text: 1, 1.0 and "1.0" read the same, as do the NaNs."""
    canonical = {}
    for column in frame.columns:
        values = frame[column]
        numbers = pd.to_numeric(values, errors="coerce")
        same = numbers.notna().sum() == values.notna().sum()
        canonical[column] = (numbers.astype(float) if same else values).astype(str)
    return pd.util.hash_pandas_object(pd.DataFrame(canonical), index=False).to_numpy()


def _content_digest(frame: pd.DataFrame) -> str:
    import hashlib

    data = frame.drop(columns=[ARRIVED], errors="ignore")
    return hashlib.sha256(",".join(map(str, data.columns)).encode() + _row_keys(data).tobytes()).hexdigest()


def _atomic_write(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _iso_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
