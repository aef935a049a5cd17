"""The monitoring page: one self-contained HTML file (plotly.js inlined, nothing fetched), drawn
from a run's JSON (MonitorResult.to_dict()), so the page and `--json` always say the same thing.

It reads the way someone paged at night would ask: did anything fire and why, which columns moved
and how (reference and recent shares per bin, side by side), did the model's output move, can a
classifier tell the new rows apart, and is the model still as good as when it was chosen.
"""

from __future__ import annotations

import os
from pathlib import Path

import plotly.graph_objects as go

from assay.report.figures import BLUE, GREY, ORANGE, RED, _esc, _labels, _layout
from assay.report.html import _e, _Figures, page

TOP_FIGURES = 8  # columns drawn: those that fired first, then the largest PSI

_EXTRA_CSS = """
.fired{background:#fff0f0;border:1px solid #b23a48;border-radius:6px;padding:10px 14px;margin:8px 0}
.fired li{margin:4px 0}.quiet{background:#eefaf6;border:1px solid #2a9d8f;border-radius:6px;padding:10px 14px}
td.hit{color:#b23a48;font-weight:600}
"""


def write_page(result, path) -> Path:
    """Write the page for a MonitorResult (or its to_dict()) to `path`, atomically."""
    content = result if isinstance(result, dict) else result.to_dict()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(render_page(content), encoding="utf-8")
    tmp.replace(path)
    return path


def render_page(c: dict) -> str:
    figs = _Figures()
    drift = c["drift"]
    title = f"assay monitor: {c['model']}"
    parts = [
        f"<style>{_EXTRA_CSS}</style>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="sub">{_e(c["created"])} · recent rows from {_e(c["recent"].get("source"))}</p>',
        _tiles(c),
        _alerts(c["alerts"]),
        "<h2>Columns</h2>",
        _table(drift),
        _figures(drift, figs),
        _multivariate(drift.get("multivariate")),
        _performance(c.get("performance"), figs),
        _notes(c),
        "<footer>assay · drift rules in assay/monitor/drift.py</footer>",
    ]
    return page(title, "\n".join(p for p in parts if p))


def _tiles(c: dict) -> str:
    drift, ref = c["drift"], c["reference"]
    multi = drift.get("multivariate") or {}
    tiles = [
        ("alerts", str(len(c["alerts"]))),
        ("recent rows", f"{c['recent'].get('n_rows', 0):,}"),
        ("reference rows", f"{ref.get('n_rows', 0):,} of {ref.get('n_train_rows') or 0:,}"),
        ("columns compared", str(sum(1 for f in drift["features"] if f["role"] == "input"))),
    ]
    if multi.get("auc") is not None:
        tiles.append(("classifier AUC", f"{multi['auc']:.3f}"))
    body = "".join(
        f'<div class="tile"><div class="k">{_e(k)}</div><div class="v">{_e(v)}</div></div>' for k, v in tiles
    )
    t = drift["thresholds"]
    rule = (
        f"A finding fires when its Benjamini-Hochberg adjusted p-value is below {t['alpha']} and it is material: "
        f"PSI >= {t['psi']} or distance >= {t['distance']}; missing rate change >= {t['missing']}; unseen "
        f"categories >= {t['unseen']} of rows; classifier AUC lower bound > {t['auc']}."
    )
    return f'<div class="card"><div class="tiles">{body}</div><p class="small muted">{_e(rule)}</p></div>'


def _alerts(alerts: list) -> str:
    if not alerts:
        return '<div class="quiet">Nothing fired.</div>'
    items = "".join(f"<li>{_e(a['message'])}</li>" for a in alerts)
    return f'<div class="fired"><b>{len(alerts)} alert(s)</b><ul>{items}</ul></div>'


def _table(drift: dict) -> str:
    heads = ("column", "role", "kind", "PSI", "distance", "adj. p", "missing ref → recent", "unseen", "fired")
    rows = []
    for f in _ordered(drift["features"]):
        fired = ", ".join(f["fired"])
        rows.append(
            "<tr>"
            f"<td>{_e(f['feature'])}</td><td>{_e(f['role'])}</td><td>{_e(f['kind'])}</td>"
            f'<td class="num">{_f(f["psi"])}</td><td class="num">{_f(f["distance"])}</td>'
            f'<td class="num">{_pv(f["p_adjusted"])}</td>'
            f'<td class="num">{100 * f["missing_reference"]:.1f}% → {100 * f["missing_recent"]:.1f}%</td>'
            f'<td class="num">{_share(f["unseen_share"])}</td>'
            f'<td class="{"hit" if fired else ""}">{_e(fired or "-")}</td>'
            "</tr>"
        )
    head = "".join(f"<th>{h}</th>" for h in heads)
    return f'<div class="card" style="padding:0;overflow:auto"><table><tr>{head}</tr>{"".join(rows)}</table></div>'


def _figures(drift: dict, figs: _Figures) -> str:
    ordered = [f for f in _ordered(drift["features"]) if f.get("bins")]
    chosen = [f for f in ordered if f["role"] != "input"] + [f for f in ordered if f["role"] == "input"][:TOP_FIGURES]
    divs = [figs.div(distribution(f)) for f in chosen]
    if not divs:
        return ""
    cards = "".join(f'<div class="card">{d}</div>' for d in divs)
    return f'<h2>Reference and recent, side by side</h2><div class="grid2">{cards}</div>'


def distribution(f: dict) -> go.Figure:
    """Shares per bin (the PSI's own bins: reference deciles, or categories), reference beside recent."""
    bins = f["bins"]
    labels = _labels(bins["labels"])
    fig = go.Figure(
        [
            go.Bar(name="reference", x=labels, y=bins["reference"], marker={"color": GREY},
                   hovertemplate="%{x}<br>reference %{y:.1%}<extra></extra>"),
            go.Bar(name="recent", x=labels, y=bins["recent"], marker={"color": RED if f["fired"] else BLUE},
                   hovertemplate="%{x}<br>recent %{y:.1%}<extra></extra>"),
        ]
    )  # fmt: skip
    fig.update_xaxes(type="category")
    fig.update_yaxes(tickformat=".0%")
    note = f"PSI {_f(f['psi'])}, {'KS D' if f['kind'] == 'numeric' else 'total variation'} {_f(f['distance'])}"
    fig = _layout(fig, _esc(f["feature"]), note, height=300, ytitle="share of rows")
    return fig.update_layout(
        showlegend=True,
        legend={"orientation": "h", "x": 1, "xanchor": "right", "y": 1.02, "yanchor": "bottom"},
        barmode="group",
    )


def _multivariate(m: dict | None) -> str:
    if not m:
        return ""
    if m.get("auc") is None:
        return f'<h2>All columns at once</h2><div class="card muted">{_e(m.get("note") or "not run")}</div>'
    top = ", ".join(f"{_e(name)} ({100 * share:.0f}%)" for name, share in m.get("top_features", []))
    verdict = m.get("reason") or "a classifier cannot tell recent rows from reference rows beyond the threshold"
    return (
        '<h2>All columns at once</h2><div class="card">'
        f"<p>Classifier AUC <b>{m['auc']:.3f}</b> (95% interval {m['low']:.3f} to {m['high']:.3f}) on "
        f"{m['n_reference']:,} reference and {m['n_recent']:,} recent rows; 0.5 means indistinguishable.</p>"
        f"<p>{_e(verdict)}</p><p class='small muted'>Most used by the classifier: {top or '-'}</p></div>"
    )


def _performance(p: dict | None, figs: _Figures) -> str:
    if not p:
        return ""
    fig = performance_figure(p)
    notes = "".join(f"<li>{_e(n)}</li>" for n in p.get("notes", []))
    rows = "".join(
        f"<tr><td>{_e(w['start'])}</td><td>{_e(w['end'])}</td><td class='num'>{w['n']:,}</td>"
        f"<td class='num'>{_f(w['value'])}</td><td class='num'>{_f(w['low'])} to {_f(w['high'])}</td>"
        f"<td class='{'hit' if w['worse'] else ''}'>{_e(w['reason'] or '-')}</td></tr>"
        for w in p["windows"]
    )
    table = (
        '<div class="card" style="padding:0;overflow:auto"><table><tr><th>from</th><th>to</th><th>rows</th>'
        f"<th>{_e(p['metric'])}</th><th>95% interval</th><th>verdict</th></tr>{rows}</table></div>"
    )
    return (
        f'<h2>Performance over time</h2><div class="card">{figs.div(fig)}'
        f"{f'<ul class=notes>{notes}</ul>' if notes else ''}</div>{table}"
    )


def performance_figure(p: dict) -> go.Figure | None:
    judged = [w for w in p["windows"] if w["value"] is not None]
    if not judged:
        return None
    x = _labels([w["start"] for w in judged])
    fig = go.Figure(
        go.Scatter(
            x=x,
            y=[w["value"] for w in judged],
            mode="lines+markers",
            marker={"color": [RED if w["worse"] else BLUE for w in judged], "size": 9},
            line={"color": BLUE},
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [(w["high"] - w["value"]) if w["high"] is not None else 0 for w in judged],
                "arrayminus": [(w["value"] - w["low"]) if w["low"] is not None else 0 for w in judged],
                "color": "#57606a",
            },
            customdata=[[w["n"], w["low"], w["high"]] for w in judged],
            hovertemplate="%{x}<br>%{y:.4f} [%{customdata[1]:.4f}, %{customdata[2]:.4f}]<br>%{customdata[0]:,} rows"
            "<extra></extra>",
        )
    )
    fig.update_xaxes(type="category")
    training = p.get("training") or {}
    if training.get("value") is not None:
        fig.add_hline(y=training["value"], line={"dash": "dash", "color": ORANGE, "width": 1.5})
        if training.get("low") is not None:
            fig.add_hrect(y0=training["low"], y1=training["high"], fillcolor=ORANGE, opacity=0.12, line_width=0)
    if p.get("threshold") is not None:
        fig.add_hline(y=p["threshold"], line={"dash": "dot", "color": RED, "width": 1.5})
    note = "dashed: training estimate (band: its 95% interval)" + ("; dotted: threshold" if p.get("threshold") else "")
    return _layout(fig, f"{_esc(p['metric'])} per window, with 95% intervals", note, height=320, ytitle=p["metric"])


def _notes(c: dict) -> str:
    lines = list(c.get("notes", []))
    ref = c["reference"]
    if ref.get("predictions"):
        lines.append(f"reference predictions: {ref['predictions']}")
    if ref.get("estimate"):
        est = ref["estimate"]
        lines.append(f"training estimate of {est['metric']}: {_f(est['value'])} ({est.get('source')})")
    if not lines:
        return ""
    return (
        "<h2>Notes</h2><div class='card'><ul class='notes'>"
        + "".join(f"<li>{_e(n)}</li>" for n in lines)
        + "</ul></div>"
    )


def _ordered(features: list) -> list:
    return sorted(features, key=lambda f: (not f["fired"], -(f["psi"] or 0)))


def _f(v, digits: int = 4) -> str:
    return "-" if v is None else f"{v:.{digits}g}" if abs(v) < 1e4 else f"{v:,.0f}"


def _share(v) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def _pv(p) -> str:
    if p is None:
        return "-"
    return "< 1e-12" if p < 1e-12 else f"{p:.2g}"
