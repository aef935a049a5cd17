"""Everything one server process holds, in one object on `app.state.assay` (see deps.py)."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass, field

from assay.serve.events import InFlight, PredictionHook
from assay.serve.store import ModelStore

log = logging.getLogger("assay.serve")

MB = 1024 * 1024
TOKEN_TTL_SECONDS = 1.0  # how long an accepted token is trusted before the registry is asked again


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Limits:
    """What one request may ask of the server; beyond them it gets 413, never an out-of-memory.

    max_body_bytes:    an upload to the streaming endpoint (spooled to disk, predicted in chunks)
    max_request_bytes: any other body (JSON records, a CSV answered in one response)
    max_records:       rows in one JSON or one-response CSV request
    """

    max_body_bytes: int = 50 * MB
    max_request_bytes: int = 5 * MB
    max_records: int = 10_000
    chunk_rows: int = 20_000  # rows per chunk on the streaming endpoint


class TokenCheck:
    """Checks bearer tokens against the registry's hashed tokens. Only the registry's own
    constant-time check decides; a token it accepted is then taken on trust for `ttl` seconds
    (remembered by its SHA-256, never in clear), because a registry read per request cost about
    as much as predicting the request's row. So a revoked token is refused within `ttl` seconds;
    a refused token is asked about again every time."""

    def __init__(self, registry, ttl: float = TOKEN_TTL_SECONDS):
        self.registry, self.ttl = registry, float(ttl)
        self._trusted: dict[str, float] = {}  # sha256(token) -> monotonic time it stops being trusted

    def trusted(self, token: str) -> bool:
        """True if `token` was accepted less than `ttl` seconds ago (cheap: safe on the event loop)."""
        until = self._trusted.get(_digest(token))
        return until is not None and time.monotonic() < until

    def verify(self, token: str) -> bool:
        if self.trusted(token):
            return True
        ok = self.registry.verify_token(token)
        key = _digest(token)
        if ok and self.ttl > 0:
            if len(self._trusted) > 10_000:  # tokens come and go: forget the expired ones
                now = time.monotonic()
                self._trusted = {k: t for k, t in self._trusted.items() if t > now}
            self._trusted[key] = time.monotonic() + self.ttl
        else:
            self._trusted.pop(key, None)
        return ok

    def any_active(self) -> bool:
        return any(t.active for t in self.registry.list_tokens())


@dataclass
class ServeState:
    store: ModelStore
    tokens: TokenCheck | None  # None: authentication switched off (--no-auth)
    hooks: tuple[PredictionHook, ...] = ()
    limits: Limits = field(default_factory=Limits)
    reload_seconds: float = 5.0
    started: float = field(default_factory=time.time)
    last_refresh: float | None = None
    in_flight: InFlight = field(default_factory=InFlight)  # requests whose hooks have not finished
    _refresh_lock: threading.Lock = field(default_factory=threading.Lock)

    def refresh(self) -> list[str]:
        """Called by the poller (off the event loop); an error is logged and retried next time."""
        with self._refresh_lock:
            try:
                changed = self.store.refresh()
            except Exception:  # the registry being briefly unreachable must not kill the poller
                log.exception("model refresh failed; serving what was loaded, retrying in %ss", self.reload_seconds)
                return []
            self.last_refresh = time.time()
            return changed
