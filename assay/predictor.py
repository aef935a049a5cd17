"""Predictor: the one object a user needs. A thin shell over fit.py and the artifact store.

Predictor(target="species", budget=60, seed=0).fit("penguins.csv")
predictor.predict(new_rows); predictor.leaderboard(); predictor.save("model/")
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import warnings
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from assay import __version__
from assay.artifact.store import FAMILY_LIBRARIES, open_folder, save_folder
from assay.data.clean import clean_frame
from assay.data.leakage import shared_rows
from assay.data.read import read_with_report
from assay.data.schema import Schema, parse_type_overrides, read_types_file
from assay.ensemble import EnsembleModel
from assay.errors import ArtifactError, AssayError, ConfigError, TargetError, problem
from assay.evaluate import diagnostics as fit_diagnostics
from assay.evaluate.metrics import evaluate_all, get_metric
from assay.fit import FitSettings, fit_table, override_settings
from assay.preprocess.contract import ContractReport, check_contract
from assay.preprocess.table import OTHER, TablePreprocessor
from assay.search.budget import Budget
from assay.search.subsample import SEARCH_ROWS
from assay.task import Task

DEFAULT_BUDGET = 60.0
# Manifest entries about the folder itself; everything else in it is the fit's info.
_MANIFEST_ONLY = {
    "format",
    "assay_version",
    "created",
    "input_schema",
    "families_libraries",
    "libraries",
    "files",
    "compiled",
}


class Predictor:
    def __init__(
        self,
        target: str,
        budget: float | None = None,
        *,
        trials: int | None = None,
        task: str | None = None,
        metric: str | None = None,
        seed: int = 0,
        families: list[str] | None = None,
        device: str = "cpu",
        n_threads: int | None = None,
        types: dict[str, str] | list[str] | None = None,
        schema: str | Path | None = None,
        allow_leaky: bool = False,
        group_column: str | None = None,
        time_column: str | bool | None = None,
        verbose: bool = True,
        settings: dict | None = None,
        executor: str | None = None,
        cluster: str | None = None,
        workers: int | None = None,
        search_rows: int | None = SEARCH_ROWS,
        search: str | None = None,
        knowledge: bool | str = False,
        warm_start: bool | None = None,
        checkpoint: str | Path | None = None,
    ):
        self.target = target
        self.budget = budget
        self.trials = trials
        self.task = task
        self.metric = metric
        self.seed = seed
        self.families = families
        self.device = device
        self.n_threads = n_threads
        self.types = types
        self.schema = schema
        self.allow_leaky = allow_leaky
        self.group_column = group_column  # grouped folds: no group in two parts
        self.time_column = time_column  # time-ordered folds; None detects one, False never
        self.verbose = verbose
        self.settings = settings  # advanced FitSettings by name, e.g. {"search": "random", "ensemble": False}
        self.executor = executor  # inline | local | ray; None: Ray when a cluster (or RAY_ADDRESS) is given
        self.cluster = cluster  # a Ray cluster address, e.g. "10.0.0.5:6379"
        self.workers = workers  # trials in flight at once
        self.search_rows = search_rows  # above this many rows the search sees a sample (None: never)
        self.search = search  # e.g. "portfolio+tpe" (default), "evolve", "portfolio+evolve", "random"
        self.knowledge = knowledge  # record the trials in the knowledge base: True (ASSAY_HOME) or a file path
        self.warm_start = warm_start  # seed tuners from similar past tasks (opt-in)
        # a folder journaling every finished trial, so fit(resume=True) continues an interrupted fit;
        # it is deleted once the model is saved (assay.search.journal)
        self.checkpoint = checkpoint

    # --- fitting -------------------------------------------------------------------------
    def fit(self, data, callbacks=(), *, query: str | None = None, resume: bool = False) -> Predictor:
        """Fit on `data`: a file path, a DataFrame, or a SQLAlchemy URL / "duckdb" with `query`.
        `resume`: continue the interrupted fit journaled in `checkpoint`, reusing its finished trials."""
        budget = Budget(DEFAULT_BUDGET if self.budget is None and self.trials is None else self.budget, self.trials)
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(
                problem(f"seed must be a whole number >= 0, got {self.seed!r}", where="seed", fix="pass seed=0")
            )
        overrides, hints = column_types(self.types, self.schema)
        settings = FitSettings(
            self.target,
            budget,
            self.task,
            self.metric,
            self.seed,
            self.families,
            self.device,
            self.n_threads,
            types=overrides,
            hints=hints,
            allow_leaky=self.allow_leaky,
            group_column=self.group_column,
            time_column=self.time_column,
            executor=self.executor,
            cluster=self.cluster,
            workers=self.workers,
            search_rows=self.search_rows,
            knowledge=self.knowledge,
            warm_start=self.warm_start,
            name=_task_name(data, self.target),
            checkpoint=None if self.checkpoint is None else str(self.checkpoint),
            resume=resume,
        )
        if self.search is not None:
            settings = override_settings(settings, {"search": self.search})
        settings = override_settings(settings, self.settings)
        callbacks = list(callbacks)
        if self.verbose:
            from assay.search.progress import RichProgress

            callbacks.append(RichProgress())
        result = fit_table(data, settings, callbacks, query=query)
        self._task, self._metric = result.task, result.metric
        self._preprocessor, self._ensemble = result.preprocessor, result.ensemble
        self._schema = result.schema
        self._row_hashes = result.row_hashes
        self._sample = result.sample  # training rows for monitoring, written as reference.parquet
        diagnostics = result.diagnostics or fit_diagnostics.Diagnostics({})
        self._diagnostics, self._baselines = diagnostics.data, diagnostics.models  # for the report
        weights = {m.name: w for m, w in zip(result.ensemble.members, result.ensemble.weights, strict=True)}
        self._info = {
            "target": self.target,
            "task": result.task.to_dict(),
            "metric": result.metric.name,
            "seed": self.seed,
            "budget": {"seconds": budget.seconds, "trials": budget.trials},
            "validation": result.plan.to_dict(),
            "fit_seconds": round(result.seconds, 3),
            "n_rows": result.n_rows,
            "data_fingerprint": result.fingerprint,
            "notes": result.notes,
            "leaks": [asdict(leak) for leak in result.leaks],
            "hashed_columns": sorted(result.preprocessor.input_columns_),
            "cleaning": result.cleaning.describe(),
            "read": {
                "format": result.read_report.format,
                "engine": result.read_report.engine,
                "encoding": result.read_report.encoding,
            },
            "ensemble": {
                "weights": weights,
                "temperature": result.ensemble.temperature,
                "validation_score": result.metric.from_error(result.ensemble_error),
            },
            "trials": [_trial_record(r, weights) for r in result.outcome.results],
        }
        return self

    # --- predicting ----------------------------------------------------------------------
    def predict(self, data, *, strict: bool = False) -> pd.Series:
        """`strict`: refuse values of the wrong type instead of predicting them as missing."""
        raw, index = self._raw(data, strict)
        values = self._task.decode(np.argmax(raw, axis=1)) if self._task.is_classification else raw
        return pd.Series(values, index=index, name=self.target)

    def predict_proba(self, data, *, strict: bool = False) -> pd.DataFrame:
        if not self._fitted()._task.is_classification:
            raise ConfigError(
                problem(
                    "predict_proba needs a classification model, this one is regression",
                    where="predict_proba",
                    fix="use predict",
                )
            )
        raw, index = self._raw(data, strict)
        return pd.DataFrame(raw, index=index, columns=list(self._task.classes))

    def predict_file(
        self, src, dst, chunk_rows: int = 100_000, *, proba: bool = False, strict: bool = False, progress: bool = False
    ):
        """Predict a CSV or Parquet file of any size into `dst` (.csv or .parquet), `chunk_rows` rows
        at a time, so memory stays bounded; the predictions equal `predict`'s (see assay.stream)."""
        from assay.stream import predict_file

        return predict_file(
            self._fitted(), src, dst, chunk_rows=chunk_rows, proba=proba, strict=strict, progress=progress
        )

    def predict_with_report(self, data, *, strict: bool = False) -> tuple[np.ndarray | None, ContractReport]:
        """(class probabilities or values, the input contract's report) in one pass, for callers
        that present the report themselves (the REST server turns it into per-field errors):
        nothing is warned or raised about the contract, and nothing is predicted (None) when the
        report has errors. Rows are in the order given; labels: `info["task"]["classes"]`."""
        frame, report = self._contract(data, strict)
        if not report.ok:
            return None, report
        return self._ensemble.predict_raw(self._preprocessor.transform(self._features(frame))), report

    @property
    def input_schema(self) -> list[dict]:
        """The columns new rows must carry, in training order: each one's kind, whether it is
        required (dropped columns may be left out) and the categories the model knows; what the
        server's schema endpoint and the web app's one-row form are built from."""
        self._fitted()
        plans = {p.name: p for p in self._preprocessor.plans_}
        out = []
        for name in self._preprocessor.input_columns_:
            plan = plans.get(name)
            kind = self._schema.kind_of(name) if name in self._schema else (plan.kind if plan else "unknown")
            levels = [c for c in plan.categories if c != OTHER] if plan is not None else []
            if kind == "boolean":  # the spellings training read as yes and no
                details = self._schema[name].details
                levels = [str(v) for v in (*details.get("true_values", ()), *details.get("false_values", ()))]
            out.append(
                {
                    "name": str(name),
                    "kind": kind,
                    "required": name not in self._preprocessor.dropped_,
                    "dropped": self._preprocessor.dropped_.get(name),
                    "categories": levels,
                }
            )
        return out

    def _features(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame.drop(columns=[self.target]) if self.target in frame.columns else frame

    def _raw(self, data, strict: bool = False) -> tuple[np.ndarray, pd.Index]:
        frame = self._clean(data, strict, stacklevel=5)
        return self._ensemble.predict_raw(self._preprocessor.transform(self._features(frame))), frame.index

    def _clean(self, data, strict: bool = False, stacklevel: int = 4) -> pd.DataFrame:
        """New rows get the same fixes as the training rows, by the same schema, and are held to
        the input contract (stacklevel: warnings point at the caller of the public method)."""
        frame, report = self._contract(data, strict)
        report.enforce(stacklevel=stacklevel)
        return frame

    def check(self, data, *, strict: bool = False) -> ContractReport:
        """How `data` fits the model's input schema, column by column; raises only if unreadable."""
        return self._contract(data, strict)[1]

    def _contract(self, data, strict: bool) -> tuple[pd.DataFrame, ContractReport]:
        self._fitted()
        raw, read = read_with_report(data)
        cleaned = clean_frame(raw, self._schema, target=self.target, count_duplicates=False)[0]
        lines = 2 if read.format in ("csv", "tsv") and not (read.rejected or read.comment_lines) else None
        return check_contract(
            raw, cleaned, self._preprocessor, schema=self._schema, target=self.target, strict=strict, line_offset=lines
        )

    def evaluate(self, data, *, strict: bool = False) -> dict[str, float]:
        """Every metric for the task on labelled data, the model's own metric first."""
        frame = self._clean(data, strict)
        if self.target not in frame.columns:
            raise TargetError(
                problem(
                    f"evaluation data has no target column {self.target!r}",
                    where="data",
                    fix="evaluate on labelled rows (the target column present)",
                )
            )
        frame = frame[frame[self.target].notna()]
        overlap = shared_rows(self._row_hashes, frame, columns=self._info["hashed_columns"])
        if overlap is not None:
            warnings.warn(overlap.describe(), UserWarning, stacklevel=2)
        y = self._task.encode(frame[self.target])
        raw = self._ensemble.predict_raw(self._preprocessor.transform(frame.drop(columns=[self.target])))
        scores = evaluate_all(self._task, y, raw)
        return {self._metric.name: scores.pop(self._metric.name), **scores, "n_rows": float(len(frame))}

    def leaderboard(self) -> pd.DataFrame:
        self._fitted()
        rows = [dict(r) for r in self._info["trials"]]
        ens = self._info["ensemble"]
        rows.insert(
            0,
            {
                "model": "ensemble",
                "family": "ensemble",
                "origin": "selection",
                "status": "ok",
                "score": ens["validation_score"],
                "weight": 1.0,
                "params": json.dumps(ens["weights"]),
            },
        )
        board = pd.DataFrame(rows).rename(columns={"score": f"val_{self._metric.name}"})
        # Complete trials first, best first; pruned ones after (their score covers only the folds
        # they reached, so it does not compare); failed ones last.
        score = board[f"val_{self._metric.name}"].astype(float)
        board["_status"] = board["status"].map({"ok": 0, "pruned": 1}).fillna(2)
        board["_score"] = -score if self._metric.greater_is_better else score
        board = board.sort_values(["_status", "_score"], kind="stable", na_position="last")
        return board.drop(columns=["_status", "_score"]).reset_index(drop=True)

    @property
    def info(self) -> dict:
        return self._fitted()._info

    # --- showing the work ------------------------------------------------------------------
    def explain(self, data, *, explain_class=None) -> pd.DataFrame:
        """Why each row got its prediction: a baseline plus one contribution per input column,
        from the boosted members' own tree explainers (see assay.evaluate.explain)."""
        from assay.evaluate.explain import explain_predictions

        X = self._clean(data).drop(columns=[self.target], errors="ignore")
        return explain_predictions(self._ensemble, self._preprocessor, self._task, X, explain_class)

    def report(self, path, data=None) -> Path:
        """Write the HTML report to `path` and its JSON beside it; `data`: labelled test rows to
        evaluate too (intervals, baselines, validation-vs-test check, errors on them)."""
        from assay.evaluate.report_data import build_report
        from assay.report.fit_report import write_report

        path = Path(path)
        content = build_report(self._fitted(), data, seed=self.seed)
        return write_report(content, path, path.with_suffix(".json"))[0]

    def _report_into(self, folder: Path) -> None:
        """report.html and report.json in a freshly saved model folder. They are not in the
        manifest's checksums, so `assay report MODEL --data TEST` may rewrite them."""
        try:
            self.report(folder / "report.html")
        except Exception as exc:  # the model is saved; a report failure must not undo that
            warnings.warn(f"report not written: {type(exc).__name__}: {exc}", UserWarning, stacklevel=3)

    # --- persistence ---------------------------------------------------------------------
    def save(self, directory) -> Path:
        self._fitted()
        families = {m.member_family for m in self._ensemble.members}
        needed = sorted({"assay", "numpy", "pandas"} | {lib for f in families for lib in _family_libraries(f)})

        def write(tmp: Path):
            (tmp / "preprocessor.json").write_text(json.dumps(self._preprocessor.to_dict(), indent=2))
            (tmp / "schema.json").write_text(json.dumps(self._schema.to_dict(), indent=2, default=str))
            np.save(tmp / "row_hashes.npy", self._row_hashes, allow_pickle=False)
            self._ensemble.save(tmp / "ensemble")
            fit_diagnostics.save(tmp, getattr(self, "_diagnostics", {}), getattr(self, "_baselines", {}))
            from assay.monitor.reference import write_reference

            write_reference(tmp, self)

        manifest = {
            "assay_version": __version__,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            **self._info,
            "input_schema": {p.name: {"kind": p.kind, "dtype": p.dtype} for p in self._preprocessor.plans_},
            "families_libraries": needed,
        }
        path = save_folder(directory, write, manifest)
        self._report_into(path)
        if self.checkpoint is not None:  # the model is safe on disk: the trial journal has done its job
            shutil.rmtree(self.checkpoint, ignore_errors=True)
        return path

    @classmethod
    def load(cls, directory) -> Predictor:
        """A saved model folder, verified first (assay.artifact.store.open_folder). A file that passes
        the checks and still cannot be read (a library refusing it) is the folder's fault: an
        ArtifactError naming it, not a library's traceback."""
        manifest = open_folder(directory)
        try:
            return cls._load_verified(Path(directory), manifest)
        except AssayError:
            raise
        except Exception as exc:
            raise ArtifactError(
                problem(
                    f"the model folder could not be read: {type(exc).__name__}: {str(exc)[:300]}",
                    where=str(directory),
                    fix="restore the folder (e.g. from the registry) or refit; assay will not guess at a damaged model",
                )
            ) from exc

    @classmethod
    def _load_verified(cls, directory: Path, manifest: dict) -> Predictor:
        predictor = cls(
            manifest["target"],
            manifest["budget"]["seconds"],
            trials=manifest["budget"]["trials"],
            metric=manifest["metric"],
            seed=manifest["seed"],
            verbose=False,
        )
        predictor._task = Task.from_dict(manifest["task"])
        predictor._metric = get_metric(manifest["metric"], predictor._task)
        predictor._preprocessor = TablePreprocessor.from_dict(json.loads((directory / "preprocessor.json").read_text()))
        predictor._schema = Schema.from_dict(json.loads((directory / "schema.json").read_text()))
        predictor._row_hashes = np.load(directory / "row_hashes.npy", allow_pickle=False)
        predictor._ensemble = EnsembleModel.load(directory / "ensemble", predictor._task)
        predictor._report_folder = directory.resolve()  # diagnostics, baselines: loaded when the report asks
        predictor._info = {k: v for k, v in manifest.items() if k not in _MANIFEST_ONLY}
        predictor._folder = directory.resolve()  # monitoring reads reference.parquet from here
        return predictor

    # The fit's diagnostics and baseline models serve only the report. A loaded model reads them on
    # first use: a server that only predicts never pays for them (loading the linear baseline
    # through scikit-learn imported PyTorch: ~250 MB of a serving process).
    @property
    def _diagnostics(self) -> dict:
        return self._report_parts()[0]

    @_diagnostics.setter
    def _diagnostics(self, value: dict) -> None:
        self._report_parts_ = (value, self.__dict__.get("_report_parts_", ({}, {}))[1])

    @property
    def _baselines(self) -> dict:
        return self._report_parts()[1]

    @_baselines.setter
    def _baselines(self, value: dict) -> None:
        self._report_parts_ = (self.__dict__.get("_report_parts_", ({}, {}))[0], value)

    def _report_parts(self) -> tuple[dict, dict]:
        if "_report_parts_" not in self.__dict__:
            folder = self.__dict__.get("_report_folder")
            self._report_parts_ = fit_diagnostics.load(folder, self._task) if folder is not None else ({}, {})
        return self._report_parts_

    def _fitted(self) -> Predictor:
        if not hasattr(self, "_ensemble"):
            raise ConfigError(
                problem(
                    "this Predictor has not been fitted",
                    where="Predictor",
                    fix="call .fit(data) first, or Predictor.load(folder)",
                )
            )
        return self


def column_types(types, schema_file) -> tuple[dict[str, str], dict[str, str]]:
    """(overrides, hints): the user's own word beats a metadata file's, which beats inference."""
    overrides, hints = {}, {}
    if schema_file is not None:
        kinds, source = read_types_file(schema_file)
        (overrides if source == "user" else hints).update(kinds)
    if isinstance(types, dict):
        overrides.update(parse_type_overrides([f"{k}={v}" for k, v in types.items()]))
    elif types:
        overrides.update(parse_type_overrides(list(types)))
    return overrides, hints


def _trial_record(result, weights: dict[str, float]) -> dict:
    return {
        "model": result.spec.name,
        "family": result.spec.family,
        "origin": result.spec.origin,
        "status": result.status,
        "score": result.score if np.isfinite(result.score) else None,
        "weight": weights.get(result.spec.name, 0.0),
        "fit_s": round(result.fit_seconds, 3),
        "predict_s": round(result.predict_seconds, 3),
        "params": json.dumps(result.spec.params, default=str),
        "message": result.message,
    }


def _task_name(data, target: str) -> str:
    """How the knowledge base names a fitted task: the file's name, else the target's."""
    if isinstance(data, (str, Path)) and "://" not in str(data):
        return f"{Path(data).name}:{target}"
    return f"table:{target}"


def _family_libraries(family: str) -> list[str]:
    """A searched pipeline ("pipeline:knn", assay.models.pipeline) also needs its steps' scikit-learn."""
    inner = family.removeprefix("pipeline:")
    return FAMILY_LIBRARIES[inner] + (["scikit-learn", "skops"] if inner != family else [])
