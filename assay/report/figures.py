"""Plotly figures drawn from a :class:`~assay.data.profile.Profile`: one builder per picture.

Builders take plain profile data and return a ``plotly.graph_objects.Figure``, or None when there
is nothing to draw; they never compute statistics. Every string that came from the data (column
names, values, words) is HTML-escaped, because Plotly reads a subset of HTML in its text, and
every category axis is typed as one so that labels such as "1" or "2016" stay labels.
"""

from __future__ import annotations

import html

import plotly.graph_objects as go

from assay.data.profile import MEASURES, ColumnProfile, Profile

BLUE = "#3b6ea5"
ORANGE = "#d9822b"
RED = "#b23a48"
GREY = "#9aa5b1"
FONT = {"family": "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif", "size": 12}
MAX_LABEL = 40  # characters of a category shown on an axis (the hover shows it whole)


def column_figure(col: ColumnProfile, profile: Profile) -> go.Figure | None:
    """The picture for one column's section: histogram, top values, periods or words."""
    sample = f"sample of {profile.sample_size:,} rows" if profile.sampled else ""
    if col.histogram:
        return histogram(col, note=sample)
    if col.periods:
        return periods(col, note=sample)
    if col.tokens:
        return bars(col.tokens, f"Most frequent words in {_esc(col.name)}", note=sample or "", unit="times")
    if col.top_values:
        return top_values(col)
    return None


def histogram(col: ColumnProfile, *, note: str = "", color: str = BLUE) -> go.Figure:
    edges, counts = col.histogram["edges"], col.histogram["counts"]
    lo, hi = edges[:-1], edges[1:]
    fig = go.Figure(
        go.Bar(
            x=[(a + b) / 2 for a, b in zip(lo, hi, strict=True)],
            y=counts,
            width=[b - a for a, b in zip(lo, hi, strict=True)],
            customdata=list(zip(lo, hi, strict=True)),
            marker={"color": color, "line": {"width": 0}},
            hovertemplate="%{customdata[0]:.4~g} to %{customdata[1]:.4~g}<br>%{y:,} rows<extra></extra>",
        )
    )
    median = col.stats.get("median")
    if median is not None:
        mark_x(fig, median, f"median {median:.4g}")
    return _layout(fig, f"Distribution of {_esc(col.name)}", note, xtitle=_esc(col.name), ytitle="rows")


def top_values(col: ColumnProfile, *, color: str = BLUE) -> go.Figure:
    """Horizontal bars of the most frequent values, with the rest and the missing ones in grey/red."""
    rows = [(label, count, color) for label, count in col.top_values]
    if col.other_count:
        rows.append((f"(other {col.n_distinct - len(col.top_values):,} values)", col.other_count, GREY))
    if col.n_missing:
        rows.append(("(missing)", col.n_missing, RED))
    note = f"{len(col.top_values)} most frequent of {col.n_distinct:,}" if col.other_count else ""
    return _hbars(rows, f"Values of {_esc(col.name)}", note, unit="rows")


def periods(col: ColumnProfile, *, note: str = "") -> go.Figure:
    p = col.periods
    fig = go.Figure(
        go.Bar(
            x=p["labels"],
            y=p["counts"],
            marker={"color": BLUE},
            hovertemplate=f"%{{x}}<br>%{{y:,}} rows<extra>per {p['unit']}</extra>",
        )
    )
    fig.update_xaxes(type="date")
    return _layout(fig, f"Rows per {p['unit']} of {_esc(col.name)}", note, ytitle="rows")


def bars(pairs: list, title: str, *, note: str = "", unit: str = "rows") -> go.Figure:
    return _hbars([(label, count, BLUE) for label, count in pairs], title, note, unit=unit)


def missingness(profile: Profile) -> go.Figure:
    """Percent missing for every column, in table order."""
    cols = profile.columns
    names = _labels([c.name for c in cols])
    fig = go.Figure(
        go.Bar(
            x=names,
            y=[c.pct_missing for c in cols],
            customdata=[[_esc(c.name), c.n_missing] for c in cols],
            marker={"color": [RED if c.n_missing else GREY for c in cols]},
            hovertemplate="%{customdata[0]}<br>%{customdata[1]:,} missing (%{y:.2f}%)<extra></extra>",
        )
    )
    crowded = sum(min(len(str(c.name)), MAX_LABEL) for c in cols) > 45 or len(cols) > 8
    fig.update_xaxes(type="category", tickangle=-45 if crowded else 0)
    fig.update_yaxes(rangemode="tozero", ticksuffix="%")
    note = "no missing values" if not profile.missing_cells else f"{profile.missing_cells:,} missing cells"
    return _layout(fig, "Missing values per column", note, height=320)


def association(profile: Profile, top: int = 30) -> go.Figure | None:
    """The columns most associated with the target, strongest on top."""
    if not profile.ranking:
        return None
    ranked = profile.ranking[:top]
    notes = {c.name: c.association_note for c in profile.columns}
    colors = {"spearman": BLUE, "eta": ORANGE, "cramers_v": BLUE}
    fig = go.Figure(
        go.Bar(
            x=[r["association"] for r in ranked][::-1],
            y=_labels([r["column"] for r in ranked][::-1]),
            orientation="h",
            marker={"color": [colors.get(r["measure"], BLUE) for r in ranked][::-1]},
            customdata=[
                [_esc(r["column"]), MEASURES.get(r["measure"], ""), _esc(notes.get(r["column"], ""))] for r in ranked
            ][::-1],
            hovertemplate="%{customdata[0]}<br>%{customdata[1]} = %{x:.3f}<br>%{customdata[2]}<extra></extra>",
        )
    )
    fig.update_yaxes(type="category")
    fig.update_xaxes(range=[0, 1])
    rest = f"; {len(profile.ranking) - top} more in the table" if len(profile.ranking) > top else ""
    measures = {r["measure"] for r in ranked}
    legend = "blue: |Spearman ρ|, orange: η" if measures == {"spearman", "eta"} else ""
    fig = _layout(
        fig,
        f"Association with {_esc(profile.target)}",
        "; ".join(x for x in (legend, rest.lstrip("; ")) if x),
        height=max(220, 60 + 22 * len(ranked)),
        xtitle=_esc(profile.association_measure),
    )
    return fig.update_xaxes(showgrid=True).update_yaxes(showgrid=False)


def target_distribution(profile: Profile) -> go.Figure | None:
    if profile.target is None:
        return None
    col = profile.column(profile.target)
    if col.histogram:
        fig = histogram(col, color=ORANGE)
    elif col.top_values:
        fig = top_values(col, color=ORANGE)
    else:
        return None
    task = f"{profile.task} target" if profile.task else "target"
    return fig.update_layout(title_text=f"<b>{_esc(col.name)}</b> ({task})")


# ---- shared ----------------------------------------------------------------------------------


def mark_x(fig: go.Figure, x, text: str) -> None:
    """A dashed vertical line at x, labelled at the top: the one way both pages mark a value."""
    fig.add_vline(x=x, line={"dash": "dash", "color": "#444", "width": 1})
    fig.add_annotation(
        x=x, y=1, yref="paper", text=text, showarrow=False, xanchor="left", yanchor="top",
        bgcolor="rgba(255,255,255,0.85)",
    )  # fmt: skip


def _hbars(rows: list, title: str, note: str, *, unit: str) -> go.Figure:
    rows = rows[::-1]  # Plotly draws the first category at the bottom
    fig = go.Figure(
        go.Bar(
            x=[count for _, count, _ in rows],
            y=_labels([label for label, _, _ in rows]),
            orientation="h",
            marker={"color": [color for _, _, color in rows]},
            customdata=[_esc(label) for label, _, _ in rows],
            hovertemplate=f"%{{customdata}}<br>%{{x:,}} {unit}<extra></extra>",
        )
    )
    fig.update_yaxes(type="category")
    fig = _layout(fig, title, note, height=max(200, 70 + 20 * len(rows)), xtitle=unit)
    return fig.update_xaxes(showgrid=True).update_yaxes(showgrid=False)


def _layout(fig: go.Figure, title: str, note: str = "", *, height: int = 280, xtitle=None, ytitle=None) -> go.Figure:
    sub = f"<br><span style='font-size:11px;color:#57606a'>{note}</span>" if note else ""
    fig.update_layout(
        template="none",  # no template JSON repeated in every figure; the look is set here
        paper_bgcolor="white",
        plot_bgcolor="white",
        title={"text": f"<b>{title}</b>{sub}", "x": 0, "xanchor": "left", "font": {"size": 14}},
        height=height,
        margin={"l": 10, "r": 20, "t": 60 if note else 40, "b": 10},
        font=FONT,
        showlegend=False,
        bargap=0.08,
        hoverlabel={"font": FONT},
    )
    axis = {"automargin": True, "gridcolor": "#eaeef2", "linecolor": "#d0d7de", "zeroline": False, "ticks": ""}
    fig.update_xaxes(title_text=xtitle, showgrid=False, **axis)
    fig.update_yaxes(title_text=ytitle, showgrid=True, **axis)
    return fig


def _labels(texts) -> list[str]:
    """Short escaped axis labels, kept distinct (two long names may share their first characters)."""
    out, seen = [], set()
    for text in texts:
        label = _short(text)
        while label in seen:
            label += "\u200b"  # invisible, but a category of its own
        seen.add(label)
        out.append(label)
    return out


def _short(text) -> str:
    text = str(text)
    return _esc(text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…")


def _esc(text) -> str:
    return html.escape(str(text), quote=False)
