"""InterVenchA as scikit-learn scorers (for GridSearchCV and cross-validation)."""

from __future__ import annotations

import numpy as np

from ._intervencha import CONCEPT_METRICS, LATENT_METRICS
from ._report import AGGREGATES, intervencha_report

__all__ = ["intervencha_score", "make_intervencha_scorer"]


def _value(report, name):
    if name in AGGREGATES:
        return float(report.aggregates[name])
    if name in LATENT_METRICS + CONCEPT_METRICS:
        # A single metric scores its off-diagonal (transfer) mean.
        frame = report.frame
        part = frame[(frame.metric == name) & (frame.source != frame.target)]
        return float(part.value.mean())
    raise ValueError(
        f"Unknown InterVenchA score {name!r}; use one of {list(AGGREGATES)} or a metric of "
        f"{list(LATENT_METRICS + CONCEPT_METRICS)}."
    )


def intervencha_score(estimator, X, y, aggregate="S_align", **kwargs):
    """One InterVenchA number of a fitted estimator (an aggregate or a metric's transfer mean).

    ``kwargs`` go to :func:`intervencha_report`. NaN (e.g. no cycle) is returned as 0.
    """
    value = _value(intervencha_report(estimator, X, y, **kwargs), aggregate)
    return value if np.isfinite(value) else 0.0


class _InterVenchAScorer:
    def __init__(self, name, kwargs):
        _value_check = name in AGGREGATES or name in LATENT_METRICS + CONCEPT_METRICS
        if not _value_check:
            _value(None, name)
        self.name, self.kwargs = name, kwargs

    def __call__(self, estimator, X, y):
        return intervencha_score(estimator, X, y, aggregate=self.name, **self.kwargs)

    def __repr__(self):
        return f"make_intervencha_scorer({self.name!r})"


def make_intervencha_scorer(name="S_align", **kwargs):
    """A scikit-learn scorer ``scorer(estimator, X, y) -> float`` for one InterVenchA score.

    Parameters
    ----------
    name : str, default="S_align"
        An aggregate (``S_ext``, ``S_trans``, ``S_cc``, ``S_align``, ``S_cycle``) or a metric
        name (its mean over ordered pairs of distinct views). Greater is better.
    **kwargs
        Passed to :func:`intervencha_report` (``test_size``, ``k_probe``, ...).

    Returns
    -------
    scorer : callable

    Examples
    --------
    >>> from skcosae.metrics import make_intervencha_scorer
    >>> make_intervencha_scorer("S_cc")
    make_intervencha_scorer('S_cc')
    """
    return _InterVenchAScorer(name, kwargs)
