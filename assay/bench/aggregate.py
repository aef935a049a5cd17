"""From per-run records to the figures the protocol asks for, and a markdown report.

One number decides whether a change helped: the geometric mean, over datasets, of the error ratio
system / reference (below 1.0 is better), with wins / ties / losses beside it so that one big win
cannot hide many small losses. A failed run is never silently dropped: a system failure counts as
a loss, a reference failure leaves the dataset out of the comparison, and both are listed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from assay.bench.systems import REFERENCE

TIE_TOLERANCE = 0.01  # errors within 1 % (relative to the reference) are a tie


@dataclass(frozen=True)
class Comparison:
    dataset: str
    task: str | None
    system: dict | None
    reference: dict | None
    ratio: float | None  # system error / reference error; None unless both ran
    outcome: str  # "win", "tie", "loss" or "n/a"


@dataclass
class Summary:
    n_datasets: int
    n_compared: int
    geomean_ratio: float | None
    wins: int
    ties: int
    losses: int
    overruns: list[str] = field(default_factory=list)
    system_failures: list[str] = field(default_factory=list)
    reference_failures: list[str] = field(default_factory=list)
    max_peak_rss_mb: float | None = None
    max_peak_rss_dataset: str | None = None


def _ok(record: dict | None) -> bool:
    return bool(record) and record.get("status") == "ok" and record.get("error") is not None


def outcome_of(ratio: float, tolerance: float = TIE_TOLERANCE) -> str:
    if abs(ratio - 1.0) < tolerance:
        return "tie"
    return "win" if ratio < 1.0 else "loss"


def compare(records: list[dict], system: str = "assay", reference: str = REFERENCE) -> list[Comparison]:
    """One comparison per dataset, in the order datasets first appear in the records."""
    by_key = {(r["dataset"], r["system"]): r for r in records}
    datasets = list(dict.fromkeys(r["dataset"] for r in records))
    out = []
    for name in datasets:
        mine, ref = by_key.get((name, system)), by_key.get((name, reference))
        task = (mine or ref or {}).get("task")
        if _ok(mine) and _ok(ref):
            ratio = mine["error"] / ref["error"]
            out.append(Comparison(name, task, mine, ref, ratio, outcome_of(ratio)))
        elif mine is not None and not _ok(mine) and _ok(ref):
            out.append(Comparison(name, task, mine, ref, None, "loss"))
        else:
            out.append(Comparison(name, task, mine, ref, None, "n/a"))
    return out


def geometric_mean(values: list[float]) -> float | None:
    values = [v for v in values if v is not None and v > 0 and math.isfinite(v)]
    if not values:
        return None
    return math.exp(sum(math.log(v) for v in values) / len(values))


def summarize(records: list[dict], system: str = "assay", reference: str = REFERENCE) -> Summary:
    comparisons = compare(records, system, reference)
    ratios = [c.ratio for c in comparisons if c.ratio is not None]
    mine = [r for r in records if r["system"] == system]
    rss = [(r["peak_rss_mb"], r["dataset"]) for r in mine if r.get("peak_rss_mb") is not None]
    top = max(rss) if rss else (None, None)
    return Summary(
        n_datasets=len(comparisons),
        n_compared=len(ratios),
        geomean_ratio=geometric_mean(ratios),
        wins=sum(c.outcome == "win" for c in comparisons),
        ties=sum(c.outcome == "tie" for c in comparisons),
        losses=sum(c.outcome == "loss" for c in comparisons),
        overruns=[r["dataset"] for r in mine if r.get("within_budget") is False],
        system_failures=[r["dataset"] for r in mine if not _ok(r)],
        reference_failures=[r["dataset"] for r in records if r["system"] == reference and not _ok(r)],
        max_peak_rss_mb=top[0],
        max_peak_rss_dataset=top[1],
    )


def _num(value, digits: int = 4) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def _secs(value) -> str:
    return "—" if value is None else f"{value:.1f}"


def _note(c: Comparison) -> str:
    notes = []
    for who, rec in (("assay", c.system), ("lgbm", c.reference)):
        if rec is None:
            notes.append(f"{who} not run")
        elif not _ok(rec):
            notes.append(f"{who} {rec.get('status')}: {str(rec.get('message', ''))[:80]}".replace("|", "/"))
    if c.system and c.system.get("within_budget") is False:
        notes.append("assay over budget")
    return "; ".join(notes)


def summary_lines(s: Summary) -> list[str]:
    geo = "—" if s.geomean_ratio is None else f"{s.geomean_ratio:.3f}"
    rss = "—" if s.max_peak_rss_mb is None else f"{s.max_peak_rss_mb:,.0f} MB ({s.max_peak_rss_dataset})"
    lines = [
        f"- Geometric-mean error ratio assay / LightGBM default: **{geo}** "
        f"over {s.n_compared} of {s.n_datasets} datasets (below 1.0 is better)",
        f"- Wins / ties / losses: **{s.wins} / {s.ties} / {s.losses}** (tie: within {TIE_TOLERANCE:.0%})",
        f"- Budget overruns (fit > budget x 1.05 + 5 s): {len(s.overruns)}"
        + (f" ({', '.join(s.overruns)})" if s.overruns else ""),
        f"- Max peak RSS (assay): {rss}",
    ]
    if s.system_failures:
        lines.append(f"- assay failures (counted as losses): {', '.join(s.system_failures)}")
    if s.reference_failures:
        lines.append(f"- Reference failures (not compared): {', '.join(s.reference_failures)}")
    return lines


def render_markdown(
    records: list[dict],
    title: str = "Benchmark",
    meta: dict | None = None,
    system: str = "assay",
    reference: str = REFERENCE,
) -> str:
    """The report: a header of run settings, the per-dataset table, and the summary lines."""
    lines = [f"# {title}", ""]
    for key, value in (meta or {}).items():
        lines.append(f"- {key}: {value}")
    if meta:
        lines.append("")
    header = [
        "dataset",
        "task",
        "metric",
        "assay",
        "lgbm",
        "ratio",
        "assay fit s",
        "assay predict s",
        "assay peak RSS MB",
        "lgbm fit s",
        "notes",
    ]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for c in compare(records, system, reference):
        mine, ref = c.system or {}, c.reference or {}
        metric = mine.get("metric") or ref.get("metric") or "—"
        row = [
            c.dataset,
            c.task or "—",
            metric,
            _num(mine.get("value")),
            _num(ref.get("value")),
            "—" if c.ratio is None else f"{c.ratio:.3f}",
            _secs(mine.get("fit_s")),
            _secs(mine.get("predict_s")),
            _secs(mine.get("peak_rss_mb")),
            _secs(ref.get("fit_s")),
            _note(c),
        ]
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "## Summary", "", *summary_lines(summarize(records, system, reference)), ""]
    return "\n".join(lines)
