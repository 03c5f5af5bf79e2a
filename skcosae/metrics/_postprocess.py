"""Post-processing of InterVenchA scores (docs page "InterVenchA", post-processing).

Raw probe accuracies and losses are put on one scale, where 0 is "no better than the
floor" (chance, or the fully ablated model) and 1 is "as good as the reference" (the probe on
the original representation), and clipped to ``[0, 1]``, so that scores of different metrics
and views can be averaged into the aggregates.

A normalised score is *undefined* when its reference is not above its floor by at least
``min_gap`` (the original representation itself carries no signal to normalise against); an
undefined score counts as 0: an estimator gets no credit for what cannot be measured.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "COMBINE_RULES",
    "CHANCE_RULES",
    "chance_level",
    "clip01",
    "combine",
    "normalise",
    "normalised_drop",
]

COMBINE_RULES = ("product", "distance", "sum")
CHANCE_RULES = ("majority", "uniform")


def clip01(value: float) -> float:
    """``value`` clipped to ``[0, 1]``; NaN (undefined) becomes 0."""
    value = float(value)
    return float(np.clip(value, 0.0, 1.0)) if np.isfinite(value) else 0.0


def normalise(value: float, floor: float, reference: float, min_gap: float = 0.0,
              clip: bool = True) -> float:
    """``(value - floor) / (reference - floor)`` clipped to ``[0, 1]`` (unless ``clip=False``).

    0 where the range ``reference - floor`` is below ``min_gap`` (or not positive).

    Examples
    --------
    >>> from skcosae.metrics._postprocess import normalise
    >>> normalise(0.25, floor=0.25, reference=0.9)   # chance-level accuracy
    0.0
    >>> normalise(0.9, floor=0.25, reference=0.9)    # as good as the original probe
    1.0
    >>> normalise(0.95, floor=0.25, reference=0.9)   # better than the reference: clipped
    1.0
    >>> normalise(0.3, floor=0.25, reference=0.27, min_gap=0.05)  # no signal to measure
    0.0
    """
    span = float(reference) - float(floor)
    if not np.isfinite(span) or span <= 0 or span < min_gap:
        return 0.0
    score = (float(value) - float(floor)) / span
    return clip01(score) if clip else score


def normalised_drop(before: float, after: float, floor: float, min_gap: float = 0.0) -> float:
    """How much of the way from ``before`` down to ``floor`` an intervention went.

    ``(before - after) / (before - floor)`` clipped to ``[0, 1]``: 1 when the score fell to
    its floor, 0 when it did not move (or rose).
    """
    span = float(before) - float(floor)
    if not np.isfinite(span) or span <= 0 or span < min_gap:
        return 0.0
    return clip01((float(before) - float(after)) / span)


def combine(utility: float, forget: float, rule: str = "product", p: float = 2.0) -> float:
    """One score from the utility kept ``u`` and the forgetting achieved ``f`` (both in [0, 1]).

    Parameters
    ----------
    utility, forget : float in [0, 1]
    rule : {"product", "distance", "sum"}, default="product"
        ``"product"``: ``u * f`` (the paper's choice: high only when both are high).
        ``"distance"``: ``1 - ||(1 - u, 1 - f)||_p / 2^(1/p)``, one minus the normalised
        p-distance to the ideal point ``(1, 1)``. ``"sum"``: ``u + f - 1`` clipped at 0 (the
        rule the paper rejects, kept for comparison).
    p : float >= 1, default=2.0
        Order of the distance of ``rule="distance"`` (``numpy.inf`` allowed).

    Examples
    --------
    >>> from skcosae.metrics._postprocess import combine
    >>> combine(1.0, 1.0), combine(1.0, 0.0), combine(0.5, 0.5)
    (1.0, 0.0, 0.25)
    >>> combine(1.0, 0.0, rule="distance")
    0.29
    >>> combine(0.8, 0.6, rule="sum")
    0.4
    """
    u, f = clip01(utility), clip01(forget)
    if rule == "product":
        return u * f
    if rule == "distance":
        gap = np.array([1.0 - u, 1.0 - f])
        if np.isinf(p):
            return clip01(1.0 - gap.max())
        return clip01(1.0 - np.linalg.norm(gap, ord=p) / 2.0 ** (1.0 / p))
    if rule == "sum":
        return clip01(u + f - 1.0)
    raise ValueError(f"Unknown combine rule {rule!r}; use one of {list(COMBINE_RULES)}.")


def chance_level(y_train: np.ndarray, y_test: np.ndarray, n_classes: int,
                 rule: str = "majority") -> float:
    """Accuracy of a probe that ignores its input.

    ``"majority"``: always predict the most frequent class of ``y_train``, scored on
    ``y_test``. ``"uniform"``: ``1 / n_classes``.
    """
    if rule == "uniform":
        return 1.0 / n_classes
    if rule == "majority":
        majority = np.bincount(y_train, minlength=n_classes).argmax()
        return float(np.mean(y_test == majority))
    raise ValueError(f"Unknown chance rule {rule!r}; use one of {list(CHANCE_RULES)}.")
