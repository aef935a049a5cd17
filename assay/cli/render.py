"""Tables for the terminal: the leaderboard and metric summaries, shared by every command."""

from __future__ import annotations

import sys

import pandas as pd
from rich.console import Console
from rich.table import Table

console = Console(width=None if sys.stdout.isatty() else 120)


def leaderboard_table(board: pd.DataFrame, top: int = 15) -> Table:
    score_col = next(c for c in board.columns if c.startswith("val_"))
    table = Table(title=f"leaderboard ({score_col[4:]} on validation)", title_justify="left")
    for col in ("rank", "model", "origin", score_col, "weight", "fit_s", "predict_s", "status"):
        table.add_column(col, justify="right" if col not in ("model", "origin", "status") else "left")
    for i, row in enumerate(board.head(top).itertuples(index=False), start=1):
        r = row._asdict()
        score = r.get(score_col)
        table.add_row(
            str(i),
            r["model"],
            r["origin"],
            "-" if pd.isna(score) else f"{score:.4f}",
            f"{r.get('weight', 0) or 0:.2f}",
            _num(r.get("fit_s")),
            _num(r.get("predict_s")),
            r["status"],
        )
    if len(board) > top:
        table.caption = f"{len(board) - top} more trials not shown"
    return table


def metrics_table(scores: dict[str, float], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in scores.items():
        table.add_row(name, f"{value:,.0f}" if name == "n_rows" else f"{value:.4f}")
    return table


def _num(value) -> str:
    return "-" if value is None or pd.isna(value) else f"{value:.2f}"
