"""Screenshots of every section of a fit report, taken in headless Chromium, to look at the report
as a person would (and to catch a plot that silently failed to draw).

    .venv/bin/python bench/report_screenshots.py MODEL_DIR_OR_REPORT.html --out shots/
    .venv/bin/python bench/report_screenshots.py --out shots/     # fits the bundled penguins first

Prints each plot's state and any JavaScript error; exits 1 if a plot did not render or the page
logged an error.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from assay.testing.browser import browser_unavailable, inspect_page


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", nargs="?", type=Path, help="a report.html, or a model folder holding one")
    parser.add_argument("--out", type=Path, default=Path("report-screenshots"), help="folder for the PNG files")
    parser.add_argument("--budget", type=float, default=20.0, help="seconds for the penguins fit, without REPORT")
    args = parser.parse_args(argv)
    reason = browser_unavailable()
    if reason:
        print(f"cannot take screenshots: {reason}", file=sys.stderr)
        return 2
    report = args.report
    if report is None:
        report = _penguins_report(args.budget)
    elif report.is_dir():
        report = report / "report.html"
    result = inspect_page(report, screenshots=args.out)
    for shot in result["shots"]:
        print(f"saved {shot}")
    broken = [p for p in result["plots"] if not p["drawn"]]
    print(f"{len(result['plots'])} plots, {len(broken)} not drawn; sections: {', '.join(result['sections'])}")
    for line in result["errors"]:
        print(f"page error: {line}", file=sys.stderr)
    return 1 if broken or result["errors"] else 0


def _penguins_report(budget: float) -> Path:
    from sklearn.model_selection import train_test_split

    from assay import datasets
    from assay.predictor import Predictor

    folder = Path(tempfile.mkdtemp(prefix="assay-shots-"))
    frame = datasets.load("penguins")
    train, test = train_test_split(frame, test_size=0.25, random_state=0, stratify=frame["species"])
    predictor = Predictor("species", budget, verbose=False).fit(train)
    predictor.save(folder / "model")
    return predictor.report(folder / "report.html", data=test)


if __name__ == "__main__":
    sys.exit(main())
