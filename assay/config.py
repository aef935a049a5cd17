"""Settings that outlive one process: where assay keeps its files and which registry it talks to.

Every value has a default that works on a laptop and an environment variable that overrides it,
so a server, a CI job or a test can point assay elsewhere without editing code:

    ASSAY_HOME           the home folder (default ~/.assay): the registry's model copies live here
    ASSAY_REGISTRY_URL   a SQLAlchemy URL (default sqlite:///<home>/registry.db); PostgreSQL by URL
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

HOME_ENV = "ASSAY_HOME"
REGISTRY_URL_ENV = "ASSAY_REGISTRY_URL"


def home_folder(home: str | Path | None = None) -> Path:
    """The folder given, else $ASSAY_HOME, else ~/.assay; absolute, so stored paths never depend on the cwd."""
    chosen = home or os.environ.get(HOME_ENV) or "~/.assay"
    return Path(chosen).expanduser().resolve()


def resolve_registry_url(url: str | None = None, home: str | Path | None = None) -> str:
    """The URL given, else $ASSAY_REGISTRY_URL, else a SQLite file in the home folder."""
    return url or os.environ.get(REGISTRY_URL_ENV) or f"sqlite:///{home_folder(home) / 'registry.db'}"


@dataclass(frozen=True)
class Settings:
    home: Path
    registry_url: str

    @classmethod
    def resolve(cls, *, home: str | Path | None = None, registry_url: str | None = None) -> Settings:
        """Explicit arguments first, then the environment, then the defaults."""
        folder = home_folder(home)
        return cls(folder, resolve_registry_url(registry_url, folder))
