"""What the report costs: diagnostics inside the fit, rendering at save, and `assay report` with
test rows, for one dataset of the public suite after a timed fit (default: adult, 60 s).

    .venv/bin/python bench/report_cost.py                       # adult, 60 s
    .venv/bin/python bench/report_cost.py --dataset penguins --budget 10

The target: generating the report takes under 10 % of the fit's budget. The fit itself must
still end within budget x 1.05 + 5 s with the diagnostics inside it. `--complete` lifts the
diagnostics' time box (the fit then overruns) to show what they cost uncut. Writes a JSON record
to bench/results/report_cost_DATASET[_complete].json.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

from assay.bench.suite import load_suite, protocol_split, read_dataset
from assay.predictor import Predictor

REPO = Path(__file__).resolve().parents[1]
SUITE = (REPO / ".." / "shared" / "datasets" / "suites" / "public.yaml").resolve()


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="adult")
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--out", type=Path, default=None, help="model folder (default: a temporary one)")
    parser.add_argument(
        "--complete",
        action="store_true",
        help="let the diagnostics run to the end, past the budget: what they cost uncut",
    )
    args = parser.parse_args(argv)
    if args.complete:
        from assay.evaluate import diagnostics
        from assay.search.budget import Deadline

        diagnostics.deadline = lambda budget, started: Deadline.never()
    spec = next(s for s in load_suite(SUITE) if s.name == args.dataset)
    train, test = protocol_split(read_dataset(spec), spec.target, spec.task)
    folder = args.out or Path(tempfile.mkdtemp(prefix="assay-report-cost-")) / "model"

    start = time.monotonic()
    predictor = Predictor(spec.target, args.budget, seed=0, verbose=False).fit(train)
    fit_s = time.monotonic() - start
    diag = predictor._diagnostics
    start = time.monotonic()
    predictor.save(folder)
    save_s = time.monotonic() - start
    start = time.monotonic()
    predictor.report(folder / "report_again.html")
    render_s = time.monotonic() - start
    start = time.monotonic()
    path = Predictor.load(folder).report(folder / "report_test.html", data=test)
    regenerate_s = time.monotonic() - start
    content = json.loads(path.with_suffix(".json").read_text())

    record = {
        "dataset": spec.name,
        "train_rows": len(train),
        "test_rows": len(test),
        "budget_s": args.budget,
        "fit_s": round(fit_s, 2),
        "promise_s": args.budget * 1.05 + 5,
        "diagnostics_s": round(sum(diag.get("seconds", {}).values()), 2),
        "diagnostics_steps_s": diag.get("seconds"),
        "skipped": diag.get("skipped"),
        "save_s_including_report": round(save_s, 2),
        "render_report_s": round(render_s, 2),
        "report_with_test_s": round(regenerate_s, 2),
        "report_with_test_content_s": content.get("generation_seconds"),
        "html_bytes": (folder / "report.html").stat().st_size,
        "json_bytes": (folder / "report.json").stat().st_size,
        "html_with_test_bytes": path.stat().st_size,
        "json_with_test_bytes": path.with_suffix(".json").stat().st_size,
        "diagnostics_json_bytes": (folder / "diagnostics.json").stat().st_size,
        "validation": content["model"]["validation"]["metrics"][content["metric"]],
        "test": content["model"]["test"]["scores"]["metrics"][content["metric"]],
        "verdict": (content["diagnostics"]["learning"] or {}).get("verdict", {}).get("label"),
        "label_shuffle": ((content["diagnostics"]["sanity"] or {}).get("label_shuffle") or {}).get("words"),
        "validation_vs_test": ((content["diagnostics"]["sanity"] or {}).get("validation_vs_test") or {}).get("words"),
        "machine": f"{platform.node()} ({platform.processor() or platform.machine()})",
        "folder": str(folder),
    }
    record["complete_diagnostics"] = args.complete
    out = REPO / "bench" / "results" / f"report_cost_{spec.name}{'_complete' if args.complete else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2))
    for key in (
        "fit_s",
        "diagnostics_s",
        "skipped",
        "render_report_s",
        "report_with_test_s",
        "html_bytes",
        "json_bytes",
    ):
        print(f"{key:>22}: {record[key]}")
    print(
        f"{'share of the budget':>22}: render {record['render_report_s'] / args.budget:.1%}, with test rows "
        f"{record['report_with_test_s'] / args.budget:.1%}"
    )
    print(f"written {out}")
    return record


if __name__ == "__main__":
    main()
