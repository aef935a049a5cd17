"""Look at a report the way a person does: open it in headless Chromium and see what rendered.

Used by the browser test and by bench/report_screenshots.py. It needs the `playwright` package
(the dev extra) and a system Chromium (Debian's `chromium` package); it never downloads a browser.
`browser_unavailable()` says why it cannot run, so a test can skip with that reason.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

CHROMIUM = os.environ.get("ASSAY_CHROMIUM", "/usr/bin/chromium")
SECTIONS = ("data", "search", "model", "diagnostics", "errors", "explanations")

# Counted in the page once Plotly has drawn: a plot that failed leaves an empty div behind.
_PLOTS_JS = """() => Array.from(document.querySelectorAll('.plotly-graph-div')).map(d => ({
    id: d.id,
    drawn: !!d.querySelector('svg.main-svg') && (d._fullLayout !== undefined),
    traces: (d.data || []).length,
    width: d.getBoundingClientRect().width,
    height: d.getBoundingClientRect().height,
}))"""


def browser_unavailable() -> str | None:
    """None when a page can be opened; otherwise the reason it cannot."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        return f"no Chromium at {CHROMIUM} (apt-get install -y chromium, or set ASSAY_CHROMIUM)"
    return None


def inspect_page(path, *, screenshots: Path | None = None, width: int = 1280) -> dict:
    """Open `path`, wait for every plot, and return {plots, errors, sections, shots}: each plot's
    state, every console error and uncaught exception, the section ids present, and (when
    `screenshots` is a folder) one PNG per section."""
    from playwright.sync_api import sync_playwright

    path = Path(path).resolve()
    errors: list[str] = []
    shots: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
            page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
            page.goto(path.as_uri(), wait_until="load")
            page.wait_for_function(
                "() => Array.from(document.querySelectorAll('.plotly-graph-div'))"
                ".every(d => d.querySelector('svg.main-svg'))",
                timeout=30_000,
            )
            plots = page.evaluate(_PLOTS_JS)
            sections = page.evaluate("() => Array.from(document.querySelectorAll('section')).map(s => s.id)")
            if screenshots is not None:
                screenshots.mkdir(parents=True, exist_ok=True)
                top = screenshots / "00_top.png"
                page.screenshot(path=str(top))
                shots.append(str(top))
                for i, sid in enumerate(sections, start=1):
                    shot = screenshots / f"{i:02d}_{sid}.png"
                    page.locator(f"section#{sid}").screenshot(path=str(shot))
                    shots.append(str(shot))
        finally:
            browser.close()
    return {"plots": plots, "errors": errors, "sections": sections, "shots": shots}
