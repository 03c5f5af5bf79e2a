"""InterVenchA: the paper's benchmark as metrics, a report and scikit-learn scorers.

See :mod:`skcosae.metrics._intervencha` for the protocol and every default.
"""

from ._intervencha import CONCEPT_METRICS, LATENT_METRICS
from ._report import AGGREGATES, InterVenchAReport, intervencha_report
from ._scorers import intervencha_score, make_intervencha_scorer

__all__ = [
    "AGGREGATES",
    "CONCEPT_METRICS",
    "LATENT_METRICS",
    "InterVenchAReport",
    "intervencha_report",
    "intervencha_score",
    "make_intervencha_scorer",
]
