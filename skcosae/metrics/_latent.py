"""Latent-space pieces of InterVenchA: what the dictionaries do in the views' own spaces.

Off the diagonal these measure translation: the source view's codes or concept choice,
carried into the target view's space through the target view's decoder or atoms.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.linalg import eigh
from sklearn.metrics import log_loss

from ._postprocess import clip01
from ._probes import Scaler

__all__ = [
    "LatentAblation",
    "explained_variance",
    "faithfulness",
    "latent_features",
    "span_basis",
]

#: Rows per chunk of the float64 sums of :func:`explained_variance`.
_CHUNK_ROWS = 4096

def explained_variance(X: np.ndarray, X_hat: np.ndarray, clip: bool = True) -> float:
    """R^2 of ``X_hat`` as an estimate of ``X``: ``1 - SSE / SST``, clipped to ``[0, 1]``.

    ``SST`` is taken about each feature's own mean (scikit-learn's ``r2_score`` with
    ``multioutput="variance_weighted"``), so a constant offset between views is not counted
    as explained. A negative R^2 (worse than predicting the mean) is 0; with ``clip=False``
    it is returned as is (the report keeps it as the cell's raw value).

    Sums are accumulated in float64 over row chunks, so float32 rows are neither copied
    whole into float64 nor summed in float32.
    """
    mean = X.mean(axis=0, dtype=np.float64)
    total = residual = 0.0
    for start in range(0, X.shape[0], _CHUNK_ROWS):
        rows = slice(start, start + _CHUNK_ROWS)
        x = np.asarray(X[rows], dtype=np.float64)
        total += ((x - mean) ** 2).sum()
        residual += ((x - X_hat[rows]) ** 2).sum()
    if total <= 0:
        return 0.0
    r2 = 1.0 - residual / total
    return clip01(r2) if clip else float(r2)


def faithfulness(probe: Any, scaler: Scaler, y: np.ndarray, X: np.ndarray, X_hat: np.ndarray,
                 X_zero: np.ndarray, min_gap: float = 0.0, clip: bool = True) -> float:
    """SAEBench's loss-recovered score for a downstream probe of the target view.

    ``(L_zero - L_hat) / (L_zero - L_orig)`` with ``L`` the probe's log-loss on the original
    rows ``X``, on their estimate ``X_hat`` and on the zero-code decoding ``X_zero``; clipped
    to ``[0, 1]`` (unless ``clip=False``). Undefined, hence 0, when zeroing the codes costs
    the probe less than ``min_gap`` of its loss, ``L_zero - L_orig < min_gap * L_zero``:
    there is then no loss to recover (e.g. labels the view does not predict).
    """
    labels = probe.classes_

    def loss(A):
        return log_loss(y, probe.predict_proba(scaler(A)), labels=labels)

    l_orig, l_hat, l_zero = loss(X), loss(X_hat), loss(X_zero)
    span = l_zero - l_orig
    if not np.isfinite(span) or span <= 1e-12 or span < min_gap * l_zero:
        return 0.0
    recovered = (l_zero - l_hat) / span
    return clip01(recovered) if clip else float(recovered)


def latent_features(X: np.ndarray, atoms: np.ndarray) -> np.ndarray:
    """Projections of the rows of ``X`` on ``atoms`` (one atom per row of ``atoms``).

    A linear probe on these has weights ``w = atoms.T @ alpha``: a combination of the chosen
    atoms, the latent-space sparse probe (docs page "InterVenchA", latent-space metrics).
    The projections are in the dtype of ``X`` (float32 rows are not copied into float64 to
    meet float64 atoms).
    """
    return X @ atoms.T.astype(X.dtype, copy=False)


def span_basis(atoms: np.ndarray, rtol: float = 1e-10) -> np.ndarray:
    """Orthonormal basis (d, r) of the span of the rows of ``atoms``.

    From the eigenvectors of the smaller Gram matrix (``atoms @ atoms.T`` for a few atoms,
    ``atoms.T @ atoms`` for a whole dictionary): a (768, 768) eigenproblem for a (4096, 768)
    dictionary instead of its SVD, and exact up to directions with squared singular value below
    ``rtol`` times the largest, which a projector may ignore.
    """
    n_atoms, dim = atoms.shape
    few = n_atoms <= dim
    gram = atoms @ atoms.T if few else atoms.T @ atoms
    w, V = eigh(gram)
    if w.size == 0 or w[-1] <= 0:
        return np.zeros((dim, 0))
    keep = w > w[-1] * rtol
    if few:
        return atoms.T @ (V[:, keep] / np.sqrt(w[keep]))
    return V[:, keep]


class LatentAblation:
    """Remove what some atoms span from one view's rows: the latent-space intervention.

    ``x' = x - P (x - mu)``, with ``P`` the orthogonal projector onto the span of the chosen
    atoms (of the *target* view) and ``mu`` the view's probe-train mean: the variation along
    those atoms goes, the rest of the row and the mean stay. It uses the dictionary only, not
    the encoder, so it tests whether concept ``c``'s atom in view ``j`` plays the role that
    concept ``c``'s atom plays in view ``i``.
    """

    def __init__(self, X: np.ndarray, atoms: np.ndarray, mean: np.ndarray) -> None:
        self.X = X
        self.atoms = atoms
        self.centred = X - np.asarray(mean, dtype=X.dtype)

    def _remove(self, basis):
        # In the rows' dtype: float32 rows stay float32.
        basis = basis.astype(self.X.dtype, copy=False)
        return self.X - (self.centred @ basis) @ basis.T

    def __call__(self, concepts: Sequence[int] | np.ndarray) -> np.ndarray:
        if len(concepts) == 0:
            return self.X
        return self._remove(span_basis(self.atoms[concepts]))

    def zero(self) -> np.ndarray:
        """Every atom removed (the rows collapse to the mean where the atoms span the space)."""
        return self._remove(span_basis(self.atoms))
