"""Warm start: the nearest past tasks seed each family's tuner with their best configurations.

"Nearest" is the Euclidean distance between meta-feature vectors standardised over the stored
tasks (each feature scaled by its spread there, so row counts do not drown class entropy), with
features missing on either side ignored. Only the configurations travel, never the scores: past
tasks were measured under other protocols and metrics, and TPE measures them here anyway.

`attach_knowledge` is what a fit calls: it computes the task's meta-features once and shares them
between the warm start and the recorder. No store, an empty store, or any failure: nothing
happens, and the fit runs as it would have.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np

from assay.knowledge.metafeatures import NAMES, as_vector, meta_features
from assay.knowledge.store import KnowledgeRecorder, KnowledgeStore, TaskRecord, default_path

K_NEAREST = 3
PER_FAMILY = 2  # best configurations per family per neighbour


def nearest_tasks(meta: dict, tasks: list[TaskRecord], k: int = K_NEAREST, exclude_fingerprint: str | None = None):
    """The k stored tasks closest to `meta`, nearest first (ties: the earlier stored)."""
    pool = [t for t in tasks if exclude_fingerprint is None or t.fingerprint != exclude_fingerprint]
    if not pool:
        return []
    matrix = np.array([as_vector(t.meta) for t in pool])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        scale = np.nanstd(matrix, axis=0)
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
    here = as_vector(meta)
    diff = (matrix - here) / scale
    usable = np.isfinite(diff)
    dist = np.sqrt(np.where(usable, diff**2, 0.0).sum(axis=1) / np.maximum(usable.sum(axis=1), 1) * len(NAMES))
    order = np.argsort(dist, kind="stable")[:k]
    return [pool[i] for i in order]


def best_configs(store: KnowledgeStore, tasks: list[TaskRecord], families: list[str], per_family: int = PER_FAMILY):
    """family -> configurations, the best of each neighbour first, without repeats."""
    out: dict[str, list[dict]] = {f: [] for f in families}
    for task in tasks:
        ok = [r for r in store.trials(task.id) if r.status == "ok" and math.isfinite(r.error) and r.family in out]
        for family in families:
            mine = sorted((r for r in ok if r.family == family), key=lambda r: r.error)[:per_family]
            for r in mine:
                if r.params not in out[family]:
                    out[family].append(r.params)
    return {f: v for f, v in out.items() if v}


def attach_knowledge(
    knowledge, warm_start: bool | None, ctx, schema, scheduler, events, name: str, fingerprint: str, seed: int = 0
) -> dict:
    """Wire the knowledge base into one fit; returns what was done (for the fit's notes)."""
    record_to = _store_path(knowledge)
    read_from = record_to or default_path()
    # Opt-in: a fit must replay the same way on any machine, whatever its knowledge base holds.
    wants_warm = bool(warm_start) and read_from.is_file()
    if not wants_warm and record_to is None:
        return {}
    done: dict = {}
    try:
        meta = meta_features(ctx.X, ctx.y, ctx.task, schema, seed=seed)
        if wants_warm:
            store = KnowledgeStore(read_from)
            tasks = [t for t in store.tasks(kind=ctx.task.kind)]
            near = nearest_tasks(meta, tasks, exclude_fingerprint=fingerprint)
            configs = best_configs(store, near, list(scheduler.tuners))
            if configs:
                done["warm_start"] = {"from": [t.name for t in near], "configs": sum(map(len, configs.values()))}
                scheduler.warm_start(configs)
        if record_to is not None:
            recorder = KnowledgeRecorder(KnowledgeStore(record_to), name, fingerprint, meta=meta)
            recorder.attach(ctx, schema)
            events.callbacks.append(recorder)
            done["recording"] = str(record_to)
    except Exception as exc:  # knowledge helps a fit; it must never break one
        warnings.warn(f"knowledge base not used ({type(exc).__name__}: {exc})", UserWarning, stacklevel=2)
    return done


def _store_path(knowledge) -> Path | None:
    if knowledge is None or knowledge is False:
        return None
    if knowledge is True:
        return default_path()
    return Path(knowledge)
