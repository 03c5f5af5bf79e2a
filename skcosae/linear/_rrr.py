"""ReducedRankRegression: translation alone (Lemma 5)."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .._compat import Interval, StrOptions, fit_context
from .._typing import (
    ArrayLike,
    MultiViewData,
    PairMask,
    RandomState,
    ViewKey,
    ViewNames,
    ViewSizes,
)
from .._views import resolve_view
from ._base import _VIEW_PARAMS, _LinearViews
from ._closed_forms import reduced_rank_regression, shrink, view_moments

__all__ = ["ReducedRankRegression"]


class ReducedRankRegression(_LinearViews):
    """Rank-constrained least-squares translation between two views (Lemma 5).

    Translation alone, ``E ||x_b - V_b W_a^T x_a||^2`` (and the same from b to a), only
    identifies the product ``B_ab = W_a V_b^T`` of rank at most ``n_components``: this is
    reduced-rank regression. The two directions share no factor, so each is solved on its
    own (paired rows only for the cross-covariance; each view centred by its all-row mean):

    - ``metric="euclidean"``: ``B_ab = S_aa^{-1} S_ab P_k``, ``P_k`` the projector on the
      top-k eigenvectors of ``S_ba S_aa^{-1} S_ab``;
    - ``metric="mahalanobis"``: errors weighted by ``S_bb^{-1}`` (target whitened); then
      ``B_ab = S_aa^{-1/2} U_k diag(rho_k) V_k^T S_bb^{1/2}`` from the SVD of CCA's ``M``,
      and the encoder factor is CCA's encoder (the CCA factorisation of Lemma 5).

    The factorisation stored (encoder ``W_a`` of the a -> b regression, decoder ``V_b``) has
    whitened codes, ``W_a^T S_aa W_a = I``; any ``(W_a G, V_b G^{-T})`` fits equally well.
    ``translate(X, a, b)`` applies ``B_ab``; ``reconstruct`` pairs a view's encoder with its
    own decoder, which were fitted for different regressions and are *not* an autoencoder.

    Parameters
    ----------
    n_components : int, default=2
        Rank of each coefficient matrix (the size of every code).
    metric : {"euclidean", "mahalanobis"}, default="euclidean"
        How the translation error in the target view is measured.
    reg : float in [0, 1], default=0.0
        Shrinkage of each covariance towards the identity of the same trace (see
        :class:`CCA`); ``reg > 0`` is ridge-like reduced-rank regression.
    pair_mask : None, float in (0, 1] or array-like of bool, default=None
        Rows whose pairing is known; only they enter the cross-covariances.
    random_state : int, RandomState instance or None, default=None
        Draws the pairs of a float ``pair_mask``.
    view_sizes : list of int or int, default=None
    view_names : list, default=None

    Attributes
    ----------
    coefs_ : dict
        ``coefs_[(i, j)]``: the (d_i, d_j) coefficient ``B_ij`` of the translation from view
        position i to view position j (``x_j - mean_j ~ B_ij^T (x_i - mean_i)``).
    explained_variance_ : dict
        ``explained_variance_[(i, j)]``: variance of view j explained by each component, in
        the chosen metric (the squared canonical correlations for ``"mahalanobis"``).
    encoders_, decoders_ : list of ndarray of shape (d_i, n_components)
        ``encoders_[a]`` from the a -> b regression, ``decoders_[b]`` its decoder.
    means_ : list of ndarray of shape (d_i,)
    n_views_, view_names_, view_sizes_, n_features_in_, n_concepts_, pair_mask_

    Examples
    --------
    >>> import numpy as np
    >>> from skcosae.linear import ReducedRankRegression
    >>> rng = np.random.default_rng(0)
    >>> Xa = rng.normal(size=(300, 4))
    >>> Xb = Xa[:, :2] @ rng.normal(size=(2, 3)) + 0.01 * rng.normal(size=(300, 3))
    >>> rrr = ReducedRankRegression(n_components=2).fit([Xa, Xb])
    >>> int(np.linalg.matrix_rank(rrr.coefs_[(0, 1)]))
    2
    >>> err = rrr.translate(Xa, source=0, target=1) - Xb
    >>> bool(np.abs(err).max() < 0.1)
    True
    """

    _needs_pairs = True
    _parameter_constraints: dict = {
        **_VIEW_PARAMS,
        "metric": [StrOptions({"euclidean", "mahalanobis"})],
        "reg": [Interval(numbers.Real, 0, 1, closed="both")],
        "random_state": ["random_state"],
    }

    def __init__(self, n_components: int = 2, *, metric: str = "euclidean", reg: float = 0.0,
                 pair_mask: PairMask = None, random_state: RandomState = None,
                 view_sizes: ViewSizes = None, view_names: ViewNames = None) -> None:
        self.n_components = n_components
        self.metric = metric
        self.reg = reg
        self.pair_mask = pair_mask
        self.random_state = random_state
        self.view_sizes = view_sizes
        self.view_names = view_names

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: MultiViewData, y: ArrayLike | None = None,
            pair_mask: PairMask = None) -> ReducedRankRegression:
        """Fit the rank-k translation in both directions.

        Parameters
        ----------
        X : list of array-like, DataFrame with (view, feature) columns, or 2-D array
            Exactly two views.
        y : ignored
        pair_mask : None, float or array-like of bool, default=None
            Rows whose pairing is known; wins over the constructor's.

        Returns
        -------
        self
        """
        mv, mask = self._check_fit_input(X, pair_mask)
        if mv.n_views != 2:
            raise ValueError(
                f"ReducedRankRegression takes exactly 2 views; got {mv.n_views}. With more "
                "views the encoder of one view is shared by its translations into every other "
                "view and there is no closed form: use LinearCoupledAE(losses=['trans'], "
                "solver='gradient')."
            )
        moments = view_moments(mv.views, mask)
        moments.covs = [shrink(S, self.reg) for S in moments.covs]
        names = [f"View {name!r}" for name in mv.view_names]
        k = self.n_components
        encoders: list[np.ndarray] = [np.empty(0), np.empty(0)]
        decoders: list[np.ndarray] = [np.empty(0), np.empty(0)]
        self.coefs_, self.explained_variance_ = {}, {}
        for a, b in ((0, 1), (1, 0)):
            Wa, Vb, gains = reduced_rank_regression(
                moments.covs[a], moments.covs[b], moments.cross_cov(a, b), k,
                metric=self.metric, names=(names[a], names[b]))
            encoders[a], decoders[b] = Wa, Vb
            self.coefs_[(a, b)] = Wa @ Vb.T
            self.explained_variance_[(a, b)] = gains
        self._store(mv, mask, moments.means, encoders, decoders)
        return self

    def score(self, X: MultiViewData, y: ArrayLike | None = None) -> float:
        """InterVenchA's S_align when ``y`` is given, else the mean R^2 of the two translations.

        (Reconstruction, the default score of the other linear estimators, is not what a
        reduced-rank regression fits.)

        Parameters
        ----------
        X : multi-view input
        y : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
        """
        check_is_fitted(self)
        if y is not None:
            return super().score(X, y)
        mv = self._check_multi(X)
        scores = []
        for s, t in ((0, 1), (1, 0)):
            target = mv.views[t]
            estimate = self._decode_view(self._encode_view(mv.views[s], s), t)
            total = ((target - target.mean(0)) ** 2).sum()
            scores.append(1.0 - ((target - estimate) ** 2).sum() / max(total, 1e-300))
        return float(np.mean(scores))

    def coef(self, source: ViewKey, target: ViewKey) -> np.ndarray:
        """The coefficient ``B`` of the translation ``source -> target`` (positions or names)."""
        check_is_fitted(self)
        s = resolve_view(source, self.view_names_)
        t = resolve_view(target, self.view_names_)
        if s == t:
            raise ValueError(f"source and target are the same view {self.view_names_[s]!r}.")
        return np.array(self.coefs_[(s, t)])
