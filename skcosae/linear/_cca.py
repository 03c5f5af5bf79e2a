"""CCA: concept consistency under whitening (Lemmas 2-4), by eigh/SVD, not NIPALS."""

from __future__ import annotations

import numbers

from .._compat import Interval, fit_context
from .._typing import ArrayLike, MultiViewData, PairMask, RandomState, ViewNames, ViewSizes
from ._base import _VIEW_PARAMS, _LinearViews
from ._closed_forms import cca, maxvar_gcca, shrink, variate_correlations, view_moments

__all__ = ["CCA"]


class CCA(_LinearViews):
    """Canonical correlation analysis: the linear solution of concept consistency.

    Concept consistency alone, ``E ||W_a^T x_a - W_b^T x_b||^2``, is minimised by the collapse
    ``W = 0`` (Lemma 2). Under the whitening constraints ``W_a^T S_aa W_a = W_b^T S_bb W_b = I``
    its minimisers are the top canonical directions (Lemma 3), computed here in closed form:
    with ``M = S_aa^{-1/2} S_ab S_bb^{-1/2} = U diag(rho) V^T`` (LAPACK's symmetric
    eigensolver for the inverse square roots, its SVD for ``M``; no iterations),
    ``W_a = S_aa^{-1/2} U_k`` and
    ``W_b = S_bb^{-1/2} V_k``. The minimum is ``2 (k - sum rho)`` per paired row. Concept c
    of the two views is the c-th pair of canonical variates, so codes are aligned.

    Decoders are the least-squares readouts of each view from its own code, ``V_i = S_ii W_i``:
    concept consistency does not identify them; this is the choice of Lemma 4, and the exact
    minimiser of ``cc + lambda rec`` (any lambda) when every error is measured in the
    Mahalanobis metric, or when each view's covariance is isotropic (see
    :class:`LinearCoupledAE` for the Euclidean case).

    Rows and pairs: each view is centred by its all-row mean and ``S_ii`` uses every row;
    the cross-covariance ``S_ab`` uses only the rows of ``pair_mask`` (the only ones whose
    pairing is known). With all rows paired this is textbook CCA.

    More than two views: MAXVAR generalised CCA (Kettenring 1971), which reduces to CCA for
    two views: the shared variates are the top eigenvectors of the block matrix of whitened
    cross-covariances (identity blocks on the diagonal). Each view's code has unit-variance
    columns; for N > 2 the columns of one view's code may correlate.

    Parameters
    ----------
    n_components : int, default=2
        Number of canonical pairs kept (the size of every code); at most the smallest view
        width.
    reg : float in [0, 1], default=0.0
        Shrinkage of each covariance towards the identity of the same trace,
        ``(1 - reg) S_ii + reg tr(S_ii) / d_i I``, for ill-conditioned views or views with
        more features than rows (``reg = 0`` needs invertible covariances; ``reg = 1`` gives
        partial least squares on views rescaled to unit mean variance). Whitening then
        refers to the shrunk covariances, and ``canonical_correlations_`` are the
        correlations of the resulting pairs of canonical variates on the training data.
    pair_mask : None, float in (0, 1] or array-like of bool, default=None
        Rows whose pairing is known (see :func:`skcosae._views.resolve_pair_mask`); the
        ``pair_mask`` of :meth:`fit` wins over this one.
    random_state : int, RandomState instance or None, default=None
        Draws the pairs of a float ``pair_mask``.
    view_sizes : list of int or int, default=None
        View widths when ``X`` is one 2-D array.
    view_names : list, default=None
        Names of the views.

    Attributes
    ----------
    canonical_correlations_ : ndarray of shape (n_components,)
        ``rho_1 >= rho_2 >= ...`` (with ``reg > 0``: the correlation of each pair of
        canonical variates, which need not be sorted). For N > 2 views:
        ``(lambda - 1) / (N - 1)`` with ``lambda`` the MAXVAR eigenvalues (1 when all views
        share the variate, 0 when uncorrelated).
    encoders_, decoders_ : list of ndarray of shape (d_i, n_components)
        ``W_i`` (``W_i^T S_ii W_i = I`` for two views) and ``V_i = S_ii W_i``.
    means_ : list of ndarray of shape (d_i,)
    n_views_, view_names_, view_sizes_, n_features_in_, n_concepts_, pair_mask_
        As for every multi-view estimator.

    See Also
    --------
    sklearn.cross_decomposition.CCA : the same model by NIPALS iterations (one component at a
        time; much slower for many components).
    LinearCoupledAE : every loss combination of the linear regime.

    Examples
    --------
    >>> import numpy as np
    >>> from skcosae.linear import CCA
    >>> rng = np.random.default_rng(0)
    >>> shared = rng.normal(size=(500, 1))
    >>> Xa = np.hstack([shared, rng.normal(size=(500, 2))])
    >>> Xb = np.hstack([rng.normal(size=(500, 2)), shared + 0.5 * rng.normal(size=(500, 1))])
    >>> cca = CCA(n_components=1).fit([Xa, Xb])
    >>> round(float(cca.canonical_correlations_[0]), 2)
    0.9
    >>> Za, Zb = cca.transform([Xa, Xb])
    >>> round(float(np.corrcoef(Za[:, 0], Zb[:, 0])[0, 1]), 2)
    0.9
    """

    _needs_pairs = True
    _parameter_constraints: dict = {
        **_VIEW_PARAMS,
        "reg": [Interval(numbers.Real, 0, 1, closed="both")],
        "random_state": ["random_state"],
    }

    def __init__(self, n_components: int = 2, *, reg: float = 0.0, pair_mask: PairMask = None,
                 random_state: RandomState = None, view_sizes: ViewSizes = None,
                 view_names: ViewNames = None) -> None:
        self.n_components = n_components
        self.reg = reg
        self.pair_mask = pair_mask
        self.random_state = random_state
        self.view_sizes = view_sizes
        self.view_names = view_names

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: MultiViewData, y: ArrayLike | None = None,
            pair_mask: PairMask = None) -> CCA:
        """Fit the canonical directions.

        Parameters
        ----------
        X : list of array-like, DataFrame with (view, feature) columns, or 2-D array
            The views (see :func:`skcosae.as_frame`).
        y : ignored
        pair_mask : None, float or array-like of bool, default=None
            Rows whose pairing is known; wins over the constructor's.

        Returns
        -------
        self
        """
        mv, mask = self._check_fit_input(X, pair_mask)
        moments = view_moments(mv.views, mask)
        raw_covs = moments.covs
        moments.covs = [shrink(S, self.reg) for S in moments.covs]
        names = [f"View {name!r}" for name in mv.view_names]
        k = self.n_components
        if mv.n_views == 2:
            Wa, Wb, rho = cca(moments.covs[0], moments.covs[1], moments.cross[(0, 1)], k, names)
            encoders = [Wa, Wb]
            if self.reg > 0:
                # The singular values of the shrunk problem are no correlations (they can
                # exceed 1); report the correlation of each pair of canonical variates.
                rho = variate_correlations(Wa, Wb, raw_covs[0], raw_covs[1],
                                           moments.cross[(0, 1)])
        else:
            encoders, rho = maxvar_gcca(moments, k, names)
        decoders = [S @ W for S, W in zip(moments.covs, encoders)]
        self._store(mv, mask, moments.means, encoders, decoders)
        self.canonical_correlations_ = rho
        return self
