"""The model-independent part of the multi-view estimator surface (DEVELOPERS.md).

:class:`~skcosae.CoupledSAE` and the linear estimators share how they check a fitted
estimator's input, name their code columns, mirror the input form, reconstruct and score;
they differ only in how a view is encoded and decoded.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.utils.validation import check_is_fitted

from ._typing import ArrayLike, MultiViewData, ViewKey
from ._views import (
    LazyView,
    check_single_view,
    check_views,
    chunk_rows,
    frame_of,
    resolve_view,
    scan_view,
)


def _is_view_frame(X):
    """A DataFrame with (view, feature) columns, i.e. several views at once."""
    return isinstance(X, pd.DataFrame) and isinstance(X.columns, pd.MultiIndex)


def _is_multi_view(X):
    return isinstance(X, (list, tuple)) or _is_view_frame(X)


class MultiViewSurfaceMixin:
    """Shared methods of skcosae's multi-view estimators.

    Put it first among the bases (its ``set_output`` replaces scikit-learn's). A subclass
    sets ``view_names_``, ``view_sizes_``, ``n_views_``, ``n_concepts_`` and
    ``feature_names_per_view_`` in ``fit`` and implements, on numpy arrays (``transform``,
    ``inverse_transform`` and ``translate`` are built on them):

    - ``_encode_view(x, i)``: the codes of view ``i`` alone;
    - ``_decode_view(z, i)``: codes decoded into view ``i``;
    - optionally ``_encode_views(views)``, the list of every view's codes, when they are not
      each view's own (a crosscoder's shared code).

    ``_needs_all_views(what)`` may refuse a single-view call (a crosscoder's shared code).

    An estimator that sets ``_streams_input = True`` receives views as
    :class:`~skcosae._views.LazyView` (read in row chunks, float32 kept) and codes that may be
    scipy.sparse CSR matrices; the others receive float64 arrays.
    """

    _streams_input = False
    # Set by the estimator: its parameters and, once fitted, these attributes.
    view_sizes: Any
    view_names: Any
    view_names_: list
    view_sizes_: list
    n_views_: int
    n_concepts_: int
    feature_names_per_view_: list

    def _encode_view(self, x: Any, i: int) -> Any:
        raise NotImplementedError  # each estimator encodes its own way

    def _decode_view(self, z: Any, i: int) -> Any:
        raise NotImplementedError

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Passes scikit-learn's class keywords (auto_wrap_output_keys) on to its mixins.
        super().__init_subclass__(**kwargs)

    def set_output(self, *, transform: str | None = None) -> Any:
        """Output container of :meth:`transform`: ``"default"`` (mirror the input) or ``"pandas"``.

        With ``"pandas"``, multi-view codes come back as a frame with (view, concept) columns
        and single-view codes as a frame with concept columns.
        """
        if transform is None:
            return self
        if transform not in ("default", "pandas"):
            raise ValueError(
                f"set_output(transform={transform!r}) is not supported; use 'default' or 'pandas'."
            )
        if not hasattr(self, "_sklearn_output_config"):
            self._sklearn_output_config = {}
        self._sklearn_output_config["transform"] = transform
        return self

    def _pandas_output(self):
        return getattr(self, "_sklearn_output_config", {}).get("transform") == "pandas"

    def _concept_names(self):
        return [f"concept{j}" for j in range(self.n_concepts_)]

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the code columns, ``concept0`` to ``concept{n_concepts_ - 1}``."""
        check_is_fitted(self)
        return np.asarray(self._concept_names(), dtype=object)

    def _check_multi(self, X):
        return check_views(X, view_sizes=self.view_sizes, view_names=self.view_names,
                           expected_widths=self.view_sizes_,
                           expected_view_names=self.view_names_,
                           estimator_name=type(self).__name__, lazy=self._streams_input,
                           when="calling transform")

    def _check_one(self, X, view, what="transform"):
        i = resolve_view(view, self.view_names_)
        if _is_view_frame(X):
            raise ValueError(
                f"{what}(X, view={view!r}) takes one view's data; got a multi-view frame. "
                f"Pass X[{self.view_names_[i]!r}] or call {what}(X) for every view."
            )
        arr, index = check_single_view(X, view_name=self.view_names_[i],
                                       n_features=self.view_sizes_[i],
                                       lazy=self._streams_input, when=f"calling {what}")
        return i, arr, index

    def _single_output(self, values, index, like_frame, columns):
        if like_frame or self._pandas_output():
            return frame_of(values, index, columns)
        return values

    def _check_codes(self, Z):
        """Codes for :meth:`inverse_transform`: one matrix per view, dense or sparse."""
        if isinstance(Z, (list, tuple)) and any(sp.issparse(z) for z in Z):
            if len(Z) != self.n_views_:
                raise ValueError(
                    f"The estimator was fitted on {self.n_views_} views; got {len(Z)} code "
                    "matrices."
                )
            codes = [check_single_view(z, view_name=f"codes of view {name!r}",
                                       n_features=self.n_concepts_, accept_sparse=True)[0]
                     for name, z in zip(self.view_names_, Z)]
            rows = {z.shape[0] for z in codes}
            if len(rows) > 1:
                raise ValueError(f"The code matrices have different row counts: {sorted(rows)}.")
            return codes, type(Z)
        return None, None

    def _needs_all_views(self, what):
        """Raise when ``what`` cannot work from one view alone (nothing to refuse here)."""

    def _encode_views(self, views):
        return [self._encode_view(x, i) for i, x in enumerate(views)]

    def _reconstruct_views(self, views):
        return [self._decode_view(z, i) for i, z in enumerate(self._encode_views(views))]

    def transform(self, X: Any, view: ViewKey | None = None) -> Any:
        """Codes of the views, each view through its own encoder.

        Parameters
        ----------
        X : multi-view input, or one view's 2-D data when ``view`` is given
        view : int or view name, default=None
            Encode only this view.

        Returns
        -------
        codes : list of ndarray of shape (n_samples, n_concepts), in the form of ``X``
            (a frame with (view, concept) columns for frame input); one array when ``view``
            is given.
        """
        check_is_fitted(self)
        if view is not None:
            self._needs_all_views(f"transform(X, view={view!r})")
            i, arr, index = self._check_one(X, view)
            return self._single_output(self._encode_view(arr, i), index,
                                       isinstance(X, pd.DataFrame), self._concept_names())
        mv = self._check_multi(X)
        codes = self._encode_views(mv.views)
        if self._pandas_output():
            mv.form = "frame"
        return mv.mirror(codes, self._concept_names())

    def inverse_transform(self, Z: Any, view: ViewKey | None = None) -> Any:
        """Decode codes back into the views.

        Parameters
        ----------
        Z : ndarray of shape (n_samples, n_concepts) when ``view`` is given, else one code
            array per view (list, tuple or frame, as :meth:`transform` returns them)
        view : int or view name, default=None

        Returns
        -------
        X_hat : the decoded view(s), in the form of ``Z``.
        """
        check_is_fitted(self)
        if view is not None:
            i = resolve_view(view, self.view_names_)
            arr, index = check_single_view(Z, view_name=f"codes of view {self.view_names_[i]!r}",
                                           n_features=self.n_concepts_,
                                           accept_sparse=self._streams_input)
            return self._single_output(self._decode_view(arr, i), index,
                                       isinstance(Z, pd.DataFrame),
                                       self.feature_names_per_view_[i])
        codes, container = self._check_codes(Z)
        if codes is not None:
            return container(self._decode_view(z, i) for i, z in enumerate(codes))
        mv = check_views(Z, view_names=None if isinstance(Z, pd.DataFrame) else self.view_names_,
                         expected_widths=[self.n_concepts_] * self.n_views_,
                         lazy=self._streams_input)
        outs = [self._decode_view(z, i) for i, z in enumerate(mv.views)]
        return mv.mirror(outs, self.feature_names_per_view_)

    def translate(self, X: Any, source: ViewKey, target: ViewKey) -> Any:
        """Translate view ``source`` into view ``target``: ``D_target(E_source(x))``.

        Parameters
        ----------
        X : the source view's 2-D data, or a multi-view input (its source view is used;
            a shared-mode crosscoder uses every view)
        source, target : int or view name

        Returns
        -------
        X_target : ndarray of shape (n_samples, n_features of target)
            A DataFrame when ``X`` is one.
        """
        check_is_fitted(self)
        s = resolve_view(source, self.view_names_)
        t = resolve_view(target, self.view_names_)
        if _is_multi_view(X):
            mv = self._check_multi(X)
            codes = self._encode_views(mv.views)[s]
            index, like_frame = mv.index, mv.form == "frame"
        else:
            self._needs_all_views("translate(X_source, ...)")
            s, arr, index = self._check_one(X, source, what="translate")
            codes = self._encode_view(arr, s)
            like_frame = isinstance(X, pd.DataFrame)
        out = self._decode_view(codes, t)
        if like_frame:
            return pd.DataFrame(out, index=index, columns=self.feature_names_per_view_[t])
        return out

    def reconstruct(self, X: MultiViewData) -> Any:
        """``inverse_transform(transform(X))``: each view through its own encoder and decoder."""
        return self.inverse_transform(self.transform(X))

    def score(self, X: MultiViewData, y: ArrayLike | None = None) -> float:
        """InterVenchA's S_align when ``y`` is given, else the mean reconstruction R^2.

        Parameters
        ----------
        X : multi-view input
        y : array-like of shape (n_samples,), default=None
            Class labels shared by the views.

        Returns
        -------
        score : float
        """
        check_is_fitted(self)
        if y is not None:
            from .metrics import intervencha_score

            return intervencha_score(self, X, y, aggregate="S_align")
        mv = self._check_multi(X)
        views = [v if isinstance(v, LazyView) else LazyView(v, name)
                 for v, name in zip(mv.views, mv.view_names)]
        # Streamed: the spread of each view in one pass, then its errors chunk by chunk.
        totals = [view.shape[0] * float(scan_view(view, "calling score")[1].sum())
                  for view in views]
        errors = np.zeros(len(views))
        step = chunk_rows(max(sum(mv.view_sizes), getattr(self, "n_concepts_", 1)))
        for start in range(0, mv.n_samples, step):
            stop = min(start + step, mv.n_samples)
            chunk = [view.rows(start, stop) for view in views]
            for i, (x, x_hat) in enumerate(zip(chunk, self._reconstruct_views(chunk))):
                errors[i] += float(((x - x_hat) ** 2).sum(dtype=np.float64))
        return float(np.mean([1.0 - e / max(t, 1e-300) for e, t in zip(errors, totals)]))
