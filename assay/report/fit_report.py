"""The fit report: one self-contained HTML page (plotly.js inlined, nothing fetched) with the
sections Data, Search, Model, Diagnostics, Errors and Explanations, drawn from the content dict of
assay.evaluate.report_data; report.json is that same dict.

It reads top-down the way a sceptical reviewer would ask: what data, how was the model found,
how good is it and compared to what, can the score be trusted, where does it fail, and what does
it rely on. Every figure carries its interval or its baseline; every skipped part says why.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from assay.report import fit_figures as ff
from assay.report.html import _e, _Figures, page

_EXTRA_CSS = """
nav.sections{position:sticky;top:0;z-index:5;background:#f6f8fa;padding:8px 0;border-bottom:1px solid #d0d7de}
nav.sections a{margin-right:14px;font-weight:500}
section{scroll-margin-top:48px}
.verdict{border-left:6px solid #9aa5b1;padding:10px 14px;background:#fff;border-radius:6px;margin:8px 0}
.verdict.fine{border-color:#2a9d8f}.verdict.over-fitting,.verdict.leak{border-color:#b23a48}
.verdict.under-fitting{border-color:#d9822b}.verdict .label{font-weight:600;text-transform:uppercase;font-size:12px;
  letter-spacing:.05em}
.warn{background:#fff8c5;border:1px solid #d4a72c;border-radius:6px;padding:8px 12px;margin:8px 0}
.ok{color:#2a9d8f;font-weight:600}.bad{color:#b23a48;font-weight:600}
td.ci{color:#57606a;font-size:12px;white-space:nowrap}
details{margin:8px 0}summary{cursor:pointer;color:#0969da}
"""


def render_fit_report(content: dict) -> str:
    figs = _Figures()
    title = f"assay report: {content['title']}"
    parts = [
        f"<style>{_EXTRA_CSS}</style>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="sub">created {_e(content["created"])} · metric {_e(content["metric"])}</p>',
        _nav(),
        _headline(content),
    ]
    parts += [f'<div class="warn">{_e(w)}</div>' for w in content.get("warnings", [])]
    parts += [
        _data(content, figs),
        _search(content, figs),
        _model(content, figs),
        _diagnostics(content, figs),
        _errors(content, figs),
        _explanations(content, figs),
    ]
    parts.append(f"<footer>assay · report content {_e(content.get('generation_seconds'))} s to compute</footer>")
    return page(title, "\n".join(parts))


def write_report(content: dict, html_path, json_path=None) -> tuple[Path, Path | None]:
    """Write the page (and the JSON) atomically: a half-written report is never left behind."""
    html_path = Path(html_path)
    html_path.parent.mkdir(parents=True, exist_ok=True)
    _atomic(html_path, render_fit_report(content))
    if json_path is not None:
        _atomic(Path(json_path), json.dumps(content, indent=1))
    return html_path, (Path(json_path) if json_path else None)


def _atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


# ---- sections --------------------------------------------------------------------------------


def _nav() -> str:
    links = "".join(
        f'<a href="#{s}">{s.title()}</a>' for s in ("data", "search", "model", "diagnostics", "errors", "explanations")
    )
    return f'<nav class="sections">{links}</nav>'


def _headline(c: dict) -> str:
    metric = c["metric"]
    tiles = []
    val = ((c["model"].get("validation") or {}).get("metrics") or {}).get(metric)
    if val:
        tiles.append((f"validation {metric}", _iv(val)))
    test = (c["model"].get("test") or {}).get("scores")
    if test:
        tiles.append((f"test {metric}", _iv(test["metrics"][metric])))
    prior = ((c["model"].get("baselines") or {}).get("prior") or {}).get("validation")
    if prior:
        tiles.append(("trivial baseline", _fmt(prior["metrics"][metric]["value"])))
    tiles.append(("trials", f"{len(c['search']['trials']):,}"))
    if c["search"].get("fit_seconds") is not None:
        tiles.append(("fit time", f"{c['search']['fit_seconds']:.1f} s"))
    verdict = ((c["diagnostics"].get("learning") or {}).get("verdict") or {}).get("label")
    if verdict:
        tiles.append(("verdict", verdict))
    shuffle = ((c["diagnostics"].get("sanity") or {}).get("label_shuffle") or {}).get("status")
    if shuffle:
        tiles.append(("label-shuffle check", {"ok": "passed", "leak": "LEAK"}.get(shuffle, shuffle)))
    body = "".join(
        f'<div class="tile"><div class="k">{_e(k)}</div><div class="v">{_e(v)}</div></div>' for k, v in tiles
    )
    return f'<div class="card"><div class="tiles">{body}</div></div>'


def _data(c: dict, figs: _Figures) -> str:
    d = c["data"]
    s = d.get("summary") or {}
    kinds = ", ".join(f"{n} {k}" for k, n in sorted((s.get("kinds") or {}).items(), key=lambda kv: -kv[1]))
    facts = [
        ("training rows", f"{d['n_rows']:,}" if d.get("n_rows") is not None else "-"),
        ("columns used", f"{len(d['columns']):,} ({kinds})" if kinds else f"{len(d['columns']):,}"),
        ("columns dropped", f"{len(d['dropped']):,}"),
    ]
    read = d.get("read") or {}
    if read:
        facts.append(("read as", " · ".join(str(v) for v in read.values() if v)))
    out = [_section_head("Data"), _facts(facts)]
    fig = figs.div(ff.target_distribution(s, c["target"]))
    lists = _list("cleaning", d.get("cleaning")) + _list("notes", d.get("notes"))
    lists += _list("leak checks", [f"{x.get('column')}: {x.get('reason', x.get('kind', ''))}" for x in d["leaks"]])
    if d["dropped"]:
        lists += _list("dropped columns", [f"{k}: {v}" for k, v in d["dropped"].items()])
    out.append(
        f'<div class="grid2"><div class="card">{fig}</div><div class="card">{lists or "nothing to note"}</div></div>'
    )
    out.append(_profile_figures(d.get("profile"), figs))
    return "<section id='data'>" + "".join(out) + "</section>"


def _profile_figures(profile: dict | None, figs: _Figures) -> str:
    """Missingness and association with the target, drawn from the same profile `assay profile`
    writes (assay.data.profile), so the two pages never disagree about the data."""
    if not profile:
        return ""
    from assay.data.profile import Profile
    from assay.report import figures

    p = Profile.from_dict(profile)
    divs = [figs.div(figures.missingness(p)), figs.div(figures.association(p))]
    cards = "".join(f'<div class="card">{d}</div>' for d in divs if d)
    note = f'<p class="small muted">{_e(p.basis)}</p>' if p.basis else ""
    return f'<div class="grid2">{cards}</div>{note}' if cards else ""


def _search(c: dict, figs: _Figures) -> str:
    s = c["search"]
    budget = s.get("budget") or {}
    spent = f"{budget.get('seconds')} s" if budget.get("seconds") else f"{budget.get('trials')} trials"
    v = s.get("validation") or {}
    out = [_section_head("Search"), f"<p>budget {_e(spent)}; validation: {_e(v.get('reason', ''))}</p>"]
    anytime = figs.div(ff.anytime(c))
    fams = figs.div(ff.best_per_family(c))
    out.append(
        f'<div class="grid2"><div class="card">{anytime or "<p class=muted>no timings</p>"}</div>'
        f'<div class="card">{fams}</div></div>'
    )
    out.append(_trial_table(c))
    return "<section id='search'>" + "".join(out) + "</section>"


def _trial_table(c: dict, top: int = 40) -> str:
    trials = c["search"]["trials"]
    ok = [t for t in trials if t.get("score") is not None and t.get("status") == "ok"]
    ok.sort(key=lambda t: t["score"], reverse=c["greater_is_better"])
    rest = [t for t in trials if t not in ok]
    rows = []
    for t in (ok + rest)[:top]:
        cells = [
            t["model"],
            t["family"],
            t.get("origin", ""),
            t.get("status", ""),
            _fmt(t.get("score")),
            _fmt(t.get("weight"), 2),
            _fmt(t.get("fit_s"), 2),
            _fmt(t.get("end_s"), 1),
        ]
        title = _e(t.get("params", "")) + (" · " + _e(t["message"]) if t.get("message") else "")
        rows.append(
            f'<tr title="{title}">'
            + "".join(f'<td class="num">{_e(x)}</td>' if i >= 4 else f"<td>{_e(x)}</td>" for i, x in enumerate(cells))
            + "</tr>"
        )
    head = "".join(
        f"<th>{h}</th>" for h in ("trial", "family", "origin", "status", c["metric"], "weight", "fit s", "ended at s")
    )
    more = f'<p class="small muted">{len(trials) - top} more trials not shown</p>' if len(trials) > top else ""
    return (
        f'<div class="card" style="padding:0;overflow:auto;max-height:480px"><table><tr>{head}</tr>'
        f'{"".join(rows)}</table></div>{more}<p class="small muted">hover a row for its parameters</p>'
    )


def _model(c: dict, figs: _Figures) -> str:
    m = c["model"]
    metric = c["metric"]
    out = [_section_head("Model")]
    ens = m.get("ensemble") or {}
    members = ", ".join(f"{k} ({w:.2f})" for k, w in sorted((ens.get("weights") or {}).items(), key=lambda kv: -kv[1]))
    out.append(f"<p>ensemble of {len(ens.get('weights') or {})} configuration(s): {_e(members)}</p>")
    val = m.get("validation") or {}
    base = m.get("baselines") or {}
    test = m.get("test") or {}
    trivial = "class frequencies" if c["task"]["kind"] != "regression" else "the training mean"
    cols = [
        ("ensemble · validation (out of fold)", val),
        (f"{trivial} · validation", (base.get("prior") or {}).get("validation")),
    ]
    linear = base.get("linear") or {}
    if linear.get("validation"):
        cols.append(("linear model · first fold's held-out rows", linear["validation"]))
        cols.append(("ensemble · the same rows", linear["ensemble_same_rows"]))
    if test:
        cols.append(("ensemble · test", test["scores"]))
        for name, key in ((f"{trivial} · test", "prior"), ("linear model · test", "linear")):
            if (test.get("baselines") or {}).get(key):
                cols.append((name, test["baselines"][key]))
    out.append(_metrics_table(cols))
    if linear.get("note"):
        out.append(
            f'<p class="small muted">linear baseline: {_e(linear["note"])}; it is scored on the first '
            "fold's held-out rows, hence the ensemble's score on those same rows beside it</p>"
        )
    rows = [("ensemble (validation)", (val.get("metrics") or {}).get(metric), ff.BLUE)]
    if test:
        rows.append(("ensemble (test)", test["scores"]["metrics"][metric], ff.GREEN))
    if linear.get("validation"):
        rows.append(("linear (validation)", linear["validation"]["metrics"][metric], ff.PURPLE))
    rows.append(
        (
            "frequencies (validation)",
            ((base.get("prior") or {}).get("validation") or {}).get("metrics", {}).get(metric),
            ff.GREY,
        )
    )
    forest = figs.div(ff.intervals(rows, metric))
    folds = val.get("folds") or {}
    fold_words = ""
    if folds and folds.get("scores"):
        iv = folds["interval"]
        fold_words = (
            f"<p>fold spread: {len(folds['scores'])} folds, {metric} "
            f"{_e(', '.join(_fmt(x) for x in folds['scores']))}; mean {_iv(iv)} (t interval)</p>"
        )
    cal = (m.get("calibration") or {}).get("words")
    side = (
        fold_words
        + (f"<p>{_e(cal)}</p>" if cal else "")
        + (
            f'<p class="small muted">validation: {_e(((val.get("plan") or {}).get("reason")) or "")}; '
            "intervals: 95 % bootstrap over the evaluation rows</p>"
        )
    )
    out.append(f'<div class="grid2"><div class="card">{forest}</div><div class="card">{side}</div></div>')
    return "<section id='model'>" + "".join(out) + "</section>"


def _metrics_table(rows: list) -> str:
    """One row per (model or baseline, rows scored), one column per metric."""
    rows = [(name, s) for name, s in rows if s]
    if not rows:
        return '<p class="muted">no scores recorded</p>'
    names = list(rows[0][1]["metrics"])
    head = "<th>scored</th><th>rows</th>" + "".join(f"<th>{_e(n)}</th>" for n in names)
    body = []
    for name, s in rows:
        cells = []
        for metric in names:
            iv = s["metrics"].get(metric)
            cells.append(
                f'<td class="num">{_fmt(iv["value"])}<br><span class="ci">{_ci(iv)}</span></td>' if iv else "<td></td>"
            )
        body.append(f"<tr><td>{_e(name)}</td><td class='num'>{s['n_rows']:,}</td>{''.join(cells)}</tr>")
    return f'<div class="card" style="padding:0;overflow:auto"><table><tr>{head}</tr>{"".join(body)}</table></div>'


def _diagnostics(c: dict, figs: _Figures) -> str:
    d = c["diagnostics"]
    learning = d.get("learning") or {}
    out = [_section_head("Diagnostics")]
    if d.get("error"):
        out.append(f'<div class="warn">diagnostics failed at fit time: {_e(d["error"])}</div>')
    v = learning.get("verdict")
    if v:
        out.append(
            f'<div class="verdict {_e(v["label"])}"><div class="label">{_e(v["label"])}</div>'
            f"<p><b>{_e(v['headline'])}</b></p>{_list('evidence', v['evidence'])}"
            f"{_list('what to try next', v['advice'])}"
            f'<p class="small muted">from {_e(learning.get("model", ""))}, the best gradient-boosting '
            "configuration, on the first fold</p></div>"
        )
    size, rounds = figs.div(ff.learning_size(c)), figs.div(ff.learning_rounds(c))
    if size or rounds:
        out.append(
            f'<div class="grid2"><div class="card">{size or "<p class=muted>no size curve</p>"}</div>'
            f'<div class="card">{rounds or "<p class=muted>no rounds curve for this family</p>"}</div></div>'
        )
    sanity = d.get("sanity") or {}
    checks = []
    shuffle = sanity.get("label_shuffle")
    if shuffle:
        status = shuffle.get("status")
        mark = {"ok": '<span class="ok">passed</span>', "leak": '<span class="bad">LEAK</span>'}.get(status, _e(status))
        checks.append(f"<p><b>label-shuffle run</b>: {mark}. {_e(shuffle.get('words') or shuffle.get('reason'))}</p>")
    seeds = sanity.get("seeds")
    if seeds:
        checks.append(f"<p><b>seed variance</b>: {_e(seeds.get('words') or seeds.get('reason'))}</p>")
    vt = sanity.get("validation_vs_test")
    if vt:
        mark = '<span class="bad">disagree</span>' if vt["disagree"] else '<span class="ok">agree</span>'
        checks.append(f"<p><b>validation vs test</b>: {mark}. {_e(vt['words'])}</p>")
    elif c["model"].get("test") is None:
        checks.append(
            '<p class="muted">validation vs test: regenerate with <code>assay report MODEL --data '
            "TEST</code> to compare</p>"
        )
    seed_fig = figs.div(ff.seeds(c))
    out.append(f'<div class="card">{"".join(checks)}{seed_fig}</div>')
    skipped = d.get("skipped") or []
    timing = ", ".join(f"{k} {v:.2f} s" for k, v in (d.get("seconds") or {}).items())
    out.append(
        f"<details><summary>what was skipped, and what each step cost</summary>"
        f"{_list('skipped for lack of time or data', skipped) or '<p>nothing was skipped</p>'}"
        f'<p class="small muted">{_e(timing)}</p></details>'
    )
    return "<section id='diagnostics'>" + "".join(out) + "</section>"


def _errors(c: dict, figs: _Figures) -> str:
    e = c["errors"]
    analysis, where = (e["test"], "test rows") if e.get("test") else (e.get("validation"), "out-of-fold predictions")
    out = [_section_head("Errors")]
    if not analysis:
        return "<section id='errors'>" + "".join(out) + "<p class='muted'>no error analysis</p></section>"
    out.append(f'<p class="muted">on {analysis["n_rows"]:,} {_e(where)}</p>')
    if "confusion" in analysis:
        pair = [figs.div(ff.confusion(analysis.get("confusion"))), figs.div(ff.calibration(analysis["calibration"]))]
    else:
        pair = [
            figs.div(ff.residual_scatter(analysis.get("residuals"))),
            figs.div(ff.residual_trend(analysis.get("residuals"))),
        ]
    out.append('<div class="grid2">' + "".join(f'<div class="card">{p}</div>' for p in pair if p) + "</div>")
    sl = figs.div(ff.slices(analysis))
    out.append(
        f'<div class="card">{sl or "<p class=muted>no slice errs markedly more than the rest</p>"}'
        f"{_slice_table(analysis)}</div>"
    )
    out.append(_worst_table(analysis))
    return "<section id='errors'>" + "".join(out) + "</section>"


def _slice_table(a: dict) -> str:
    if not a.get("slices"):
        return ""
    cls = "error_rate" in a["slices"][0]
    head = "<th>slice</th><th>rows</th><th>mean loss</th><th>x overall</th>" + ("<th>error rate</th>" if cls else "")
    rows = []
    for s in a["slices"]:
        rate = f'<td class="num">{s["error_rate"]:.1%} (all: {s["overall_error_rate"]:.1%})</td>' if cls else ""
        rows.append(
            f"<tr><td>{_e(s['column'])} {_e(s['slice'])}</td><td class='num'>{s['n']:,}</td>"
            f"<td class='num'>{_fmt(s['mean_loss'])}</td><td class='num'>{s['ratio']:.2f}</td>{rate}</tr>"
        )
    return f"<table class='small'><tr>{head}</tr>{''.join(rows)}</table>"


def _worst_table(a: dict) -> str:
    rows = a.get("worst_rows") or []
    if not rows:
        return ""
    features = list(rows[0]["features"])
    head = "<th>row</th><th>actual</th><th>predicted</th><th>loss</th>" + "".join(f"<th>{_e(f)}</th>" for f in features)
    body = "".join(
        f"<tr><td class='num'>{r['row']}</td><td>{_e(_fmt(r['actual']))}</td><td>{_e(_fmt(r['predicted']))}"
        + (f" <span class='ci'>p(actual) {r['p_actual']:.3f}</span>" if "p_actual" in r else "")
        + f"</td><td class='num'>{_fmt(r['loss'])}</td>"
        + "".join(f"<td>{_e(r['features'][f])}</td>" for f in features)
        + "</tr>"
        for r in rows
    )
    return (
        f'<h3>Worst-predicted rows</h3><div class="card" style="padding:0;overflow:auto"><table>'
        f"<tr>{head}</tr>{body}</table></div><p class='small muted'>row: the row's position in the table "
        "scored (training rows after dropping those without a target, or the test rows); columns as the model "
        "saw them, the most important first</p>"
    )


def _explanations(c: dict, figs: _Figures) -> str:
    x = c["explanations"]
    out = [_section_head("Explanations")]
    imp = figs.div(ff.importance(x.get("importance"), "Permutation importance (validation)"))
    imp_test = figs.div(ff.importance(x.get("importance_test"), "Permutation importance (test)"))
    contrib = x.get("contributions") or {}
    mean = figs.div(ff.mean_contributions(contrib))
    cards = [f'<div class="card">{f}</div>' for f in (imp, imp_test, mean) if f]
    out.append('<div class="grid2">' + "".join(cards) + "</div>")
    if contrib.get("status") == "ok" and contrib.get("explained_share", 1) < 0.999:
        out.append(
            f'<p class="small muted">contributions explain the boosted members ({_e(", ".join(contrib["members"]))}'
            f"), {contrib['explained_share']:.0%} of the ensemble's weight</p>"
        )
    elif contrib.get("status") == "skipped":
        out.append(f'<p class="muted">per-row contributions: {_e(contrib.get("reason"))}</p>')
    examples = (x.get("test_examples") or {}).get("examples") or contrib.get("examples") or []
    space = (x.get("test_examples") or {}).get("space") or contrib.get("space", "")
    if examples:
        out.append("<h3>The worst-predicted rows, taken apart</h3>")
        out.append(
            '<div class="grid2">'
            + "".join(f'<div class="card">{figs.div(ff.example(ex, space))}</div>' for ex in examples)
            + "</div>"
        )
    out.append(
        '<p class="small muted">explain any rows: <code>assay explain MODEL ROWS.csv</code> or '
        "<code>Predictor.explain(rows)</code></p>"
    )
    return "<section id='explanations'>" + "".join(out) + "</section>"


# ---- small helpers ---------------------------------------------------------------------------


def _section_head(title: str) -> str:
    return f"<h2>{_e(title)}</h2>"


def _facts(pairs) -> str:
    body = "".join(
        f'<div class="tile"><div class="k">{_e(k)}</div><div class="v" style="font-size:15px">{_e(v)}</div></div>'
        for k, v in pairs
    )
    return f'<div class="card"><div class="tiles">{body}</div></div>'


def _list(title: str, items) -> str:
    items = [i for i in (items or []) if i]
    if not items:
        return ""
    return (
        f"<p class='small muted' style='margin:6px 0 0'>{_e(title)}</p><ul class='notes'>"
        + "".join(f"<li>{_e(i)}</li>" for i in items)
        + "</ul>"
    )


def _fmt(v, digits: int = 4) -> str:
    if v is None:
        return "-"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"  # counts and class labels such as 0 / 1
    if isinstance(v, float):
        return f"{v:.{digits}f}" if abs(v) < 1e5 else f"{v:,.0f}"
    return str(v)


def _ci(iv: dict) -> str:
    if iv.get("low") is None or iv.get("high") is None:
        return ""
    return f"[{_fmt(iv['low'])}, {_fmt(iv['high'])}]"


def _iv(iv: dict) -> str:
    return f"{_fmt(iv.get('value'))} {_ci(iv)}".strip()
