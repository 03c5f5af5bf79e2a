"""Concept-space pieces of InterVenchA: what the codes mean across views.

Off the diagonal these measure concept consistency: concept ``c`` chosen on the source
view's codes must be concept ``c`` of the target view's codes.

Codes are either dense arrays or scipy.sparse matrices (an estimator with sparse output,
such as ``CoupledSAE(sparse_output=True)``). Sparse codes stay sparse here: columns are
selected, zeroed and summed as sparse matrices, and they reach the estimator's decoder in
row chunks, so no ``(n_samples, n_concepts)`` dense array is ever made.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from .._typing import Codes

__all__ = [
    "ConceptAblation",
    "as_codes",
    "code_columns",
    "decode",
    "zero_code",
]

#: Dense entries (rows x n_concepts) a decoder is handed at once from sparse codes: a
#: decoder that densifies its input then holds at most this many (16 MiB in float32).
DECODE_CHUNK_ENTRIES = 1 << 22


def as_codes(Z):
    """One view's codes as the metrics use them: a CSR matrix, or a dense float array.

    Sparse codes of any format become :class:`scipy.sparse.csr_matrix` (sharing the data of
    CSR input); dense codes keep their float dtype (integers become float64). Neither is
    copied into float64.
    """
    if sp.issparse(Z):
        Z = sp.csr_matrix(Z)
        return Z if Z.dtype.kind == "f" else Z.astype(np.float64)
    Z = np.asarray(Z)
    return Z if Z.dtype.kind == "f" else Z.astype(np.float64)


def code_columns(Z, concepts):
    """Dense ``(n_samples, len(concepts))`` block of the chosen code columns."""
    block = Z[:, np.asarray(concepts, dtype=int)]
    return block.toarray() if sp.issparse(block) else block


def zero_code(Z):
    """A one-row all-zero code in the form and dtype of ``Z``."""
    if sp.issparse(Z):
        return sp.csr_matrix((1, Z.shape[1]), dtype=Z.dtype)
    return np.zeros((1, Z.shape[1]), dtype=Z.dtype)


def decode(estimator, Z, view):
    """``estimator.inverse_transform(Z, view=view)`` as an array.

    Sparse codes are handed over in row chunks of at most :data:`DECODE_CHUNK_ENTRIES`
    dense entries, so a decoder that densifies its input never builds the whole
    ``(n_samples, n_concepts)`` matrix. The decoder's output dtype is kept.
    """
    if not sp.issparse(Z):
        return np.asarray(estimator.inverse_transform(Z, view=view))
    step = max(1, DECODE_CHUNK_ENTRIES // max(Z.shape[1], 1))
    if Z.shape[0] <= step:
        return np.asarray(estimator.inverse_transform(Z, view=view))
    return np.concatenate([np.asarray(estimator.inverse_transform(Z[a:a + step], view=view))
                           for a in range(0, Z.shape[0], step)])


def _active_rows(Z, concepts):
    """Rows where any of ``concepts`` has a non-zero code."""
    block = Z[:, concepts]
    if sp.issparse(block):
        return np.unique(block.nonzero()[0])
    return np.flatnonzero((block != 0).any(axis=1))


def _ablated(Z, rows, concepts):
    """The codes of ``rows`` (an index array) with the columns ``concepts`` set to zero."""
    codes = Z[rows]  # indexing by an array copies: ``Z`` is left as it is
    if sp.issparse(codes):
        codes.data[np.isin(codes.indices, concepts)] = 0
        codes.eliminate_zeros()
    else:
        codes[:, concepts] = 0
    return codes


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
    Z : ndarray or scipy.sparse matrix of shape (n, n_concepts)
        Their codes (see :func:`as_codes`); sparse codes are ablated and decoded sparse.
    X_rec : ndarray of shape (n, d_j)
        ``D_j(Z)``, the reconstruction.
    """

    def __init__(self, estimator: Any, view: int, X: np.ndarray, Z: Codes,
                 X_rec: np.ndarray) -> None:
        self.estimator = estimator
        self.view = view
        self.X = X
        self.Z = as_codes(Z)
        self.error = X - X_rec

    def _decode(self, Z):
        return decode(self.estimator, Z, self.view)

    def __call__(self, concepts: Sequence[int] | np.ndarray) -> np.ndarray:
        concepts = np.asarray(concepts, dtype=int)
        if concepts.size == 0:
            return self.X
        rows = _active_rows(self.Z, concepts)
        out = self.X.copy()
        if rows.size:
            out[rows] = self._decode(_ablated(self.Z, rows, concepts)) + self.error[rows]
        return out

    def zero(self) -> np.ndarray:
        """Every code zeroed: ``D_j(0) + (x - D_j(z))``."""
        return self._decode(zero_code(self.Z)) + self.error
