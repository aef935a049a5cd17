"""Drift detection on real data: how often `assay.monitor.monitor` fires on 1,000-row windows with
a real shift (detection rate) and on windows without one (false-alarm rate).

Scenarios, per dataset (adult and houses from ../shared/datasets; a missing one is skipped):
- the rows are split at random in two halves; a model (one LightGBM trial, the dataset's PMLB
  metadata as type hints) is fitted on the reference half, which also gives monitoring its
  reference sample and out-of-fold predictions, exactly as `Predictor.save` would keep them;
- stationary: windows of 1,000 rows drawn at random from the other half;
- covariate shift: windows drawn from the other half with probability proportional to
  exp(strength * z), z the normal score of a feature's rank (numeric), or 1 for one level and 0
  for the rest (categorical): one side of the feature is favoured, everything else about the rows
  (and the relation to the target) stays real;
- label shift: windows drawn with weights that move the class shares (classification) or favour
  high targets (regression); the target column is not shown to the monitor, which must see the
  shift in the inputs and the predictions.
Each shifted window's true PSI is the PSI between the reference half and the population the
window was drawn from (the weighted other half), on the reference's deciles or levels: the size
of the shift itself, free of the window's sampling noise. Windows never include labels, so
performance checks do not take part in the detection figures; the false-alarm rate of the
performance check on stationary windows (labels attached) is reported on its own.

    .venv/bin/python bench/drift.py                       # about 5 minutes on an idle 2-core machine
    .venv/bin/python bench/drift.py --stationary 40 --per-cell 3 --datasets adult   # smoke test
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as sps

from assay import Predictor
from assay.bench.harness import commit_label
from assay.evaluate.metrics import get_metric
from assay.monitor import Thresholds, monitor, performance_over_time
from assay.monitor import stats as mstats
from assay.monitor.performance import encode_labels
from assay.monitor.reference import load_reference

REPO = Path(__file__).resolve().parents[1]
DATASETS = (REPO / ".." / "shared" / "datasets").resolve()
SPECS = {
    "adult": {
        "path": "pmlb/adult/adult.tsv.gz",
        "target": "target",
        "shift": ["age", "hours-per-week", "relationship"],
        "labels": [0.86, 0.66, 0.56, 0.46],  # share of the majority class (0.76 in the data)
    },
    "houses": {
        "path": "pmlb/537_houses/537_houses.tsv.gz",
        "target": "target",
        "shift": ["median_income", "housing_median_age", "latitude"],
        "labels": [0.2, 0.4, 0.6, 0.8],  # tilt towards high targets
    },
}
STRENGTHS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0]
WINDOW = 1_000
PSI_BUCKETS = [0.0, 0.05, 0.1, 0.2, 0.3, 0.5, np.inf]


def main(argv=None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    started = time.time()
    records, models, skipped = [], {}, []
    for name in args.datasets.split(","):
        spec = SPECS[name]
        path = DATASETS / spec["path"]
        if not path.is_file():
            skipped.append(f"{name}: {path} not found")
            print(f"skipping {name}: {path} not found", file=sys.stderr)
            continue
        t0 = time.time()
        recs, info = run_dataset(name, path, spec, args)
        info["seconds"] = round(time.time() - t0, 1)
        records += recs
        models[name] = info
        print(f"{name}: {len(recs)} windows in {info['seconds']} s", file=sys.stderr)
    meta = {
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": commit_label(),
        "seconds": round(time.time() - started, 1),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "window_rows": WINDOW,
        "thresholds": Thresholds().to_dict(),
        "args": vars(args),
        "skipped": skipped,
        "models": models,
    }
    summary = summarize(records)
    out.with_suffix(".json").write_text(
        json.dumps({"meta": meta, "summary": summary, "windows": records}, separators=(",", ":"))
    )
    out.with_suffix(".md").write_text(render(meta, summary))
    print(out.with_suffix(".md").read_text())
    return 0


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", default="adult,houses")
    parser.add_argument("--stationary", type=int, default=200, help="stationary windows per dataset")
    parser.add_argument("--per-cell", type=int, default=6, help="windows per (feature, strength) and label shift")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "drift"))
    return parser.parse_args(argv)


def run_dataset(name: str, path: Path, spec: dict, args) -> tuple[list[dict], dict]:
    rng = np.random.default_rng(args.seed)
    data = pd.read_csv(path, sep="\t")
    order = rng.permutation(len(data))
    half = len(data) // 2
    reference, pool = data.iloc[order[:half]].reset_index(drop=True), data.iloc[order[half:]].reset_index(drop=True)
    target = spec["target"]
    hints = path.parent / "metadata.yaml"
    t0 = time.time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        predictor = Predictor(
            target, trials=1, families=["lightgbm"], seed=args.seed, n_threads=1, verbose=False,
            schema=hints if hints.is_file() else None,
        ).fit(reference)  # fmt: skip
    fit_s = time.time() - t0
    ref = load_reference(predictor)
    kinds = ref.kinds
    records = []
    X_pool = pool.drop(columns=[target])
    task = predictor._task
    metric = get_metric(predictor.info["metric"], task)

    def window(kind, feature, strength, true_psi, weights, i):
        idx = rng.choice(len(pool), size=WINDOW, replace=False, p=None if weights is None else weights / weights.sum())
        rows = X_pool.iloc[idx].reset_index(drop=True)
        t = time.time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = monitor(predictor, rows, seed=i)
        rec = {
            "dataset": name,
            "scenario": kind,
            "feature": feature,
            "strength": strength,
            "true_psi": None if true_psi is None else round(float(true_psi), 5),
            "fired": result.fired,
            "checks": sorted({f"{a.kind}:{a.subject}" for a in result.alerts}),
            "seconds": round(time.time() - t, 3),
        }
        rec["tests"] = [  # enough to replay the firing rule under other thresholds (the sweep below)
            [
                f.feature,
                f.role,
                _r(f.psi),
                _r(f.distance),
                _r(f.p_adjusted, 8),
                "missing" in f.fired,
                "unseen" in f.fired,
            ]
            for f in result.drift.features
        ]
        multi = result.drift.multivariate
        rec["auc_low"] = None if multi is None or multi.low is None else _r(multi.low)
        if feature is not None and feature in kinds:
            row = result.drift.feature(str(feature))
            rec["observed_psi"] = None if row.psi is None else round(row.psi, 5)
            rec["on_feature"] = bool(row.fired)
        if kind == "stationary":  # the performance check, labels attached, on the same rows
            raw = predictor._ensemble.predict_raw(predictor._preprocessor.transform(result_frame(predictor, rows)))
            y = encode_labels(task, pool[target].iloc[idx].reset_index(drop=True))
            perf = performance_over_time(metric, y, raw, n_classes=task.n_classes, training=ref.estimate, seed=i)
            rec["performance_fired"] = perf.fired
        records.append(rec)

    for i in range(args.stationary):
        window("stationary", None, 0.0, 0.0, None, i)
    for feature in spec["shift"]:
        for strength in STRENGTHS:
            weights = tilt(pool[feature], kinds.get(feature, "numeric"), strength)
            true = true_psi(reference[feature], pool[feature], weights, kinds.get(feature, "numeric"))
            for i in range(args.per_cell):
                window("covariate", feature, strength, true, weights, 10_000 + i)
    for level in spec["labels"]:
        weights = label_weights(pool[target], task.kind, level)
        true = true_psi(
            reference[target], pool[target], weights, "numeric" if task.kind == "regression" else "categorical"
        )
        for i in range(args.per_cell + 2):
            window("label", None, level, true, weights, 20_000 + i)
    info = {
        "rows": len(data),
        "reference_rows": half,
        "reference_sample": ref.n_rows,
        "fit_seconds": round(fit_s, 1),
        "metric": metric.name,
        "estimate": ref.estimate,
        "kinds": {str(k): v for k, v in kinds.items()},
    }
    return records, info


def result_frame(predictor, rows: pd.DataFrame) -> pd.DataFrame:
    frame, _ = predictor._contract(rows, strict=False)
    return frame.drop(columns=[predictor.target], errors="ignore")


def tilt(col: pd.Series, kind: str, strength: float) -> np.ndarray:
    """exp(strength * z): z the normal score of the rank (numeric), or 1 for the second most
    common level and 0 otherwise (categorical); missing values get z = 0."""
    if kind == "categorical":
        level = col.value_counts().index[1]
        z = (col == level).to_numpy(dtype=float) * 2.0
    else:
        ranks = col.rank(method="average").to_numpy()
        z = sps.norm.ppf((ranks - 0.5) / col.notna().sum())
        z = np.nan_to_num(z, nan=0.0)
    return np.exp(strength * z)


def label_weights(y: pd.Series, task_kind: str, level: float) -> np.ndarray:
    if task_kind == "regression":
        return tilt(y, "numeric", level)
    shares = y.value_counts(normalize=True)
    major = shares.index[0]
    rest = 1 - shares[major]
    factor = np.where(y == major, level / shares[major], (1 - level) / rest)
    return factor.astype(float)


def true_psi(reference: pd.Series, pool: pd.Series, weights: np.ndarray, kind: str) -> float:
    """PSI between the reference and the weighted pool, at population scale (counts as shares of a
    million rows, so the half-row smoothing is negligible)."""
    w = weights / weights.sum()
    if kind == "categorical":
        levels = reference.dropna().astype(str).value_counts(normalize=True)
        shifted = pd.Series(w, index=pool.index).groupby(pool.astype(str)).sum().reindex(levels.index, fill_value=0)
        shifted = shifted / shifted.sum()
        return mstats.psi(levels.to_numpy() * 1e6, shifted.to_numpy() * 1e6)
    ref = pd.to_numeric(reference, errors="coerce").dropna().to_numpy(float)
    values = pd.to_numeric(pool, errors="coerce")
    keep = values.notna().to_numpy()
    edges = mstats.quantile_edges(ref)
    a = mstats.binned_counts(ref, edges) / len(ref)
    b = np.bincount(np.searchsorted(edges, values[keep].to_numpy(float), side="right"), weights=w[keep],
                    minlength=len(edges) + 1)  # fmt: skip
    return mstats.psi(a * 1e6, b / b.sum() * 1e6)


# ---- summary --------------------------------------------------------------------------------------

SWEEP = [(psi, dist) for psi in (0.1, 0.15, 0.2, 0.25) for dist in (0.1, 0.15, 0.2, None)]


def fires(rec: dict, psi: float, distance: float | None, alpha: float = 0.05, auc: float = 0.6) -> bool:
    """The drift rule of assay.monitor.drift replayed on a window's recorded statistics."""
    for _, _, p_psi, p_dist, p_adj, missing, unseen in rec["tests"]:
        material = (p_psi or 0) >= psi or (distance is not None and (p_dist or 0) >= distance)
        if (p_adj is not None and p_adj < alpha and material) or missing or unseen:
            return True
    return rec["auc_low"] is not None and rec["auc_low"] > auc


def sweep(records: list[dict]) -> list[dict]:
    stationary = [r for r in records if r["scenario"] == "stationary"]
    shifted = [r for r in records if r["scenario"] != "stationary"]
    out = []
    for psi, dist in SWEEP:
        row = {"psi": psi, "distance": dist}
        for name, rows in (
            ("false_alarms", stationary),
            ("psi_0.2_up", [r for r in shifted if r["true_psi"] >= 0.2]),
            ("psi_0.1_0.2", [r for r in shifted if 0.1 <= r["true_psi"] < 0.2]),
            ("psi_under_0.05", [r for r in shifted if r["true_psi"] < 0.05]),
        ):
            k = sum(fires(r, psi, dist) for r in rows)
            row[name] = {"k": k, "n": len(rows), "rate": round(k / len(rows), 4) if rows else None}
        out.append(row)
    return out


def wilson(k: int, n: int) -> tuple[float | None, float | None]:
    if n == 0:
        return None, None
    ci = sps.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return round(float(ci.low), 4), round(float(ci.high), 4)


def rate(rows: list[dict], key: str = "fired") -> dict:
    k, n = sum(bool(r[key]) for r in rows), len(rows)
    low, high = wilson(k, n)
    return {"k": k, "n": n, "rate": round(k / n, 4) if n else None, "low": low, "high": high}


def summarize(records: list[dict]) -> dict:
    stationary = [r for r in records if r["scenario"] == "stationary"]
    shifted = [r for r in records if r["scenario"] != "stationary"]
    out = {
        "false_alarms": rate(stationary),
        "false_alarms_by_dataset": {d: rate([r for r in stationary if r["dataset"] == d]) for d in _datasets(records)},
        "false_alarm_checks": _counts([c for r in stationary for c in r["checks"]]),
        "performance_false_alarms": rate([r for r in stationary if "performance_fired" in r], "performance_fired"),
        "detection_psi_0.2": rate([r for r in shifted if r["true_psi"] >= 0.2]),
        "detection_psi_0.2_covariate": rate(
            [r for r in shifted if r["scenario"] == "covariate" and r["true_psi"] >= 0.2]
        ),
        "detection_psi_0.2_label": rate([r for r in shifted if r["scenario"] == "label" and r["true_psi"] >= 0.2]),
        "detection_psi_0.2_on_feature": rate(
            [r for r in shifted if r["scenario"] == "covariate" and r["true_psi"] >= 0.2], "on_feature"
        ),
        "by_psi": [],
        "cells": [],
        "window_seconds_median": round(float(np.median([r["seconds"] for r in records])), 3) if records else None,
        "sweep": sweep(records),
    }
    for lo, hi in zip(PSI_BUCKETS[:-1], PSI_BUCKETS[1:], strict=True):
        rows = [r for r in shifted if lo <= r["true_psi"] < hi]
        out["by_psi"].append({"from": lo, "to": None if hi == np.inf else hi, **rate(rows)})
    keys = sorted({(r["dataset"], r["scenario"], str(r["feature"]), r["strength"]) for r in shifted})
    for d, s, f, st in keys:
        rows = [r for r in shifted if (r["dataset"], r["scenario"], str(r["feature"]), r["strength"]) == (d, s, f, st)]
        observed = [r["observed_psi"] for r in rows if r.get("observed_psi") is not None]
        out["cells"].append({
            "dataset": d, "scenario": s, "feature": None if f == "None" else f, "strength": st,
            "true_psi": rows[0]["true_psi"],
            "observed_psi_mean": round(float(np.mean(observed)), 4) if observed else None,
            **rate(rows),
        })  # fmt: skip
    return out


def render(meta: dict, s: dict) -> str:
    def pct(r):
        if not r["n"]:
            return "- (no windows)"
        return f"{100 * r['rate']:.1f} % ({r['k']}/{r['n']}; 95 % Wilson {100 * r['low']:.1f}-{100 * r['high']:.1f} %)"

    lines = [
        "# Drift detection on real data (bench/drift.py)",
        "",
        f"Created {meta['created']}, commit {meta['commit']}, {meta['seconds']} s; load average before "
        f"{meta['load_before']}, after {meta['load_after']} (2 cores). Windows of {meta['window_rows']:,} rows; "
        f"thresholds {meta['thresholds']}.",
        "",
        "Command: `" + " ".join(["python", "bench/drift.py", *sys.argv[1:]]) + "`",
        "",
        "## Headline",
        "",
        "| figure | target | measured |",
        "|---|---|---|",
        f"| detection, windows with true PSI >= 0.2 (all scenarios) | >= 95 % | {pct(s['detection_psi_0.2'])} |",
        f"| of which covariate shift | | {pct(s['detection_psi_0.2_covariate'])} |",
        f"| of which label shift (no labels shown) | | {pct(s['detection_psi_0.2_label'])} |",
        f"| covariate shift flagged on the shifted column itself | | {pct(s['detection_psi_0.2_on_feature'])} |",
        f"| false alarms, stationary windows | <= 5 % | {pct(s['false_alarms'])} |",
        f"| performance check false alarms, stationary windows with labels | | {pct(s['performance_false_alarms'])} |",
        "",
    ]
    for d, r in s["false_alarms_by_dataset"].items():
        lines.append(f"- false alarms on {d}: {pct(r)}")
    if s["false_alarm_checks"]:
        lines.append(f"- what fired on stationary windows: {s['false_alarm_checks']}")
    lines += [
        "",
        "## Detection rate by true PSI of the shift",
        "",
        "| true PSI | windows | detected |",
        "|---|---|---|",
    ]
    for b in s["by_psi"]:
        hi = "" if b["to"] is None else f"{b['to']}"
        lines.append(f"| {b['from']} - {hi} | {b['n']} | {pct(b)} |")
    lines += ["", "## Every scenario", ""]
    lines += ["| dataset | scenario | feature | strength | true PSI | mean observed PSI | detected |"]
    lines += ["|---|---|---|---|---|---|---|"]
    for c in s["cells"]:
        obs = "-" if c["observed_psi_mean"] is None else f"{c['observed_psi_mean']:.3f}"
        lines.append(
            f"| {c['dataset']} | {c['scenario']} | {c['feature'] or '(labels)'} | {c['strength']} | "
            f"{c['true_psi']:.3f} | {obs} | {c['k']}/{c['n']} |"
        )
    lines += [
        "",
        "## Thresholds replayed (the same windows, the rule re-applied to their recorded statistics)",
        "",
        "Missing-rate, unseen-category and classifier checks unchanged; `distance` - means PSI alone.",
        "",
        "| PSI >= | distance >= | false alarms | detected, PSI >= 0.2 | fired, PSI 0.1-0.2 | fired, PSI < 0.05 |",
        "|---|---|---|---|---|---|",
    ]
    for r in s["sweep"]:
        cells = [f"{r[k]['k']}/{r[k]['n']}" for k in ("false_alarms", "psi_0.2_up", "psi_0.1_0.2", "psi_under_0.05")]
        lines.append(
            f"| {r['psi']} | {r['distance'] if r['distance'] is not None else '-'} | " + " | ".join(cells) + " |"
        )
    lines += ["", "## Models", ""]
    for name, m in meta["models"].items():
        est = m["estimate"] or {}
        lines.append(
            f"- {name}: {m['rows']:,} rows, reference half {m['reference_rows']:,} "
            f"(sample kept {m['reference_sample']:,}), "
            f"fit {m['fit_seconds']} s, {m['metric']} {est.get('value', float('nan')):.4f} out-of-fold, "
            f"{m['seconds']} s for all its windows"
        )
    lines.append(f"- median time per window (monitor(): cleaning, predictions, tests, classifier): "
                 f"{s['window_seconds_median']} s")  # fmt: skip
    for note in meta["skipped"]:
        lines.append(f"- skipped {note}")
    return "\n".join(lines) + "\n"


def _r(v, digits: int = 5):
    return None if v is None or not np.isfinite(v) else round(float(v), digits)


def _counts(items: list[str]) -> dict:
    return dict(sorted(pd.Series(items, dtype=object).value_counts().items())) if items else {}


def _datasets(records) -> list[str]:
    return sorted({r["dataset"] for r in records})


if __name__ == "__main__":
    raise SystemExit(main())
