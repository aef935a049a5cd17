"""What is served: GET /v1/models, /v1/models/{name} (schema, task, classes, metrics),
/v1/models/{name}/versions and /v1/models/{name}/report (the fit report, one HTML page)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import FileResponse

from assay.errors import RegistryError
from assay.serve.deps import get_model, get_store
from assay.serve.schemas import ModelDetail, ModelList, VersionInfo
from assay.serve.store import LoadedModel, ModelStore

router = APIRouter(tags=["models"])


@router.get("/v1/models", response_model=ModelList, summary="Every model, its versions, stages and metrics")
def list_models(store: ModelStore = Depends(get_store)):
    loaded = store.loaded()
    rows = []
    for entry in store.catalogue():
        rows.append({**entry, "loaded": entry["name"] in loaded, "problem": entry.get("problem")})
    return {"models": rows}


@router.get("/v1/models/{name}", response_model=ModelDetail, summary="A served model's input schema and metrics")
def describe(model: LoadedModel = Depends(get_model)):
    info, predictor = model.info, model.predictor
    metric = info.get("metric")
    score = (info.get("ensemble") or {}).get("validation_score")
    return {
        "name": model.name,
        "model_version": model.version,
        "target": info["target"],
        "task": info["task"]["kind"],
        "classes": info["task"]["classes"],
        "metric": metric,
        "metrics": {f"val_{metric}": score} if score is not None else {},
        "columns": predictor.input_schema,
        "fit_seconds": info.get("fit_seconds"),
        "n_rows": info.get("n_rows"),
        "created": info.get("created"),
        "loaded_at": model.loaded_at,
        "has_report": (model.path / "report.html").is_file(),
    }


@router.get("/v1/models/{name}/versions", response_model=list[VersionInfo], summary="A model's versions")
def versions(name: str, store: ModelStore = Depends(get_store)):
    try:
        return store.versions(name)
    except RegistryError as exc:  # not registered (or, for a folder, not this name)
        raise HTTPException(404, str(exc)) from None


@router.get(
    "/v1/models/{name}/report",
    response_class=FileResponse,
    responses={200: {"content": {"text/html": {}}}},
    summary="The served version's fit report (self-contained HTML)",
)
def report(model: LoadedModel = Depends(get_model)):
    path = model.path / "report.html"
    if not path.is_file():
        raise HTTPException(404, f"{model.name} has no report.html: write one with `assay report MODEL_DIR`")
    return FileResponse(path, media_type="text/html")
