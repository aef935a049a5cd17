"""Does the label-shuffle check fire on a leak and stay quiet without one? On real datasets of
the public suite, the fit's own check (assay.evaluate.sanity.label_shuffle, with the best
portfolio configuration of LightGBM) is run twice: on assay's honest pipeline, and on a pipeline
with a classic leak built in, a target encoding fitted on all rows (validation rows included)
of a grouping column with about eight rows per group.

    .venv/bin/python bench/label_shuffle.py
    .venv/bin/python bench/label_shuffle.py --only adult,car

Writes bench/results/label_shuffle.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from assay.bench.suite import load_suite, protocol_split, read_dataset
from assay.data.clean import clean_frame
from assay.data.schema import infer_schema
from assay.evaluate.diagnose import Refitter, prior_error
from assay.evaluate.metrics import get_metric
from assay.evaluate.sanity import label_shuffle
from assay.fit import split_target
from assay.models.registry import get_family
from assay.preprocess.table import TablePreprocessor
from assay.search.budget import Budget, Deadline
from assay.split import choose_validation, make_folds
from assay.task import detect_task

REPO = Path(__file__).resolve().parents[1]
SUITE = (REPO / ".." / "shared" / "datasets" / "suites" / "public.yaml").resolve()
DEFAULT = "adult,phoneme,kr_vs_kp,magic,car,yeast,cpu_act,houses,mpg,penguins"
PARAMS = {"learning_rate": 0.1, "num_leaves": 31, "min_child_samples": 20}


def run(spec) -> dict:
    train, _ = protocol_split(read_dataset(spec), spec.target, spec.task)
    schema = infer_schema(train, target=spec.target)
    frame, _ = clean_frame(train, schema, target=spec.target)
    X, y_raw = split_target(frame, spec.target, [])
    task = detect_task(y_raw, spec.task)
    metric = get_metric(None, task)
    y = task.encode(y_raw)
    Xp = TablePreprocessor().fit(X, schema).transform(X)
    fold = make_folds(y, task, choose_validation(len(Xp), Xp.shape[1], task, Budget(60.0)), 0)[0]
    model = get_family("lightgbm")(task, PARAMS, seed=0, metric=metric.name, n_threads=1)
    model.fit(Xp.iloc[fold[0]], y[fold[0]], X_val=Xp.iloc[fold[1]], y_val=y[fold[1]])
    refitter = Refitter("lightgbm", PARAMS, Xp, y, fold, task, metric, 0, None, 1, model.fit_seconds_)
    va = refitter.valid_rows
    base = prior_error(y[fold[0]], y[va], task, metric)
    real = metric.error(y[va], model.predict_raw(Xp.iloc[va]), task.n_classes)
    groups = np.random.default_rng(1).integers(0, max(len(y) // 8, 2), len(y))

    def leaky(labels):
        """A target encoding of `groups` fitted on every row: the validation rows' own labels leak in."""
        out = Xp.copy()
        targets = (
            {"te": labels.astype(float)}
            if not task.is_classification
            else {f"te_{c}": (labels == c).astype(float) for c in range(1, task.n_classes)}
        )
        for name, values in targets.items():
            out[name] = pd.Series(values).groupby(groups).transform("mean").to_numpy()
        return out

    start = time.monotonic()
    honest = label_shuffle(refitter, Deadline.never(), base - real)
    leaked = label_shuffle(
        Refitter("lightgbm", PARAMS, leaky(y), y, fold, task, metric, 0, None, 1),
        Deadline.never(),
        base - real,
        features=leaky,
    )
    return {
        "dataset": spec.name,
        "task": task.kind,
        "rows": len(y),
        "metric": metric.name,
        "real_score": metric.from_error(real),
        "chance": honest["chance_score"],
        "honest_shuffled": honest["shuffled_score"],
        "honest_fired": honest["fired"],
        "leak_shuffled": leaked["shuffled_score"],
        "leak_fired": leaked["fired"],
        "seconds": round(time.monotonic() - start, 2),
    }


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=DEFAULT, help="comma-separated dataset names")
    args = parser.parse_args(argv)
    wanted = args.only.split(",")
    specs = [s for s in load_suite(SUITE) if s.name in wanted]
    rows = []
    print("| dataset | task | metric | real | chance | shuffled (honest) | fired | shuffled (leak) | fired |")
    print("|---|---|---|---|---|---|---|---|---|")
    for spec in specs:
        r = run(spec)
        rows.append(r)
        print(
            f"| {r['dataset']} | {r['task']} | {r['metric']} | {r['real_score']:.4f} | {r['chance']:.4f} | "
            f"{r['honest_shuffled']:.4f} | {'YES' if r['honest_fired'] else 'no'} | {r['leak_shuffled']:.4f} | "
            f"{'YES' if r['leak_fired'] else 'no'} |",
            flush=True,
        )
    out = REPO / "bench" / "results" / "label_shuffle.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=2))
    quiet = sum(not r["honest_fired"] for r in rows)
    fired = sum(r["leak_fired"] for r in rows)
    print(f"honest pipeline: quiet on {quiet} of {len(rows)}; constructed leak: fired on {fired} of {len(rows)}")
    return rows


if __name__ == "__main__":
    main()
