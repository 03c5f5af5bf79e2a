"""Concept-space pieces of InterVenchA: what the codes mean across views.

Off the diagonal these measure concept consistency: concept ``c`` chosen on the source
view's codes must be concept ``c`` of the target view's codes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._typing import Codes

__all__ = ["ConceptAblation"]


class ConceptAblation:
    """Zero chosen codes of one view and decode, keeping that view's reconstruction error.

    ``x' = D_j(z') + (x - D_j(z))`` with ``z'`` the code ``z = E_j(x)`` whose chosen entries
    are zeroed (SAEBench's TPP intervention): only what the ablated concepts explained leaves
    the row, not the part the autoencoder never reconstructed.

    Decoders act row by row, so only the rows where a chosen code is active change; only those
    are decoded again, which keeps dozens of ablations cheap on large dictionaries.

    Parameters
    ----------
    estimator : fitted estimator with ``inverse_transform(Z, view=j)``
    view : int
        Position of the view.
    X : ndarray of shape (n, d_j)
        The view's rows.
    Z : ndarray of shape (n, n_concepts)
        Their codes.
    X_rec : ndarray of shape (n, d_j)
        ``D_j(Z)``, the reconstruction.
    """

    def __init__(self, estimator: Any, view: int, X: np.ndarray, Z: Codes,
                 X_rec: np.ndarray) -> None:
        self.estimator = estimator
        self.view = view
        self.X = X
        self.Z = Z
        self.error = X - X_rec

    def _decode(self, Z):
        return np.asarray(self.estimator.inverse_transform(Z, view=self.view), dtype=float)

    def __call__(self, concepts: Sequence[int] | np.ndarray) -> np.ndarray:
        concepts = np.asarray(concepts, dtype=int)
        if concepts.size == 0:
            return self.X
        rows = np.flatnonzero((self.Z[:, concepts] != 0).any(axis=1))
        out = self.X.copy()
        if rows.size:
            ablated = np.array(self.Z[rows], dtype=float)
            ablated[:, concepts] = 0.0
            out[rows] = self._decode(ablated) + self.error[rows]
        return out

    def zero(self) -> np.ndarray:
        """Every code zeroed: ``D_j(0) + (x - D_j(z))``."""
        return self._decode(np.zeros((1, self.Z.shape[1]))) + self.error
