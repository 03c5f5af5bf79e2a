"""What every linear estimator shares: the multi-view surface of DEVELOPERS.md.

A fitted linear estimator holds, per view, a mean ``mu_i``, an encoder ``W_i`` (d_i, k) and a
decoder ``V_i`` (d_i, k): ``E_i(x) = W_i^T (x - mu_i)``, ``D_i(z) = V_i z + mu_i``. Subclasses
compute them in ``_solve``; input checks and output mirroring go through
:mod:`skcosae._views`, as for :class:`~skcosae.CoupledSAE`.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._compat import Interval, validate_parameter_constraints
from .._surface import MultiViewSurfaceMixin
from .._views import check_views, resolve_pair_mask

_VIEW_PARAMS = {
    "n_components": [Interval(numbers.Integral, 1, None, closed="left")],
    "pair_mask": ["array-like", Interval(numbers.Real, 0, 1, closed="right"), None],
    "view_sizes": ["array-like", Interval(numbers.Integral, 2, None, closed="left"), None],
    "view_names": ["array-like", None],
}


# mypy resolves __init_subclass__ on the mixin (object's), not on scikit-learn's untyped
# TransformerMixin that takes auto_wrap_output_keys.
class _LinearViews(MultiViewSurfaceMixin, TransformerMixin, BaseEstimator,
                   auto_wrap_output_keys=None):
    """Base class: fit bookkeeping, transform, inverse_transform, translate, reconstruct."""

    #: Whether the solution needs paired rows (instance-wise coupling).
    _needs_pairs = False

    # ------------------------------------------------------------------ fitting helpers
    def _check_fit_input(self, X, pair_mask, needs_pairs=None):
        mv = check_views(X, view_sizes=self.view_sizes, view_names=self.view_names,
                         estimator_name=type(self).__name__)
        if pair_mask is None:
            pair_mask = self.pair_mask
        else:
            self._check_pair_mask_argument(pair_mask)
        mask = resolve_pair_mask(pair_mask, mv.n_samples, getattr(self, "random_state", None))
        needs_pairs = self._needs_pairs if needs_pairs is None else needs_pairs
        if needs_pairs and not mask.any():
            raise ValueError(
                f"pair_mask marks no row as paired, but {type(self).__name__} needs pairs to "
                "couple the views; pass a mask with at least one True row."
            )
        k = self.n_components
        for name, v in zip(mv.view_names, mv.views):
            if k > v.shape[1]:
                raise ValueError(
                    f"n_components={k} exceeds the {v.shape[1]} feature(s) of view {name!r}; "
                    f"lower n_components to at most {min(mv.view_sizes)}."
                )
        if mv.n_samples < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 samples to estimate covariances; "
                f"got n_samples={mv.n_samples}."
            )
        return mv, mask

    def _check_pair_mask_argument(self, pair_mask):
        # A method's pair_mask meets the constructor's constraint: one message for both.
        validate_parameter_constraints(
            {"pair_mask": self._parameter_constraints["pair_mask"]}, {"pair_mask": pair_mask},
            caller_name=type(self).__name__)

    def _store(self, mv, mask, means, encoders, decoders):
        self.n_views_ = mv.n_views
        self.view_names_ = list(mv.view_names)
        self.view_sizes_ = list(mv.view_sizes)
        self.feature_names_per_view_ = [list(f) for f in mv.feature_names]
        self.n_features_in_ = int(sum(mv.view_sizes))
        self.n_concepts_ = int(encoders[0].shape[1])
        self.pair_mask_ = mask
        self.means_ = [np.asarray(m, dtype=float) for m in means]
        self.encoders_ = [np.asarray(W, dtype=float) for W in encoders]
        self.decoders_ = [np.asarray(V, dtype=float) for V in decoders]

    # ------------------------------------------------------------------ output settings
    @property
    def dictionaries_(self) -> list[np.ndarray]:
        """One (n_components, d_i) array per view: row c is concept c's decoder atom."""
        check_is_fitted(self)
        return [V.T.copy() for V in self.decoders_]

    # ------------------------------------------------------------------ the surface
    def _encode_view(self, x, i):
        return (x - self.means_[i]) @ self.encoders_[i]

    def _decode_view(self, z, i):
        return z @ self.decoders_[i].T + self.means_[i]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.target_tags.required = False
        return tags
