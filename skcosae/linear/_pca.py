"""MultiViewPCA: per-view principal subspaces, the reconstruction-only solution (Lemma 1)."""

from __future__ import annotations

import numpy as np

from .._compat import fit_context
from .._typing import ArrayLike, MultiViewData, PairMask, ViewNames, ViewSizes
from ._base import _VIEW_PARAMS, _LinearViews
from ._closed_forms import pca, view_moments

__all__ = ["MultiViewPCA"]


class MultiViewPCA(_LinearViews):
    """Principal component analysis of each view: the linear solution of reconstruction alone.

    Minimises ``sum_i E ||x_i - V_i W_i^T x_i||^2`` (Lemma 1 of the paper's Appendix D): each
    view's encoder spans its top-``n_components`` principal subspace and its decoder is the
    least-squares readout. The views are not coupled: concept ``c`` of one view has nothing
    to do with concept ``c`` of another (they are only sorted by explained variance), so
    :meth:`translate` is a baseline of *no* alignment.

    Each view is centred by its mean. The objective only fixes ``V_i W_i^T`` (the projector on
    the principal subspace); any invertible ``G`` gives another minimiser ``(W G, V G^{-T})``.
    ``whiten`` picks the basis: principal axes (``W = V = U_k``, codes = principal scores,
    as :class:`sklearn.decomposition.PCA`) or whitened codes (``W^T S W = I``, the
    paper's Eq. 11, with ``S = X^T X / n``).

    Parameters
    ----------
    n_components : int, default=2
        Number of principal components per view (the size of every code).
    whiten : bool, default=False
        If True, codes have identity covariance: ``W = U_k L^{-1/2}``, ``V = U_k L^{1/2}``
        (``L`` the top variances, computed with ``1 / n_samples``; scikit-learn's
        ``PCA(whiten=True)`` divides by ``n_samples - 1``).
    pair_mask : None, float in (0, 1] or array-like of bool, default=None
        Accepted for a uniform surface and stored as ``pair_mask_``; PCA uses every row and
        no pairs.
    view_sizes : list of int or int, default=None
        View widths when ``X`` is one 2-D array.
    view_names : list, default=None
        Names of the views.

    Attributes
    ----------
    n_views_ : int
    view_names_ : list
    view_sizes_ : list of int
    n_features_in_ : int
    n_concepts_ : int
        Equal to ``n_components``.
    means_ : list of ndarray of shape (d_i,)
    encoders_, decoders_ : list of ndarray of shape (d_i, n_components)
        ``W_i`` and ``V_i``.
    components_ : list of ndarray of shape (n_components, d_i)
        Principal axes of each view (rows of unit norm), sorted by explained variance.
    explained_variance_ : list of ndarray of shape (n_components,)
        Variance along each axis (``1 / n_samples`` normalisation).
    explained_variance_ratio_ : list of ndarray of shape (n_components,)
    pair_mask_ : ndarray of bool

    See Also
    --------
    CCA : couples the views (concept consistency under whitening).
    LinearCoupledAE : every loss combination of the linear regime.

    Examples
    --------
    >>> import numpy as np
    >>> from skcosae.linear import MultiViewPCA
    >>> rng = np.random.default_rng(0)
    >>> Xs = [rng.normal(size=(200, 5)) * [5, 3, 1, 1, 1], rng.normal(size=(200, 4))]
    >>> pca = MultiViewPCA(n_components=2).fit(Xs)
    >>> [Z.shape for Z in pca.transform(Xs)]
    [(200, 2), (200, 2)]
    >>> np.abs(pca.components_[0]).argmax(axis=1)
    array([0, 1])
    """

    _parameter_constraints: dict = {**_VIEW_PARAMS, "whiten": ["boolean"]}

    def __init__(self, n_components: int = 2, *, whiten: bool = False,
                 pair_mask: PairMask = None, view_sizes: ViewSizes = None,
                 view_names: ViewNames = None) -> None:
        self.n_components = n_components
        self.whiten = whiten
        self.pair_mask = pair_mask
        self.view_sizes = view_sizes
        self.view_names = view_names

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: MultiViewData, y: ArrayLike | None = None,
            pair_mask: PairMask = None) -> MultiViewPCA:
        """Fit the principal subspace of every view.

        Parameters
        ----------
        X : list of array-like, DataFrame with (view, feature) columns, or 2-D array
            The views (see :func:`skcosae.as_frame`).
        y : ignored
        pair_mask : None, float or array-like of bool, default=None
            Stored only; wins over the constructor's.

        Returns
        -------
        self
        """
        mv, mask = self._check_fit_input(X, pair_mask)
        moments = view_moments(mv.views, cross=False)
        encoders, decoders, axes, variances, ratios = [], [], [], [], []
        for name, S in zip(mv.view_names, moments.covs):
            w, U = pca(S, self.n_components)
            if self.whiten:
                if w[-1] <= 1e-12 * max(w[0], 1e-300):
                    raise ValueError(
                        f"View {name!r}: only {int(np.sum(w > 1e-12 * w[0]))} principal "
                        f"variances are non-zero for n_components={self.n_components}; "
                        "whitened codes do not exist. Lower n_components or whiten=False."
                    )
                root = np.sqrt(w)
                encoders.append(U / root)
                decoders.append(U * root)
            else:
                encoders.append(U)
                decoders.append(U.copy())
            axes.append(U.T.copy())
            variances.append(w)
            total = np.trace(S)
            ratios.append(w / total if total > 0 else np.zeros_like(w))
        self._store(mv, mask, moments.means, encoders, decoders)
        self.components_ = axes
        self.explained_variance_ = variances
        self.explained_variance_ratio_ = ratios
        return self
