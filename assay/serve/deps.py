"""FastAPI dependencies: the seams another module's router plugs into.

A router for the same server (monitoring's feedback and drift pages, say) is written with these
and handed to create_app, which includes it behind the same token check as every model route:

    from fastapi import APIRouter, Depends
    from assay.serve.deps import get_model, get_state, request_id
    from assay.serve.store import LoadedModel

    router = APIRouter()

    @router.post("/v1/models/{name}/feedback")
    def feedback(body: Feedback, model: LoadedModel = Depends(get_model), rid: str = Depends(request_id)):
        ...  # model.predictor, model.version, model.name

    app = create_app(source, routers=[router], on_predict=[hook])

Every dependency here is stable: get_state, get_store, require_token, get_model, model_for,
request_id (request_id_of outside dependency injection). None of them imports anything beyond
serve's own modules and FastAPI.
"""

from __future__ import annotations

import json
import re
import uuid

from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import ASGIApp, Receive, Scope, Send

from assay.serve.state import ServeState
from assay.serve.store import LoadedModel, ModelStore, UnknownModel

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="An API token from `assay tokens create LABEL`, sent as 'Authorization: Bearer TOKEN'.",
)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
MISSING_TOKEN = "missing API token: send 'Authorization: Bearer TOKEN' (create one with `assay tokens create LABEL`)"
INVALID_TOKEN = "invalid or revoked API token: see `assay tokens list`, or create one with `assay tokens create LABEL`"


def get_state(request: Request) -> ServeState:
    """The server's state (store, token check, hooks, limits): app.state.assay."""
    return request.app.state.assay


async def get_store(request: Request) -> ModelStore:
    return get_state(request).store


async def require_token(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
    """401 unless the request carries an active API token; a no-op when auth is off (--no-auth).
    create_app puts this on every route except /health, /ready and the web app's shell (the API
    docs too with open_docs=True); add it to a router of your own only if you build an app
    without create_app. An accepted token is trusted for a second (assay.serve.state.TokenCheck):
    a revoked one is refused within that second."""
    tokens = get_state(request).tokens
    if tokens is None:
        return
    if credentials is None:
        raise HTTPException(401, MISSING_TOKEN, headers={"WWW-Authenticate": "Bearer"})
    token = credentials.credentials
    if not (tokens.trusted(token) or await run_in_threadpool(tokens.verify, token)):
        raise HTTPException(401, INVALID_TOKEN, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


class TokenGate:
    """Pure ASGI middleware: 401 for every request without a valid token, before routing, except
    the `open_paths` (exact) and `open_prefixes`. Deny by default: a route added later, an unknown
    path, a malformed body are all refused to a client without a token. It runs before FastAPI
    reads a body, which require_token cannot do alone (FastAPI parses a declared JSON body before
    it runs dependencies, so a client without a token could learn how its JSON was wrong)."""

    def __init__(self, app: ASGIApp, open_paths: frozenset[str], open_prefixes: tuple[str, ...]):
        self.app, self.open_paths, self.open_prefixes = app, open_paths, open_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "OPTIONS" or self._open(scope["path"]):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        tokens = get_state(request).tokens
        if tokens is None:
            await self.app(scope, receive, send)
            return
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            await _unauthorized(request, send, MISSING_TOKEN, "Bearer")
        elif tokens.trusted(token.strip()) or await run_in_threadpool(tokens.verify, token.strip()):
            await self.app(scope, receive, send)
        else:
            await _unauthorized(request, send, INVALID_TOKEN, 'Bearer error="invalid_token"')

    def _open(self, path: str) -> bool:
        return path in self.open_paths or path.startswith(self.open_prefixes)


async def _unauthorized(request: Request, send: Send, detail: str, challenge: str) -> None:
    rid = request_id_of(request)
    body = json.dumps({"detail": detail, "request_id": rid}).encode()
    headers = {"content-type": "application/json", "www-authenticate": challenge, "x-request-id": rid}
    headers["content-length"] = str(len(body))
    raw = [(k.encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": 401, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def model_for(request: Request, name: str) -> LoadedModel:
    """The model served under `name` (404 if none). Keep the returned object for the whole
    request: a hot reload swaps the store's entry, never the object a request holds."""
    try:
        return get_state(request).store.get(name)
    except UnknownModel as exc:
        raise HTTPException(404, str(exc)) from None


async def get_model(name: str, request: Request) -> LoadedModel:
    """Dependency for routes with a `{name}` path parameter: the LoadedModel (predictor, version).
    (The cheap dependencies here are `async def`: FastAPI runs a plain `def` one in a worker
    thread, and that hop cost more than the dependency itself.)"""
    return model_for(request, name)


async def request_id(request: Request) -> str:
    """The client's X-Request-ID when it is well formed (1-128 of A-Z a-z 0-9 . _ : -), else a
    new uuid4 hex; the same id is returned in the response body and X-Request-ID header."""
    return request_id_of(request)


def request_id_of(request: Request) -> str:
    """request_id, callable outside dependency injection (an exception handler, say)."""
    cached = getattr(request.state, "request_id", None)
    if cached is None:
        given = request.headers.get("x-request-id")
        cached = given if given and _REQUEST_ID.match(given) else uuid.uuid4().hex
        request.state.request_id = cached
    return cached
