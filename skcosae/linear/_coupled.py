"""LinearCoupledAE: the linear coupled autoencoder, by closed form or by gradient descent."""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from .._compat import Interval, StrOptions, fit_context
from .._losses import LossWeightsMixin, resolve_losses
from .._typing import (
    ArrayLike,
    Losses,
    MultiViewData,
    PairMask,
    RandomState,
    ViewNames,
    ViewSizes,
)
from .._views import resolve_pair_mask
from ._base import _VIEW_PARAMS, _LinearViews
from ._closed_forms import (
    cca,
    coupled_objective,
    coupled_readouts,
    isotropy_deviation,
    psd_power,
    reduced_rank_regression,
    shrink,
    variate_correlations,
    view_moments,
    whitened_pca_solution,
)

__all__ = ["LinearCoupledAE", "PairingNotIdentifiedWarning"]

# A view counts as isotropic (covariance a multiple of the identity, where the rec/trans
# terms are constant under whitening) when ||S - c I||_F <= this * ||S||_F.
_ISOTROPY_RTOL = 1e-8
_COUPLING = ("trans", "cc")


class PairingNotIdentifiedWarning(UserWarning):
    """The losses of a fit do not identify which rows or concepts correspond across views."""


class LinearCoupledAE(LossWeightsMixin, _LinearViews):
    """Linear coupled autoencoder: the exact minimiser of each loss combination of Appendix D.

    Each view ``i`` has a linear encoder ``z = W_i^T (x_i - mu_i)`` and decoder
    ``x_hat = V_i z + mu_i`` (``W_i``, ``V_i`` of shape (d_i, k)); the losses are those of
    :class:`~skcosae.CoupledSAE` on dense linear maps. The documented objective, over centred
    views, is

    .. code-block:: text

        L = w_rec   sum_i      E_all   ||x_i - V_i W_i^T x_i||_i^2 / v_i
          + w_trans sum_{i!=j} E_pairs ||x_j - V_j W_i^T x_i||_j^2 / v_j
          + w_cycle sum_{i!=j} E_all   ||x_i - V_i W_j^T V_j W_i^T x_i||_i^2 / v_i
          + w_cc    sum_{i<j}  E_pairs ||W_i^T x_i - W_j^T x_j||^2 / k
          + w_dist_trans, w_dist_cc: the sliced ECF terms of the backend
        subject to  W_i^T S_ii W_i = I_k  for every view (whitened codes),

    where ``||e||_i^2 = e^T e`` (``metric="euclidean"``) or ``e^T S_ii^{-1} e``
    (``metric="mahalanobis"``), and ``v_i`` is view i's total variance in that metric
    (``tr S_ii``, or ``d_i``), so that a decoder predicting the mean scores 1. The whitening
    constraint rules out the collapse ``W = 0`` of concept consistency (Lemma 2); for rec,
    cycle and trans alone it only picks a basis (their minimum does not change).

    ``solver="closed_form"`` returns the exact minimiser where one is known, and raises a
    ValueError elsewhere (never an approximate answer). Which combinations have one was
    verified, not assumed (see the docs page "The linear regime"):

    ============================  =====================================  =================
    losses (positive weights)     euclidean                              mahalanobis
    ============================  =====================================  =================
    rec, cycle, rec+cycle         per-view PCA (Lemmas 1, 7)             error: constant
    trans (2 views)               reduced-rank regression (Lemma 5)      RRR = CCA factors
    cc (2 views)                  CCA (Lemma 3), decoders ``S_ii W_i``   same
    cc or trans with rec/cycle    only if each ``S_ii`` is isotropic     CCA encoders,
    (2 views, not trans+cycle)    (the lemmas' condition), else error    Lemma 4/6 decoders
    dist_trans; N > 2 coupled     error                                  error
    ============================  =====================================  =================

    Lemmas 4 and 6 state "encoders = CCA, independent of lambda"; that holds when the
    reconstruction error is measured in the Mahalanobis metric (or each view is white): with
    raw views and Euclidean errors, rec is not constant under whitening and a direct
    minimisation beats the CCA encoders. Use ``solver="gradient"`` for those. ``dist_cc`` is
    treated at second order by the closed form: it is 0 for Gaussian codes of equal
    covariance, and every whitened code has identity covariance, so it never changes the
    closed-form minimiser (a warning says so). Without ``trans`` or ``cc`` nothing ties the
    views' codes together (Lemma 7, D.2.3): ``pairing_identified_`` is False and a
    :class:`PairingNotIdentifiedWarning` is issued when a coupling term (cycle, dist_*) was
    asked for.

    ``solver="gradient"`` trains the same linear model with the backend of CoupledSAE
    (:func:`skcosae.backend.train.train_coupled`, Adam, the backend's loss functions) on the
    views, centred, mapped into the chosen metric and rescaled to unit mean variance (which
    leaves every normalised term unchanged); the constraint is built into the encoder,
    ``W_i = S_ii^{-1/2} Q_i`` with ``Q_i`` orthonormal (see :mod:`skcosae.linear._gradient`).
    It handles every combination, including N > 2 views and the distributional terms.

    Rows and pairs: means and ``S_ii`` use every row; cross-covariances use only the paired
    rows. With a partial ``pair_mask`` the closed forms are plug-in solutions (the
    instance-wise terms written with these moments), while the gradient solver averages the
    instance-wise terms over the paired rows of each batch; the two coincide when every row
    is paired.

    Parameters
    ----------
    n_components : int, default=2
        Size ``k`` of the code of every view.
    losses : list of str or dict, default=("rec", "trans", "cc")
        Names (weight 1 each) or a mapping name -> weight, among ``rec``, ``trans``,
        ``cycle``, ``cc``, ``dist_trans``, ``dist_cc``. One weight can be set with
        ``set_params(losses__rec=5.0)``.
    solver : {"closed_form", "gradient"}, default="closed_form"
    metric : {"mahalanobis", "euclidean"}, default="mahalanobis"
        How errors in a view are measured (see above).
    reg : float in [0, 1], default=0.0
        Shrinkage of each covariance towards the identity of the same trace (see
        :class:`CCA`), used by the whitening constraint and the closed forms.
    pair_mask : None, float in (0, 1] or array-like of bool, default=None
        Rows whose pairing is known; the ``pair_mask`` of :meth:`fit` wins.
    max_epochs : int, default=500
        Gradient solver: passes over the data (the last 40% at smaller learning rates).
    batch_size : int or None, default=None
        Gradient solver: rows per step; None is one full batch per step.
    learning_rate : float, default=0.05
        Gradient solver: Adam's initial learning rate.
    n_slices : int, default=64
        Gradient solver: random directions of the sliced ``dist_trans`` term.
    n_init : int, default=1
        Gradient solver: runs from different random encoders; the one with the lowest
        objective on the training data is kept. In the Euclidean metric the problems of
        Lemmas 4 and 6 are non-convex and have local minima.
    random_state : int, RandomState instance or None, default=None
        Seeds the gradient solver and the pair draw of a float ``pair_mask``.
    view_sizes : list of int or int, default=None
    view_names : list, default=None

    Attributes
    ----------
    encoders_, decoders_ : list of ndarray of shape (d_i, n_components)
        ``W_i`` and ``V_i`` (in the original coordinates of each view).
    means_ : list of ndarray of shape (d_i,)
    losses_ : dict
        The loss weights used.
    solution_ : str
        Which closed form was used (or ``"gradient"``).
    pairing_identified_ : bool
        Whether the objective ties the views' codes together (``trans`` or ``cc`` present).
    canonical_correlations_ : ndarray of shape (n_components,) or None
        The canonical correlations when the encoders are CCA's, else None (with
        ``reg > 0``: the correlation of each pair of code columns on the training data).
    variances_ : list of float
        ``v_i``, each view's total variance in the metric.
    objective_ : dict
        Each term (unweighted) and ``"total"`` of the objective on the training data.
    history_ : pandas.DataFrame or None
        Gradient solver: the backend's per-epoch losses.
    n_iter_ : int
        Gradient solver: epochs run (0 for the closed form).
    stop_reason_ : str
        ``"completed"``, or the backend's reason for stopping early.
    n_views_, view_names_, view_sizes_, n_features_in_, n_concepts_, pair_mask_

    See Also
    --------
    MultiViewPCA, CCA, ReducedRankRegression : the single-idea estimators.
    skcosae.CoupledSAE : the sparse, non-linear model.

    Examples
    --------
    >>> import numpy as np
    >>> from skcosae.linear import LinearCoupledAE
    >>> rng = np.random.default_rng(0)
    >>> shared = rng.normal(size=(400, 2))
    >>> Xa = shared @ rng.normal(size=(2, 5)) + 0.3 * rng.normal(size=(400, 5))
    >>> Xb = shared @ rng.normal(size=(2, 4)) + 0.3 * rng.normal(size=(400, 4))
    >>> model = LinearCoupledAE(n_components=2, losses={"rec": 1.0, "trans": 1.0, "cc": 1.0})
    >>> model = model.fit([Xa, Xb])
    >>> model.solution_
    'CCA encoders, Lemma 6 decoders'
    >>> model.canonical_correlations_.round(2)
    array([0.95, 0.85])
    >>> Xb_hat = model.translate(Xa, source=0, target=1)
    >>> Xb_hat.shape
    (400, 4)
    """

    _parameter_constraints: dict = {
        **_VIEW_PARAMS,
        "losses": [list, tuple, dict, str, None],
        "solver": [StrOptions({"closed_form", "gradient"})],
        "metric": [StrOptions({"euclidean", "mahalanobis"})],
        "reg": [Interval(numbers.Real, 0, 1, closed="both")],
        "max_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "n_slices": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_init": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, n_components: int = 2, *, losses: Losses = ("rec", "trans", "cc"),
                 solver: str = "closed_form", metric: str = "mahalanobis", reg: float = 0.0,
                 pair_mask: PairMask = None, max_epochs: int = 500,
                 batch_size: int | None = None, learning_rate: float = 0.05,
                 n_slices: int = 64, n_init: int = 1, random_state: RandomState = None,
                 view_sizes: ViewSizes = None, view_names: ViewNames = None) -> None:
        self.n_components = n_components
        self.losses = losses
        self.solver = solver
        self.metric = metric
        self.reg = reg
        self.pair_mask = pair_mask
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.n_slices = n_slices
        self.n_init = n_init
        self.random_state = random_state
        self.view_sizes = view_sizes
        self.view_names = view_names

    # ------------------------------------------------------------------ checks
    def _weights(self):
        weights = resolve_losses(self.losses)
        return {name: w for name, w in weights.items() if w > 0}

    def _check_losses(self, weights):
        """Errors shared by both solvers: objectives that identify nothing."""
        if set(weights) <= {"dist_cc"}:
            raise ValueError(
                "losses ['dist_cc'] alone: every whitened encoder gives codes of identity "
                "covariance, so the distributional term identifies no encoder (D.2.3). Add "
                "'rec' (or an instance-wise term)."
            )
        if self.metric == "mahalanobis" and not set(weights) & set(_COUPLING) \
                and "dist_trans" not in weights:
            raise ValueError(
                f"losses {sorted(weights)} with metric='mahalanobis': measured with S_ii^-1, "
                "rec and cycle are the same for every k-dimensional subspace (each whitened "
                "view has identity covariance), so nothing is identified. Use "
                "metric='euclidean' (per-view PCA, Lemmas 1 and 7) or add 'trans' or 'cc'."
            )

    # ------------------------------------------------------------------ fitting
    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: MultiViewData, y: ArrayLike | None = None,
            pair_mask: PairMask = None) -> LinearCoupledAE:
        """Minimise the objective on the views.

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
        weights = self._weights()
        mv, mask = self._check_fit_input(X, pair_mask,
                                         needs_pairs=bool(set(weights) & set(_COUPLING)))
        self._check_losses(weights)
        moments = view_moments(mv.views, mask)
        raw_covs = moments.covs
        moments.covs = [shrink(S, self.reg) for S in moments.covs]
        names = [f"View {name!r}" for name in mv.view_names]
        # S^{-1/2} of every view: the Mahalanobis metric and the gradient solver's encoders
        # need it; the Euclidean closed forms do not (PCA only needs its top k variances).
        roots = None
        if self.metric == "mahalanobis" or self.solver == "gradient":
            roots = [psd_power(S, name) for S, name in zip(moments.covs, names)]
        if roots is not None and self.metric == "mahalanobis":
            transforms = list(roots)
            variances = [float(np.trace(R @ S @ R)) for (R, _), S in zip(roots, moments.covs)]
        else:
            transforms = None
            variances = [float(np.trace(S)) for S in moments.covs]
        self._transforms = transforms
        self.variances_ = variances
        self.losses_ = weights
        self.pairing_identified_ = bool(set(weights) & set(_COUPLING))
        self.canonical_correlations_ = None
        self.history_, self.n_iter_, self.stop_reason_ = None, 0, "completed"

        if self.solver == "closed_form":
            encoders, decoders = self._closed_form(weights, moments, mv, names, raw_covs)
        else:
            encoders, decoders = self._gradient(weights, moments, mv, mask, roots)
        if not self.pairing_identified_ and set(weights) & {"cycle", "dist_trans", "dist_cc"}:
            warnings.warn(
                f"losses {sorted(weights)} do not identify which concepts correspond across "
                "views: with no 'trans' or 'cc' term, re-mixing one view's codes by an "
                "invertible (cycle, Lemma 7) or orthogonal (distributional terms, D.2.3) map "
                "leaves the objective unchanged. pairing_identified_ is False.",
                PairingNotIdentifiedWarning,
                stacklevel=3,
            )
        self._store(mv, mask, moments.means, encoders, decoders)
        self.objective_ = self._evaluate(mv.views, mask, encoders, decoders, weights)
        return self

    def _closed_form(self, weights, moments, mv, names, raw_covs):
        core = set(weights) - {"dist_cc"}
        k = self.n_components
        if "dist_trans" in core:
            raise ValueError(
                "losses with 'dist_trans' have no closed form: the sliced ECF distance between "
                "a rank-k translation and the target view trades off against the other terms. "
                "Use solver='gradient'."
            )
        if "dist_cc" in weights:
            warnings.warn(
                "The closed form treats 'dist_cc' at second order: every whitened code has "
                "identity covariance, so for Gaussian codes the term is 0 at every feasible "
                "point and does not change the minimiser. Use solver='gradient' to minimise "
                "the ECF term itself.",
                UserWarning,
                stacklevel=4,
            )
        if core <= {"rec", "cycle"}:
            encoders, decoders = [], []
            for S, name in zip(moments.covs, names):
                W, V, _ = whitened_pca_solution(S, k, name)
                encoders.append(W)
                decoders.append(V)
            self.solution_ = ("per-view PCA (Lemma 7)" if "cycle" in core
                              else "per-view PCA (Lemma 1)")
            return encoders, decoders
        if mv.n_views != 2:
            raise ValueError(
                f"losses {sorted(weights)} on {mv.n_views} views have no closed form: an "
                "encoder is shared by the terms of every other view (SUMCOR, not a single "
                "SVD). Use solver='gradient', or skcosae.linear.CCA (MAXVAR generalised CCA)."
            )
        if core == {"trans"}:
            encoders, decoders = [None, None], [None, None]
            for a, b in ((0, 1), (1, 0)):
                Wa, Vb, gains = reduced_rank_regression(
                    moments.covs[a], moments.covs[b], moments.cross_cov(a, b), k,
                    metric=self.metric, names=(names[a], names[b]))
                encoders[a], decoders[b] = Wa, Vb
            self.solution_ = "reduced-rank regression (Lemma 5)"
            return encoders, decoders
        if "trans" in core and "cycle" in core:
            raise ValueError(
                f"losses {sorted(weights)} have no closed form: 'cycle' is minimised by "
                "self-readout decoders and 'trans' by cross-readouts, and the two trade off. "
                "Use solver='gradient'."
            )
        if self.metric == "euclidean" and core != {"cc"}:
            deviations = [isotropy_deviation(S) for S in moments.covs]
            worst = int(np.argmax(deviations))
            if deviations[worst] > _ISOTROPY_RTOL:
                raise ValueError(
                    f"losses {sorted(weights)} with metric='euclidean' have a closed form "
                    "(CCA encoders, Lemmas 4 and 6) only when each view's covariance is "
                    f"isotropic; {names[worst]} is not (relative deviation "
                    f"{deviations[worst]:.2g}): under whitening the reconstruction and "
                    "translation errors then depend on the encoders, and CCA is not the "
                    "minimiser. Use metric='mahalanobis' (the lemmas' whitened metric), "
                    "whiten the views first, or solver='gradient'."
                )
        Wa, Wb, rho = cca(moments.covs[0], moments.covs[1], moments.cross[(0, 1)], k, names)
        encoders = [Wa, Wb]
        decoders = coupled_readouts(moments, encoders, weights.get("rec", 0.0),
                                    weights.get("trans", 0.0))
        if self.reg > 0:
            # Shrunk singular values are no correlations (they can exceed 1).
            rho = variate_correlations(Wa, Wb, raw_covs[0], raw_covs[1],
                                       moments.cross[(0, 1)])
        self.canonical_correlations_ = rho
        if "trans" in core:
            self.solution_ = "CCA encoders, Lemma 6 decoders"
        elif core == {"cc"}:
            self.solution_ = "CCA (Lemma 3)"
        else:
            self.solution_ = "CCA encoders, Lemma 4 decoders"
        return encoders, decoders

    def _gradient(self, weights, moments, mv, mask, roots):
        from ._gradient import as_numpy_seed, solve_gradient

        views, whiteners, scales = [], [], []
        for i, (x, mean) in enumerate(zip(mv.views, moments.means)):
            T = None if self._transforms is None else self._transforms[i][0]
            y = x - mean if T is None else (x - mean) @ T
            # One scalar per view: unit mean feature variance, so Adam's step means the same
            # for every view; every normalised term is unchanged by it.
            scale = np.sqrt(self.variances_[i] / x.shape[1])
            views.append(y / scale)
            # S^{-1/2} in these coordinates: identity after the Mahalanobis map, else R * s.
            whiteners.append(np.eye(x.shape[1]) if T is not None else roots[i][0] * scale)
            scales.append(scale)
        seed = as_numpy_seed(self.random_state)
        best = None
        for run in range(self.n_init):
            encoders, decoders, history, stop_reason = solve_gradient(
                views, whiteners, self.n_components, weights, mask,
                [float(v.shape[1]) for v in views], max_epochs=self.max_epochs,
                batch_size=self.batch_size, learning_rate=self.learning_rate,
                seed=seed + 7919 * run, n_slices=self.n_slices)
            out_enc, out_dec = [], []
            for i, (W, V, s) in enumerate(zip(encoders, decoders, scales)):
                if self._transforms is None:
                    out_enc.append(W / s)
                    out_dec.append(V * s)
                else:
                    T, T_inv = self._transforms[i]
                    out_enc.append(T @ W / s)
                    out_dec.append(s * (T_inv @ V))
            if self.n_init > 1:
                self.means_ = moments.means  # _evaluate centres with the fitted means
                total = self._evaluate(mv.views, mask, out_enc, out_dec, weights)["total"]
            else:
                total = 0.0
            if best is None or total < best[0]:
                best = (total, out_enc, out_dec, history, stop_reason)
        _, out_enc, out_dec, history, stop_reason = best
        self.solution_ = "gradient"
        self.history_ = pd.DataFrame(history)
        self.n_iter_ = len(history)
        self.stop_reason_ = stop_reason
        if stop_reason != "completed":
            warnings.warn(
                f"The gradient solver stopped early ({stop_reason}); the weights of the last "
                "completed epoch are kept (see history_).",
                UserWarning,
                stacklevel=3,
            )
        return out_enc, out_dec

    # ------------------------------------------------------------------ the objective
    def _evaluate(self, views, mask, encoders, decoders, weights):
        xs, Ws, Vs = [], [], []
        for i, (x, W, V) in enumerate(zip(views, encoders, decoders)):
            xc = x - self.means_[i]
            if self._transforms is None:
                xs.append(xc)
                Ws.append(W)
                Vs.append(V)
            else:
                T, T_inv = self._transforms[i]
                xs.append(xc @ T)
                Ws.append(T_inv @ W)
                Vs.append(T @ V)
        terms = coupled_objective(xs, Ws, Vs, weights, mask, variances=self.variances_)
        if set(weights) & {"dist_trans", "dist_cc"}:
            from ._gradient import dist_terms

            extra = dist_terms(xs, Ws, Vs, weights, n_slices=self.n_slices, seed=0)
            terms.update(extra)
            terms["total"] += sum(weights[name] * value for name, value in extra.items())
        return terms

    def objective(self, X: MultiViewData, pair_mask: PairMask = None,
                  encoders: Sequence[ArrayLike] | None = None,
                  decoders: Sequence[ArrayLike] | None = None) -> dict[str, float]:
        """The documented objective on ``X``, for the fitted maps or for given ones.

        Uses the fitted means, metric and normalisations ``v_i``, so two sets of maps can be
        compared on the same footing (e.g. a closed form against any other feasible point).
        ``dist_trans`` draws its slices from a fixed seed.

        Parameters
        ----------
        X : multi-view input
        pair_mask : None, float or array-like of bool, default=None
            Paired rows of ``X`` for the instance-wise terms; None means every row.
        encoders, decoders : list of ndarray of shape (d_i, n_components), default=None
            Maps to evaluate instead of the fitted ones (the whitening constraint is not
            checked).

        Returns
        -------
        terms : dict
            Each term (unweighted, already normalised) and ``"total"`` (weighted sum).
        """
        check_is_fitted(self)
        mv = self._check_multi(X)
        if pair_mask is not None:
            self._check_pair_mask_argument(pair_mask)
        mask = resolve_pair_mask(pair_mask, mv.n_samples, self.random_state)
        encoders = self.encoders_ if encoders is None else [np.asarray(W, float) for W in encoders]
        decoders = self.decoders_ if decoders is None else [np.asarray(V, float) for V in decoders]
        return self._evaluate(mv.views, mask, encoders, decoders, self.losses_)
