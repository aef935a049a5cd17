"""The web app: static files from assay/serve/web (no CDN, no build step) at / and /static.

The page itself holds no data and needs no token; it asks for one and sends it with every API
call it makes (kept in the tab's sessionStorage only)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

WEB = Path(__file__).resolve().parents[1] / "web"

router = APIRouter(include_in_schema=False)


@router.get("/")
def index():
    return FileResponse(WEB / "index.html", media_type="text/html", headers={"Cache-Control": "no-cache"})
