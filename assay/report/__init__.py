"""Reports for people: self-contained HTML pages with Plotly figures (``html.py``, ``figures.py``).

The report only draws; the numbers come from earlier stages (``assay.data.profile`` for the
data profile), so the page, the terminal summary and the JSON always agree.
"""

from assay.report.html import render_profile_html

__all__ = ["render_profile_html"]
