"""create_app: the REST API, the web app and the model reloader in one FastAPI application.

    create_app("model/")                     # one saved model folder, named after the folder
    create_app(Registry())                   # every registered model's production version
    uvicorn.run(create_app(...), host="127.0.0.1", port=8000)     # or `assay serve`

What is open and what is not (deps.TokenGate checks before anything else reads the request):
  always open (ALWAYS_OPEN)   /health and /ready, the probes issue 6 exempts, and the web app's
                              shell, / and /static/*: static files from the package, the same on
                              every server, holding no data; it is the page where a person types
                              the token, so it cannot itself need one
  open on request (DOCS)      the API docs: /docs, /redoc, /docs/oauth2-redirect, /openapi.json,
                              /static-offline-docs/* (served from the package, no CDN). They hold
                              no data either (generated from code alone), but issue 10 asks for a
                              token on every endpoint but health, so they need one by default;
                              open_docs=True (`assay serve --open-docs`) makes them public
  everything else             every other path, including the `routers` handed in and paths that
                              match no route, requires `Authorization: Bearer TOKEN` with a token
                              from the registry (`assay tokens create`)
Tokens always live in the registry (ASSAY_REGISTRY_URL, else ASSAY_HOME), also when serving a
folder; auth=False switches checking off (the docs included) and logs a warning saying so.

Extension points for other modules (monitoring): `routers` (extra APIRouters, included behind
the token check; see assay.serve.deps for the dependencies they can use) and `on_predict`
(callables given a PredictionEvent after each successful prediction; see assay.serve.events).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Sequence
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import NamedTuple

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException

from assay import __version__
from assay.errors import AssayError, ConfigError, RegistryError, SchemaError, problem
from assay.serve.answers import Rejected
from assay.serve.deps import TokenGate, request_id_of, require_token
from assay.serve.events import PredictionHook
from assay.serve.routers import health, models, predict, web
from assay.serve.state import MB, Limits, ServeState, TokenCheck
from assay.serve.store import FolderStore, ModelStore, RegistryStore
from assay.serve.uploads import BodyLimit

log = logging.getLogger("assay.serve")


class OpenSet(NamedTuple):
    """Paths open without a token, exact `paths` plus everything under `prefixes`: kept together so
    that opening a set (the docs) opens its pages and their assets in one step, never half."""

    paths: frozenset[str]
    prefixes: tuple[str, ...]

    def __or__(self, other: OpenSet) -> OpenSet:
        return OpenSet(self.paths | other.paths, self.prefixes + other.prefixes)


# open on every server: the probes and the web app's shell (where a person types the token)
ALWAYS_OPEN = OpenSet(frozenset({"/health", "/ready", "/"}), ("/static/",))
# the API docs: behind the token unless create_app(open_docs=True) / `assay serve --open-docs`
DOCS = OpenSet(frozenset({"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}), ("/static-offline-docs/",))

DESCRIPTION = """Predictions from assay models over HTTP.

Send `Authorization: Bearer TOKEN` (a token from `assay tokens create LABEL`) on every call but
`/health` and `/ready`. Rows go to `POST /v1/models/{name}/predict` as JSON records or as one CSV
/ Parquet upload; large files to `POST /v1/models/{name}/predict/stream`. Rows that do not fit
the model's input schema get a 422 with one error per field (`loc`: body, records, row, column).
"""


def create_app(
    source,
    *,
    name: str | None = None,
    registry=None,
    auth: bool = True,
    cors_origins: Sequence[str] | None = None,
    max_body_bytes: int = 50 * MB,
    max_request_bytes: int = 5 * MB,
    max_records: int = 10_000,
    chunk_rows: int = 20_000,
    reload_seconds: float = 5.0,
    routers: Sequence[APIRouter] = (),
    on_predict: Sequence[PredictionHook] = (),
    services: Sequence = (),
    open_docs: bool = False,
) -> FastAPI:
    """The server for `source`: a saved model folder (str or Path; served as `name`, default the
    folder's name), a Registry (every name's production version, reloaded on promotion, checked
    every `reload_seconds`), or a ModelStore of your own.

    registry: where tokens are checked when `source` is a folder (a Registry or a URL; default the
    one at ASSAY_REGISTRY_URL / ASSAY_HOME). cors_origins: allowed browser origins (default none:
    CORS off). Limits: see assay.serve.state.Limits; over them a request gets 413. chunk_rows:
    rows per chunk on the streaming endpoint (memory per request grows with it). open_docs: serve
    the API docs (DOCS) without a token, e.g. on a public API whose callers read them in a browser,
    which cannot send a bearer token when it opens a page.
    """
    from assay.registry import Registry

    limits = Limits(int(max_body_bytes), int(min(max_request_bytes, max_body_bytes)), int(max_records), int(chunk_rows))
    _check_limits(limits, reload_seconds)
    if isinstance(source, ModelStore):
        store = source
    elif isinstance(source, Registry):
        store = RegistryStore(source)
    elif isinstance(source, str | Path):
        tokens_from = registry if isinstance(registry, Registry) else (Registry(registry) if auth else None)
        store = FolderStore(source, name, tokens_from)
    else:
        raise ConfigError(
            problem(
                f"cannot serve a {type(source).__name__}",
                where="create_app(source)",
                fix="pass a model folder path, an assay.registry.Registry, or a ModelStore",
            )
        )
    if auth and store.registry is None:
        store.registry = registry if isinstance(registry, Registry) else Registry(registry)
    tokens = TokenCheck(store.registry) if auth else None
    if not auth:
        log.warning("authentication is OFF: anyone who can reach this server can use every model")
    state = ServeState(store, tokens, tuple(on_predict), limits, float(reload_seconds))

    app = FastAPIOffline(  # a FastAPI whose /docs and /redoc load nothing from a CDN
        title="assay",
        version=__version__,
        description=DESCRIPTION,
        lifespan=_lifespan,
        openapi_tags=[
            {"name": "predict", "description": "predictions, one JSON answer or a CSV stream"},
            {"name": "models", "description": "what is served: versions, schema, metrics, report"},
            {"name": "health", "description": "open probes for load balancers"},
        ],
    )
    app.state.assay = state
    app.state.services = tuple(services)
    protected = [Depends(require_token)]
    app.include_router(health.router)
    app.include_router(models.router, dependencies=protected)
    app.include_router(predict.router, dependencies=protected)
    for extra in routers:
        app.include_router(extra, dependencies=protected)
    app.include_router(web.router)
    app.mount("/static", StaticFiles(directory=web.WEB), name="static")
    _handle_errors(app)
    app.add_middleware(BodyLimit, limits=limits)
    # outside BodyLimit: a client without a token learns nothing, not even the size limits
    open_set = ALWAYS_OPEN | DOCS if open_docs else ALWAYS_OPEN
    app.add_middleware(TokenGate, open_paths=open_set.paths, open_prefixes=open_set.prefixes)
    if cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID", "X-Model-Version", "X-Assay-Rows", "X-Assay-Warnings"],
        )
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI):
    """Load the models off the event loop (/health answers meanwhile, /ready says 503), then keep
    checking for newly promoted versions until shutdown."""
    state: ServeState = app.state.assay
    if state.tokens is not None:
        try:
            if not await asyncio.to_thread(state.tokens.any_active):
                log.warning("no active API tokens: every request will get 401; create one with `assay tokens create`")
        except Exception:
            log.exception("could not read the API tokens")
    task = asyncio.create_task(_keep_loaded(state))
    started = []
    try:
        for service in app.state.services:
            await asyncio.to_thread(service.start)
            started.append(service)
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError, Exception):
            await task
        for service in reversed(started):
            try:
                await asyncio.to_thread(service.stop)
            except Exception:
                log.exception("stopping %s failed", type(service).__name__)


async def _keep_loaded(state: ServeState) -> None:
    try:
        await asyncio.to_thread(state.store.load)
        state.last_refresh = state.last_refresh or time.time()
    except Exception:
        log.exception("loading the models failed; retrying every %ss", state.reload_seconds)
    if not isinstance(state.store, RegistryStore) and state.store.ready:
        return
    while True:
        await asyncio.sleep(state.reload_seconds)
        await asyncio.to_thread(state.refresh)


def _handle_errors(app: FastAPI) -> None:
    """Every error body is JSON with `detail` and the request's id; user errors never a 500."""

    def body(request: Request, detail, status: int, headers=None) -> JSONResponse:
        rid = request_id_of(request)
        headers = {"X-Request-ID": rid, **(headers or {})}
        return JSONResponse({"detail": detail, "request_id": rid}, status, headers=headers)

    @app.exception_handler(Rejected)
    async def rejected(request: Request, exc: Rejected):
        return body(request, exc.errors, 422)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        errors = [{k: v for k, v in e.items() if k in ("loc", "msg", "type", "input")} for e in exc.errors()]
        for e in errors:  # name the record and the field the way contract errors do
            loc = list(e["loc"])
            if len(loc) >= 4 and loc[:2] == ["body", "records"]:
                e["row"], e["column"] = loc[2], loc[3]
            e["input"] = _clipped(e.get("input"))
        return body(request, errors, 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        detail = exc.detail
        if exc.status_code == 404 and detail == "Not Found":  # no route matched: say what was asked
            detail = problem(
                f"no such path: {_clipped(request.url.path, 120)!r}",
                where=request.method,
                fix="see the routes at /openapi.json (send the token) or /docs; a model's are /v1/models/NAME/...",
            )
        elif exc.status_code == 400 and detail == "There was an error parsing the body":  # FastAPI's words
            detail = problem(
                "the request body could not be parsed (not JSON, not UTF-8, or nested too deeply)",
                where=f"{request.method} {_clipped(request.url.path, 120)}",
                fix="send a JSON document as the API docs at /docs describe it",
            )
        return body(request, detail, exc.status_code, exc.headers)

    @app.exception_handler(AssayError)
    async def assay_error(request: Request, exc: AssayError):
        # rows that do not fit the schema: 422; an unknown model or version: 404; an unreadable
        # upload (DataError) or a bad option (ConfigError), like any other user error: 400
        status = 422 if isinstance(exc, SchemaError) else 404 if isinstance(exc, RegistryError) else 400
        return body(request, str(exc), status)


def _clipped(value, limit: int = 200):
    """An invalid input as shown back in a 422: whole when short, else its start (a 1 MB string
    or a deeply nested list is named by the error, not echoed)."""
    if isinstance(value, bytes):
        value = value[:limit].decode("utf-8", "replace")
    if isinstance(value, str):
        return value if len(value) <= limit else value[:limit] + f"... ({len(value):,} characters)"
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)  # JSON has no infinity: 1e999 in a body arrives as inf (bench/fuzz.py)
    if value is None or isinstance(value, bool | int | float):
        return value
    text = repr(value)
    if len(text) > limit or "inf" in text or "nan" in text:  # nested non-finite floats, too
        return text[:limit] + ("..." if len(text) > limit else "")
    return value


def _check_limits(limits: Limits, reload_seconds: float) -> None:
    for field_name in ("max_body_bytes", "max_request_bytes", "max_records", "chunk_rows"):
        if getattr(limits, field_name) < 1:
            raise ConfigError(
                problem(
                    f"{field_name} must be >= 1, got {getattr(limits, field_name)}",
                    where=field_name,
                    fix="pass a positive limit",
                )
            )
    if not reload_seconds > 0:
        raise ConfigError(
            problem(f"reload_seconds must be > 0, got {reload_seconds}", where="reload_seconds", fix="e.g. 5")
        )
