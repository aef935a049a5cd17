"""`assay serve`: the REST API and the web app for a model folder or the registry, under uvicorn."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import typer

from assay.cli.app import command
from assay.cli.models import REGISTRY_HELP
from assay.cli.render import console
from assay.errors import ConfigError, problem


def build_app(
    model_dir: Path | None,
    *,
    registry: bool = False,
    registry_url: str | None = None,
    name: str | None = None,
    cors: list[str] | None = None,
    no_auth: bool = False,
    open_docs: bool = False,
    max_body_mb: float = 50.0,
    max_records: int = 10_000,
    reload_seconds: float = 5.0,
    log_sample: float = 1.0,
    retrain: str | None = None,
    retrain_tz: str | None = None,
    webhook: str | None = None,
    routers=(),
    on_predict=(),
):
    """The FastAPI app `assay serve` runs: create_app plus what production needs around it.

    log_sample: the share of prediction requests logged (inputs, outputs, version, request id) to
    the registry database for feedback, monitoring and retraining; 0 logs nothing (and then the
    feedback and monitor endpoints are not mounted). retrain: a cron expression; the served models
    are retrained on that schedule in this process (assay.monitor.schedule), promoted only when
    better beyond noise. webhook: where retrain decisions are POSTed too. open_docs: the API docs
    (/docs, /redoc, /openapi.json) without a token; by default they need one like every other path
    but the probes and the web app's shell."""
    from assay.registry import Registry
    from assay.serve import create_app
    from assay.serve.state import MB

    if (model_dir is None) == (not registry):
        raise ConfigError(
            problem(
                "serve needs exactly one source",
                where="assay serve",
                fix="give a model folder (assay serve model/) or --registry (every production model)",
            )
        )
    if max_body_mb <= 0:
        raise ConfigError(
            problem(f"--max-body-mb must be > 0, got {max_body_mb}", where="--max-body-mb", fix="e.g. 50")
        )
    if not 0.0 <= log_sample <= 1.0:
        raise ConfigError(
            problem(f"--log-sample must be between 0 and 1, got {log_sample}", where="--log-sample", fix="e.g. 0.1")
        )
    if retrain and not registry:
        raise ConfigError(
            problem(
                "--retrain needs --registry",
                where="assay serve --retrain",
                fix="register the model (assay models / fit --register) and serve --registry: retraining "
                "promotes new versions there",
            )
        )
    reg = Registry(registry_url) if (registry or not no_auth) else None
    source = reg if registry else model_dir
    routers, on_predict, services = list(routers), list(on_predict), []
    if log_sample > 0:
        from assay.monitor.log import PredictionLog
        from assay.monitor.routes import LogPredictions, monitor_router

        prediction_log = PredictionLog(registry_url, sample_rate=log_sample)
        routers.append(monitor_router(prediction_log))
        on_predict.append(LogPredictions(prediction_log))
        services.append(_Closing(prediction_log))
    if retrain:
        from assay.monitor.schedule import RetrainScheduler

        def served() -> list[str]:
            return sorted({v.name for v in reg.list() if v.stage == "production"})

        services.append(RetrainScheduler(retrain, served, reg, tz=retrain_tz, webhook=webhook))
    return create_app(
        source,
        name=name,
        registry=reg,
        auth=not no_auth,
        open_docs=open_docs,
        cors_origins=cors or None,
        max_body_bytes=int(max_body_mb * MB),
        max_request_bytes=int(min(5.0, max_body_mb) * MB),
        max_records=max_records,
        reload_seconds=reload_seconds,
        routers=routers,
        on_predict=on_predict,
        services=services,
    )


class _Closing:
    """A service that closes something when the server stops (the prediction log flushes its queue)."""

    def __init__(self, resource):
        self.resource = resource

    def start(self) -> None:
        pass

    def stop(self) -> None:
        self.resource.close()


@command("serve")
def serve(
    model_dir: Path = typer.Argument(None, help="a saved model folder to serve (or use --registry)"),
    registry: bool = typer.Option(False, "--registry", help="serve every registered model's production version"),
    registry_url: str = typer.Option(None, "--registry-url", help=REGISTRY_HELP),
    name: str = typer.Option(None, "--name", help="the name a model folder is served under (default: its folder name)"),
    host: str = typer.Option("127.0.0.1", "--host", help="interface to listen on (0.0.0.0: every interface)"),
    port: int = typer.Option(8000, "--port", help="TCP port"),
    cors: list[str] = typer.Option(
        None, "--cors", help="allow browser calls from ORIGIN (repeatable); CORS is off by default"
    ),
    no_auth: bool = typer.Option(False, "--no-auth", help="DANGER: accept requests without an API token"),
    open_docs: bool = typer.Option(
        False,
        "--open-docs",
        help="serve the API docs (/docs, /redoc, /openapi.json and their assets) without a token; "
        "by default they need one",
    ),
    max_body_mb: float = typer.Option(50.0, "--max-body-mb", help="largest upload to the streaming endpoint, in MB"),
    max_records: int = typer.Option(10_000, "--max-records", help="most rows in one JSON or one-response request"),
    reload_seconds: float = typer.Option(
        5.0, "--reload-seconds", help="how often to check for newly promoted versions"
    ),
    log_sample: float = typer.Option(
        1.0, "--log-sample", help="share of prediction requests logged for feedback and monitoring (0: none)"
    ),
    retrain: str = typer.Option(
        None, "--retrain", help='retrain the served models on this cron schedule, e.g. "0 3 * * *" (needs --registry)'
    ),
    retrain_tz: str = typer.Option(None, "--retrain-tz", help="time zone of the --retrain schedule (default local)"),
    webhook: str = typer.Option(
        None, "--webhook", envvar="ASSAY_WEBHOOK_URL", help="POST retrain decisions to this URL too"
    ),
):
    """Serve predictions over HTTP: REST API under /v1, web app at /, API docs at /docs."""
    import uvicorn

    app = build_app(
        model_dir,
        registry=registry,
        registry_url=registry_url,
        name=name,
        cors=cors,
        no_auth=no_auth,
        open_docs=open_docs,
        max_body_mb=max_body_mb,
        max_records=max_records,
        reload_seconds=reload_seconds,
        log_sample=log_sample,
        retrain=retrain,
        retrain_tz=retrain_tz,
        webhook=webhook,
    )
    if no_auth:
        console.print("[bold red]WARNING: --no-auth: anyone who can reach this server can use every model[/]")
    from assay.preprocess.contract import SchemaWarning

    # the API returns each request's schema findings to its caller; the server log need not repeat them
    warnings.filterwarnings("ignore", category=SchemaWarning)
    logger = logging.getLogger("assay.serve")  # model loads and reloads, hook failures
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)-9s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    docs = "open to all" if open_docs or no_auth else "need a token; --open-docs opens them"
    console.print(f"assay serving on [bold]http://{host}:{port}/[/] (API docs at /docs: {docs}); Ctrl+C stops it")
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)
