"""Checks against self-deception: a run on shuffled labels, the spread over seeds, and whether
validation and test agree.

The label-shuffle run trains the pipeline exactly as the search did, but on labels permuted
across the rows, and validates against the permuted labels too. No feature can predict a random
permutation, so it must score at chance; if it scores above, the pipeline reaches the labels by
some other road (the target used to build features on all rows, validation rows inside the
training folds, ...), and every score of the real run is inflated by the same road.

"At chance" is judged two ways at once, so that neither noise nor a negligible edge raises the
alarm: the shuffled model must beat the chance level by more than its 95 % interval allows, and
by more than 2 % of what the real model gains over chance. The shuffled run stops early on its
own training rows, never on the validation rows, so an honest pipeline has no edge to find.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from assay.evaluate.baselines import fit_prior, prior_raw
from assay.evaluate.diagnose import Refitter
from assay.evaluate.uncertainty import Interval, disagreement, paired_difference
from assay.search.budget import Deadline

SHUFFLE_MAX_ROWS = 5_000  # training rows of the shuffled run: a leak shows on far fewer
PRACTICAL_SHARE = 0.02


def label_shuffle(
    refitter: Refitter,
    deadline: Deadline,
    real_gain: float,
    *,
    features: Callable[[np.ndarray], pd.DataFrame] | None = None,
) -> dict:
    """Train on permuted labels and score against permuted labels.

    `features(y)` rebuilds the feature table from a label vector, for pipelines whose features
    depend on the labels (assay's never do, so by default the table stays as it is);
    `real_gain` is the real model's error improvement over chance, for the practical threshold.
    """
    rng = np.random.default_rng(refitter.seed + 7919)
    task, metric = refitter.task, refitter.metric
    y_shuffled = refitter.y.copy()
    rows = np.concatenate([refitter.fold[0], refitter.fold[1]])
    y_shuffled[rows] = refitter.y[rng.permutation(rows)]
    X = features(y_shuffled) if features is not None else None
    n = min(len(refitter.fold[0]), SHUFFLE_MAX_ROWS)
    # Early stopping on training rows: the validation labels then play no part in training, and an
    # honest pipeline's expected edge over chance is zero (not the small one that choosing the best
    # round on the validation rows would give), so the alarm can be statistical alone.
    point = refitter.fit(n, refitter.seed, deadline, y=y_shuffled, X=X, cost=0.5, blind=True)
    if point is None:
        return {"status": "skipped", "reason": "not enough time left"}
    va = refitter.valid_rows
    y_va = y_shuffled[va]
    chance = prior_raw(fit_prior(y_shuffled[np.sort(refitter.train_rows[:n])], task), len(va), task)
    diff = paired_difference(metric, y_va, point["raw_valid"], chance, task.n_classes, seed=refitter.seed)
    threshold = PRACTICAL_SHARE * max(real_gain, 0.0)
    fired = bool(np.isfinite(diff.low) and diff.low > 0 and diff.value > threshold)
    shuffled_score = metric.from_error(point["valid_error"])
    chance_score = metric.score(y_va, chance, task.n_classes)
    if fired:
        words = (
            f"a model trained on shuffled labels scored {shuffled_score:.4g} against a chance level of "
            f"{chance_score:.4g}: above chance, so something leaks the labels into training or validation "
            "(a target-derived feature built on all rows, rows shared between training and validation, ...)"
        )
    else:
        words = (
            f"a model trained on shuffled labels scored {shuffled_score:.4g}, at the chance level of "
            f"{chance_score:.4g}: no sign of a leak"
        )
    return {
        "status": "leak" if fired else "ok",
        "fired": fired,
        "shuffled_score": shuffled_score,
        "chance_score": chance_score,
        "edge": diff.to_dict(),  # chance error - shuffled error, with its interval
        "threshold": threshold,
        "n_train": n,
        "n_valid": len(va),
        "seconds": point["seconds"],
        "words": words,
    }


def seed_spread(refitter: Refitter, deadline: Deadline, n_rows: int, first: dict | None, n_seeds: int = 3) -> dict:
    """Validation scores of the same configuration and rows under different seeds. `first` is a
    refit already made with the refitter's own seed on the same rows (the size curve's largest)."""
    points = [first] if first is not None else []
    seeds = [refitter.seed] if first is not None else []
    for s in range(1, n_seeds + 1):
        if len(points) >= n_seeds:
            break
        point = refitter.fit(n_rows, refitter.seed + 1000 * s, deadline)
        if point is None:
            break
        points.append(point)
        seeds.append(refitter.seed + 1000 * s)
    metric = refitter.metric
    scores = [metric.from_error(p["valid_error"]) for p in points]
    if len(scores) < 2:
        return {"status": "skipped", "reason": "not enough time left for a second seed", "scores": scores}
    spread = float(np.std(scores, ddof=1))
    return {
        "status": "ok",
        "seeds": seeds,
        "scores": scores,
        "std": spread,
        "range": float(max(scores) - min(scores)),
        "n_train": int(n_rows),
        "words": (
            f"{len(scores)} seeds on the same {n_rows:,} rows: {metric.name} from {min(scores):.4g} to "
            f"{max(scores):.4g} (standard deviation {spread:.2g}); differences between trials smaller than "
            "this are noise"
        ),
    }


def validation_vs_test(metric_name: str, validation: Interval, test: Interval) -> dict:
    """A warning when the two disagree beyond their intervals: the test rows differ from the
    training rows (drift, a different population), or the validation score was optimistic."""
    z = disagreement(validation, test)
    disagree = z > 1.96
    words = (
        f"validation {metric_name} {validation.value:.4g} [{validation.low:.4g}, {validation.high:.4g}] and test "
        f"{test.value:.4g} [{test.low:.4g}, {test.high:.4g}] "
    )
    if disagree:
        words += (
            f"disagree ({z:.1f} standard errors apart): the test rows may come from a different population, "
            "or the validation estimate was optimistic"
        )
    else:
        words += "agree within their intervals"
    return {"disagree": bool(disagree), "z": float(z), "words": words}
