"""GET /health (the process answers) and GET /ready (models are loaded): open, no token, so a
load balancer or an orchestrator can probe them."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from assay.serve.deps import get_state
from assay.serve.schemas import Health, Ready

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, summary="The process is up")
async def health(request: Request):
    state = get_state(request)
    return {"status": "ok", "uptime_s": round(time.time() - state.started, 3)}


@router.get("/ready", response_model=Ready, responses={503: {"model": Ready}}, summary="Models are loaded")
async def ready(request: Request):
    state = get_state(request)
    loaded = state.store.loaded()
    body = {
        "ready": state.store.ready,
        "models": {name: m.version for name, m in loaded.items()},
        "problems": dict(state.store.problems),
        "last_refresh": state.last_refresh,
    }
    return JSONResponse(body, status_code=200 if body["ready"] else 503)
