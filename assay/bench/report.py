"""A benchmark's results as a Markdown summary and a self-contained HTML page with the plots.

Both read the same `BenchReport`, computed once from the store's latest records, so the page and
the summary can never disagree. Sections per budget (the per-dataset table, the aggregates, the
ranks), then the anytime curves, the ablation, failures, and the versions of everything.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from assay.bench import figures
from assay.bench.stats import (
    TIE_TOLERANCE,
    Effect,
    PairSummary,
    Ranking,
    ablation,
    anytime,
    at_budget,
    budgets,
    cell_table,
    compare_pair,
    rank_systems,
    resources,
    to_frame,
)


@dataclass
class BudgetSection:
    budget: float
    cells: pd.DataFrame
    pairs: list[PairSummary]
    ranking: Ranking | None
    resources: dict[str, dict]
    frame: pd.DataFrame
    effects: list[Effect] = field(default_factory=list)


@dataclass
class BenchReport:
    title: str
    reference: str
    systems: list[str]
    sections: list[BudgetSection]
    anytime: pd.DataFrame | None
    frame: pd.DataFrame
    matrix: dict[str, list[str]]
    sessions: list[dict]
    failures: pd.DataFrame


def build_report(
    records: list[dict],
    reference: str,
    *,
    systems: list[str] | None = None,
    matrix: dict[str, list[str]] | None = None,
    sessions: list[dict] | None = None,
    title: str = "Benchmark",
) -> BenchReport:
    from assay.bench.harness import assay_entry

    frame = to_frame(records)
    present = list(dict.fromkeys(frame["system"]))
    systems = [s for s in (systems or []) if s in present] + [s for s in present if s not in (systems or [])]
    if reference not in systems:
        systems = [reference, *systems]
    sections = []
    for budget in budgets(frame) or [math.nan]:
        sub = at_budget(frame, budget) if math.isfinite(budget) else frame
        cells = cell_table(sub)
        pairs = [compare_pair(cells, s, reference) for s in systems if s != reference]
        res = {s: resources(cells, sub, s, reference) for s in systems}
        section = BudgetSection(budget, cells, pairs, rank_systems(cells, systems), res, sub)
        section.effects = ablation(cells, matrix or {}, lambda levels: assay_entry(levels).label)
        sections.append(section)
    bad = frame[~frame["status"].isin(["ok"])][["dataset", "system", "budget", "seed", "status", "message"]]
    return BenchReport(
        title,
        reference,
        systems,
        sections,
        anytime(frame, systems, reference),
        frame,
        matrix or {},
        sessions or [],
        bad,
    )


# --- Markdown --------------------------------------------------------------------------------------
def render_markdown(report: BenchReport) -> str:
    lines = [f"# {report.title}", ""]
    if report.sessions:
        last = report.sessions[-1]
        git = last.get("git") or {}
        lines += [
            f"- suite: {last.get('suite')} ({len(last.get('datasets', []))} datasets), "
            f"sessions: {len(report.sessions)}, last started {last.get('started')}",
            f"- assay {last.get('assay_version')} at {git.get('commit', '?')[:10]}"
            + (" (uncommitted edits)" if git.get("dirty") else "")
            + f", Python {last.get('python')}, {last.get('machine')}",
            f"- peers: {_peer_line(last.get('peers') or {})}",
        ]
    lines += [
        f"- reference: **{report.reference}**; error = 1 - AUC (binary), log loss (multiclass), RMSE (regression), "
        f"floored at 1e-4; tie = within {TIE_TOLERANCE:.0%}; intervals: 95 % bootstrap over datasets",
        "- time ratio: geometric mean of fit seconds / the reference's, on datasets where both succeeded; "
        "peak MB: the largest of the fit process's own peak, its largest child's, and the sampled memory of its "
        "whole process tree (private memory summed, shared libraries counted once); for a peer, its worker's",
        "",
    ]
    for section in report.sections:
        lines += _markdown_section(report, section)
    if report.anytime is not None and len(report.anytime) > 1:
        lines += ["## Anytime: geometric-mean error ratio vs " + report.reference + " by budget", ""]
        cols = [c for c in report.anytime.columns if c != "budget"]
        lines += ["| system | " + " | ".join(f"{b:g} s" for b in report.anytime["budget"]) + " |"]
        lines += ["|---|" + "---:|" * len(report.anytime)]
        for c in cols:
            lines.append(f"| {c} | " + " | ".join(_f(v, 3) for v in report.anytime[c]) + " |")
        lines.append("")
    if len(report.failures):
        lines += ["## Runs that did not succeed", "", "| dataset | system | budget | seed | status | message |"]
        lines += ["|---|---|---:|---:|---|---|"]
        for r in report.failures.itertuples(index=False):
            msg = str(r.message).replace("|", "/").replace("\n", " ")[:140]
            lines.append(f"| {r.dataset} | {r.system} | {_f(r.budget, 4)} | {r.seed} | {r.status} | {msg} |")
        lines.append("")
    return "\n".join(lines)


def _markdown_section(report: BenchReport, s: BudgetSection) -> list[str]:
    head = f"## Budget {s.budget:g} s" if math.isfinite(s.budget) else "## Results"
    lines = [head, "", f"### Aggregates (reference {report.reference})", ""]
    lines += [
        "| system | geomean error ratio [95 % CI] | W / T / L | mean rank | failures | overruns | "
        "median fit s | time ratio | max peak MB |",
        "|---|---|---|---:|---|---|---:|---:|---:|",
    ]
    by = {p.system: p for p in s.pairs}
    for system in report.systems:
        if system not in set(s.cells["system"]):
            continue
        res = s.resources[system]
        p = by.get(system)
        rank = s.ranking.mean_ranks.get(system) if s.ranking else None
        if p is None:
            ratio, wtl, fails = "1 (reference)", "—", _list(_failed(s.cells, system))
        else:
            ratio = (
                f"**{p.geomean:.3f}** [{p.low:.3f}, {p.high:.3f}] ({p.n_compared})"
                if p.n_compared
                else "— (" + ("unavailable" if p.unavailable and not p.n_datasets else "no comparable runs") + ")"
            )
            wtl, fails = f"{p.wins} / {p.ties} / {p.losses}", _list(p.failures)
        lines.append(
            f"| {system} | {ratio} | {wtl} | {_f(rank, 3)} | {fails} | {_list(res['overruns'])} | "
            f"{_f(res['median_fit_s'], 3)} | {_f(res['time_ratio'], 3)} | {_f(res['max_peak_mb'], 4)} |"
        )
    lines.append("")
    if s.ranking is not None:
        groups = "; ".join("{" + ", ".join(g) + "}" for g in s.ranking.cliques) or "none"
        lines += [
            f"Friedman chi2 = {s.ranking.friedman_chi2:.2f} (p = {s.ranking.friedman_p:.3g}) over "
            f"{s.ranking.n_datasets} datasets; Nemenyi critical difference (alpha 0.05) = {s.ranking.cd:.2f}; "
            f"groups not told apart: {groups}.",
            "",
        ]
    lines += ["### Per dataset (test metric; mean over seeds)", ""]
    systems = [x for x in report.systems if x in set(s.cells["system"])]
    lines += ["| dataset | task | metric | " + " | ".join(systems) + " |", "|---|---|---|" + "---:|" * len(systems)]
    for dataset, g in s.cells.groupby("dataset", sort=False):
        g = g.set_index("system")
        ok = g[g["state"] == "ok"]
        best = ok["error"].idxmin() if len(ok) else None
        row = [dataset, str(g["task"].dropna().iloc[0]) if g["task"].notna().any() else "—"]
        row.append(str(g["metric"].dropna().iloc[0]) if g["metric"].notna().any() else "—")
        for system in systems:
            if system not in g.index:
                row.append("—")
            elif g.at[system, "state"] != "ok":
                row.append(g.at[system, "state"])
            else:
                text = _f(g.at[system, "value"], 4)
                if g.at[system, "n_seeds"] > 1:
                    text += f" ± {_f(g.at[system, 'value_sd'], 2)}"
                row.append(f"**{text}**" if system == best else text)
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    if s.effects:
        lines += ["### Ablation: one component swapped, the rest kept (ratio vs baseline)", ""]
        lines += [
            "| factor | level | system | error ratio [95 % CI] | W / T / L | failures |",
            "|---|---|---|---|---|---|",
        ]
        for e in s.effects:
            if e.summary is None:
                note = "baseline" if e.is_baseline else "not run"
                lines.append(f"| {e.factor} | {e.level} | {e.label} | {note} | — | — |")
                continue
            p = e.summary
            ratio = f"{p.geomean:.3f} [{p.low:.3f}, {p.high:.3f}] ({p.n_compared})" if p.n_compared else "—"
            lines.append(
                f"| {e.factor} | {e.level} | {e.label} | {ratio} | {p.wins} / {p.ties} / {p.losses} | "
                f"{_list(p.failures)} |"
            )
        lines.append("")
    return lines


# --- HTML ------------------------------------------------------------------------------------------
_CONFIG = {"displaylogo": False, "displayModeBar": "hover", "responsive": True}


def render_html(report: BenchReport) -> str:
    from assay.report.html import page

    n = [0]

    def fig(f) -> str:
        if f is None:
            return ""
        n[0] += 1
        div = f.to_html(full_html=False, include_plotlyjs=False, div_id=f"bench-fig-{n[0]}", config=_CONFIG)
        return f'<div class="card">{div}</div>'

    md = render_markdown(report)
    parts = [f"<h1>{_e(report.title)}</h1>", _intro(report)]
    for s in report.sections:
        label = f"{s.budget:g} s" if math.isfinite(s.budget) else "all runs"
        parts.append(f"<h2>Budget {label}</h2>")
        parts.append(_section_html(md, s))
        parts.append(fig(figures.ratio_intervals(s.pairs, f"Error ratio vs {report.reference} ({label})")))
        parts.append(fig(figures.cd_diagram(s.ranking, f"Critical-difference diagram ({label})")))
        parts.append(fig(figures.ratio_heatmap(s.cells, report.systems, report.reference, f"Per dataset ({label})")))
        parts.append(fig(figures.time_memory(s.frame, report.systems, f"Time and memory ({label})")))
        parts.append(fig(figures.ablation_effects(s.effects, f"Ablation ({label})")))
    if report.anytime is not None and len(report.anytime) > 1:
        parts.append("<h2>Anytime</h2>")
        parts.append(fig(figures.anytime_curves(report.anytime, report.reference, "Error ratio as the budget grows")))
        parts.append(fig(figures.anytime_by_dataset(report.frame, report.systems, "Error / best error, per dataset")))
    parts.append("<h2>Summary (Markdown)</h2>")
    parts.append(f'<div class="card"><pre style="white-space:pre-wrap;font-size:12px">{_e(md)}</pre></div>')
    if report.sessions:
        parts.append("<h2>Versions</h2>")
        rows = "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in report.sessions[-1].items())
        parts.append(f'<div class="card"><table>{rows}</table></div>')
    return page(report.title, "\n".join(p for p in parts if p))


def _intro(report: BenchReport) -> str:
    n_runs = len(report.frame)
    n_ok = int((report.frame["status"] == "ok").sum())
    return (
        f'<p class="sub">{n_runs} runs ({n_ok} succeeded) · systems: {_e(", ".join(report.systems))} · '
        f"reference: <b>{_e(report.reference)}</b>. Error ratio below 1 is better than the reference; "
        "intervals are 95 % bootstrap intervals over datasets.</p>"
    )


def _section_html(md: str, s: BudgetSection) -> str:
    """The section's headings, tables and lines, from the Markdown, so page and summary show the same figures."""
    head = f"## Budget {s.budget:g} s" if math.isfinite(s.budget) else "## Results"
    lines = md.splitlines()
    if head not in lines:
        return ""
    out, table = [], []

    def flush():
        rows = [[c.strip() for c in r.strip("|").split("|")] for r in table if not set(r) <= set("|-: ")]
        if rows:
            head_row = "".join(f"<th>{_e(c)}</th>" for c in rows[0])
            body = "".join("<tr>" + "".join(f"<td>{_bold(c)}</td>" for c in r) + "</tr>" for r in rows[1:])
            out.append(f'<div class="card" style="overflow-x:auto"><table><tr>{head_row}</tr>{body}</table></div>')
        table.clear()

    for line in lines[lines.index(head) + 1 :]:
        if line.startswith("## "):
            break
        if line.startswith("|"):
            table.append(line)
            continue
        flush()
        if line.startswith("### "):
            out.append(f"<h3>{_e(line[4:])}</h3>")
        elif line.strip():
            out.append(f'<p class="small">{_e(line)}</p>')
    flush()
    return "\n".join(out)


def write_outputs(report: BenchReport, out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    md_path, html_path = out_dir / "summary.md", out_dir / "report.html"
    md_path.write_text(render_markdown(report))
    html_path.write_text(render_html(report))
    return md_path, html_path


def _failed(cells: pd.DataFrame, system: str) -> list[str]:
    return sorted(cells.loc[(cells["system"] == system) & (cells["state"] == "failed"), "dataset"])


def _peer_line(peers: dict) -> str:
    if not peers:
        return "none run"
    parts = []
    for name, v in peers.items():
        if isinstance(v, dict):
            main = {k: v[k] for k in v if k in ("flaml", "autogluon.tabular", "torch", "python")}
            parts.append(f"{name} ({', '.join(f'{k} {x}' for k, x in main.items())})")
        else:
            parts.append(f"{name} ({v})")
    return "; ".join(parts)


def _list(items) -> str:
    items = list(items)
    return "—" if not items else ", ".join(items[:6]) + (f" (+{len(items) - 6})" if len(items) > 6 else "")


def _f(value, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def _bold(cell: str) -> str:
    if cell.startswith("**") and "**" in cell[2:]:
        inner, rest = cell[2:].split("**", 1)
        return f"<b>{_e(inner)}</b>{_e(rest)}"
    return _e(cell)


def _e(text) -> str:
    return html.escape(str(text))
