"""Many systems on many datasets: the figures that say who is better, by how much, and how sure.

- Error ratio against a reference, summarised by its geometric mean over datasets (the protocol's
  number), with a bootstrap interval over datasets: the suite is a sample of tasks, and the
  interval says how much a different sample could move the figure.
- Wins / ties / losses (a tie is within 1 % of the reference's error): one big win cannot hide many
  small losses.
- Mean rank with the Friedman test and the Nemenyi critical difference (Demšar, JMLR 2006): two
  systems whose mean ranks differ by less than the CD are not told apart by this suite.
- The ablation: each variant against the baseline with the same statistics.

Rules for missing results, the same everywhere: a failed run (error, time-out, crash) of a system
counts as a loss and as the worst rank; a failed reference leaves the dataset out of ratios; an
unavailable peer is left out altogether (its absence is reported, not scored).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from assay.bench.aggregate import TIE_TOLERANCE, outcome_of

FAILED = ("error", "timeout", "crashed")
BOOTSTRAP = 2000
# Nemenyi's q at alpha = 0.05 (studentized range / sqrt 2), for 2..20 systems (Demšar 2006, table 5).
_Q05 = [1.960, 2.344, 2.569, 2.728, 2.850, 2.949, 3.031, 3.102, 3.164, 3.219, 3.268, 3.313, 3.354, 3.391, 3.426,
        3.458, 3.489, 3.517, 3.544]  # fmt: skip


def to_frame(records: list[dict]) -> pd.DataFrame:
    """One row per record, with the columns every computation here reads."""
    rows = []
    for r in records:
        peaks = [r.get(k) for k in ("rss_self_mb", "rss_children_mb", "peak_tree_mb") if r.get(k) is not None]
        if r.get("system_peak_mb") is not None:  # a peer: its worker's memory, not the harness's
            peaks = [r["system_peak_mb"]]
        if not peaks and r.get("peak_rss_mb") is not None:  # records of older runs: the sum is all there is
            peaks = [r["peak_rss_mb"]]
        rows.append(
            {
                "dataset": r["dataset"],
                "system": r["system"],
                "budget": np.nan if r.get("budget") is None else float(r["budget"]),
                "seed": int(r.get("seed", 0)),
                "status": r.get("status"),
                "task": r.get("task"),
                "metric": r.get("metric"),
                "value": r.get("value") if r.get("status") == "ok" else None,
                "error": r.get("error") if r.get("status") == "ok" else None,
                "fit_s": r.get("fit_s"),
                "predict_s": r.get("predict_s"),
                "peak_mb": max(peaks) if peaks else None,
                "within_budget": r.get("within_budget"),
                "message": r.get("message") or "",
                "session": r.get("session"),
            }
        )
    cols = ["dataset", "system", "budget", "seed", "status", "task", "metric", "value", "error", "fit_s",
            "predict_s", "peak_mb", "within_budget", "message", "session"]  # fmt: skip
    frame = pd.DataFrame(rows, columns=cols)
    for col in ("value", "error", "fit_s", "predict_s", "peak_mb"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce")
    return frame


def at_budget(frame: pd.DataFrame, budget: float) -> pd.DataFrame:
    """The records that count at `budget`: those run with it, and those of systems without a budget."""
    return frame[(frame["budget"] == budget) | frame["budget"].isna()]


def budgets(frame: pd.DataFrame) -> list[float]:
    return sorted(frame["budget"].dropna().unique().tolist())


def cell_table(frame: pd.DataFrame) -> pd.DataFrame:
    """dataset x system: mean error and value over the seeds that succeeded, and a state per cell:
    "ok", "failed" (no seed succeeded, at least one failed) or "unavailable"."""
    rows = []
    for (dataset, system), g in frame.groupby(["dataset", "system"], sort=False):
        ok = g[g["status"] == "ok"]
        if len(ok):
            state = "ok"
        elif g["status"].isin(FAILED).any():
            state = "failed"
        else:
            state = "unavailable"
        rows.append(
            {
                "dataset": dataset,
                "system": system,
                "state": state,
                "error": ok["error"].mean() if len(ok) else np.nan,
                "value": ok["value"].mean() if len(ok) else np.nan,
                "value_sd": ok["value"].std(ddof=1) if len(ok) > 1 else np.nan,
                "n_seeds": len(ok),
                "task": g["task"].dropna().iloc[0] if g["task"].notna().any() else None,
                "metric": g["metric"].dropna().iloc[0] if g["metric"].notna().any() else None,
                "fit_s": g["fit_s"].mean(),
                "peak_mb": g["peak_mb"].max(),
                "overrun": bool((g["within_budget"] == False).any()),  # noqa: E712 (None is unknown, not False)
                "message": "; ".join(sorted(set(m for m in g.loc[g["status"] != "ok", "message"] if m)))[:200],
                "sessions": frozenset(g["session"].dropna()),
            }
        )
    return pd.DataFrame(rows)


def geomean_interval(ratios, n_boot: int = BOOTSTRAP, seed: int = 0) -> tuple[float, float, float]:
    """(geometric mean, 2.5 %, 97.5 %): a percentile bootstrap over datasets."""
    logs = np.log(np.asarray([r for r in ratios if r is not None and r > 0 and math.isfinite(r)], dtype=float))
    if len(logs) == 0:
        return (math.nan, math.nan, math.nan)
    point = float(np.exp(logs.mean()))
    if len(logs) == 1:
        return (point, point, point)
    rng = np.random.default_rng(seed)
    means = logs[rng.integers(0, len(logs), size=(n_boot, len(logs)))].mean(axis=1)
    return (point, float(np.exp(np.quantile(means, 0.025))), float(np.exp(np.quantile(means, 0.975))))


@dataclass
class PairSummary:
    """One system against one reference over the datasets of one budget."""

    system: str
    reference: str
    n_datasets: int = 0
    n_compared: int = 0
    geomean: float = math.nan
    low: float = math.nan
    high: float = math.nan
    wins: int = 0
    ties: int = 0
    losses: int = 0
    failures: list[str] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)
    ratios: dict[str, float] = field(default_factory=dict)


def compare_pair(cells: pd.DataFrame, system: str, reference: str, tolerance: float = TIE_TOLERANCE) -> PairSummary:
    out = PairSummary(system, reference)
    by = cells.set_index(["dataset", "system"])
    for dataset in cells["dataset"].unique():
        mine = by.loc[(dataset, system)] if (dataset, system) in by.index else None
        ref = by.loc[(dataset, reference)] if (dataset, reference) in by.index else None
        if mine is None or mine["state"] == "unavailable":
            if mine is not None:
                out.unavailable.append(dataset)
            continue
        out.n_datasets += 1
        if mine["state"] == "failed":
            out.failures.append(dataset)
        if ref is None or ref["state"] != "ok":
            continue
        if mine["state"] == "failed":
            out.losses += 1
            continue
        ratio = float(mine["error"] / ref["error"])
        out.ratios[dataset] = ratio
        outcome = outcome_of(ratio, tolerance)
        out.wins += outcome == "win"
        out.ties += outcome == "tie"
        out.losses += outcome == "loss"
    out.n_compared = len(out.ratios)
    out.geomean, out.low, out.high = geomean_interval(list(out.ratios.values()))
    return out


@dataclass
class Ranking:
    systems: list[str]
    mean_ranks: dict[str, float]
    n_datasets: int
    friedman_chi2: float
    friedman_p: float
    cd: float  # Nemenyi critical difference at alpha = 0.05
    cliques: list[list[str]]  # maximal groups whose ranks differ by less than cd


def rank_systems(cells: pd.DataFrame, systems: list[str]) -> Ranking | None:
    """Ranks on the datasets where every system has a result (a failure ranks last)."""
    from scipy.stats import chi2, rankdata

    table = cells.pivot(index="dataset", columns="system", values="error")
    states = cells.pivot(index="dataset", columns="system", values="state")
    present = set(cells.loc[cells["state"] != "unavailable", "system"])
    systems = [s for s in systems if s in table.columns and s in present]  # an absent peer is not ranked
    if len(systems) < 2:
        return None
    table, states = table[systems], states[systems]
    usable = states.isin(["ok", "failed"]).all(axis=1) & (states == "ok").any(axis=1)
    errors = table[usable].where(states[usable] == "ok", np.inf).to_numpy(dtype=float)
    n, k = errors.shape
    if n == 0:
        return None
    ranks = np.vstack([rankdata(row, method="average") for row in errors])
    mean = ranks.mean(axis=0)
    stat = 12 * n / (k * (k + 1)) * (np.sum(mean**2) - k * (k + 1) ** 2 / 4)
    p = float(chi2.sf(stat, k - 1)) if k > 1 else math.nan
    cd = nemenyi_q(k) * math.sqrt(k * (k + 1) / (6 * n))
    mean_ranks = dict(zip(systems, mean.tolist(), strict=True))
    return Ranking(systems, mean_ranks, n, float(stat), p, cd, cliques(mean_ranks, cd))


def nemenyi_q(k: int) -> float:
    if 2 <= k <= len(_Q05) + 1:
        return _Q05[k - 2]
    from scipy.stats import studentized_range

    return float(studentized_range.ppf(0.95, k, 10_000) / math.sqrt(2))


def cliques(mean_ranks: dict[str, float], cd: float) -> list[list[str]]:
    """Maximal runs of systems (in rank order) that the critical difference cannot separate."""
    order = sorted(mean_ranks, key=mean_ranks.get)
    groups = []
    for i, first in enumerate(order):
        group = [s for s in order[i:] if mean_ranks[s] - mean_ranks[first] < cd]
        if len(group) > 1 and not any(set(group) <= set(g) for g in groups):
            groups.append(group)
    return groups


def resources(cells: pd.DataFrame, frame: pd.DataFrame, system: str, reference: str) -> dict:
    """Time and memory of one system at one budget. The time ratio uses only side-by-side runs: both
    succeeded, in the same session (the protocol: never compare times taken on different days)."""
    mine = frame[(frame["system"] == system) & (frame["status"] == "ok")]
    ok = cells[cells["state"] == "ok"].set_index(["dataset", "system"])
    logs = []
    for dataset in cells["dataset"].unique():
        if system == reference or (dataset, system) not in ok.index or (dataset, reference) not in ok.index:
            continue
        a, b = ok.loc[(dataset, system)], ok.loc[(dataset, reference)]
        same_session = not (a["sessions"] and b["sessions"]) or bool(a["sessions"] & b["sessions"])
        if same_session and a["fit_s"] > 0 and b["fit_s"] > 0:
            logs.append(math.log(a["fit_s"] / b["fit_s"]))
    ratio = float(np.exp(np.mean(logs))) if logs else math.nan
    overruns = sorted(cells.loc[(cells["system"] == system) & cells["overrun"], "dataset"])
    return {
        "median_fit_s": float(mine["fit_s"].median()) if len(mine) else math.nan,
        "max_fit_s": float(mine["fit_s"].max()) if len(mine) else math.nan,
        "median_predict_s": float(mine["predict_s"].median()) if len(mine) else math.nan,
        "time_ratio": ratio,
        "median_peak_mb": float(mine["peak_mb"].median()) if len(mine) else math.nan,
        "max_peak_mb": float(mine["peak_mb"].max()) if len(mine) else math.nan,
        "overruns": overruns,
    }


def anytime(frame: pd.DataFrame, systems: list[str], reference: str) -> pd.DataFrame:
    """budget x system: the geometric-mean error ratio against the reference at that budget."""
    rows = []
    for budget in budgets(frame):
        cells = cell_table(at_budget(frame, budget))
        row = {"budget": budget}
        for system in systems:
            row[system] = compare_pair(cells, system, reference).geomean if system != reference else 1.0
        rows.append(row)
    return pd.DataFrame(rows, columns=["budget", *systems])


@dataclass
class Effect:
    factor: str
    level: str
    label: str
    summary: PairSummary | None  # None for the baseline row, and for a variant that was not run
    is_baseline: bool = False


def ablation(cells: pd.DataFrame, matrix: dict[str, list[str]], label_of) -> list[Effect]:
    """Each variant against the baseline: `label_of(levels)` names the system run for a choice of levels."""
    if not matrix:
        return []
    baseline = {f: levels[0] for f, levels in matrix.items()}
    base_label = label_of(baseline)
    out = []
    for factor, levels in matrix.items():
        out.append(Effect(factor, levels[0], base_label, None, is_baseline=True))
        for level in levels[1:]:
            label = label_of({**baseline, factor: level})
            present = label in set(cells["system"])
            out.append(Effect(factor, level, label, compare_pair(cells, label, base_label) if present else None))
    return out
