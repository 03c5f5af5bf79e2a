"""Loss weights: one parser for every estimator, and ``set_params(losses__<name>=w)``.

Torch-free, so that the linear estimators and the metrics can use it without the backend.
"""

from __future__ import annotations

import difflib
import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np

from .backend.plan import LOSS_NAMES

__all__ = ["COSAE_LOSSES", "LOSS_NAMES", "LossWeightsMixin", "resolve_losses"]

#: The CoSAE recipe: every term but ``cycle``, weight 1 each.
COSAE_LOSSES = {"rec": 1.0, "trans": 1.0, "cc": 1.0, "dist_trans": 1.0, "dist_cc": 1.0}


def resolve_losses(losses: Any) -> dict[str, float]:
    """Mapping loss name -> positive weight from a list of names, a mapping, or None.

    None is the CoSAE recipe. Terms of weight 0 are dropped: a zero weight means no term.
    """
    if losses is None:
        return dict(COSAE_LOSSES)
    if isinstance(losses, str):
        losses = [losses]
    if isinstance(losses, Mapping):
        items = list(losses.items())
    else:
        try:
            items = [(name, 1.0) for name in losses]
        except TypeError as exc:
            raise ValueError(
                f"losses must be a list of names or a mapping name -> weight; got {losses!r}."
            ) from exc
    weights = {}
    for name, weight in items:
        if name not in LOSS_NAMES:
            raise ValueError(unknown_loss(name))
        if not isinstance(weight, numbers.Real) or isinstance(weight, bool):
            raise ValueError(f"The weight of loss {name!r} must be a number; got {weight!r}.")
        if not np.isfinite(float(weight)) or weight < 0:
            raise ValueError(
                f"The weight of loss {name!r} must be finite and >= 0; got {weight!r}."
            )
        weights[name] = float(weight)
    if not any(w > 0 for w in weights.values()):
        raise ValueError(f"losses={losses!r} has no term with a positive weight.")
    # A weight of 0 is no loss at all: the term is neither computed nor checked.
    return {name: w for name, w in weights.items() if w > 0}


def unknown_loss(name: object, prefix: str = "") -> str:
    close = difflib.get_close_matches(str(name), LOSS_NAMES, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"Unknown loss {name!r}{prefix};{hint} the losses are {list(LOSS_NAMES)}."



class LossWeightsMixin:
    """``set_params(losses__<name>=w)`` for estimators with a ``losses`` parameter."""

    losses: Any

    def set_params(self, **params: Any) -> Any:
        """Set parameters, and one loss weight with ``losses__<name>=w`` (0 drops it).

        A loss weight is checked at once: an unknown name or a weight that is not a
        number >= 0 is an error here, not at ``fit``.
        """
        term_weights = {key[len("losses__"):]: params.pop(key)
                        for key in list(params) if key.startswith("losses__")}
        if term_weights:
            weights = dict(resolve_losses(params.get("losses", self.losses)))
            for name, weight in term_weights.items():
                if name not in LOSS_NAMES:
                    raise ValueError(unknown_loss(name, prefix=f" in losses__{name}"))
                weights[name] = weight
            resolve_losses(weights)
            params["losses"] = weights
        return super().set_params(**params)  # type: ignore[misc]
