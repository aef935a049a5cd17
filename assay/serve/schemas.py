"""The REST API's request and response bodies, as Pydantic models: they are the OpenAPI docs.

A model's own input columns are not known until it is loaded, so a request's records are typed
only as far as JSON can be (each value a string, number, boolean or null: anything nested is a
422 naming the record and the field); the model's schema then checks each value (assay's input
contract) and a misfit comes back as a 422 in the same shape FastAPI uses for its own errors:
`{"detail": [{"loc": ["body", "records", ROW, COLUMN], "msg": ..., "type": ...}, ...]}`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

Scalar = str | int | float | bool | None


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    records: list[dict[str, Scalar]] = Field(
        ...,
        description="Rows to predict, one object per row, keyed by column name. A key absent from a "
        "record is a missing value; a column absent from every record is an error.",
        examples=[[{"age": 39, "workclass": "State-gov", "hours-per-week": 40}]],
    )


class FieldError(BaseModel):
    """One value, column or record that does not fit the model's input schema."""

    loc: list[str | int | None] = Field(description='["body", "records", row, column]; row is null for a whole column')
    msg: str
    type: str = Field(description="missing_column, unreadable_column, wrong_type, extra_column, or pydantic's type")
    column: str | None = None
    row: int | None = Field(None, description="0-based record (or data row of an uploaded file)")
    line: int | None = Field(None, description="line in an uploaded CSV file, where known")
    expected: str | None = Field(None, description="the kind the model was trained on")
    count: int | None = Field(None, description="how many values of this column have the problem")
    example: str | None = None


class ErrorBody(BaseModel):
    detail: list[FieldError] | str
    request_id: str | None = None


class Issue(BaseModel):
    """Something in the request that was worked around (a wrong-type value set missing, an unknown
    column ignored, an unseen category pooled); `strict=true` refuses the first two instead."""

    column: str
    issue: str
    severity: str
    message: str
    count: int = 0
    rows: list[int] = []
    examples: list[str] = []


class Explanation(BaseModel):
    explained_class: Scalar = None
    baseline: float
    contributions: dict[str, float] = Field(description="one per input column; baseline + sum = the model's margin")


class PredictResponse(BaseModel):
    request_id: str
    model: str
    model_version: int | None = Field(description="the registry version that answered (null: a model folder)")
    n_rows: int
    predictions: list[Scalar]
    probabilities: list[dict[str, float]] | None = Field(
        None, description="per row, each class's probability (classification only)"
    )
    explanations: list[Explanation] | None = Field(None, description="with explain=true")
    warnings: list[Issue] = []


class ColumnInfo(BaseModel):
    name: str
    kind: str
    required: bool
    dropped: str | None = None
    categories: list[str] = []


class VersionInfo(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str
    version: int | None
    stage: str
    metrics: dict[str, Any] = {}
    created: str | None = None
    trained: str | None = None
    source: str | None = None
    tags: dict[str, str] = {}
    serving: bool


class ModelSummary(BaseModel):
    name: str
    serving: int | None = Field(description="the version answering predictions; null for a folder or none")
    loaded: bool
    problem: str | None = None
    versions: list[VersionInfo]


class ModelList(BaseModel):
    models: list[ModelSummary]


class ModelDetail(BaseModel):
    name: str
    model_version: int | None
    target: str
    task: str
    classes: list[Scalar]
    metric: str
    metrics: dict[str, Any]
    columns: list[ColumnInfo]
    fit_seconds: float | None = None
    n_rows: int | None = None
    created: str | None = None
    loaded_at: float
    has_report: bool


class Health(BaseModel):
    status: str
    uptime_s: float


class Ready(BaseModel):
    ready: bool
    models: dict[str, int | None] = Field(description="name -> version loaded")
    problems: dict[str, str] = {}
    last_refresh: float | None = None
