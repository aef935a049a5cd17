"""Plotly figures of a benchmark: ratios with intervals, the per-dataset heatmap, the critical-difference
diagram, anytime curves, time and memory, and the ablation's effects.

Each function takes the numbers stats.py computed and returns a figure or None (nothing to draw),
so the page and the tests never depend on how a picture is made.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from assay.bench.stats import Effect, PairSummary, Ranking

_LAYOUT = {"template": "plotly_white", "margin": {"l": 60, "r": 30, "t": 50, "b": 50}, "font": {"size": 12}}
_PALETTE = ["#3b6ea5", "#d9822b", "#2a9d8f", "#b23a48", "#7a5195", "#6d6875", "#e9c46a", "#264653", "#9aa5b1"]


def color_of(systems: list[str]) -> dict[str, str]:
    return {s: _PALETTE[i % len(_PALETTE)] for i, s in enumerate(systems)}


def ratio_intervals(pairs: list[PairSummary], title: str) -> go.Figure | None:
    """Geometric-mean error ratio of each system with its bootstrap interval, on a log axis."""
    pairs = [p for p in pairs if p.n_compared and math.isfinite(p.geomean)]
    if not pairs:
        return None
    pairs = sorted(pairs, key=lambda p: p.geomean, reverse=True)
    fig = go.Figure(
        go.Scatter(
            x=[p.geomean for p in pairs],
            y=[p.system for p in pairs],
            mode="markers",
            marker={"size": 11, "color": ["#2a9d8f" if p.geomean < 1 else "#b23a48" for p in pairs]},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": [p.high - p.geomean for p in pairs],
                "arrayminus": [p.geomean - p.low for p in pairs],
                "thickness": 2,
            },
            customdata=[[p.low, p.high, p.wins, p.ties, p.losses, p.n_compared] for p in pairs],
            hovertemplate="%{y}: %{x:.3f} [%{customdata[0]:.3f}, %{customdata[1]:.3f}]<br>"
            "W/T/L %{customdata[2]}/%{customdata[3]}/%{customdata[4]} over %{customdata[5]} datasets<extra></extra>",
        )
    )
    fig.add_vline(x=1.0, line_dash="dash", line_color="#57606a")
    fig.update_xaxes(type="log", title="geometric-mean error ratio (below 1 is better)")
    fig.update_layout(title=title, height=120 + 40 * len(pairs), **_LAYOUT)
    return fig


def ratio_heatmap(cells: pd.DataFrame, systems: list[str], reference: str, title: str) -> go.Figure | None:
    """log2(error / reference error) per dataset and system; failures shown as text."""
    systems = [s for s in systems if s != reference and s in set(cells["system"])]
    if not systems:
        return None
    table = cells.pivot(index="dataset", columns="system", values="error")
    states = cells.pivot(index="dataset", columns="system", values="state")
    if reference not in table:
        return None
    datasets = list(dict.fromkeys(cells["dataset"]))
    z, text = [], []
    for d in datasets:
        row_z, row_t = [], []
        for s in systems:
            state = states.at[d, s] if s in states and d in states.index else None
            ref, mine = table.at[d, reference], table.at[d, s] if s in table else np.nan
            if state == "ok" and np.isfinite(ref) and ref > 0:
                ratio = mine / ref
                row_z.append(float(np.clip(np.log2(ratio), -2, 2)))
                row_t.append(f"{ratio:.2f}")
            else:
                row_z.append(None)
                row_t.append(state or "")
        z.append(row_z)
        text.append(row_t)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=systems,
            y=datasets,
            text=text,
            texttemplate="%{text}",
            colorscale="RdBu_r",
            zmid=0,
            zmin=-2,
            zmax=2,
            colorbar={"title": "log2 ratio"},
            hovertemplate="%{y} · %{x}: ratio %{text}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(title=title, height=160 + 24 * len(datasets), **_LAYOUT)
    return fig


def cd_diagram(ranking: Ranking | None, title: str) -> go.Figure | None:
    """Demšar's critical-difference diagram: mean ranks on an axis, the CD as a bar, and thick
    lines joining systems that the Nemenyi test cannot tell apart."""
    if ranking is None or len(ranking.systems) < 2:
        return None
    order = sorted(ranking.systems, key=ranking.mean_ranks.get)
    k = len(order)
    fig = go.Figure()
    fig.add_shape(type="line", x0=1, x1=k, y0=0, y1=0, line={"color": "#24292f", "width": 2})
    for r in range(1, k + 1):
        fig.add_shape(type="line", x0=r, x1=r, y0=0, y1=0.08, line={"color": "#24292f", "width": 1})
        fig.add_annotation(x=r, y=0.16, text=str(r), showarrow=False)
    half = math.ceil(k / 2)
    n_cliques = len(ranking.cliques)
    base = -0.25 - 0.12 * n_cliques
    for i, system in enumerate(order):
        rank = ranking.mean_ranks[system]
        left = i < half
        row = i if left else k - 1 - i
        y = base - 0.22 * row
        x_end = 0.4 if left else k + 0.6
        fig.add_trace(
            go.Scatter(
                x=[rank, rank, x_end],
                y=[0, y, y],
                mode="lines",
                line={"color": "#57606a", "width": 1},
                hoverinfo="skip",
                showlegend=False,
            )
        )
        fig.add_annotation(
            x=x_end, y=y, text=f"{system} ({rank:.2f})", showarrow=False, xanchor="right" if left else "left"
        )
    for j, group in enumerate(ranking.cliques):
        lo, hi = min(ranking.mean_ranks[s] for s in group), max(ranking.mean_ranks[s] for s in group)
        y = -0.15 - 0.12 * j
        fig.add_shape(type="line", x0=lo - 0.08, x1=hi + 0.08, y0=y, y1=y, line={"color": "#24292f", "width": 5})
    cd_end = min(1 + ranking.cd, k)
    fig.add_shape(type="line", x0=1, x1=cd_end, y0=0.4, y1=0.4, line={"color": "#b23a48", "width": 3})
    fig.add_annotation(x=(1 + cd_end) / 2, y=0.52, text=f"CD = {ranking.cd:.2f}", showarrow=False)
    fig.update_xaxes(range=[-1.8, k + 2.8], visible=False)
    fig.update_yaxes(visible=False, range=[base - 0.22 * half - 0.1, 0.65])
    subtitle = f"mean rank over {ranking.n_datasets} datasets · Friedman p = {ranking.friedman_p:.3g}"
    fig.update_layout(title=f"{title}<br><sup>{subtitle}</sup>", height=220 + 45 * half, **_LAYOUT)
    return fig


def anytime_curves(table: pd.DataFrame, reference: str, title: str) -> go.Figure | None:
    """Geometric-mean error ratio against the reference as the budget grows."""
    if table is None or len(table) < 2:
        return None
    systems = [c for c in table.columns if c != "budget"]
    colors = color_of(systems)
    fig = go.Figure()
    for s in systems:
        fig.add_trace(
            go.Scatter(
                x=table["budget"],
                y=table[s],
                mode="lines+markers",
                name=s,
                line={"color": colors[s], "dash": "dot" if s == reference else "solid"},
            )
        )
    fig.add_hline(y=1.0, line_dash="dash", line_color="#57606a")
    fig.update_xaxes(type="log", title="budget (s)", tickvals=table["budget"].tolist())
    fig.update_yaxes(type="log", title=f"geomean error ratio vs {reference}")
    fig.update_layout(title=title, height=420, **_LAYOUT)
    return fig


def anytime_by_dataset(frame: pd.DataFrame, systems: list[str], title: str) -> go.Figure | None:
    """Per dataset, each system's error relative to the best error seen on it at any budget."""
    from plotly.subplots import make_subplots

    ok = frame[(frame["status"] == "ok") & frame["budget"].notna()]
    if ok["budget"].nunique() < 2:
        return None
    datasets = list(dict.fromkeys(ok["dataset"]))
    cols = 4
    rows = math.ceil(len(datasets) / cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=datasets, shared_xaxes=True)
    colors = color_of(systems)
    for i, d in enumerate(datasets):
        sub = ok[ok["dataset"] == d]
        best = frame.loc[(frame["dataset"] == d) & (frame["status"] == "ok"), "error"].min()
        for s in systems:
            g = sub[sub["system"] == s].groupby("budget")["error"].mean()
            if g.empty:
                continue
            fig.add_trace(
                go.Scatter(
                    x=g.index,
                    y=g.to_numpy() / best,
                    mode="lines+markers",
                    name=s,
                    legendgroup=s,
                    showlegend=i == 0,
                    line={"color": colors[s]},
                ),
                row=i // cols + 1,
                col=i % cols + 1,
            )
    ticks = sorted(ok["budget"].unique().tolist())
    fig.update_xaxes(type="log", tickvals=ticks, ticktext=[f"{b:g}" for b in ticks])
    fig.update_yaxes(type="log")
    fig.update_layout(title=title, height=200 * rows + 80, **_LAYOUT)
    return fig


def time_memory(frame: pd.DataFrame, systems: list[str], title: str) -> go.Figure | None:
    """Fit seconds against peak memory, one point per run."""
    ok = frame[(frame["status"] == "ok") & frame["fit_s"].notna()]
    if ok.empty:
        return None
    colors = color_of(systems)
    fig = go.Figure()
    for s in systems:
        g = ok[ok["system"] == s]
        if g.empty:
            continue
        fig.add_trace(
            go.Scatter(
                x=g["fit_s"],
                y=g["peak_mb"],
                mode="markers",
                name=s,
                marker={"color": colors[s], "size": 8, "opacity": 0.8},
                text=g["dataset"],
                hovertemplate="%{text}: fit %{x:.1f} s, peak %{y:,.0f} MB<extra>" + s + "</extra>",
            )
        )
    fig.update_xaxes(type="log", title="fit seconds")
    fig.update_yaxes(title="peak resident memory (MB)")
    fig.update_layout(title=title, height=420, **_LAYOUT)
    return fig


def ablation_effects(effects: list[Effect], title: str) -> go.Figure | None:
    """Each variant's geometric-mean error ratio against the baseline, with its interval."""
    rows = [e for e in effects if e.summary is not None and e.summary.n_compared]
    if not rows:
        return None
    labels = [f"{e.factor} = {e.level}" for e in rows]
    fig = go.Figure(
        go.Scatter(
            x=[e.summary.geomean for e in rows],
            y=labels,
            mode="markers",
            marker={"size": 11, "color": ["#2a9d8f" if e.summary.geomean < 1 else "#b23a48" for e in rows]},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": [e.summary.high - e.summary.geomean for e in rows],
                "arrayminus": [e.summary.geomean - e.summary.low for e in rows],
            },
            hovertemplate="%{y}: %{x:.3f}<extra></extra>",
        )
    )
    fig.add_vline(x=1.0, line_dash="dash", line_color="#57606a")
    fig.update_xaxes(type="log", title="error ratio vs baseline (below 1: the change helps)")
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(title=title, height=140 + 40 * len(rows), **_LAYOUT)
    return fig
