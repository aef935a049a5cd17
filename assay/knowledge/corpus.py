"""The corpus a portfolio is learnt from, minus every dataset it will be judged on.

An honest evaluation of a learnt portfolio needs the evaluation datasets out of its training
corpus, and PMLB holds the same data under several names (car / car_evaluation, satimage /
294_satellite_image with the class as a number, cpu_act under two ids, cpu_small as a column
subset of cpu_act). Three independent signals, any one enough to exclude:

- name: the same words once numeric id prefixes and filler words are dropped
  ("197_cpu_act" ~ "573_cpu_act", "hill_valley_noise" ~ "Hill_Valley_with_noise"; a
  single word must match exactly, so "561_cpu" is not "cpu_act");
- data: about the same number of rows and most of the smaller table's non-trivial columns found
  in the other with the same (min, median, max), whatever their names: catches renamed copies,
  column subsets and a target turned into a feature;
- metadata: the same `source` URL in metadata.yaml.

The reason is kept per excluded dataset, so the portfolio file shows what was left out and why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from assay.data.read import read_table

_FILLER = {"with", "without", "the", "data", "dataset", "evaluation", "raw", "uci", "openml"}
_ROWS_RATIO = 0.1  # row counts within 10 % (a copy that dropped incomplete rows still matches)
_COLUMN_MATCH = 0.8  # share of the smaller table's informative columns found in the other
_TOL = 0.01  # relative tolerance on each column statistic


@dataclass
class Fingerprint:
    """What a duplicate test needs of a table: its name, size, column statistics, source."""

    name: str
    n_rows: int
    stats: list[tuple[float, float, float]]  # (min, median, max) per informative numeric column
    source: str | None = None

    @classmethod
    def of(cls, name: str, frame: pd.DataFrame, source: str | None = None) -> Fingerprint:
        stats = []
        for col in frame.columns:
            values = pd.to_numeric(frame[col], errors="coerce").dropna().to_numpy(dtype=float)
            if len(values) < 0.5 * len(frame) or len(np.unique(values[:5000])) <= 2:
                continue  # text, or a 0/1 column: equal statistics there would prove nothing
            stats.append((float(values.min()), float(np.median(values)), float(values.max())))
        return cls(name, len(frame), stats, source)


def name_words(name: str) -> frozenset[str]:
    words = re.split(r"[^a-z0-9]+", name.lower())
    words = [w for w in words if w and w not in _FILLER]
    if words and words[0].isdigit():  # OpenML/PMLB numeric id prefix
        words = words[1:]
    return frozenset(words)


def same_name(a: str, b: str) -> bool:
    wa, wb = name_words(a), name_words(b)
    if not wa or not wb:
        return False
    small, big = (wa, wb) if len(wa) <= len(wb) else (wb, wa)
    return small == big or (len(small) >= 2 and small <= big)  # one shared word ("cpu") proves nothing


def same_data(a: Fingerprint, b: Fingerprint) -> bool:
    if not a.stats or not b.stats or abs(a.n_rows - b.n_rows) > _ROWS_RATIO * max(a.n_rows, b.n_rows):
        return False
    small, big = (a.stats, b.stats) if len(a.stats) <= len(b.stats) else (b.stats, a.stats)
    if len(small) < 2 and len(big) > 2:
        return False
    found = sum(1 for s in small if any(_close(s, t) for t in big))
    return found >= max(2, _COLUMN_MATCH * len(small)) or (found == len(small) == len(big))


def _close(s, t) -> bool:
    return all(abs(x - y) <= _TOL * max(abs(x), abs(y), 1e-9) for x, y in zip(s, t, strict=True))


def duplicate_reason(candidate: Fingerprint, held_out: Fingerprint) -> str | None:
    """Why `candidate` counts as a copy of `held_out`, or None."""
    if same_name(candidate.name, held_out.name):
        return f"same name as {held_out.name}"
    if candidate.source and held_out.source and candidate.source == held_out.source:
        return f"same source as {held_out.name} ({candidate.source})"
    if same_data(candidate, held_out):
        return f"same data as {held_out.name} ({candidate.n_rows} vs {held_out.n_rows} rows, matching columns)"
    return None


# --- the PMLB folder --------------------------------------------------------------------------------
@dataclass
class CorpusDataset:
    name: str
    path: Path
    kind: str  # binary | multiclass | regression
    source: str | None
    meta_path: Path


def list_corpus(folder: str | Path) -> list[CorpusDataset]:
    from assay.bench.suite import load_folder

    out = []
    for spec in load_folder(Path(folder)):
        meta_path = spec.path.parent / "metadata.yaml"
        out.append(CorpusDataset(spec.name, spec.path, spec.task, _source(meta_path), meta_path))
    return out


def _source(meta_path: Path) -> str | None:
    try:
        meta = yaml.safe_load(meta_path.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return None
    source = str(meta.get("source") or "").strip()
    return source if source.startswith("http") else None  # "None yet..." is no source


def suite_fingerprints(suite_file: str | Path) -> list[Fingerprint]:
    """Every dataset of a suite, fingerprinted (by its suite name and by its file's folder name)."""
    from assay.bench.suite import load_suite

    prints = []
    for spec in load_suite(Path(suite_file)):
        frame = read_table(spec.path)
        meta = spec.path.parent / "metadata.yaml"
        source = _source(meta) if meta.is_file() else None
        features = frame.drop(columns=[spec.target], errors="ignore")
        prints.append(Fingerprint.of(spec.name, features, source))
        folder_name = spec.path.parent.name
        if meta.is_file() and folder_name != spec.name:  # "hill_valley_noise" lives in Hill_Valley_with_noise/
            prints.append(Fingerprint(folder_name, prints[-1].n_rows, prints[-1].stats, source))
    return prints


def read_corpus_table(path: Path) -> pd.DataFrame:
    """A PMLB file as pandas reads it: plain numbers, tolerant of PMLB's few quirks (schizo has
    two columns named target), which assay's strict reader rightly refuses for users."""
    return pd.read_csv(path, sep="\t")


def split_corpus(
    corpus: list[CorpusDataset], held_out: list[Fingerprint], read=read_corpus_table
) -> tuple[list[CorpusDataset], dict[str, str]]:
    """(kept datasets, {excluded name: reason})."""
    kept, excluded = [], {}
    for ds in corpus:
        reason = next((r for h in held_out if (r := duplicate_reason(Fingerprint(ds.name, 0, [], ds.source), h))), None)
        if reason is None:
            try:
                frame = read(ds.path).drop(columns=["target"], errors="ignore")
            except Exception as exc:  # an unreadable file cannot be checked, so it cannot be kept
                excluded[ds.name] = f"unreadable ({type(exc).__name__})"
                continue
            fp = Fingerprint.of(ds.name, frame, ds.source)
            reason = next((r for h in held_out if (r := duplicate_reason(fp, h))), None)
        if reason is None:
            kept.append(ds)
        else:
            excluded[ds.name] = reason
    return kept, excluded
