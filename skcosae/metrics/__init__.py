"""InterVenchA: the paper's benchmark as metrics, a report and scikit-learn scorers.

Every metric is computed for every ordered pair of views ``(source, target)`` of a fitted
multi-view estimator, on labelled data; the documentation page "InterVenchA" states each
metric, the protocol and every default.
"""

from .._diagnostics import NegativeR2Warning
from ._postprocess import combine, normalise, normalised_drop
from ._protocol import (
    AGGREGATES,
    ALL_METRICS,
    CONCEPT_METRICS,
    DEFAULT_METRICS,
    LATENT_METRICS,
)
from ._report import InterVenchAReport, aggregate, intervencha_report
from ._scorers import InterVenchAScorer, intervencha_score, make_intervencha_scorer

__all__ = [
    "AGGREGATES",
    "ALL_METRICS",
    "CONCEPT_METRICS",
    "DEFAULT_METRICS",
    "LATENT_METRICS",
    "InterVenchAReport",
    "NegativeR2Warning",
    "InterVenchAScorer",
    "aggregate",
    "combine",
    "intervencha_report",
    "intervencha_score",
    "make_intervencha_scorer",
    "normalise",
    "normalised_drop",
]
