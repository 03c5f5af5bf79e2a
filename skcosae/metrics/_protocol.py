"""The InterVenchA protocol: metric names, parameters and their checks, the probe split.

Everything the report and the scorers share lives here, so that a scorer rejects a bad
parameter when it is built, with the same message the report would give.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.model_selection import StratifiedKFold, check_cv, train_test_split
from sklearn.utils import check_random_state

from .._compat import (
    HasMethods,
    Interval,
    RealNotInt,
    StrOptions,
    validate_parameter_constraints,
)
from .._typing import RandomState
from ._postprocess import CHANCE_RULES, COMBINE_RULES
from ._probes import SELECTION_RULES

__all__ = [
    "AGGREGATES",
    "ALL_METRICS",
    "CONCEPT_METRICS",
    "CYCLE_METRICS",
    "DEFAULT_METRICS",
    "DEFAULTS",
    "GATES",
    "LATENT_METRICS",
    "check_params",
    "derive_seed",
    "metrics_for",
    "probe_splits",
    "resolve_metrics",
]

#: Latent-space metrics (about the dictionaries; off-diagonal = translation).
LATENT_METRICS = ("r2", "faithfulness", "sparse_probing_latent", "unlearning_latent",
                  "tpp_latent", "scr_latent")
#: Concept-space metrics (about the codes; off-diagonal = concept consistency).
CONCEPT_METRICS = ("sparse_probing_concept", "unlearning_concept", "tpp_concept",
                   "scr_concept")
#: Reported apart from the other metrics, in ``S_cycle`` only.
CYCLE_METRICS = ("cycle_r2",)
ALL_METRICS = LATENT_METRICS + CONCEPT_METRICS + CYCLE_METRICS
#: What a report computes by default: everything but SCR, which the paper drops.
DEFAULT_METRICS = tuple(m for m in ALL_METRICS if not m.startswith("scr"))
AGGREGATES = ("S_ext", "S_trans", "S_cc", "S_align", "S_cycle")
#: Each ablation metric is gated by the sparse-probing score of its own space.
GATES = {
    "unlearning_latent": "sparse_probing_latent",
    "tpp_latent": "sparse_probing_latent",
    "scr_latent": "sparse_probing_latent",
    "unlearning_concept": "sparse_probing_concept",
    "tpp_concept": "sparse_probing_concept",
    "scr_concept": "sparse_probing_concept",
}

#: Every parameter of :func:`intervencha_report` after ``y``, with its default.
DEFAULTS = dict(
    metrics=None,
    test_size=0.3,
    cv=None,
    k_probe=16,
    k_ablate=10,
    selection="per_class",
    C=1.0,
    max_iter=1000,
    standardize=True,
    chance="majority",
    min_gap=0.05,
    ablation_threshold=0.1,
    combine="product",
    p=2.0,
    n_unlearning_tasks=10,
    n_tpp_subsets=5,
    tpp_subset_size=None,
    n_scr_tasks=5,
    scr_classes=None,
    view_sizes=None,
    n_jobs=None,
    random_state=0,
    baselines=None,
)

_CONSTRAINTS = {
    "estimator": [HasMethods(["transform", "inverse_transform", "translate"])],
    "X": ["array-like"],
    "y": ["array-like"],
    "metrics": [list, tuple, str, None],
    "test_size": [Interval(RealNotInt, 0, 1, closed="neither"),
                  Interval(numbers.Integral, 1, None, closed="left")],
    "cv": ["cv_object"],
    "k_probe": [Interval(numbers.Integral, 1, None, closed="left")],
    "k_ablate": [Interval(numbers.Integral, 1, None, closed="left")],
    "selection": [StrOptions(set(SELECTION_RULES))],
    "C": [Interval(numbers.Real, 0, None, closed="neither")],
    "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
    "standardize": ["boolean"],
    "chance": [StrOptions(set(CHANCE_RULES))],
    "min_gap": [Interval(numbers.Real, 0, 1, closed="left")],
    "ablation_threshold": [Interval(numbers.Real, 0, 1, closed="both")],
    "combine": [StrOptions(set(COMBINE_RULES))],
    "p": [Interval(numbers.Real, 1, None, closed="left")],
    "n_unlearning_tasks": [Interval(numbers.Integral, 1, None, closed="left")],
    "n_tpp_subsets": [Interval(numbers.Integral, 1, None, closed="left")],
    "tpp_subset_size": [Interval(numbers.Integral, 1, None, closed="left"), None],
    "n_scr_tasks": [Interval(numbers.Integral, 1, None, closed="left")],
    "scr_classes": [list, tuple, None],
    "view_sizes": ["array-like", Interval(numbers.Integral, 2, None, closed="left"), None],
    "n_jobs": [numbers.Integral, None],
    "random_state": ["random_state"],
    "baselines": [dict, None],
}


def check_params(params: Mapping[str, Any], caller: str = "intervencha_report") -> dict[str, Any]:
    """Validate report parameters (a dict; missing ones take their defaults).

    Raises ``InvalidParameterError`` (a ``ValueError``) naming the parameter, or
    ``TypeError`` for an unknown one.
    """
    unknown = sorted(set(params) - set(DEFAULTS) - {"estimator", "X", "y"})
    if unknown:
        raise TypeError(
            f"{caller} got unexpected parameter(s) {unknown}; the parameters are "
            f"{sorted(DEFAULTS)}."
        )
    full = {**DEFAULTS, **params}
    validate_parameter_constraints(
        {k: v for k, v in _CONSTRAINTS.items() if k in full}, full, caller_name=caller)
    resolve_metrics(full["metrics"])
    if full["baselines"] is not None and caller != "intervencha_report":
        raise ValueError(
            f"{caller} does not take baselines: they add reference rows to a printed "
            "report (intervencha_report), while a score is the estimator's own number. "
            "Score each reference estimator on its own instead."
        )
    return full


def resolve_metrics(metrics: str | Sequence[str] | None) -> list[str]:
    """The metrics to compute, in canonical order, from a name, a list of names or None."""
    if metrics is None:
        return list(DEFAULT_METRICS)
    if isinstance(metrics, str):
        metrics = [metrics]
    names = list(metrics)
    unknown = [m for m in names if m not in ALL_METRICS]
    if unknown:
        raise ValueError(
            f"Unknown metrics {unknown}; the metrics are {list(ALL_METRICS)}."
        )
    if not names:
        raise ValueError("metrics is empty; name at least one metric.")
    return [m for m in ALL_METRICS if m in names]


def metrics_for(names: Iterable[str]) -> list[str]:
    """The default metrics an aggregate or metric name needs (for scorers)."""
    needed: set[str] = set()
    for name in names:
        if name == "S_trans":
            needed.update(m for m in DEFAULT_METRICS if m in LATENT_METRICS)
        elif name == "S_cc":
            needed.update(m for m in DEFAULT_METRICS if m in CONCEPT_METRICS)
        elif name in ("S_align", "S_ext"):
            needed.update(m for m in DEFAULT_METRICS if m not in CYCLE_METRICS)
        elif name == "S_cycle":
            needed.add("cycle_r2")
        elif name in ALL_METRICS:
            needed.add(name)
        else:
            raise ValueError(
                f"Unknown InterVenchA score {name!r}; use an aggregate of "
                f"{list(AGGREGATES)} or a metric of {list(ALL_METRICS)}."
            )
    return [m for m in ALL_METRICS if m in needed]


def derive_seed(random_state: RandomState) -> int:
    """One integer seed for the split and the task draws."""
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def probe_splits(y: np.ndarray, test_size: float | int, cv: Any,
                 seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Probe-train / probe-test row indices: one stratified split, or the folds of ``cv``.

    Parameters
    ----------
    y : ndarray of int
        Class codes.
    test_size : float or int
        Used when ``cv`` is None: share (or number) of rows held out to score the probes.
    cv : None, int, cross-validation generator or iterable
        Cross-fitting: an int ``K`` gives a shuffled :class:`StratifiedKFold`; every row is
        scored once, by probes that never saw it, and the fold scores are averaged.
    seed : int
    """
    n = len(y)
    if cv is None:
        train, test = train_test_split(np.arange(n), test_size=test_size, random_state=seed,
                                       stratify=y)
        return [(np.sort(train), np.sort(test))]
    if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
        cv = StratifiedKFold(int(cv), shuffle=True, random_state=seed)
    cv = check_cv(cv, y, classifier=True)
    return [(np.asarray(train), np.asarray(test)) for train, test in cv.split(np.zeros(n), y)]
