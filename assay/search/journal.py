"""The trial journal: every finished trial written to disk as it finishes, so an interrupted fit
(killed, out of memory, the machine rebooted) continues from its finished trials (`--resume`).

    OUT.journal/journal.json            which fit this is: data fingerprint + the settings that shape trials
    OUT.journal/trials/000012/          one finished trial: result.json, oof.npy, fold_0/, fold_1/, ...

Each trial folder is written under a temporary name and renamed into place, so a kill at any
moment leaves whole trials only; `result.json` is its last file. Models are written in the
families' own formats (no pickle), and only for trials the search still keeps as ensemble
candidates: a trial the engine forgets loses its models here too, so the journal's disk use stays
bounded by the candidates, not by the trial count.

Replay is by the trial's identity (family, params, seed; TrialSpec.key): on resume, the search
proposes as before and any proposal the journal already holds is answered from disk instead of
fitted. With `--trials N` the proposals repeat exactly, so a resumed fit ends with the same
models as an uninterrupted one; with a time budget the resumed fit gets what was left of the
budget, and any proposal that differs is simply fitted.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import numpy as np

from assay.errors import ConfigError, problem
from assay.models.registry import get_family
from assay.search.executors.base import TrialOutput
from assay.search.trial import TrialResult, TrialSpec

FORMAT = 1
HEADER = "journal.json"


def journal_path(out: str | Path) -> Path:
    """Where a fit saving to `out` journals its trials: beside it, never inside (the model folder
    is written atomically at the end and must not exist before)."""
    out = Path(out)
    return out.parent / f"{out.name}.journal"


class TrialJournal:
    def __init__(self, folder: Path, header: dict, entries: dict[str, Path]):
        self.folder = folder
        self._header = header  # journal.json as on disk: kept here, so recording a trial never re-reads it
        self._entries = entries  # TrialSpec.key() -> trial folder
        self._written: dict[int, Path] = {}  # this session's trial id -> trial folder

    # --- opening ------------------------------------------------------------------------------
    @classmethod
    def open(cls, folder: str | Path, fit_key: str, describe: dict, *, resume: bool) -> TrialJournal:
        """Resume: the journal must exist and belong to this fit. Otherwise start a new one; an
        old one is replaced, never merged (its trials belong to another fit or were declined)."""
        folder = Path(folder)
        if resume:
            header = read_header(folder)
            if header.get("fit_key") != fit_key:
                differ = _differences(header.get("describe", {}), describe)
                raise ConfigError(
                    problem(
                        "the journal was written by a different fit"
                        + (f" ({differ})" if differ else " (the data differ)"),
                        where=str(folder),
                        fix="resume with the same data and settings, or run without --resume to start over",
                    )
                )
            entries = _scan(folder / "trials")
            return cls(folder, header, entries)
        if folder.exists():
            shutil.rmtree(folder)
        (folder / "trials").mkdir(parents=True)
        header = {"format": FORMAT, "fit_key": fit_key, "describe": describe, "seconds_used": 0.0}
        _write_json(folder / HEADER, header)
        return cls(folder, header, {})

    @property
    def seconds_used(self) -> float:
        """Fit time spent by the runs journaled so far (what a resume subtracts from the budget)."""
        return float(self._header.get("seconds_used", 0.0))

    def __len__(self) -> int:
        return len(self._entries)

    # --- replay -------------------------------------------------------------------------------
    def lookup(self, spec: TrialSpec) -> TrialOutput | None:
        """The journal's record of this very trial (same family, params and seed), re-labelled
        with this run's trial id; None when it was never run, or its models were let go."""
        where = self._entries.get(spec.key())
        if where is None:
            return None
        try:
            stored = json.loads((where / "result.json").read_text())
            result = _result_from_dict(stored, spec)
            if not result.ok:
                return TrialOutput(result, None, [])
            if not (where / "oof.npy").is_file():
                return None  # a weak trial whose models were let go: fit it again if asked
            family = get_family(spec.family)
            oof = np.load(where / "oof.npy", allow_pickle=False)
            models = [family.load(where / f"fold_{i}") for i in range(stored["n_models"])]
        except Exception:  # a damaged entry is a trial to run again, not a failed fit
            return None
        self._written[spec.trial_id] = where
        return TrialOutput(result, oof, models)

    # --- recording ----------------------------------------------------------------------------
    def record(self, output: TrialOutput, seconds_used: float) -> None:
        """Write one finished trial (atomically) and the fit time used so far."""
        spec = output.result.spec
        trials = self.folder / "trials"
        final = trials / f"{spec.trial_id:06d}-{spec.key()}"
        if final.exists():
            return
        tmp = trials / f".{final.name}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        try:
            if output.result.ok and output.oof is not None:
                np.save(tmp / "oof.npy", output.oof, allow_pickle=False)
                for i, model in enumerate(output.models):
                    model.save(tmp / f"fold_{i}")
            record = {**_result_to_dict(output.result), "n_models": len(output.models)}
            _write_json(tmp / "result.json", record)
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self._entries[spec.key()] = final
        self._written[spec.trial_id] = final
        self._header["seconds_used"] = round(seconds_used, 3)
        _write_json(self.folder / HEADER, self._header)

    def discard_models(self, trial_ids) -> None:
        """The search let these trials' models go (too weak for the ensemble): so does the journal."""
        for trial_id in trial_ids:
            where = self._written.get(trial_id)
            if where is None:
                continue
            for path in where.iterdir():
                if path.name != "result.json":
                    shutil.rmtree(path) if path.is_dir() else path.unlink()

    def remove(self) -> None:
        """The fit finished and its model is saved: the journal has served its purpose."""
        shutil.rmtree(self.folder, ignore_errors=True)


def read_header(folder: str | Path) -> dict:
    folder = Path(folder)
    path = folder / HEADER
    if not path.is_file():
        raise ConfigError(
            problem(
                "there is no interrupted fit to resume here",
                where=str(folder),
                fix="run the fit without --resume (a journal is written beside --out as the fit runs)",
            )
        )
    try:
        header = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ConfigError(
            problem("the journal's header is damaged", where=str(path), fix="run without --resume to start over")
        ) from None
    if header.get("format") != FORMAT:
        raise ConfigError(
            problem(
                f"journal format {header.get('format')!r} is not this assay's ({FORMAT})",
                where=str(folder),
                fix="run without --resume to start over",
            )
        )
    return header


def resumed_seconds(budget_seconds: float, used: float) -> float:
    """What a resumed timed fit may spend: what was left, and never less than a fifth of the
    budget, so the search, the ensemble and the report still get time."""
    return max(budget_seconds - used, 0.2 * budget_seconds)


def _scan(trials: Path) -> dict[str, Path]:
    entries = {}
    if not trials.is_dir():
        return entries
    for path in sorted(trials.iterdir()):
        if path.name.startswith("."):  # a trial being written when the fit was killed
            shutil.rmtree(path, ignore_errors=True)
        elif (path / "result.json").is_file() and "-" in path.name:
            entries[path.name.split("-", 1)[1]] = path
    return entries


def _result_to_dict(result: TrialResult) -> dict:
    return {
        "spec": {"family": result.spec.family, "params": result.spec.params, "seed": result.spec.seed},
        "status": result.status,
        "error": result.error,
        "score": result.score,
        "fold_errors": list(result.fold_errors),
        "fit_seconds": result.fit_seconds,
        "predict_seconds": result.predict_seconds,
        "best_iterations": list(result.best_iterations),
        "message": result.message,
        "extra": result.extra,
    }


def _result_from_dict(d: dict, spec: TrialSpec) -> TrialResult:
    return TrialResult(
        spec,
        d["status"],
        _float(d["error"]),
        _float(d["score"]),
        tuple(_float(e) for e in d["fold_errors"]),
        d["fit_seconds"],
        d["predict_seconds"],
        tuple(d["best_iterations"]),
        d["message"],
        {**d.get("extra", {}), "resumed": True},
    )


def _float(value) -> float:
    return math.nan if value is None else float(value)


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1, default=_json_default, allow_nan=True))
    os.replace(tmp, path)


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)


def _differences(before: dict, now: dict) -> str:
    keys = [k for k in sorted(set(before) | set(now)) if before.get(k) != now.get(k)]
    return "; ".join(f"{k}: {before.get(k)!r} then, {now.get(k)!r} now" for k in keys[:4])
