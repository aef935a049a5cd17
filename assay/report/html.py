"""Self-contained HTML pages: one file, plotly.js inlined once, nothing fetched when it is opened.

:func:`render_profile_html` lays a :class:`~assay.data.profile.Profile` out as a summary card, the
overview charts (missing values, association with the target, the target), a table of every
column, and one section per column with its statistics and its picture. Every string from the
data goes through :func:`html.escape`.
"""

from __future__ import annotations

import html

import plotly
from plotly.offline import get_plotlyjs

from assay.data.profile import MEASURES, ColumnProfile, Profile
from assay.report import figures

__all__ = ["page", "render_profile_html"]

_CONFIG = {
    "displaylogo": False,
    "displayModeBar": "hover",
    "responsive": True,
    "modeBarButtonsToRemove": ["lasso2d", "select2d"],
}
_KIND_COLORS = {
    "numeric": "#3b6ea5",
    "categorical": "#7a5195",
    "boolean": "#2a9d8f",
    "datetime": "#d9822b",
    "text": "#6d6875",
    "identifier": "#9aa5b1",
    "constant": "#9aa5b1",
    "empty": "#b23a48",
}
_CSS = """
*{box-sizing:border-box}
body{margin:0;background:#f6f8fa;color:#24292f;
  font:14px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif}
main{max-width:1180px;margin:0 auto;padding:24px 20px 60px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:19px;margin:32px 0 12px}h3{font-size:16px;margin:0;word-break:break-all}
.sub,.muted{color:#57606a}.small{font-size:12px}
.card{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:16px 18px;margin:12px 0}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:10px}
.tile{background:#f6f8fa;border-radius:6px;padding:10px 12px}
.tile .v{font-size:20px;font-weight:600}
.tile .k{color:#57606a;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:12px}
@media (max-width:860px){.grid2,.colgrid{grid-template-columns:1fr!important}}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-size:12px;font-weight:500;
  vertical-align:middle}
.badge.target{background:#24292f}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #eaeef2;vertical-align:top}
th{font-size:12px;color:#57606a;text-transform:uppercase;letter-spacing:.04em;background:#f6f8fa;position:sticky;top:0}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.reason{color:#57606a;font-size:12px;max-width:420px}
.bar{display:inline-block;height:8px;border-radius:2px;vertical-align:middle;margin-right:6px}
.colgrid{display:grid;grid-template-columns:320px 1fr;gap:16px;margin-top:10px;align-items:start}
.stats td{padding:3px 6px;font-size:13px}.stats td:first-child{color:#57606a}
.reason{margin:6px 0 0}ul.notes{margin:8px 0 0;padding-left:18px;color:#57606a;font-size:13px}
a{color:#0969da;text-decoration:none}a:hover{text-decoration:underline}
footer{color:#57606a;font-size:12px;margin-top:40px}
"""


def render_profile_html(profile: Profile, title: str = "Data profile") -> str:
    """The whole profile page as one HTML string (about 5 MB, most of it plotly.js)."""
    figs = _Figures()
    source = f'<p class="sub">{_e(profile.source)}</p>' if profile.source else ""
    parts = [f"<h1>{_e(title)}</h1>", source, _summary(profile)]
    overview = [figs.div(figures.missingness(profile)), figs.div(figures.target_distribution(profile))]
    parts.append('<div class="grid2">' + "".join(f'<div class="card">{d}</div>' for d in overview if d) + "</div>")
    assoc = figs.div(figures.association(profile))
    if assoc:
        parts.append(f'<div class="card">{assoc}<p class="small muted">{_e(_measure_help(profile))}</p></div>')
    parts += ["<h2>Columns</h2>", _columns_table(profile), "<h2>Column details</h2>"]
    parts += [_column_section(i, c, profile, figs) for i, c in enumerate(profile.columns)]
    parts.append(_notes(profile))
    version = f"assay · plotly {plotly.__version__} · profiled in {profile.seconds:.2f} s"
    parts.append(f"<footer>{_e(version)}</footer>")
    return page(title, "\n".join(parts))


def page(title: str, body: str) -> str:
    """A complete HTML document around ``body`` with plotly.js inlined once in the head."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n"
        f'<script type="text/javascript">{get_plotlyjs()}</script>\n'
        f"</head>\n<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


class _Figures:
    """Figure -> <div>, each with a stable id; plotly.js itself is in the page head."""

    def __init__(self):
        self.n = 0

    def div(self, fig) -> str:
        if fig is None:
            return ""
        self.n += 1
        return fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"fig-{self.n}", config=_CONFIG)


def _summary(p: Profile) -> str:
    dup = "not checked" if p.duplicate_rows is None else f"{p.duplicate_rows:,}"
    cells = p.n_rows * p.n_columns
    tiles = [
        ("rows", f"{p.n_rows:,}"),
        ("columns", f"{p.n_columns:,}"),
        ("missing cells", f"{p.missing_cells:,} ({100 * p.missing_cells / max(cells, 1):.1f}%)"),
        ("duplicate rows", dup),
        ("memory", _bytes(p.memory_bytes)),
    ]
    if p.target is not None:
        tiles.append(("target", f"{p.target} ({p.task or 'not measurable'})"))
    body = "".join(
        f'<div class="tile"><div class="k">{_e(k)}</div><div class="v">{_e(v)}</div></div>' for k, v in tiles
    )
    kinds = " ".join(_badge(k, f"{n} {k}") for k, n in sorted(p.kinds.items(), key=lambda kv: -kv[1]))
    return (
        f'<div class="card"><div class="tiles">{body}</div>'
        f'<p style="margin:12px 0 0">{kinds}</p><p class="small muted" style="margin:8px 0 0">{_e(p.basis)}</p></div>'
    )


def _columns_table(p: Profile) -> str:
    head = "".join(
        f"<th>{h}</th>" for h in ("#", "column", "kind", "why this kind", "missing", "distinct", "association")
    )
    rows = []
    for i, c in enumerate(p.columns):
        name = f'<a href="#col-{i}">{_e(c.name)}</a>' + (' <span class="badge target">target</span>' * c.is_target)
        missing = _bar(c.pct_missing / 100, "#b23a48") + f"{c.n_missing:,} ({c.pct_missing:.1f}%)"
        assoc = (
            _bar(c.association, "#3b6ea5") + f"{c.association:.3f}"
            if c.association is not None
            else '<span class="muted">-</span>'
        )
        rows.append(
            f'<tr><td class="num">{i + 1}</td><td>{name}</td><td>{_badge(c.kind)}</td>'
            f'<td class="reason">{_e(c.reason)}</td><td class="num">{missing}</td>'
            f'<td class="num">{c.n_distinct:,}</td><td class="num" title="{_e(c.association_note)}">{assoc}</td></tr>'
        )
    return f'<div class="card" style="padding:0;overflow:auto"><table><tr>{head}</tr>{"".join(rows)}</table></div>'


def _column_section(i: int, c: ColumnProfile, p: Profile, figs: _Figures) -> str:
    target = ' <span class="badge target">target</span>' if c.is_target else ""
    stats = "".join(f"<tr><td>{_e(k)}</td><td class='num'>{_e(v)}</td></tr>" for k, v in _stat_rows(c))
    fig = figs.div(figures.column_figure(c, p)) or '<p class="muted">nothing to draw for this column</p>'
    cleaning = "".join(f"<li>{_e(line)}</li>" for line in c.cleaning)
    cleaning = f'<ul class="notes">{cleaning}</ul>' if cleaning else ""
    return (
        f'<div class="card" id="col-{i}"><h3>{_e(c.name)} {_badge(c.kind)}{target}</h3>'
        f'<p class="reason muted small">{_e(c.reason)}</p>{cleaning}'
        f'<div class="colgrid"><table class="stats">{stats}</table><div>{fig}</div></div></div>'
    )


def _stat_rows(c: ColumnProfile) -> list[tuple[str, str]]:
    rows = [("missing", f"{c.n_missing:,} ({c.pct_missing:.2f}%)"), ("distinct", f"{c.n_distinct:,}")]
    s = c.stats
    if c.kind == "numeric" and s:
        rows += [(k, _num(s[k])) for k in ("mean", "std", "min", "p5", "p25", "median", "p75", "p95", "max")]
        rows += [("zeros", f"{s['zeros']:,}"), ("outliers (IQR)", f"{s['outliers']:,} ({s['pct_outliers']:.2f}%)")]
    elif c.kind == "datetime" and s:
        rows += [("first", s["min"]), ("last", s["max"]), ("span", f"{s['span_days']:,.1f} days")]
    elif c.kind == "text" and s:
        rows += [(k.replace("_", " "), _num(v)) for k, v in s.items()]
    elif c.top_values:
        n = sum(count for _, count in c.top_values) + c.other_count
        label, count = c.top_values[0]
        rows.append(("most frequent", f"{_clip(label)} ({100 * count / max(n, 1):.1f}%)"))
    if c.examples:
        rows.append(("examples", ", ".join(_clip(x, 24) for x in c.examples[:3])))
    rows.append(("dtype", c.dtype))
    if c.association is not None:
        rows.append((MEASURES.get(c.measure, "association"), f"{c.association:.3f}"))
    return rows


def _notes(p: Profile) -> str:
    lines = [*p.read_notes, *(line for line in p.cleaning if line.startswith("(rows)"))]
    if not lines:
        return ""
    items = "".join(f"<li>{_e(line)}</li>" for line in lines)
    return f'<h2>Notes</h2><div class="card"><ul class="notes">{items}</ul></div>'


def _measure_help(p: Profile) -> str:
    return (
        f"Measure: {p.association_measure}. Each is 0 for no association and 1 for a perfect one; "
        "missing values count as a category of their own. Identifier, text, constant and empty columns are not scored."
    )


def _badge(kind: str, text: str | None = None) -> str:
    color = _KIND_COLORS.get(kind, "#57606a")
    return f'<span class="badge" style="background:{color}">{_e(text or kind)}</span>'


def _bar(fraction: float, color: str) -> str:
    width = max(0.0, min(1.0, float(fraction))) * 60
    return f'<span class="bar" style="width:{width:.0f}px;background:{color}"></span>'


def _num(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, int) or float(v).is_integer() and abs(v) < 1e15:
        return f"{int(v):,}"
    return f"{v:,.6g}" if 1e-4 <= abs(v) < 1e15 else f"{v:.4g}"


def _bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} GB"


def _clip(text, n: int = 40) -> str:
    text = str(text)
    return text if len(text) <= n else text[: n - 1] + "…"


def _e(text) -> str:
    return html.escape(str(text))
