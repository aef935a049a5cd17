"""Refit the chosen configurations on all training rows (see assay.ensemble.bagging for why).

Only what fits in the time left is refit, most heavily weighted member first; a refit that the
deadline cut short is thrown away rather than kept half-trained, because a boosting model
stopped at a third of its rounds would drag the blend down where the bag alone was fine.
"""

from __future__ import annotations

import numpy as np

from assay.models.base import Model
from assay.models.registry import get_family
from assay.search.budget import Deadline

# A refit is started only when its estimated cost (the folds' mean fit time, scaled for the
# larger data) times this margin fits in the time left.
_MARGIN = 1.5


def refit_on_all_rows(chosen, ctx, deadline: Deadline) -> dict[int, Model]:
    """{trial id: model fitted on every row of ctx} for the (trial id, TrialOutput) pairs in
    `chosen`, in the order given."""
    n_all = len(ctx.y)
    fold_rows = np.mean([len(tr) for tr, _ in ctx.folds])
    growth = n_all / max(fold_rows, 1.0)
    refits: dict[int, Model] = {}
    for trial_id, output in chosen:
        spec, fold_models = output.result.spec, output.models
        if not fold_models:
            continue
        family = get_family(spec.family)
        estimate = np.mean([m.fit_seconds_ for m in fold_models]) * growth * _MARGIN
        if deadline.at is not None and estimate > deadline.remaining():
            continue
        params = family.full_data_params(spec.params, [m.best_iteration_ for m in fold_models], growth)
        model = family(
            ctx.task, params, seed=spec.seed, metric=ctx.metric.name, n_threads=ctx.n_threads, device=ctx.device
        )
        model.fit(ctx.X, ctx.y, deadline=deadline)
        if _complete(model, family, params):
            refits[trial_id] = model
    return refits


def _complete(model: Model, family, params: dict) -> bool:
    """Did the refit train all the rounds it was asked for (the deadline may have cut it short)?"""
    if family.rounds_param is None or not model.best_iteration_:
        return True
    return model.best_iteration_ >= params[family.rounds_param]
