"""The one input layer of skcosae: multi-view data in, multi-view data out.

Every estimator, scorer and dataset helper goes through this module, so that a
list of arrays, a two-level-column DataFrame and a 2-D array with ``view_sizes``
are checked the same way and give the same errors.

Three input forms are accepted (docs: Getting started):

- a list or tuple of 2-D arrays ``[X_1, ..., X_N]``, one per view, same rows;
- a :class:`pandas.DataFrame` whose columns have two levels ``(view, feature)``,
  as built by :func:`as_frame` (this is the form scikit-learn's model selection
  can split by rows);
- a single 2-D array together with ``view_sizes`` (a list of widths, or an int
  ``N`` for ``N`` contiguous blocks of nearly equal width).

Outputs mirror the input form: list in, list out; frame in, frame out.
"""

from __future__ import annotations

import difflib
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.utils import check_random_state

from ._typing import ArrayLike, ViewNames

__all__ = [
    "CHUNK_ROWS",
    "LazyView",
    "MultiView",
    "as_frame",
    "check_views",
    "chunk_rows",
    "check_single_view",
    "resolve_pair_mask",
    "resolve_view",
    "scan_view",
    "split_columns",
]

# Rows read at a time by the streaming passes (statistics, scoring): at most this many
# values per chunk (4 MiB of float32), so that a pass's memory does not grow with the data.
CHUNK_VALUES = 2**20
CHUNK_ROWS = 8192


def chunk_rows(width):
    """Rows per chunk of a view of ``width`` features (at most :data:`CHUNK_ROWS`)."""
    return max(64, min(CHUNK_ROWS, CHUNK_VALUES // max(int(width), 1)))


def frame_of(values, index, columns):
    """A DataFrame of dense or scipy.sparse ``values`` (sparse columns stay sparse)."""
    if sp.issparse(values):
        frame = pd.DataFrame.sparse.from_spmatrix(values, columns=columns)
        if index is not None:
            frame.index = index
        return frame
    return pd.DataFrame(values, index=index, columns=columns)


def _float_dtype(dtype):
    """The float dtype a view is computed in: float32 stays float32, the rest float64."""
    dtype = np.dtype(dtype)
    if dtype.kind == "c":
        raise ValueError("Complex data not supported; pass real-valued features.")
    if dtype.kind not in "fiub":
        raise TypeError(f"must be numeric; got dtype {dtype}.")
    return np.dtype(np.float32) if dtype in (np.float32, np.float16) else np.dtype(np.float64)


def _is_lazy_array(X):
    """Whether ``X`` can be read in row chunks as it is (shape, dtype and row slicing)."""
    if isinstance(X, (pd.DataFrame, pd.Series, list, tuple)) or hasattr(X, "toarray"):
        return False
    shape, dtype = getattr(X, "shape", None), getattr(X, "dtype", None)
    if shape is None or dtype is None or not hasattr(X, "__getitem__"):
        return False
    try:
        np.dtype(dtype)
    except TypeError:  # e.g. a torch dtype
        return False
    return True


class LazyView:
    """One view read in row chunks, never copied whole.

    Wraps any array-like with ``shape``, ``dtype`` and row slicing (numpy arrays and
    memmaps, h5py datasets, zarr arrays), optionally a block of its columns (a 2-D array
    split by ``view_sizes``). Rows come back as C-contiguous arrays of :attr:`dtype`:
    float32 stays float32, other real dtypes become float64.

    Parameters
    ----------
    source : array-like of shape (n_samples, n_columns)
    name : object
        The view's name, used in error messages.
    columns : slice, default=None
        The view's columns of ``source`` (all when None).
    """

    def __init__(self, source, name, columns=None):
        shape = tuple(source.shape)
        if len(shape) != 2:
            raise ValueError(
                f"View {name!r} must be a 2-D array of shape (n_samples, n_features); got "
                f"{len(shape)} dimension(s) with shape {shape}."
            )
        try:
            self.dtype = _float_dtype(source.dtype)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"View {name!r}: {exc}") from None
        self.source, self.name, self.columns = source, name, columns
        width = shape[1] if columns is None else len(range(*columns.indices(shape[1])))
        self.shape = (int(shape[0]), int(width))

    def __len__(self):
        return self.shape[0]

    @property
    def in_memory(self):
        """Whether the rows already live in this process's memory (not a memmap or a file)."""
        return isinstance(self.source, np.ndarray) and not isinstance(self.source, np.memmap)

    @property
    def nbytes(self):
        return self.shape[0] * self.shape[1] * self.dtype.itemsize

    def _convert(self, block, writable=True):
        block = np.asarray(block)
        if self.columns is not None:
            block = block[:, self.columns]
        block = np.ascontiguousarray(block, dtype=self.dtype)
        if writable and not block.flags.writeable:
            # A chunk of a read-only memmap: torch tensors need memory they could write.
            block = block.copy()
        return block

    def rows(self, start, stop):
        """Rows ``start:stop`` as a writable array of :attr:`dtype`."""
        return self._convert(self.source[start:stop])

    def take(self, index, dtype=None):
        """Rows ``index`` (sorted, unique) as a new array of ``dtype`` (default
        :attr:`dtype`), read straight into it."""
        dtype = self.dtype if dtype is None else dtype
        return self.take_into(index, np.empty((len(index), self.shape[1]), dtype=dtype))

    def take_into(self, index, out):
        """Write rows ``index`` (sorted, unique) into ``out``, converted to its dtype.

        A file is read as few contiguous runs as possible, each straight into its place in
        ``out``: no temporary of the whole block, so that a buffer refilled many times does
        not fragment the heap.
        """
        index = np.asarray(index, dtype=np.int64)
        if len(index) == 0:
            return out
        if self.in_memory:
            # Rows and columns in one indexing: no temporary of the source's full width.
            out[...] = (self.source[index] if self.columns is None
                        else self.source[index, self.columns])
            return out
        breaks = np.flatnonzero(np.diff(index) != 1) + 1
        for a, b in zip(np.concatenate([[0], breaks]), np.concatenate([breaks, [len(index)]])):
            block = self.source[int(index[a]):int(index[b - 1]) + 1]
            out[a:b] = block if self.columns is None else np.asarray(block)[:, self.columns]
        return out

    def chunks(self, rows=None):
        """``(start, rows)`` for consecutive row chunks (of :func:`chunk_rows` rows)."""
        step = rows or chunk_rows(self.shape[1])
        for start in range(0, self.shape[0], step):
            yield start, self.rows(start, min(start + step, self.shape[0]))

    def array(self):
        """The whole view in memory (no copy for an in-memory array of its dtype), which
        may be read-only."""
        return self._convert(self.source[0:self.shape[0]], writable=False)


def check_finite_rows(block, name, start, when):
    """Raise a ValueError naming the view and the first bad rows if ``block`` has NaN/inf."""
    finite = np.isfinite(block)
    if finite.all():
        return
    bad = np.flatnonzero(~finite.all(axis=1))
    raise ValueError(
        f"View {name!r} contains NaN or infinity in {len(bad)} row(s) of rows "
        f"{start}-{start + len(block) - 1} (first bad row: {start + int(bad[0])}); "
        f"impute or drop them before {when}."
    )


def scan_view(view, when="fitting", rows=None):
    """One streaming pass over a view: its feature means and variances, checking finiteness.

    Chunks are combined with Chan et al.'s pairwise update, in float64, so that a large
    mean does not cancel the variance.

    Parameters
    ----------
    view : LazyView
    when : str
        Named in the error for NaN or infinity ("fitting", "transform", ...).

    Returns
    -------
    mean, var : ndarray of shape (n_features,), float64
        The biased (``ddof=0``) variance.
    """
    n = 0
    mean = np.zeros(view.shape[1])
    m2 = np.zeros(view.shape[1])
    for start, block in view.chunks(rows):
        check_finite_rows(block, view.name, start, when)
        b = len(block)
        block_mean = block.mean(0, dtype=np.float64)
        # Deviations in the view's own dtype, squares summed in float64: one temporary of
        # the chunk's size, however large the mean.
        deviation = block - block_mean.astype(block.dtype)
        block_m2 = np.square(deviation, out=deviation).sum(0, dtype=np.float64)
        delta = block_mean - mean
        total = n + b
        mean = mean + delta * (b / total)
        m2 = m2 + block_m2 + delta**2 * (n * b / total)
        n = total
    return mean, m2 / max(n, 1)


@dataclass
class MultiView:
    """Validated multi-view data and what is needed to mirror outputs.

    Attributes
    ----------
    views : list of ndarray of shape (n_samples, n_features_i)
        One float array per view, C-contiguous.
    form : {"list", "tuple", "frame", "array"}
        The form the data came in.
    view_names : list
        One name per view (ints ``0..N-1`` unless the input named them).
    feature_names : list of list of str
        Column names of each view.
    index : pandas.Index or None
        Row index of a frame input, kept for frame outputs.
    """

    views: list
    form: str
    view_names: list
    feature_names: list
    index: Any = None
    view_sizes: list = field(default_factory=list)
    frame_views: list = field(default_factory=list)  # views given as DataFrames in a list

    @property
    def n_views(self):
        return len(self.views)

    @property
    def n_samples(self):
        return self.views[0].shape[0]

    def _as_frame(self, values, columns):
        return frame_of(values, self.index, columns)

    def mirror(self, outputs, column_names):
        """Return per-view ``outputs`` in the form the input came in.

        Parameters
        ----------
        outputs : list of ndarray of shape (n_samples, n_columns_i)
            One array per view.
        column_names : list of str or list of list of str
            Column names, shared by every view (list of str) or one list per view.
        """
        if column_names and isinstance(column_names[0], str):
            column_names = [list(column_names)] * len(outputs)
        for name, out, names in zip(self.view_names, outputs, column_names):
            if out.shape[1] != len(names):
                raise ValueError(
                    f"View {name!r}: output has {out.shape[1]} columns for "
                    f"{len(names)} names."
                )
        if self.form in ("list", "tuple"):
            # A view given as a DataFrame comes back as one, with its index.
            outputs = [self._as_frame(out, names) if framed else out
                       for out, names, framed in zip(
                           outputs, column_names,
                           self.frame_views or [False] * len(outputs))]
            return list(outputs) if self.form == "list" else tuple(outputs)
        sparse = any(sp.issparse(out) for out in outputs)
        if self.form == "array":
            return sp.hstack(outputs, format="csr") if sparse else np.hstack(outputs)
        columns = pd.MultiIndex.from_tuples(
            [(v, c) for v, names in zip(self.view_names, column_names) for c in names],
            names=["view", "feature"],
        )
        stacked = sp.hstack(outputs, format="csr") if sparse else np.hstack(outputs)
        return frame_of(stacked, self.index, columns)


def _as_float_array(X, what, dtype, allow_nan=False, when="fitting"):
    """2-D float array from array-like ``X``, with an error naming ``what``."""
    if hasattr(X, "toarray") or type(X).__module__.startswith("scipy.sparse"):
        raise TypeError(f"{what}: sparse input is not supported; pass a dense array.")
    try:
        arr = np.asarray(X)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{what} could not be converted to an array: {exc}") from exc
    if arr.dtype.kind == "c":
        raise ValueError(f"{what}: Complex data not supported; pass real-valued features.")
    if dtype is None:  # keep float32, else float64
        dtype = np.float32 if arr.dtype in (np.float32, np.float16) else np.float64
    if arr.dtype.kind in "OUSV":
        try:
            arr = arr.astype(dtype)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{what} must be numeric; got dtype {arr.dtype}: {exc}") from exc
    if arr.ndim != 2:
        raise ValueError(
            f"{what} must be a 2-D array of shape (n_samples, n_features); "
            f"got {arr.ndim} dimension(s) with shape {arr.shape}. "
            "Reshape your data, e.g. with X.reshape(-1, 1) for a single feature."
        )
    arr = np.ascontiguousarray(arr, dtype=dtype)
    if arr.shape[0] == 0:
        raise ValueError(
            f"{what} has 0 sample(s) (shape={arr.shape}) while a minimum of 1 is required."
        )
    if arr.shape[1] == 0:
        raise ValueError(
            f"{what} has 0 feature(s) (shape={arr.shape}) while a minimum of 1 is required."
        )
    if not allow_nan and not np.isfinite(arr).all():
        n_bad = int((~np.isfinite(arr)).any(axis=1).sum())
        raise ValueError(
            f"{what} contains NaN or infinity in {n_bad} row(s); "
            f"impute or drop them before {when}."
        )
    return arr


def _frame_views(frame):
    if not isinstance(frame.columns, pd.MultiIndex) or frame.columns.nlevels != 2:
        raise ValueError(
            "A DataFrame input must have two column levels (view, feature), "
            f"got {frame.columns.nlevels} level(s). Build one with "
            "skcosae.as_frame([X_1, X_2, ...]) or pass a list of arrays."
        )
    view_names = list(dict.fromkeys(frame.columns.get_level_values(0)))
    blocks, feature_names = [], []
    for name in view_names:
        block = frame.loc[:, frame.columns.get_level_values(0) == name]
        blocks.append(block.to_numpy())
        feature_names.append([str(c) for c in block.columns.get_level_values(1)])
    return blocks, view_names, feature_names


def _is_list_of_rows(X):
    # A list of 1-D rows (e.g. ndarray.tolist()) is one 2-D array, not a list of views.
    return len(X) > 0 and all(np.ndim(row) == 1 for row in X)


def split_columns(n_features, view_sizes):
    """Column widths of each view from ``view_sizes`` (list of widths or int N)."""
    if isinstance(view_sizes, numbers.Integral) and not isinstance(view_sizes, bool):
        n = int(view_sizes)
        if n < 2:
            raise ValueError(f"view_sizes={n} asks for fewer than 2 views; at least 2 are needed.")
        if n > n_features:
            raise ValueError(
                f"view_sizes={n} asks for {n} views but X has only n_features={n_features} "
                "column(s)."
            )
        return [len(b) for b in np.array_split(np.arange(n_features), n)]
    try:
        sizes = [int(s) for s in view_sizes]
    except TypeError as exc:
        raise ValueError(
            f"view_sizes must be a list of positive ints or an int; got {view_sizes!r}."
        ) from exc
    if any(s <= 0 for s in sizes):
        raise ValueError(f"view_sizes must be positive; got {sizes}.")
    if sum(sizes) != n_features:
        raise ValueError(
            f"view_sizes {sizes} sum to {sum(sizes)} but X has {n_features} columns."
        )
    return sizes


def check_views(
    X,
    *,
    view_sizes=None,
    view_names=None,
    min_views=2,
    expected_widths=None,
    expected_view_names=None,
    dtype=np.float64,
    allow_nan=False,
    estimator_name="it",
    lazy=False,
    when="fitting",
):
    """Validate multi-view input and return a :class:`MultiView`.

    Parameters
    ----------
    X : list or tuple of array-like, DataFrame with two column levels, or 2-D array
        The views. A 2-D array needs ``view_sizes``.
    view_sizes : list of int or int, default=None
        Widths of the views when ``X`` is a single 2-D array (an int ``N`` splits
        the columns into ``N`` contiguous blocks of nearly equal width).
    view_names : list, default=None
        Names of the views; default: frame's first column level, else ``0..N-1``.
    min_views : int, default=2
        Fewest views accepted.
    expected_widths : list of int, default=None
        Widths seen at fit; a mismatch is an error naming the view.
    expected_view_names : list, default=None
        View names seen at fit, checked for frames.
    dtype : numpy dtype or None, default=np.float64
        Dtype of the returned arrays; None keeps float32 views float32 (others float64).
    allow_nan : bool, default=False
        Whether NaN/inf are let through.
    estimator_name : str, default="it"
        Named in the error for a 2-D array of the wrong width.
    when : str, default="fitting"
        What the data are checked for ("fitting", "calling transform"), named in the error
        for NaN or infinity.
    lazy : bool, default=False
        Return each view as a :class:`LazyView` (read in row chunks, never copied; float32
        stays float32) instead of an array. Shapes, dtypes and widths are checked here;
        NaN and infinity are left to the streaming passes (:func:`scan_view`,
        :func:`check_finite_rows`), and ``dtype`` is ignored.

    Returns
    -------
    MultiView
    """
    index = None
    frame_views = []
    if (isinstance(X, pd.DataFrame) and view_sizes is not None
            and not isinstance(X.columns, pd.MultiIndex)):
        # A flat frame split by view_sizes, like the same 2-D array; output mirrors it.
        form = "frame"
        index = X.index
        arr = _as_float_array(X, "X", None if lazy else dtype, allow_nan=lazy or allow_nan,
                              when=when)
        sizes = split_columns(arr.shape[1], view_sizes)
        edges = np.cumsum([0] + sizes)
        blocks = [arr[:, a:b] for a, b in zip(edges[:-1], edges[1:])]
        columns = [str(c) for c in X.columns]
        feature_names = [columns[a:b] for a, b in zip(edges[:-1], edges[1:])]
    elif isinstance(X, pd.DataFrame):
        form = "frame"
        blocks, names, feature_names = _frame_views(X)
        index = X.index
        if view_names is None:
            view_names = names
    elif isinstance(X, (list, tuple)) and not (view_sizes is not None and _is_list_of_rows(X)):
        form = "tuple" if isinstance(X, tuple) else "list"
        blocks = list(X)
        if len(blocks) and all(isinstance(b, numbers.Number) for b in blocks):
            raise ValueError(
                "X looks like a single row of numbers; multi-view input is a list of "
                "2-D arrays, one per view."
            )
        feature_names = [None] * len(blocks)
        frame_views = [isinstance(b, pd.DataFrame) for b in blocks]
        for i, b in enumerate(blocks):
            if isinstance(b, pd.DataFrame):
                feature_names[i] = [str(c) for c in b.columns]
                if index is None:
                    index = b.index
    elif view_sizes is not None:
        form = "array"
        in_place = lazy and _streamable(X)  # read in place, column block by column block
        if in_place:
            arr = X
        else:
            # Lazy views keep float32 and leave NaN to the streaming passes.
            arr = (_as_float_array(X, "X", None, allow_nan=True) if lazy
                   else _as_float_array(X, "X", dtype, allow_nan, when))
        if expected_widths is not None and arr.shape[1] != sum(expected_widths):
            raise ValueError(
                f"X has {arr.shape[1]} features, but {estimator_name} is expecting "
                f"{sum(expected_widths)} features as input (views of widths "
                f"{list(expected_widths)})."
            )
        sizes = split_columns(arr.shape[1], view_sizes)
        edges = np.cumsum([0] + sizes)
        blocks = [(arr, slice(int(a), int(b))) if in_place else arr[:, a:b]
                  for a, b in zip(edges[:-1], edges[1:])]
        feature_names = [None] * len(blocks)
    else:
        shape = getattr(X, "shape", None)
        raise ValueError(
            "Multi-view input must be a list of 2-D arrays (one per view), a DataFrame "
            "with two column levels (view, feature) (see skcosae.as_frame), or a 2-D "
            f"array with view_sizes; got {type(X).__name__}"
            + (f" of shape {shape}" if shape is not None else "")
            + " without view_sizes."
        )

    if len(blocks) < min_views:
        raise ValueError(
            f"Got {len(blocks)} view(s); at least {min_views} views are needed to align "
            "representations."
        )
    if view_names is None:
        view_names = list(range(len(blocks)))
    view_names = list(view_names)
    if len(view_names) != len(blocks):
        raise ValueError(
            f"view_names has {len(view_names)} names for {len(blocks)} views."
        )
    if len(set(view_names)) != len(view_names):
        raise ValueError(f"view_names must be unique; got {view_names}.")

    views = []
    for name, b in zip(view_names, blocks):
        if lazy:
            views.append(_lazy_view(b, name))
        else:
            views.append(_as_float_array(b, f"View {name!r}", dtype, allow_nan, when))
    n_rows = [v.shape[0] for v in views]
    if len(set(n_rows)) > 1:
        detail = ", ".join(f"view {n!r}: {r}" for n, r in zip(view_names, n_rows))
        raise ValueError(
            f"All views must have the same number of rows (row r is the same data point "
            f"in every view); got {detail}."
        )
    if expected_widths is not None:
        if len(expected_widths) != len(views):
            raise ValueError(
                f"The estimator was fitted on {len(expected_widths)} views; got {len(views)}."
            )
        for name, v, w in zip(view_names, views, expected_widths):
            if v.shape[1] != w:
                raise ValueError(
                    f"View {name!r} has {v.shape[1]} features, but the estimator was "
                    f"fitted with {w} features for this view."
                )
    if expected_view_names is not None and form == "frame":
        if [str(v) for v in view_names] != [str(v) for v in expected_view_names]:
            raise ValueError(
                f"The frame's views {view_names} differ from those seen at fit "
                f"{list(expected_view_names)}."
            )
    feature_names = [
        names if names is not None else [f"x{j}" for j in range(v.shape[1])]
        for names, v in zip(feature_names, views)
    ]
    return MultiView(
        views=views,
        form=form,
        view_names=view_names,
        feature_names=feature_names,
        index=index,
        view_sizes=[v.shape[1] for v in views],
        frame_views=frame_views,
    )


def _streamable(X):
    """Whether ``X`` can be wrapped as it is: a 2-D, non-empty array-like of real numbers."""
    if not _is_lazy_array(X):
        return False
    shape = tuple(X.shape)
    return (np.dtype(X.dtype).kind in "fiub" and len(shape) == 2
            and shape[0] > 0 and shape[1] > 0)


def _lazy_view(block, name):
    """A :class:`LazyView` of one block: array-likes as they are, the rest through numpy."""
    if isinstance(block, tuple):  # (2-D source, column slice) of an array split by view_sizes
        return LazyView(block[0], name, columns=block[1])
    if _streamable(block):
        return LazyView(block, name)
    # Anything else is in memory already: check it as a dense array, float32 kept.
    return LazyView(_as_float_array(block, f"View {name!r}", None, allow_nan=True), name)


def check_single_view(X, *, view_name, n_features=None, dtype=np.float64, allow_nan=False,
                      lazy=False, accept_sparse=False, when="fitting"):
    """Validate one view's data (e.g. the source of :meth:`translate`).

    With ``lazy``, the data come back as a :class:`LazyView` (NaN and infinity are left to
    the streaming passes); with ``accept_sparse``, a scipy.sparse matrix (codes) comes back
    as CSR, its float dtype kept. Returns the data and the frame index (or None).
    """
    index = X.index if isinstance(X, (pd.DataFrame, pd.Series)) else None
    if isinstance(X, pd.DataFrame) and isinstance(X.columns, pd.MultiIndex):
        raise ValueError(
            f"View {view_name!r}: expected one view's columns, got a frame with "
            f"{X.columns.nlevels} column levels; select the view first (frame[{view_name!r}])."
        )
    if accept_sparse and sp.issparse(X):
        arr = _check_sparse(X, view_name, allow_nan)
    elif lazy:
        arr = _lazy_view(X, view_name)
    else:
        arr = _as_float_array(X, f"View {view_name!r}", dtype, allow_nan, when)
    if n_features is not None and arr.shape[1] != n_features:
        raise ValueError(
            f"View {view_name!r} has {arr.shape[1]} features, but the estimator was "
            f"fitted with {n_features} features for this view."
        )
    return arr, index


def _check_sparse(X, name, allow_nan=False):
    """A scipy.sparse matrix as 2-D CSR of float32 or float64, checked like dense input."""
    if X.ndim != 2:
        raise ValueError(f"View {name!r} must be 2-D; got shape {X.shape}.")
    X = X.tocsr()
    dtype = _float_dtype(X.dtype)
    if X.dtype != dtype:
        X = X.astype(dtype)
    if not allow_nan and not np.isfinite(X.data).all():
        raise ValueError(f"View {name!r} contains NaN or infinity in its stored values.")
    return X


def resolve_view(view, view_names):
    """Position of ``view`` (a position or a name) among ``view_names``."""
    names = list(view_names)
    if view in names and not isinstance(view, bool):
        return names.index(view)
    if isinstance(view, numbers.Integral) and not isinstance(view, bool):
        if -len(names) <= view < len(names):
            return int(view) % len(names)
    close = difflib.get_close_matches(str(view), [str(n) for n in names], n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"Unknown view {view!r};{hint} the views are {names}.")


def resolve_pair_mask(pair_mask, n_samples, random_state=None):
    """Boolean mask of the rows whose pairing across views is known.

    Parameters
    ----------
    pair_mask : None, float in (0, 1], or array-like of bool of shape (n_samples,)
        ``None``: every row is a pair. A float: that fraction of rows is paired,
        drawn with ``random_state`` (at least one row). A boolean array: as given.
    n_samples : int
    random_state : int, RandomState or None

    Returns
    -------
    ndarray of bool of shape (n_samples,)
    """
    if pair_mask is None:
        return np.ones(n_samples, dtype=bool)
    if isinstance(pair_mask, numbers.Real) and not isinstance(pair_mask, (bool, np.bool_)):
        frac = float(pair_mask)
        if not 0.0 < frac <= 1.0:
            raise ValueError(
                f"pair_mask as a float is the fraction of paired rows and must be in "
                f"(0, 1]; got {pair_mask!r}."
            )
        n_pairs = min(n_samples, max(1, int(round(frac * n_samples))))
        rng = check_random_state(random_state)
        mask = np.zeros(n_samples, dtype=bool)
        mask[rng.choice(n_samples, size=n_pairs, replace=False)] = True
        return mask
    if isinstance(pair_mask, (str, bytes, dict)) or isinstance(pair_mask, (bool, np.bool_)):
        raise ValueError(
            "pair_mask must be None, a float in (0, 1] or a boolean array of length "
            f"n_samples; got {type(pair_mask).__name__} {pair_mask!r}."
        )
    mask = np.asarray(pair_mask)
    if mask.dtype != bool:
        raise ValueError(
            "pair_mask must be None, a float in (0, 1] or a boolean array of length "
            f"n_samples; got an array of dtype {mask.dtype} (use a boolean array, "
            "e.g. mask.astype(bool))."
        )
    if mask.ndim != 1 or mask.shape[0] != n_samples:
        raise ValueError(
            f"pair_mask has shape {mask.shape}, but X has {n_samples} rows; it must be "
            f"a boolean array of shape ({n_samples},)."
        )
    return mask.copy()


def as_frame(Xs: Sequence[ArrayLike] | pd.DataFrame, view_names: ViewNames = None,
             feature_names: Sequence[Sequence[str]] | None = None,
             index: ArrayLike | None = None) -> pd.DataFrame:
    """Stack views into a DataFrame with two column levels ``(view, feature)``.

    This is the form scikit-learn's model selection can split by rows, so use it
    with :class:`~sklearn.model_selection.GridSearchCV` and cross-validation.

    Parameters
    ----------
    Xs : list or tuple of array-like of shape (n_samples, n_features_i)
        One array per view, same rows.
    view_names : list, default=None
        Names of the views, default ``0..N-1``.
    feature_names : list of list of str, default=None
        Column names of each view, default ``x0, x1, ...``.
    index : array-like, default=None
        Row index of the frame.

    Returns
    -------
    frame : DataFrame of shape (n_samples, sum of n_features_i)

    Examples
    --------
    >>> import numpy as np
    >>> from skcosae import as_frame
    >>> frame = as_frame([np.zeros((3, 2)), np.ones((3, 1))], view_names=["a", "b"])
    >>> frame.columns.tolist()
    [('a', 'x0'), ('a', 'x1'), ('b', 'x0')]
    """
    if isinstance(Xs, pd.DataFrame):
        mv = check_views(Xs, view_names=view_names, allow_nan=True)
    else:
        if not isinstance(Xs, (list, tuple)):
            raise ValueError(
                f"as_frame takes a list of 2-D arrays, one per view; got {type(Xs).__name__}."
            )
        mv = check_views(list(Xs), view_names=view_names, min_views=1, allow_nan=True)
    names = mv.feature_names
    if feature_names is not None:
        if len(feature_names) != mv.n_views:
            raise ValueError(
                f"feature_names has {len(feature_names)} lists for {mv.n_views} views."
            )
        for name, v, f in zip(mv.view_names, mv.views, feature_names):
            if len(f) != v.shape[1]:
                raise ValueError(
                    f"feature_names for view {name!r} has {len(f)} names for "
                    f"{v.shape[1]} columns."
                )
        names = [list(map(str, f)) for f in feature_names]
    mv.form = "frame"
    if index is not None:
        mv.index = pd.Index(index)
    return mv.mirror(mv.views, names)
