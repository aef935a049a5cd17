"""The models a server answers with, and how a newly promoted version replaces the old one.

Two sources, one interface (`ModelStore`):

  FolderStore     one saved model folder, under its folder name (or a given one); version None
  RegistryStore   every registered name's production version; `refresh()` notices promotions

Hot reload without a restart, and without a request ever seeing half a model: `refresh()` asks
the registry which version of each name is in production (one cheap query), loads a changed one
into a new LoadedModel entirely outside the lock, then swaps the dictionary entry under the lock.
A request takes its LoadedModel once, at its start, and keeps that reference to the end, so
in-flight requests finish on the version they began with while new ones get the new version.
The server calls `refresh()` from a background task every `reload_seconds` (assay.serve.app).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from assay.errors import AssayError, RegistryError, problem

log = logging.getLogger("assay.serve")


@dataclass(frozen=True)
class LoadedModel:
    """A model ready to predict: keep the reference for the whole request (see the module doc)."""

    name: str
    version: int | None  # the registry's version number; None for a folder served directly
    predictor: object  # assay.Predictor
    path: Path
    source: str  # "folder" or "registry"
    loaded_at: float = field(default_factory=time.time)

    @property
    def info(self) -> dict:
        return self.predictor.info


def shown(name: str, limit: int = 80) -> str:
    """A client's name, quoted, cut short: an error message must not echo 5 KB back."""
    return repr(name) if len(name) <= limit else repr(name[:limit]) + f"... ({len(name):,} characters)"


class UnknownModel(RegistryError):
    """The server does not serve this name (not registered, or no production version)."""


class ModelStore:
    """What the routes need from a source of models; see FolderStore and RegistryStore."""

    kind = "store"
    registry = None  # a Registry where versions and tokens live, if any

    def __init__(self) -> None:
        self._models: dict[str, LoadedModel] = {}
        self._lock = threading.Lock()
        self._loaded_once = threading.Event()
        self.problems: dict[str, str] = {}  # name -> why it is not served (no production version ...)

    def get(self, name: str) -> LoadedModel:
        model = self._models.get(name)
        if model is None:
            raise UnknownModel(self._unknown(name))
        return model

    def loaded(self) -> dict[str, LoadedModel]:
        with self._lock:
            return dict(self._models)

    @property
    def ready(self) -> bool:
        """True once the first load finished with at least one model to serve."""
        return self._loaded_once.is_set() and bool(self._models)

    def load(self) -> None:
        """The first load (called off the event loop at startup); then `ready` turns true."""
        try:
            self.refresh()
        finally:
            self._loaded_once.set()

    def refresh(self) -> list[str]:
        """Pick up changes; returns the names whose served version changed."""
        return []

    def versions(self, name: str) -> list[dict]:
        raise NotImplementedError

    def catalogue(self) -> list[dict]:
        """Every name the source knows, served or not, with its versions (for /v1/models)."""
        raise NotImplementedError

    def close(self) -> None:
        if self.registry is not None:
            self.registry.close()

    def _swap(self, name: str, model: LoadedModel | None) -> None:
        with self._lock:
            if model is None:
                self._models.pop(name, None)
            else:
                self._models[name] = model

    def _unknown(self, name: str) -> str:
        if name in self.problems:
            return f"model {name!r} is not being served: {self.problems[name]}"
        served = sorted(self._models)
        return problem(
            f"no model named {shown(name)} is served here",
            where="/v1/models",
            fix=f"use one of {served}" if served else "register and promote a model, then wait for the reload",
        )


class FolderStore(ModelStore):
    kind = "folder"

    def __init__(self, folder, name: str | None = None, registry=None):
        super().__init__()
        self.folder = Path(folder).expanduser().resolve()
        if not (self.folder / "manifest.json").is_file():
            raise RegistryError(
                problem(
                    "not a saved model folder (no manifest.json)",
                    where=str(folder),
                    fix="pass a folder written by `assay fit --out` or Predictor.save, or serve --registry",
                )
            )
        self.name = name or self.folder.name
        from assay.registry.service import check_name

        check_name(self.name)
        self.registry = registry  # tokens only

    def refresh(self) -> list[str]:
        if self.name in self._models:
            return []
        from assay.predictor import Predictor

        self._swap(self.name, LoadedModel(self.name, None, Predictor.load(self.folder), self.folder, "folder"))
        return [self.name]

    def versions(self, name: str) -> list[dict]:
        model = self.get(name)
        info = model.info
        metric = info.get("metric")
        score = (info.get("ensemble") or {}).get("validation_score")
        return [
            {
                "name": name,
                "version": None,
                "stage": "serving",
                "metrics": {f"val_{metric}": score} if metric and score is not None else {},
                "created": None,
                "trained": None,
                "source": str(self.folder),
                "tags": {},
                "serving": True,
            }
        ]

    def catalogue(self) -> list[dict]:
        return [{"name": n, "serving": m.version, "versions": self.versions(n)} for n, m in self.loaded().items()]


class RegistryStore(ModelStore):
    kind = "registry"

    def __init__(self, registry):
        super().__init__()
        self.registry = registry
        self._refreshing = threading.Lock()

    def refresh(self) -> list[str]:
        """One query for every production version; load what changed; drop what lost production."""
        with self._refreshing:  # the poller and a manual call never load the same version twice
            wanted = {v.name: v for v in self.registry.list() if v.stage == "production"}
            changed = []
            for name in self.registry.names():
                record = wanted.get(name)
                current = self._models.get(name)
                if record is None:
                    self.problems[name] = problem(
                        "it has no production version", where=name, fix=f"assay models promote {name} VERSION"
                    )
                    if current is not None:
                        log.warning("%s has no production version any more: no longer served", name)
                        self._swap(name, None)
                        changed.append(name)
                    continue
                if current is not None and current.version == record.version:
                    continue
                try:
                    predictor = self.registry.load(name, record.version)
                except AssayError as exc:
                    self.problems[name] = str(exc)
                    log.error("could not load %s v%s: %s", name, record.version, exc)
                    continue
                except Exception as exc:  # a broken folder must not stop the other models being served
                    self.problems[name] = f"{type(exc).__name__}: {exc}"
                    log.exception("could not load %s v%s", name, record.version)
                    continue
                self.problems.pop(name, None)
                self._swap(name, LoadedModel(name, record.version, predictor, record.path, "registry"))
                was = f"v{current.version}" if current is not None else "nothing"
                log.info("serving %s v%s (was %s)", name, record.version, was)
                changed.append(name)
            return changed

    def versions(self, name: str) -> list[dict]:
        served = self._models.get(name)
        out = []
        try:
            records = self.registry.list(name)
        except RegistryError:  # its message names the registry's URL: nobody's business over HTTP
            raise UnknownModel(
                problem(
                    f"no model named {shown(name)} is registered",
                    where="/v1/models",
                    fix=f"use one of {self.registry.names()}",
                )
            ) from None
        for record in records:
            row = record.to_dict()
            row.pop("path", None)  # a server path is nobody's business over HTTP
            row["serving"] = served is not None and served.version == record.version
            out.append(row)
        return out

    def catalogue(self) -> list[dict]:
        loaded = self.loaded()
        by_name: dict[str, list[dict]] = {}
        for record in self.registry.list():
            row = record.to_dict()
            row.pop("path", None)
            row["serving"] = record.name in loaded and loaded[record.name].version == record.version
            by_name.setdefault(record.name, []).append(row)
        return [
            {
                "name": name,
                "serving": loaded[name].version if name in loaded else None,
                "problem": None if name in loaded else self.problems.get(name),
                "versions": rows,
            }
            for name, rows in by_name.items()
        ]
