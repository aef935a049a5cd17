"""Export a fitted ensemble to ONNX: one graph per fold or refit model, plus the blend as JSON.

Why one graph per model rather than one graph for the whole ensemble: the converters (onnxmltools
for LightGBM and XGBoost, skl2onnx for scikit-learn, CatBoost's own exporter) each produce a
graph for one model, and the blend is a few lines of arithmetic that any runtime can do; keeping
it as data (blend.json) makes the export readable and lets a reader check the weights against
the leaderboard.

The graphs do not contain the first pipeline step (assay.preprocess.table): it is plain pandas
work saved as JSON (preprocessor.json), redone by assay.export.scorer. Their inputs are described
in that module's docstring ("codes" or "dense" encoding of the preprocessed table).

Every export is checked: each graph's output is compared with its native model's on the same
rows, and so is the whole blend; a difference (absolute for probabilities, relative for values
beyond 1, see `difference`) above `tolerance` fails the export rather than
shipping a model that scores differently from the one that was validated.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from assay.ensemble.bagging import FULL_WEIGHT
from assay.errors import ArtifactError, ConfigError, problem

FORMAT = "assay-onnx/1"
TOLERANCE = 1e-4
_EXPORTABLE = ("lightgbm", "xgboost", "catboost", "linear", "random_forest", "extra_trees")
_WHY_NOT = {
    "knn": "k-NN keeps every training row and smooths its votes, which no ONNX converter reproduces",
    "mlp": "the MLP's quantile/target encoders and torch network have no converter here",
}


@dataclass
class ExportReport:
    folder: Path
    n_rows: int  # rows the parity check ran on
    rows_from: str  # "data" or "synthetic"
    parity: dict[str, float] = field(default_factory=dict)  # model file -> difference() from its native model
    blend_parity: float = 0.0
    by_family: dict[str, float] = field(default_factory=dict)

    @property
    def max_difference(self) -> float:
        return max([self.blend_parity, *self.parity.values()])


def export_onnx(predictor, folder, data=None, *, n_check: int = 200, tolerance: float = TOLERANCE) -> ExportReport:
    """Write the ONNX graphs, blend.json and preprocessor.json into `folder`, then check parity on
    `n_check` rows of `data` (rows like the training data), or on generated rows without it."""
    predictor._fitted()
    ensemble = predictor._ensemble
    for member in ensemble.members:
        family = member.member_family
        if family not in _EXPORTABLE:
            raise ConfigError(
                problem(
                    f"the ensemble member {member.name!r} is a {family} model, which cannot be exported to ONNX: "
                    + _WHY_NOT.get(family, "no converter is known"),
                    where="export",
                    fix=f"refit with --families excluding {family} (e.g. --families {','.join(_EXPORTABLE[:4])})",
                )
            )
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise ConfigError(problem("the output folder is not empty", where=str(folder), fix="name a new folder"))
    folder.parent.mkdir(parents=True, exist_ok=True)
    # written beside the target and renamed at the end: a failed check leaves no half export behind
    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=folder.parent))
    try:
        report = _write(predictor, tmp, data, n_check, tolerance)
        if folder.exists():
            folder.rmdir()
        tmp.rename(folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report.folder = folder
    return report


def _write(predictor, out: Path, data, n_check: int, tolerance: float) -> ExportReport:
    from assay.export.scorer import Scorer

    task, pre = predictor._task, predictor._preprocessor
    sample_features, rows = _sample(predictor, data, n_check)
    (out / "preprocessor.json").write_text(json.dumps(pre.to_dict(), indent=2))
    natives, members = {}, []
    for i, (member, weight) in enumerate(zip(predictor._ensemble.members, predictor._ensemble.weights, strict=True)):
        entry = {"name": member.name, "family": member.member_family, "weight": weight, "folds": [], "full": None}
        models = [(f"fold{k}", m) for k, m in enumerate(member.members)]
        if member.full is not None:
            models.append(("full", member.full))
        for label, model in models:
            record = convert(model, sample_features)
            path = f"m{i}_{member.member_family}_{label}.onnx"
            (out / path).write_bytes(record.pop("graph").SerializeToString())
            record["path"] = path
            natives[path] = model
            if label == "full":
                entry["full"] = record
            else:
                entry["folds"].append(record)
        members.append(entry)
    manifest = {
        "format": FORMAT,
        "target": predictor.target,
        "task": task.to_dict(),
        "temperature": predictor._ensemble.temperature,
        "full_weight": FULL_WEIGHT,
        "preprocessor": "preprocessor.json",
        "members": members,
    }
    (out / "blend.json").write_text(json.dumps(manifest, indent=2))
    return _check(predictor, Scorer(out), natives, sample_features, rows, tolerance, out)


def _check(predictor, scorer, natives, features, rows, tolerance, out) -> ExportReport:
    report = ExportReport(out, len(features), "data" if rows is not None else "synthetic")
    encoded: dict = {}
    for member in scorer.manifest["members"]:
        for record in member["folds"] + ([member["full"]] if member["full"] else []):
            native = natives[record["path"]].predict_raw(features)
            diff = difference(native, scorer._run(record, features, encoded))
            report.parity[record["path"]] = diff
            family = member["family"]
            report.by_family[family] = max(report.by_family.get(family, 0.0), diff)
    if rows is not None:  # the whole way, raw rows in: scorer's preprocessing against assay's
        native, exported = predictor._raw(rows)[0], scorer.predict_raw(rows)
    else:
        native, exported = predictor._ensemble.predict_raw(features), scorer.score_features(features)
    report.blend_parity = difference(native, exported)
    if report.max_difference > tolerance:
        worst = max(report.parity, key=report.parity.get) if report.parity else "blend"
        raise ArtifactError(
            problem(
                f"the ONNX export scores differently from the model: max difference {report.max_difference:.2e} "
                f"(worst: {worst}) exceeds {tolerance:g}",
                where="export",
                fix="report this as a bug with the model folder; meanwhile serve the model folder itself",
            )
        )
    return report


def difference(native: np.ndarray, exported: np.ndarray) -> float:
    """Max absolute difference, relative beyond magnitude 1: the graphs compute in float32, so a
    regression target in the thousands differs in absolute terms by more than any fixed tolerance."""
    return float(np.max(np.abs(native - exported) / np.maximum(np.abs(native), 1.0)))


def _sample(predictor, data, n: int) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """(preprocessed rows, the raw rows they came from or None): rows from `data` where given,
    else generated ones covering every category and a spread of numbers, with missing values."""
    pre = predictor._preprocessor
    if data is not None:
        frame = predictor._clean(data).drop(columns=[predictor.target], errors="ignore")
        frame = frame.sample(min(n, len(frame)), random_state=0) if len(frame) > n else frame
        return pre.transform(frame), frame
    rng = np.random.default_rng(0)
    columns = {}
    for plan in pre.plans_:
        if plan.kind == "categorical":
            levels = np.asarray(plan.categories + [None], dtype=object)
            columns[plan.name] = pd.Categorical(levels[rng.integers(0, len(levels), n)], categories=plan.categories)
            continue
        for name in _feature_names(plan):
            values = rng.normal(size=n) * 10.0 ** rng.integers(-1, 4, n)
            values[rng.random(n) < 0.1] = np.nan
            columns[name] = values
    raw = pd.DataFrame(columns)
    return raw, None


def _feature_names(plan) -> list[str]:
    """The preprocessed columns a non-categorical column becomes (see assay.preprocess.table)."""
    if plan.kind == "datetime":
        return [f"{plan.name}__{p}" for p in plan.state["parts"]] + [f"{plan.name}__days_since_1970"]
    if plan.kind == "text":
        latent = [f"{plan.name}__tfidf{j}" for j in range(len(plan.state.get("components", [])))]
        return [f"{plan.name}__chars", f"{plan.name}__words", *latent]
    return [plan.name]


# --- one model -> one graph ------------------------------------------------------------------------
def convert(model, features: pd.DataFrame) -> dict:
    """{"graph", "input", "input_name", "output", "classes"[, "output_keys"]} for one fitted model."""
    family = model.family
    n = features.shape[1]
    classification = model.task.is_classification
    if family == "lightgbm":
        graph, classes = _lightgbm(model, n), list(range(model.task.n_classes))
    elif family == "xgboost":
        graph, classes = _xgboost(model, n), list(range(model.task.n_classes))
    elif family == "catboost":
        return _catboost(model, n)
    elif family in ("random_forest", "extra_trees"):
        graph = _sklearn(model.forest_, [("input", _float_type(n))], classification)
        _missing_directions(graph, model.forest_)
        classes = model.forest_.classes_.tolist() if classification else []
    elif family == "linear":
        inputs = [
            (f"x{i}", _string_type() if isinstance(dt, pd.CategoricalDtype) else _float_type(1))
            for i, dt in enumerate(features.dtypes)
        ]
        graph = _sklearn(model.pipeline_, inputs, classification)
        classes = model.pipeline_[-1].classes_.tolist() if classification else []
        return {
            "graph": graph,
            "input": "dense",
            "input_name": None,
            "output": _output(graph, classification),
            "classes": [int(c) for c in classes],
        }
    else:
        raise ConfigError(problem(f"no ONNX converter for {family}", where="export", fix="refit without it"))
    return {
        "graph": graph,
        "input": "codes",
        "input_name": graph.graph.input[0].name,
        "output": _output(graph, classification),
        "classes": [int(c) for c in classes],
    }


def _output(graph, classification: bool) -> str:
    names = [o.name for o in graph.graph.output]
    if not classification:
        return names[0]
    return next((o for o in names if "prob" in o.lower()), names[-1])


def _float_type(width: int):
    from skl2onnx.common.data_types import FloatTensorType

    return FloatTensorType([None, width])


def _string_type():
    from skl2onnx.common.data_types import StringTensorType

    return StringTensorType([None, 1])


def _lightgbm(model, n: int):
    import lightgbm as lgb
    from onnxmltools import convert_lightgbm
    from onnxmltools.convert.common.data_types import FloatTensorType

    # only the rounds the model predicts with (early stopping may have grown more)
    booster = lgb.Booster(model_str=model.booster_.model_to_string(num_iteration=model.best_iteration_))
    return convert_lightgbm(booster, initial_types=[("input", FloatTensorType([None, n]))], zipmap=False)


def _xgboost(model, n: int):
    from onnxmltools import convert_xgboost
    from onnxmltools.convert.common.data_types import FloatTensorType

    booster = model.booster_[: model.best_iteration_] if model.best_iteration_ else model.booster_
    return convert_xgboost(booster, initial_types=[("input", FloatTensorType([None, n]))])


def _catboost(model, n: int) -> dict:
    import onnx

    if model.model_.get_cat_feature_indices():
        raise ConfigError(
            problem(
                "CatBoost cannot export models with categorical features to ONNX (its target statistics "
                "have no ONNX form)",
                where="export (catboost)",
                fix="refit with --families excluding catboost, or with no categorical columns",
            )
        )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        model.model_.save_model(str(path), format="onnx")
        graph = onnx.load(str(path))
    classification = model.task.is_classification
    record = {
        "graph": graph,
        "input": "codes",
        "input_name": graph.graph.input[0].name,
        "output": _output(graph, classification),
        "classes": [],
    }
    if classification:
        keys = [int(c) for c in model.model_.classes_]
        record.update(classes=keys, output_keys=keys)
    return record


def _sklearn(estimator, inputs, classification: bool):
    from skl2onnx import convert_sklearn

    _register_missing_indicator()
    final = estimator[-1] if hasattr(estimator, "steps") else estimator
    options = {id(final): {"zipmap": False}} if classification else None
    return convert_sklearn(estimator, initial_types=inputs, options=options)


def _missing_directions(graph, forest) -> None:
    """skl2onnx sends a missing value right at every split, whereas each scikit-learn split learned
    its own direction for it (`missing_go_to_left`): copy those into the graph."""
    from onnx import helper

    for node in graph.graph.node:
        if not node.op_type.startswith("TreeEnsemble"):
            continue
        attrs = {a.name: a for a in node.attribute}
        trees, ids = attrs["nodes_treeids"].ints, attrs["nodes_nodeids"].ints
        left = [forest.estimators_[t].tree_.missing_go_to_left for t in range(len(forest.estimators_))]
        tracks = [int(left[t][i]) for t, i in zip(trees, ids, strict=True)]
        kept = [a for a in node.attribute if a.name != "nodes_missing_value_tracks_true"]
        del node.attribute[:]
        node.attribute.extend([*kept, helper.make_attribute("nodes_missing_value_tracks_true", tracks)])


_REGISTERED = []


def _register_missing_indicator() -> None:
    """skl2onnx has no converter for MissingIndicator (the linear family's 0/1 missing flags):
    a flag is IsNaN of the flagged columns, cast to float."""
    if _REGISTERED:
        return
    from onnx import TensorProto
    from skl2onnx import update_registered_converter
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.impute import MissingIndicator

    def shape(operator):
        n = operator.inputs[0].get_first_dimension()
        operator.outputs[0].type = FloatTensorType([n, len(operator.raw_operator.features_)])

    def converter(scope, operator, container):
        features = [int(i) for i in operator.raw_operator.features_]
        index = scope.get_unique_variable_name("flagged")
        container.add_initializer(index, TensorProto.INT64, [len(features)], features)
        picked = scope.get_unique_variable_name("picked")
        name = operator.inputs[0].full_name
        container.add_node("Gather", [name, index], picked, axis=1, name=scope.get_unique_operator_name("Gather"))
        flags = scope.get_unique_variable_name("isnan")
        container.add_node("IsNaN", [picked], flags, name=scope.get_unique_operator_name("IsNaN"))
        container.add_node(
            "Cast",
            [flags],
            operator.outputs[0].full_name,
            to=TensorProto.FLOAT,
            name=scope.get_unique_operator_name("Cast"),
        )

    update_registered_converter(MissingIndicator, "AssayMissingIndicator", shape, converter)
    _REGISTERED.append(True)
