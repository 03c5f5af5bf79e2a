"""Closed forms of the linear regime (the paper's Appendix D; docs page "The linear regime").

Conventions shared by every function here:

- Views are centred; ``S[i]`` is view i's covariance ``X_i^T X_i / n`` and ``S_ij`` the
  cross-covariance of views i and j.
- An encoder is a ``(d_i, k)`` matrix ``W_i`` (code ``z = W_i^T x``), a decoder a ``(d_i, k)``
  matrix ``V_i`` (``x_hat = V_i z``).
- Encoders are *whitened*: ``W_i^T S_ii W_i = I_k`` (the paper's Eq. 11). For reconstruction,
  cycle and translation alone this is only a choice of basis (the objective does not change);
  for concept consistency it is what rules out the collapse ``W = 0`` (Lemma 2).

Nothing here knows about estimators or input forms; :mod:`skcosae.linear` wraps these.

Eigendecompositions and SVDs call :mod:`numpy.linalg`, not :mod:`scipy.linalg`: numpy and
scipy wheels each bundle their own OpenBLAS with its own thread pool, and alternating between
the two pools (numpy's matrix products, then scipy's LAPACK) slows a fit down on busy cores,
where each pool's threads spin while the other works (measured in benchmarks/README.md,
bench_linear).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.linalg

__all__ = [
    "Moments",
    "view_moments",
    "shrink",
    "psd_power",
    "pca",
    "cca",
    "maxvar_gcca",
    "reduced_rank_regression",
    "coupled_readouts",
    "whitened_pca_solution",
    "isotropy_deviation",
    "coupled_objective",
    "principal_angles",
    "variate_correlations",
]

# Relative size under which an eigenvalue of a covariance counts as zero: the view's
# covariance is then singular and cannot be whitened.
_SINGULAR_RTOL = 1e-12


@dataclass
class Moments:
    """Means and second moments of centred views.

    ``covs[i]`` uses every row; ``cross[(i, j)]`` (``i < j``) uses the paired rows only, centred
    by the all-row means, because only paired rows say anything about how two views co-vary.
    """

    means: list[np.ndarray]
    covs: list[np.ndarray]
    cross: dict[tuple[int, int], np.ndarray]
    n_samples: int
    n_pairs: int

    def cross_cov(self, i: int, j: int) -> np.ndarray:
        """``S_ij`` of shape ``(d_i, d_j)``."""
        if i == j:
            return self.covs[i]
        if i < j:
            return self.cross[(i, j)]
        return self.cross[(j, i)].T


def view_moments(views: Sequence[np.ndarray], pair_mask: np.ndarray | None = None, *,
                 cross: bool = True) -> Moments:
    """Means (all rows), covariances (all rows) and cross-covariances (paired rows).

    Parameters
    ----------
    views : list of ndarray of shape (n_samples, d_i)
    pair_mask : ndarray of bool of shape (n_samples,), default=None
        Rows whose pairing is known; None means every row.
    cross : bool, default=True
        Whether to compute the cross-covariances.

    Returns
    -------
    Moments
    """
    n = views[0].shape[0]
    all_paired = pair_mask is None or bool(np.all(pair_mask))
    n_pairs = n if pair_mask is None else int(np.sum(pair_mask))
    means = [v.mean(axis=0) for v in views]
    if cross and all_paired and len(views) == 2:
        # One centred block and one symmetric product (numpy calls BLAS syrk for A.T @ A)
        # gives both covariances and the cross-covariance for the price of three.
        widths = [v.shape[1] for v in views]
        block = np.empty((n, sum(widths)))
        np.subtract(views[0], means[0], out=block[:, : widths[0]])
        np.subtract(views[1], means[1], out=block[:, widths[0]:])
        gram = block.T @ block
        gram /= n
        a = widths[0]
        covs = [gram[:a, :a].copy(), gram[a:, a:].copy()]
        return Moments(means, covs, {(0, 1): gram[:a, a:].copy()}, n, n_pairs)
    centred = [v - m for v, m in zip(views, means)]
    covs = [(c.T @ c) / n for c in centred]
    crosses = {}
    if cross:
        paired = centred if all_paired else [c[pair_mask] for c in centred]
        for i in range(len(views)):
            for j in range(i + 1, len(views)):
                crosses[(i, j)] = (paired[i].T @ paired[j]) / max(n_pairs, 1)
    return Moments(means, covs, crosses, n, n_pairs)


def shrink(S: np.ndarray, reg: float) -> np.ndarray:
    """Shrink a covariance towards a scaled identity: ``(1 - reg) S + reg (tr S / d) I``.

    ``reg = 0`` leaves ``S``; ``reg = 1`` replaces it by the isotropic matrix of the same
    total variance (CCA then becomes partial least squares). Invariant to the scale of the
    data, unlike a fixed ridge ``S + reg I``.
    """
    if reg == 0:
        return S
    d = S.shape[0]
    out = (1.0 - reg) * S
    out[np.diag_indices(d)] += reg * np.trace(S) / d
    return out


def psd_power(S: np.ndarray, name: str = "the view",
              what: str = "covariance") -> tuple[np.ndarray, np.ndarray]:
    """``S^{-1/2}`` and ``S^{1/2}`` of a symmetric positive definite matrix.

    Raises a ValueError naming ``name`` when ``S`` is singular (to a relative 1e-12), since
    whitening is then undefined.
    """
    w, U = np.linalg.eigh(S)  # LAPACK syevd (divide and conquer)
    top = max(float(w[-1]), 0.0)
    if top <= 0 or w[0] <= _SINGULAR_RTOL * top:
        rank = int(np.sum(w > _SINGULAR_RTOL * top)) if top > 0 else 0
        raise ValueError(
            f"{name}: its {what} is singular (rank {rank} < {S.shape[0]} features, e.g. "
            "constant or collinear features, or fewer samples than features), so it cannot "
            "be whitened; set reg > 0 (shrinkage towards the identity) or reduce the "
            "features (e.g. with PCA) first."
        )
    root = np.sqrt(w)
    return (U / root) @ U.T, (U * root) @ U.T


def _sign_fix(*matrices):
    """Flip each column of every matrix by the sign that makes the first matrix's largest
    absolute entry of that column positive (a deterministic output, as in scikit-learn)."""
    first = matrices[0]
    rows = np.argmax(np.abs(first), axis=0)
    signs = np.sign(first[rows, np.arange(first.shape[1])])
    signs[signs == 0] = 1.0
    return [m * signs for m in matrices]


def pca(S: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` eigenvalues (descending) and eigenvectors of a covariance ``S``."""
    w, U = np.linalg.eigh(S)
    w, U = w[::-1][:k], U[:, ::-1][:, :k]
    (U,) = _sign_fix(U)
    return np.clip(w, 0.0, None), U


def whitened_pca_solution(S: np.ndarray, k: int, name: str = "the view"
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lemma 1 with whitened codes: ``W = U_k L^{-1/2}``, ``V = U_k L^{1/2}`` (so V W^T is
    the projector on the top-``k`` principal subspace and ``W^T S W = I``)."""
    w, U = pca(S, k)
    if w[-1] <= _SINGULAR_RTOL * max(w[0], 0.0) or w[0] <= 0:
        raise ValueError(
            f"{name}: only {int(np.sum(w > _SINGULAR_RTOL * max(w[0], 0)))} of the "
            f"n_components={k} principal variances are non-zero, so whitened codes do not "
            "exist; lower n_components."
        )
    root = np.sqrt(w)
    return U / root, U * root, w


def cca(S_aa: np.ndarray, S_bb: np.ndarray, S_ab: np.ndarray, k: int,
        names: Sequence[str] = ("view 0", "view 1")) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-``k`` canonical directions (Lemma 3).

    With ``M = S_aa^{-1/2} S_ab S_bb^{-1/2} = U diag(rho) V^T``: ``W_a = S_aa^{-1/2} U_k``,
    ``W_b = S_bb^{-1/2} V_k``; ``rho`` are the canonical correlations.

    Returns
    -------
    W_a, W_b : ndarray of shape (d_a, k), (d_b, k)
    rho : ndarray of shape (k,)
    """
    Ra, _ = psd_power(S_aa, names[0])
    Rb, _ = psd_power(S_bb, names[1])
    M = Ra @ S_ab @ Rb
    U, rho, Vt = np.linalg.svd(M, full_matrices=False)
    Wa, Wb = _sign_fix(Ra @ U[:, :k], Rb @ Vt[:k].T)
    return Wa, Wb, rho[:k]


def variate_correlations(Wa: np.ndarray, Wb: np.ndarray, S_aa: np.ndarray, S_bb: np.ndarray,
                         S_ab: np.ndarray) -> np.ndarray:
    """Correlation of each pair of variates ``(X_a W_a[:, c], X_b W_b[:, c])``."""
    cross = np.einsum("ij,ik,kj->j", Wa, S_ab, Wb)
    var_a = np.einsum("ij,ik,kj->j", Wa, S_aa, Wa)
    var_b = np.einsum("ij,ik,kj->j", Wb, S_bb, Wb)
    return cross / np.sqrt(np.maximum(var_a * var_b, 1e-300))


def maxvar_gcca(moments: Moments, k: int,
                names: Sequence[str]) -> tuple[list[np.ndarray], np.ndarray]:
    """MAXVAR generalised CCA of N views (Kettenring 1971), a generalisation of CCA.

    Finds shared variates ``g`` (unit variance, uncorrelated) that the views predict best in
    total: the top-``k`` eigenvectors ``e`` of the block matrix ``C`` whose diagonal blocks are
    ``I`` and off-diagonal blocks the whitened cross-covariances ``S_ii^{-1/2} S_ij S_jj^{-1/2}``.
    View i's encoder is ``S_ii^{-1/2} e_i``, each column scaled to give a unit-variance code.
    For two views the eigenvalues are ``1 + rho`` and the encoders are exactly CCA's.

    Returns
    -------
    encoders : list of ndarray of shape (d_i, k)
    correlations : ndarray of shape (k,)
        ``(lambda - 1) / (N - 1)``: the canonical correlations for two views; 1 when every
        view holds the shared variate exactly, 0 when the views are uncorrelated.
    """
    n_views = len(moments.covs)
    roots = [psd_power(S, name)[0] for S, name in zip(moments.covs, names)]
    widths = [S.shape[0] for S in moments.covs]
    edges = np.cumsum([0] + widths)
    C = np.eye(edges[-1])
    for i in range(n_views):
        for j in range(i + 1, n_views):
            block = roots[i] @ moments.cross_cov(i, j) @ roots[j]
            C[edges[i]:edges[i + 1], edges[j]:edges[j + 1]] = block
            C[edges[j]:edges[j + 1], edges[i]:edges[i + 1]] = block.T
    lam, E = np.linalg.eigh(C)
    lam, E = lam[::-1][:k], E[:, ::-1][:, :k]
    encoders = []
    for i in range(n_views):
        block = E[edges[i]:edges[i + 1]]
        norms = np.linalg.norm(block, axis=0)
        norms[norms == 0] = 1.0
        encoders.append(roots[i] @ (block / norms))
    encoders = _sign_fix(*encoders)
    return encoders, (lam - 1.0) / (n_views - 1)


def reduced_rank_regression(S_aa: np.ndarray, S_bb: np.ndarray, S_ab: np.ndarray, k: int,
                            metric: str = "euclidean",
                            names: Sequence[str] = ("view 0", "view 1"),
                            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rank-``k`` least squares of view b on view a (Lemma 5), and one factorisation.

    ``metric="euclidean"`` minimises ``E ||x_b - B^T x_a||^2``: ``B = S_aa^{-1} S_ab P_k`` with
    ``P_k`` the projector on the top-``k`` eigenvectors ``U_k`` of ``S_ba S_aa^{-1} S_ab``.
    ``metric="mahalanobis"`` measures the error with ``S_bb^{-1}`` (target whitened): then
    ``B = S_aa^{-1/2} U_k diag(rho_k) V_k^T S_bb^{1/2}``, from the SVD of CCA's ``M``.

    The factorisation ``B = W_a V_b^T`` returned has whitened codes (``W_a^T S_aa W_a = I``); in
    the Mahalanobis metric ``W_a`` is CCA's encoder.

    Returns
    -------
    W_a : ndarray of shape (d_a, k)
    V_b : ndarray of shape (d_b, k)
    gains : ndarray of shape (k,)
        Variance of view b explained by each component (in the chosen metric).
    """
    if metric == "mahalanobis":
        Ra, _ = psd_power(S_aa, names[0])
        Rb, Rb_inv = psd_power(S_bb, names[1])
        U, rho, Vt = np.linalg.svd(Ra @ S_ab @ Rb, full_matrices=False)
        Wa, Vk = _sign_fix(Ra @ U[:, :k], Vt[:k].T)
        return Wa, (Rb_inv @ Vk) * rho[:k], rho[:k] ** 2
    Ra, _ = psd_power(S_aa, names[0])
    # S_aa^{-1} S_ab through the whitened square root: one eigendecomposition serves all.
    half = Ra @ S_ab
    B_ols = Ra @ half
    H = half.T @ half  # S_ba S_aa^{-1} S_ab
    gains, U = pca(H, k)
    if gains[-1] <= _SINGULAR_RTOL * max(gains[0], 0.0) or gains[0] <= 0:
        raise ValueError(
            f"{names[0]} -> {names[1]}: the cross-covariance has rank < n_components={k} "
            "(too few paired rows, or views that share fewer directions), so a rank-k "
            "translation with whitened codes does not exist; lower n_components."
        )
    root = np.sqrt(gains)
    return (B_ols @ U) / root, U * root, gains


def coupled_readouts(moments: Moments, encoders: Sequence[np.ndarray], w_rec: float,
                     w_trans: float) -> list[np.ndarray]:
    """Decoders minimising the rec + trans terms for fixed whitened encoders (Lemmas 4, 6).

    For target view j, ``V_j = (w_trans sum_{i != j} S_ji W_i + w_rec S_jj W_j) /
    (w_trans (N - 1) + w_rec)``: a least-squares readout of view j from its own code and the
    others'. It holds in any metric (a least-squares decoder does not depend on the metric
    of its target), provided every code has identity covariance. With no rec or trans
    weight, the self-readout ``S_jj W_j`` is returned (the decoders are then not identified
    by the objective; the self-readout is the choice of Lemma 4).
    """
    n_views = len(encoders)
    decoders = []
    for j in range(n_views):
        if w_rec <= 0 and w_trans <= 0:
            decoders.append(moments.covs[j] @ encoders[j])
            continue
        total = w_rec * (moments.covs[j] @ encoders[j])
        for i in range(n_views):
            if i != j and w_trans > 0:
                total = total + w_trans * (moments.cross_cov(j, i) @ encoders[i])
        decoders.append(total / (w_trans * (n_views - 1) + w_rec))
    return decoders


def isotropy_deviation(S: np.ndarray) -> float:
    """``||S - c I||_F / ||S||_F`` with ``c = tr(S) / d``: 0 for a scaled identity."""
    d = S.shape[0]
    c = np.trace(S) / d
    dev = S.copy()
    dev[np.diag_indices(d)] -= c
    norm = np.linalg.norm(S)
    return float(np.linalg.norm(dev) / norm) if norm > 0 else 0.0


def coupled_objective(views: Sequence[np.ndarray], encoders: Sequence[np.ndarray],
                      decoders: Sequence[np.ndarray], weights: Mapping[str, float],
                      pair_mask: np.ndarray | None = None,
                      variances: Sequence[float] | None = None) -> dict[str, float]:
    """The instance-wise terms of the linear coupled objective, Euclidean, on centred views.

    ``rec_i / v_i``, ``trans_{i->j} / v_j`` (paired rows), ``cycle_{i->j->i} / v_i`` and
    ``cc_{ij} / k`` (paired rows), summed over views and ordered (trans, cycle) or unordered
    (cc) pairs, ``v_i`` the total variance of view i. For another metric, pass views already
    transformed (see :class:`~skcosae.linear.LinearCoupledAE`).

    Returns
    -------
    terms : dict
        Unweighted value of each term named in ``weights``, and ``"total"`` (weighted sum).
    """
    n_views = len(views)
    k = encoders[0].shape[1]
    if variances is None:
        variances = [float(np.sum(v.var(axis=0))) for v in views]
    paired = None if pair_mask is None or np.all(pair_mask) else np.asarray(pair_mask, bool)

    def on_pairs(a):
        return a if paired is None else a[paired]

    def mse(a, b):
        return float(np.mean(np.sum((a - b) ** 2, axis=1))) if len(a) else 0.0

    codes = [x @ W for x, W in zip(views, encoders)]
    terms = {}
    if "rec" in weights:
        terms["rec"] = sum(mse(views[i], codes[i] @ decoders[i].T) / variances[i]
                           for i in range(n_views))
    if "trans" in weights:
        terms["trans"] = sum(
            mse(on_pairs(views[j]), on_pairs(codes[i]) @ decoders[j].T) / variances[j]
            for i in range(n_views) for j in range(n_views) if i != j)
    if "cycle" in weights:
        total = 0.0
        for i in range(n_views):
            for j in range(n_views):
                if i != j:
                    back = ((codes[i] @ decoders[j].T) @ encoders[j]) @ decoders[i].T
                    total += mse(views[i], back) / variances[i]
        terms["cycle"] = total
    if "cc" in weights:
        terms["cc"] = sum(mse(on_pairs(codes[i]), on_pairs(codes[j])) / k
                          for i in range(n_views) for j in range(i + 1, n_views))
    terms["total"] = sum(weights[name] * terms[name] for name in weights if name in terms)
    return terms


def principal_angles(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Principal angles (radians, ascending) between the column spaces of ``A`` and ``B``."""
    return np.sort(scipy.linalg.subspace_angles(A, B))
