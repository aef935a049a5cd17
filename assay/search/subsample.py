"""Search on a sample when the table is large; the chosen members are then refit on every row
(assay.ensemble.refit), so the final models still learn from all the data.

Why: a search compares configurations, and their ranking settles on far fewer rows than the
final model profits from, while every trial's cost grows with the rows. Past `search_rows`
(default 200,000) the search sees a sample that keeps what the validation depends on:
- classification: every class in its proportion, and every row of a class rarer than the
  sample can spare (a 1-in-10,000 class must not vanish);
- grouped data: whole groups, so no group is split by the sample;
- time-ordered data: the sample keeps row order, so validation stays on later rows.
"""

from __future__ import annotations

import numpy as np

from assay.errors import ConfigError, problem

SEARCH_ROWS = 200_000
_MIN_SEARCH_ROWS = 1_000
_MIN_PER_CLASS = 50  # a class keeps at least this many rows (all it has, if fewer)


def check_search_rows(search_rows: int | None) -> None:
    if search_rows is None:
        return
    if isinstance(search_rows, bool) or not isinstance(search_rows, int) or search_rows < _MIN_SEARCH_ROWS:
        raise ConfigError(
            problem(
                f"search_rows must be a whole number >= {_MIN_SEARCH_ROWS:,}, got {search_rows!r}",
                where="search_rows",
                fix=f"pass search_rows={SEARCH_ROWS} (or leave it out for the default)",
            )
        )


def search_sample(y: np.ndarray, is_classification: bool, n: int, seed: int, groups=None) -> np.ndarray | None:
    """Sorted row indices of the sample, or None when the table is no larger than `n`."""
    total = len(y)
    if total <= n:
        return None
    rng = np.random.default_rng(seed)
    if groups is not None:
        return _whole_groups(np.asarray(groups), n, rng)
    if not is_classification:
        return np.sort(rng.choice(total, size=n, replace=False))
    classes, codes, counts = np.unique(y, return_inverse=True, return_counts=True)
    want = np.maximum(np.round(counts * n / total).astype(int), np.minimum(counts, _MIN_PER_CLASS))
    picked = [rng.choice(np.flatnonzero(codes == k), size=want[k], replace=False) for k in range(len(classes))]
    return np.sort(np.concatenate(picked))


def _whole_groups(groups: np.ndarray, n: int, rng) -> np.ndarray:
    """Groups in random order until the sample holds n rows."""
    _, codes = np.unique(groups, return_inverse=True)
    order = rng.permutation(codes.max() + 1)
    sizes = np.bincount(codes)
    keep = order[: int(np.searchsorted(np.cumsum(sizes[order]), n)) + 1]
    return np.flatnonzero(np.isin(codes, keep))
