"""Scores of how well learnt codes and atoms recover known ground truth."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linear_sum_assignment

from .._typing import ArrayLike

__all__ = ["concept_recovery_score", "atom_recovery_score"]


def _check_finite(A: ArrayLike, what: str) -> np.ndarray:
    A = np.asarray(A, dtype=np.float64)
    if not np.isfinite(A).all():
        raise ValueError(f"{what} contains NaN or infinity.")
    return A


def _standardise_columns(A):
    A = np.asarray(A, dtype=np.float64)
    centred = A - A.mean(0)
    norm = np.linalg.norm(centred, axis=0)
    # A constant column carries no information: it correlates 0 with everything. The
    # tolerance is relative, so that rounding in a large constant column is not read as signal.
    tol = 1e-10 * np.sqrt(len(A)) * np.abs(A).max(0, initial=0.0)
    return np.divide(centred, norm, out=np.zeros_like(centred), where=(norm > tol) & (norm > 0))


def _matched_mean(similarity, return_matching):
    rows, cols = linear_sum_assignment(similarity, maximize=True)
    matched = np.zeros(similarity.shape[0])
    matched[rows] = similarity[rows, cols]
    score = float(matched.mean())
    if return_matching:
        return score, dict(zip(rows.tolist(), cols.tolist()))
    return score


def concept_recovery_score(codes: ArrayLike, concepts: ArrayLike, *, return_matching: bool = False,
                           ) -> float | tuple[float, dict[int, int]]:
    """Mean absolute correlation of true concepts with the learnt codes matched to them one-to-one.

    Each true concept is matched to a distinct code column by the Hungarian algorithm
    (:func:`scipy.optimize.linear_sum_assignment`) maximising the summed absolute Pearson
    correlation; the score is the mean matched absolute correlation over the true concepts (0 for a
    concept left unmatched when there are fewer codes than concepts). 1 means every true
    concept has a code that is an exact affine function of it.

    Parameters
    ----------
    codes : array-like or scipy.sparse matrix of shape (n_samples, n_codes)
        Sparse codes (e.g. from ``sparse_output=True``) are not densified.
    concepts : array-like of shape (n_samples, n_concepts)
    return_matching : bool, default=False
        Also return the matching ``{concept index: code index}``.

    Returns
    -------
    score : float in [0, 1]
        Constant columns (a dead code, a concept that never fires) correlate 0 with
        everything, so the score is never NaN.
    matching : dict
        Only with ``return_matching=True``.

    See Also
    --------
    atom_recovery_score : the same matching on dictionary atoms (linear maps).
    make_platonic : synthetic views whose ``truth.concepts`` this scores against.

    Examples
    --------
    >>> import numpy as np
    >>> from skcosae.datasets import concept_recovery_score
    >>> S = np.random.default_rng(0).exponential(size=(200, 3))
    >>> round(concept_recovery_score(S[:, ::-1] * 2.0, S), 6)
    1.0
    """
    S = _check_finite(concepts, "concepts")
    if sp.issparse(codes):
        Z = sp.csr_matrix(codes, dtype=np.float64)
        if not np.isfinite(Z.data).all():
            raise ValueError("codes contains NaN or infinity.")
    else:
        Z = _check_finite(codes, "codes")
    if Z.ndim != 2 or S.ndim != 2 or Z.shape[0] != S.shape[0]:
        raise ValueError(
            f"codes {Z.shape} and concepts {S.shape} must be 2-D with the same rows."
        )
    if sp.issparse(Z):
        similarity = np.abs(_sparse_correlations(Z, _standardise_columns(S)))
    else:
        similarity = np.abs(_standardise_columns(S).T @ _standardise_columns(Z))
    return _matched_mean(similarity, return_matching)


def _sparse_correlations(Z, S_std):
    """Correlations (concepts x codes) of sparse codes with standardised concepts, without
    densifying the codes: the centred concepts make the codes' centring drop out."""
    n = Z.shape[0]
    cross = np.asarray(Z.T @ S_std).T
    mean = np.asarray(Z.mean(axis=0)).ravel()
    spread = np.asarray(Z.multiply(Z).sum(axis=0)).ravel() - n * mean**2
    norm = np.sqrt(np.clip(spread, 0.0, None))
    tol = 1e-10 * np.sqrt(n) * np.asarray(abs(Z).max(axis=0).todense()).ravel()
    return np.divide(cross, norm, out=np.zeros_like(cross), where=(norm > tol) & (norm > 0))


def atom_recovery_score(dictionary: ArrayLike, atoms: ArrayLike, *,
                        return_matching: bool = False) -> float | tuple[float, dict[int, int]]:
    """Mean absolute cosine of true atoms with the learnt atoms matched to them one-to-one.

    Parameters
    ----------
    dictionary : array-like of shape (n_codes, n_features)
        Learnt atoms, one per row (e.g. ``estimator.dictionaries_[i]``).
    atoms : array-like of shape (n_concepts, n_features)
            True atoms (``truth.atoms[i]`` of ``make_platonic(linear=True)``).
    return_matching : bool, default=False
        Also return the matching ``{true atom index: learnt atom index}``.

    Returns
    -------
    score : float in [0, 1]
        Mean over the true atoms of the absolute cosine with their matched learnt atom (0 for a
        true atom left unmatched, or matched to a zero row). Signs and scales of the
        learnt atoms do not matter.

    See Also
    --------
    concept_recovery_score : the same matching on codes.

    Examples
    --------
    >>> from skcosae.datasets import atom_recovery_score, make_platonic
    >>> Xs, y, truth = make_platonic(n_samples=10, linear=True, random_state=0)
    >>> A = truth.atoms[0]
    >>> round(atom_recovery_score(-3.0 * A[::-1], A), 6)
    1.0
    """
    D, A = _check_finite(dictionary, "dictionary"), _check_finite(atoms, "atoms")
    if D.ndim != 2 or A.ndim != 2 or D.shape[1] != A.shape[1]:
        raise ValueError(
            f"dictionary {D.shape} and atoms {A.shape} must be 2-D and share n_features "
            "(one atom per row)."
        )

    def unit(M):
        norm = np.linalg.norm(M, axis=1, keepdims=True)
        return np.divide(M, norm, out=np.zeros_like(M), where=norm > 1e-12)

    return _matched_mean(np.abs(unit(A) @ unit(D).T), return_matching)
