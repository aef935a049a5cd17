"""Plotly figures of the fit report, one builder per picture, drawn from the report's content dict
(assay.evaluate.report_data). Like figures.py they compute nothing and escape every string that
came from the data; they share its look (_layout, the palette).
"""

from __future__ import annotations

import plotly.graph_objects as go

from assay.report.figures import BLUE, GREY, ORANGE, RED, _esc, _labels, _layout, mark_x

GREEN = "#2a9d8f"
PURPLE = "#7a5195"
FAMILY_COLORS = {
    "lightgbm": BLUE,
    "xgboost": ORANGE,
    "catboost": PURPLE,
    "linear": GREEN,
    "random_forest": "#6d6875",
    "extra_trees": "#9c6644",
    "knn": RED,
    "mlp": "#e76f51",
}


def score_of(content: dict, error):
    """Errors are stored lower-is-better; people read the metric's own orientation."""
    if error is None:
        return None
    return -error if content["greater_is_better"] else error


def target_distribution(summary: dict, target: str) -> go.Figure | None:
    t = (summary or {}).get("target")
    if not t:
        return None
    if "classes" in t:
        fig = go.Figure(
            go.Bar(
                x=_labels(t["classes"]),
                y=t["counts"],
                marker={"color": ORANGE},
                hovertemplate="%{x}<br>%{y:,} rows<extra></extra>",
            )
        )
        fig.update_xaxes(type="category")
    else:
        e = t["edges"]
        fig = go.Figure(
            go.Bar(
                x=[(a + b) / 2 for a, b in zip(e[:-1], e[1:], strict=True)],
                y=t["counts"],
                width=[b - a for a, b in zip(e[:-1], e[1:], strict=True)],
                marker={"color": ORANGE},
                hovertemplate="%{x:.4~g}<br>%{y:,} rows<extra></extra>",
            )
        )
    return _layout(fig, f"Target: {_esc(target)}", "training rows", ytitle="rows")


def anytime(content: dict) -> go.Figure | None:
    """Best validation score against the time each trial ended, every trial as a dot."""
    trials = [
        t
        for t in content["search"]["trials"]
        if t.get("status") == "ok" and t.get("score") is not None and t.get("end_s") is not None
    ]
    steps = [p for p in content["search"]["anytime"] if p.get("t") is not None]
    if not trials or not steps:
        return None
    fig = go.Figure()
    for family in sorted({t["family"] for t in trials}):
        mine = [t for t in trials if t["family"] == family]
        fig.add_trace(
            go.Scatter(
                x=[t["end_s"] for t in mine],
                y=[t["score"] for t in mine],
                mode="markers",
                name=_esc(family),
                marker={"color": FAMILY_COLORS.get(family, GREY), "size": 7, "opacity": 0.75},
                customdata=[_esc(t["model"]) for t in mine],
                hovertemplate="%{customdata}<br>%{y:.4f} at %{x:.1f} s<extra></extra>",
            )
        )
    end = max(t["end_s"] for t in trials)
    fig.add_trace(
        go.Scatter(
            x=[p["t"] for p in steps] + [end],
            y=[p["score"] for p in steps] + [steps[-1]["score"]],
            mode="lines",
            line={"shape": "hv", "color": "#24292f", "width": 2},
            name="best so far",
            hovertemplate="best %{y:.4f} at %{x:.1f} s<extra></extra>",
        )
    )
    fig = _layout(
        fig,
        "Best score against time (the anytime curve)",
        "validation score of each trial when it ended",
        height=340,
        xtitle="seconds since the fit started",
        ytitle=_esc(content["metric"]),
    )
    return fig.update_layout(showlegend=True, legend={"orientation": "h", "y": -0.25})


def best_per_family(content: dict) -> go.Figure | None:
    fams = [(f, v) for f, v in content["search"]["families"].items() if v.get("best") is not None]
    if not fams:
        return None
    fams.sort(key=lambda fv: fv[1]["best"], reverse=not content["greater_is_better"])
    fig = go.Figure(
        go.Bar(
            x=[v["best"] for _, v in fams],
            y=_labels([f for f, _ in fams]),
            orientation="h",
            marker={"color": [FAMILY_COLORS.get(f, GREY) for f, _ in fams]},
            customdata=[[v["trials"], v["ok"], _esc(v.get("best_name") or "")] for _, v in fams],
            hovertemplate="%{customdata[2]}: %{x:.4f}<br>%{customdata[1]} of %{customdata[0]} trials complete"
            "<extra></extra>",
        )
    )
    fig.update_yaxes(type="category")
    lo = min(v["best"] for _, v in fams)
    hi = max(v["best"] for _, v in fams)
    pad = (hi - lo) * 0.5 or abs(hi) * 0.05 or 0.05
    fig.update_xaxes(range=[lo - pad, hi + pad * 0.3])
    return _layout(
        fig,
        "Best validation score per model family",
        f"{content['metric']}",
        height=max(200, 70 + 28 * len(fams)),
        xtitle=_esc(content["metric"]),
    )


def intervals(rows: list[tuple[str, dict, str]], metric: str) -> go.Figure | None:
    """A forest plot: each (label, interval dict, colour) as a point with its 95 % interval."""
    rows = [(label, iv, color) for label, iv, color in rows if iv and iv.get("value") is not None]
    if not rows:
        return None
    rows = rows[::-1]
    fig = go.Figure(
        go.Scatter(
            x=[iv["value"] for _, iv, _ in rows],
            y=_labels([label for label, _, _ in rows]),
            mode="markers",
            marker={"color": [c for _, _, c in rows], "size": 10},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": [(iv["high"] - iv["value"]) if iv.get("high") is not None else 0 for _, iv, _ in rows],
                "arrayminus": [(iv["value"] - iv["low"]) if iv.get("low") is not None else 0 for _, iv, _ in rows],
                "color": "#57606a",
                "thickness": 1.5,
            },
            customdata=[[iv.get("low"), iv.get("high"), iv.get("n")] for _, iv, _ in rows],
            hovertemplate="%{x:.4f} [%{customdata[0]:.4f}, %{customdata[1]:.4f}]<br>%{customdata[2]:,} rows"
            "<extra></extra>",
        )
    )
    fig.update_yaxes(type="category")
    return _layout(
        fig,
        f"{_esc(metric)} with 95 % intervals",
        "model and trivial baselines",
        height=max(200, 80 + 34 * len(rows)),
        xtitle=_esc(metric),
    ).update_xaxes(showgrid=True)


def learning_size(content: dict) -> go.Figure | None:
    size = ((content["diagnostics"].get("learning") or {}).get("size") or {}).get("points")
    if not size or len(size) < 2:
        return None
    return _train_valid(
        content,
        [p["n"] for p in size],
        [p["train_error"] for p in size],
        [p["valid_error"] for p in size],
        "Score against training rows",
        "is more data worth collecting?",
        "training rows",
        log_x=True,
    )


def learning_rounds(content: dict) -> go.Figure | None:
    rounds = (content["diagnostics"].get("learning") or {}).get("rounds")
    if not rounds:
        return None
    fig = _train_valid(
        content,
        rounds["rounds"],
        rounds["train_error"],
        rounds["valid_error"],
        "Score against boosting rounds",
        "where training and validation part company",
        "boosting rounds",
        log_x=False,
    )
    mark_x(fig, rounds["best_round"], f"best round {rounds['best_round']:,}")
    return fig


def _train_valid(content, x, train, valid, title, note, xtitle, *, log_x: bool) -> go.Figure:
    fig = go.Figure()
    for name, ys, color in (("training rows", train, ORANGE), ("validation rows", valid, BLUE)):
        fig.add_trace(
            go.Scatter(
                x=x,
                y=[score_of(content, e) for e in ys],
                mode="lines+markers",
                name=name,
                line={"color": color, "width": 2},
                marker={"size": 6},
                hovertemplate=f"{name}<br>%{{x:,}}: %{{y:.4f}}<extra></extra>",
            )
        )
    base = (content["diagnostics"].get("learning") or {}).get("baseline_error")
    if base is not None:
        fig.add_hline(y=score_of(content, base), line={"dash": "dot", "color": GREY, "width": 1})
    fig = _layout(
        fig,
        title,
        note + (" · dotted: trivial baseline" if base is not None else ""),
        height=320,
        xtitle=xtitle,
        ytitle=_esc(content["metric"]),
    )
    if log_x:
        fig.update_xaxes(type="log")
    return fig.update_layout(showlegend=True, legend={"orientation": "h", "y": -0.3})


def seeds(content: dict) -> go.Figure | None:
    s = (content["diagnostics"].get("sanity") or {}).get("seeds") or {}
    if s.get("status") != "ok":
        return None
    fig = go.Figure(
        go.Scatter(
            x=s["scores"],
            y=[""] * len(s["scores"]),
            mode="markers",
            marker={"color": BLUE, "size": 11},
            customdata=s["seeds"],
            hovertemplate="seed %{customdata}: %{x:.4f}<extra></extra>",
        )
    )
    return _layout(
        fig,
        "Validation score under different seeds",
        f"same configuration, same {s['n_train']:,} rows",
        height=170,
        xtitle=_esc(content["metric"]),
    )


def confusion(conf: dict | None) -> go.Figure | None:
    if not conf:
        return None
    labels = _labels(conf["labels"])
    z = conf["matrix"]
    totals = [max(sum(row), 1) for row in z]
    share = [[c / t for c in row] for row, t in zip(z, totals, strict=True)]
    fig = go.Figure(
        go.Heatmap(
            z=share,
            x=labels,
            y=labels,
            colorscale=[[0, "#ffffff"], [1, BLUE]],
            zmin=0,
            zmax=1,
            showscale=False,
            text=[[f"{c:,}" for c in row] for row in z],
            texttemplate="%{text}",
            hovertemplate="actual %{y}, predicted %{x}<br>%{text} rows (%{z:.0%} of the actual class)<extra></extra>",
        )
    )
    fig.update_xaxes(type="category")
    fig.update_yaxes(type="category", autorange="reversed")
    n = len(labels)
    return _layout(
        fig,
        "Confusion matrix",
        "rows: actual class · columns: predicted class · shade: share of the row",
        height=max(260, 120 + 36 * n),
        xtitle="predicted",
        ytitle="actual",
    )


def calibration(cal: dict | None) -> go.Figure | None:
    if not cal or not cal.get("curve"):
        return None
    c = cal["curve"]
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": GREY}, hoverinfo="skip", name="perfect"
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[p["predicted"] for p in c],
            y=[p["observed"] for p in c],
            mode="lines+markers",
            name="model",
            line={"color": BLUE},
            customdata=[p["n"] for p in c],
            hovertemplate="predicted %{x:.3f}<br>observed %{y:.3f}<br>%{customdata:,} rows<extra></extra>",
        )
    )
    b = cal["brier"]
    note = f"Brier {b['value']:.4f}" + (f" [{b['low']:.4f}, {b['high']:.4f}]" if b.get("low") is not None else "")
    note += f" · class frequencies alone: {cal['brier_baseline']:.4f}"
    fig = _layout(
        fig,
        f"Calibration: {_esc(cal['of'])}",
        note,
        height=330,
        xtitle="predicted probability",
        ytitle="observed frequency",
    )
    return fig.update_xaxes(range=[0, 1]).update_yaxes(range=[0, 1])


def residual_scatter(res: dict | None) -> go.Figure | None:
    if not res:
        return None
    x, y = res["predicted"], res["actual"]
    lo, hi = min(x + y), max(x + y)
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", line={"dash": "dot", "color": GREY}, hoverinfo="skip")
    )
    fig.add_trace(
        go.Scattergl(
            x=x,
            y=y,
            mode="markers",
            marker={"color": BLUE, "size": 4, "opacity": 0.5},
            hovertemplate="predicted %{x:.4~g}<br>actual %{y:.4~g}<extra></extra>",
        )
    )
    return _layout(
        fig,
        "Predicted against actual",
        f"a sample of {len(x):,} rows; the diagonal is perfect",
        height=340,
        xtitle="predicted",
        ytitle="actual",
    )


def residual_trend(res: dict | None) -> go.Figure | None:
    if not res or not res.get("deciles"):
        return None
    d = res["deciles"]
    fig = go.Figure(
        go.Bar(
            x=[f"{p['predicted']:.4g}" for p in d],
            y=[p["mean_residual"] for p in d],
            marker={"color": [RED if p["mean_residual"] < 0 else BLUE for p in d]},
            customdata=[p["n"] for p in d],
            hovertemplate="predicted about %{x}<br>mean residual %{y:.4~g}<br>%{customdata:,} rows<extra></extra>",
        )
    )
    fig.update_xaxes(type="category")
    return _layout(
        fig,
        "Mean residual by predicted value",
        "actual - predicted, per tenth of the predictions; a trend is a systematic bias",
        height=300,
        xtitle="predicted (decile mean)",
        ytitle="residual",
    )


def slices(analysis: dict | None) -> go.Figure | None:
    s = (analysis or {}).get("slices")
    if not s:
        return None
    rows = s[::-1]
    fig = go.Figure(
        go.Bar(
            x=[r["mean_loss"] for r in rows],
            y=_labels([f"{r['column']} {r['slice']}" for r in rows]),
            orientation="h",
            marker={"color": RED},
            customdata=[[r["n"], r["ratio"]] for r in rows],
            hovertemplate="%{y}<br>mean loss %{x:.4g} (x%{customdata[1]:.2f} overall)<br>%{customdata[0]:,} rows"
            "<extra></extra>",
        )
    )
    fig.add_vline(x=s[0]["overall_loss"], line={"dash": "dash", "color": "#444", "width": 1})
    fig.update_yaxes(type="category")
    return _layout(
        fig,
        "Where the model errs most",
        f"{analysis['loss']}; dashed: all rows",
        height=max(220, 70 + 26 * len(rows)),
        xtitle=analysis["loss"],
    ).update_xaxes(showgrid=True)


def importance(imp: dict | None, title: str, top: int = 25) -> go.Figure | None:
    if not imp or imp.get("status") != "ok" or not imp.get("features"):
        return None
    rows = imp["features"][:top][::-1]
    fig = go.Figure(
        go.Bar(
            x=[r["importance"] for r in rows],
            y=_labels([r["feature"] for r in rows]),
            orientation="h",
            marker={"color": [BLUE if r["importance"] > 0 else GREY for r in rows]},
            error_x={"type": "data", "array": [r["std"] or 0 for r in rows], "color": "#57606a", "thickness": 1},
            hovertemplate="%{y}<br>+%{x:.4g} error when shuffled<extra></extra>",
        )
    )
    fig.update_yaxes(type="category")
    return _layout(
        fig,
        title,
        _esc(imp["words"]),
        height=max(220, 80 + 22 * len(rows)),
        xtitle=f"increase in {_esc(imp['metric'])} error",
    ).update_xaxes(showgrid=True)


def mean_contributions(contrib: dict | None, top: int = 25) -> go.Figure | None:
    if not contrib or contrib.get("status") != "ok":
        return None
    rows = contrib["mean_abs"][:top][::-1]
    fig = go.Figure(
        go.Bar(
            x=[r["mean_abs"] for r in rows],
            y=_labels([r["feature"] for r in rows]),
            orientation="h",
            marker={"color": PURPLE},
            hovertemplate="%{y}<br>mean |contribution| %{x:.4g}<extra></extra>",
        )
    )
    fig.update_yaxes(type="category")
    return _layout(
        fig,
        "Mean size of each column's contribution",
        f"TreeSHAP, in {_esc(contrib['space'])}, on {contrib['n_rows']:,} held-out rows",
        height=max(220, 80 + 22 * len(rows)),
        xtitle="mean |contribution|",
    ).update_xaxes(showgrid=True)


def example(ex: dict, space: str) -> go.Figure:
    """One prediction taken apart: baseline, the largest contributions, the rest, the total."""
    items = [("baseline", ex["baseline"])] + [(c["feature"], c["value"]) for c in ex["contributions"]]
    if abs(ex.get("rest", 0.0)) > 1e-12:
        items.append(("(other columns)", ex["rest"]))
    fig = go.Figure(
        go.Waterfall(
            orientation="h",
            y=_labels([k for k, _ in items] + ["total"]),
            x=[v for _, v in items] + [ex["total"]],
            measure=["absolute"] + ["relative"] * (len(items) - 1) + ["total"],
            increasing={"marker": {"color": BLUE}},
            decreasing={"marker": {"color": RED}},
            totals={"marker": {"color": "#24292f"}},
            connector={"line": {"color": GREY, "width": 1}},
            hovertemplate="%{y}: %{x:+.4g}<extra></extra>",
        )
    )
    fig.update_yaxes(type="category", autorange="reversed")
    title = f"Row {_esc(ex['row'])}: actual {_esc(ex.get('actual'))}, predicted {_esc(ex.get('predicted'))}"
    note = _esc(space) + (f" · explaining {_esc(ex['explained'])}" if ex.get("explained") is not None else "")
    return _layout(fig, title, note, height=max(220, 90 + 24 * len(items)), xtitle=_esc(space))
