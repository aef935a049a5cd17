"""The REST server and web app (`assay serve`): see assay.serve.app.create_app.

Extension points: create_app(routers=..., on_predict=...), assay.serve.deps (dependencies for
routers), assay.serve.events.PredictionEvent (what a prediction hook receives)."""

from assay.serve.app import create_app
from assay.serve.events import PredictionEvent, PredictionHook
from assay.serve.store import LoadedModel

__all__ = ["LoadedModel", "PredictionEvent", "PredictionHook", "create_app"]
