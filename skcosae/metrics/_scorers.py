"""InterVenchA as scikit-learn scorers, for GridSearchCV and cross-validation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._typing import ArrayLike, MultiViewData
from ._protocol import AGGREGATES, check_params, metrics_for
from ._report import intervencha_report

__all__ = ["intervencha_score", "make_intervencha_scorer"]


def _value(report, name):
    """An aggregate, or a metric's mean over ordered pairs of distinct views (its transfer)."""
    if name in AGGREGATES:
        value = report.aggregates[name]
        if np.isnan(value) and name != "S_cycle":
            raise ValueError(
                f"{name} is undefined: none of the metrics it averages was computed "
                f"(metrics={report.metrics}). Leave `metrics` at its default or add them."
            )
        return float(value)
    frame = report.frame
    part = frame[(frame.metric == name) & (frame.source != frame.target)]
    return float(part.value.mean())


def _resolve(names, kwargs):
    """Check score names and report parameters; default `metrics` to what the names need."""
    kwargs = dict(kwargs)
    needed = metrics_for(names)
    check_params(kwargs, caller="make_intervencha_scorer")
    if kwargs.get("metrics") is None:
        kwargs["metrics"] = needed
    return kwargs


def intervencha_score(estimator: Any, X: MultiViewData, y: ArrayLike, aggregate: str = "S_align",
                      **kwargs: Any) -> float:
    """One InterVenchA number of a fitted estimator.

    Parameters
    ----------
    estimator : fitted multi-view estimator
    X : multi-view input
    y : array-like of shape (n_samples,)
        Class labels shared by the views.
    aggregate : str, default="S_align"
        An aggregate (``S_ext``, ``S_trans``, ``S_cc``, ``S_align``, ``S_cycle``) or a metric
        name (then its mean over ordered pairs of distinct views, i.e. its transfer score).
    **kwargs
        Parameters of :func:`intervencha_report`. Without ``metrics``, only the metrics that
        ``aggregate`` averages are computed.

    Returns
    -------
    score : float
        In ``[0, 1]``, greater is better; NaN only for ``S_cycle`` of an estimator that
        cannot encode a view alone (a shared-code crosscoder).

    Examples
    --------
    >>> from skcosae import CoupledSAE
    >>> from skcosae.datasets import make_platonic
    >>> from skcosae.metrics import intervencha_score
    >>> Xs, y, _ = make_platonic(n_samples=600, n_views=2, n_classes=4, random_state=0)
    >>> sae = CoupledSAE(n_concepts=32, k=4, max_epochs=2, random_state=0).fit(Xs)
    >>> 0.0 <= intervencha_score(sae, Xs, y, aggregate="S_trans") <= 1.0
    True
    """
    kwargs = _resolve([aggregate], kwargs)
    return _value(intervencha_report(estimator, X, y, **kwargs), aggregate)


class InterVenchAScorer:
    """A scikit-learn scorer ``scorer(estimator, X, y)`` of InterVenchA scores.

    Made by :func:`make_intervencha_scorer`; one report per call, whatever the number of
    scores it returns.
    """

    def __init__(self, names: str | list[str], kwargs: dict[str, Any]) -> None:
        self.names = names
        self.kwargs = kwargs

    def __call__(self, estimator: Any, X: MultiViewData,
                 y: ArrayLike | None = None) -> float | dict[str, float]:
        if y is None:
            raise ValueError(
                "InterVenchA scores need the class labels y (pass y to fit / "
                "cross_validate / GridSearchCV.fit)."
            )
        report = intervencha_report(estimator, X, y, **self.kwargs)
        if isinstance(self.names, str):
            return _value(report, self.names)
        return {name: _value(report, name) for name in self.names}

    def __repr__(self) -> str:
        return f"make_intervencha_scorer({self.names!r})"


def make_intervencha_scorer(name: str | Sequence[str] = "S_align",
                            **kwargs: Any) -> InterVenchAScorer:
    """A scikit-learn scorer ``scorer(estimator, X, y)`` for InterVenchA scores.

    Use it as ``scoring=`` of :class:`~sklearn.model_selection.GridSearchCV`,
    :func:`~sklearn.model_selection.cross_validate` and the like, with the views in a form
    scikit-learn can split by rows (a DataFrame with (view, feature) columns, see
    :func:`skcosae.as_frame`). Each call runs :func:`intervencha_report` on the scoring rows,
    which it splits into probe-train and probe-test rows.

    Parameters
    ----------
    name : str or list of str, default="S_align"
        An aggregate (``S_ext``, ``S_trans``, ``S_cc``, ``S_align``, ``S_cycle``) or a metric
        name (its mean over ordered pairs of distinct views). A list makes a multimetric
        scorer returning a dict ``{name: score}`` from a single report: cheaper than a dict
        of single scorers, which computes one report per scorer.
    **kwargs
        Parameters of :func:`intervencha_report`, checked now. Without ``metrics``, only the
        metrics the names need are computed.

    Returns
    -------
    scorer : callable ``scorer(estimator, X, y) -> float`` (or dict for a list of names)
        Greater is better.

    Examples
    --------
    >>> from skcosae.metrics import make_intervencha_scorer
    >>> make_intervencha_scorer("S_cc")
    make_intervencha_scorer('S_cc')
    >>> scorer = make_intervencha_scorer(["S_trans", "S_cc", "S_align"], k_probe=8)
    >>> scorer.kwargs["metrics"]  # what one call computes
    ['r2', 'faithfulness', 'sparse_probing_latent', 'unlearning_latent', 'tpp_latent',
     'sparse_probing_concept', 'unlearning_concept', 'tpp_concept']
    """
    if isinstance(name, str):
        return InterVenchAScorer(name, _resolve([name], kwargs))
    names = list(name)
    if not names:
        raise ValueError("name is an empty list; give at least one score name.")
    return InterVenchAScorer(names, _resolve(names, kwargs))
