"""From a prediction (or a refusal) to the JSON the API returns; plain functions, no FastAPI.

The input contract (assay.preprocess.contract) already names every column, count and row that
does not fit; here its findings become FastAPI-shaped field errors (`loc` = body, records, row,
column) or response warnings. `strict` on the API refuses what the library's strict refuses
(values of the wrong type) and, since a JSON client can fix its keys, columns the model does
not know.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from assay.preprocess.contract import ColumnIssue, ContractReport
from assay.serve.events import PredictionEvent
from assay.serve.store import LoadedModel


class Rejected(Exception):
    """The rows do not fit the model's input schema: answered 422 with one error per field."""

    def __init__(self, errors: list[dict]):
        super().__init__(f"{len(errors)} field error(s)")
        self.errors = errors


@dataclass
class Answer:
    body: dict
    raw: np.ndarray


def records_frame(records: list[dict]) -> pd.DataFrame:
    """Rows as a DataFrame, columns in order of first appearance; an absent key is a missing value."""
    columns = list(dict.fromkeys(key for record in records for key in record))
    frame = pd.DataFrame.from_records([[record.get(key) for key in columns] for record in records])
    frame.columns = pd.Index(columns, dtype=object)  # as assay.data.read labels frames (fewer costs)
    return frame


def predict_rows(
    model: LoadedModel,
    frame: pd.DataFrame,
    *,
    strict: bool,
    explain: bool,
    request_id: str,
    line_offset: int | None = None,
) -> Answer:
    """Predict `frame` with `model` or raise Rejected; the body of a PredictResponse."""
    predictor = model.predictor
    raw, report = predictor.predict_with_report(frame, strict=strict)
    report.line_offset = line_offset
    refused = report.errors + ([i for i in report.warnings if i.issue == "extra_column"] if strict else [])
    if refused:
        raise Rejected(field_errors(refused, report, frame))
    task = predictor.info["task"]
    classes = task["classes"]
    body = {"request_id": request_id, "model": model.name, "model_version": model.version, "n_rows": len(frame)}
    if task["kind"] == "regression":
        body["predictions"] = [_number(v) for v in raw.tolist()]
        body["probabilities"] = None
    else:
        labels = np.asarray(classes, dtype=object)[np.argmax(raw, axis=1)]
        body["predictions"] = labels.tolist()
        keys = [str(c) for c in classes]
        body["probabilities"] = [dict(zip(keys, row, strict=True)) for row in raw.tolist()]
    body["explanations"] = explanations(predictor, frame) if explain else None
    body["warnings"] = [issue_body(i, report) for i in report.issues if not (strict and i.issue == "extra_column")]
    return Answer(body, raw)


def explanations(predictor, frame: pd.DataFrame) -> list[dict]:
    """Per row, the baseline and one contribution per input column (assay.evaluate.explain)."""
    table = predictor.explain(frame)
    fixed = {"predicted", "explained_class", "baseline"}
    features = [c for c in table.columns if c not in fixed]
    out = []
    for _, row in table.iterrows():
        out.append(
            {
                "explained_class": _plain(row["explained_class"]) if "explained_class" in table else None,
                "baseline": _number(float(row["baseline"])),
                "contributions": {str(c): _number(float(row[c])) for c in features},
            }
        )
    return out


def event(model: LoadedModel, request_id: str, frame: pd.DataFrame, answer: Answer, source: str) -> PredictionEvent:
    classes = model.predictor.info["task"]["classes"]
    regression = model.predictor.info["task"]["kind"] == "regression"
    proba = None if regression else pd.DataFrame(answer.raw, index=frame.index, columns=[str(c) for c in classes])
    return PredictionEvent(
        model.name, model.version, request_id, frame, list(answer.body["predictions"]), proba, source
    )


def field_errors(issues: list[ColumnIssue], report: ContractReport, frame: pd.DataFrame) -> list[dict]:
    """One FastAPI-style error per (row, column) found (the contract lists up to 10 rows per
    column), or one per column when the whole column is at fault; `frame` supplies each value."""
    out = []
    for issue in issues:
        base = {"type": issue.issue, "column": issue.column, "expected": issue.expected or None, "count": issue.count}
        if issue.issue == "missing_column":
            msg = f"column {issue.column!r} ({issue.expected}) is missing: send it in every record (null if unknown)"
        elif issue.issue == "extra_column":
            msg = f"column {issue.column!r} is not one the model was trained on (strict=true refuses it)"
        else:
            msg = ""
        if not issue.rows:
            out.append({"loc": ["body", "records", None, issue.column], "msg": msg, "row": None, "line": None, **base})
            continue
        for row in issue.rows:
            value = frame[issue.column].iloc[row] if issue.column in frame.columns else None
            text = f"{_clip(repr(value))} is not readable as {issue.expected}"
            if issue.issue == "unreadable_column":
                text += " (and no value of this column is, so it cannot be predicted as missing)"
            line = row + report.line_offset if report.line_offset else None
            at = f"record {row}" + (f" (line {line})" if line else "")
            out.append(
                {
                    "loc": ["body", "records", row, issue.column],
                    "msg": msg or f"{at}, column {issue.column!r}: {text}",
                    "row": row,
                    "line": line,
                    "example": _clip(repr(value)),
                    **base,
                }
            )
    return out


def issue_body(issue: ColumnIssue, report: ContractReport) -> dict:
    issue = dataclasses.replace(issue, examples=[_clip(e) for e in issue.examples])
    return {
        "column": issue.column,
        "issue": issue.issue,
        "severity": issue.severity,
        "message": issue.describe(report.line_offset),
        "count": issue.count,
        "rows": list(issue.rows),
        "examples": list(issue.examples),
    }


def _clip(text: str, limit: int = 100) -> str:
    """A value shown in a message: a 1 MB field is named by its start, not echoed whole."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def _number(value: float) -> float | None:
    """JSON has no NaN or infinity: they travel as null."""
    return value if math.isfinite(value) else None


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value
