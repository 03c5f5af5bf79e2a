"""Codes of every view as sparse matrices, computed in row chunks.

The atlas reads an estimator through its public surface only: ``transform`` on row slices
of the views (so a shared-code crosscoder, which needs all views at once, works too). Dense
chunks are made sparse as they come, so memory holds the sparse codes plus one chunk.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

# Rows per transform call: about this many code values per view (32 MB as float64).
_CHUNK_VALUES = 2**22


def as_csr(codes, what="codes"):
    """One view's codes, dense or sparse, as a CSR float32 matrix without stored zeros."""
    if isinstance(codes, pd.DataFrame):
        codes = codes.to_numpy()
    if sp.issparse(codes):
        out = sp.csr_matrix(codes, dtype=np.float32)
    else:
        arr = np.asarray(codes)
        if arr.ndim != 2:
            raise ValueError(f"{what} must be 2-D (n_samples, n_concepts); got shape {arr.shape}.")
        out = sp.csr_matrix(arr.astype(np.float32, copy=False))
    if not np.all(np.isfinite(out.data)):
        raise ValueError(f"{what} hold NaN or infinite values.")
    out.eliminate_zeros()
    return out


def n_rows(X, view_names):
    """Number of rows of a multi-view input, checking that every view has as many."""
    if isinstance(X, (list, tuple)):
        counts = [len(v) if isinstance(v, (pd.DataFrame, pd.Series)) else np.shape(v)[0]
                  for v in X]
        if len(set(counts)) > 1:
            shown = ", ".join(f"view {name!r}: {c}" for name, c in zip(view_names, counts))
            raise ValueError(f"All views must have the same number of rows; got {shown}.")
        return counts[0] if counts else 0
    return len(X) if isinstance(X, pd.DataFrame) else np.shape(X)[0]


def _rows(X, start, stop):
    if isinstance(X, (list, tuple)):
        return [_rows(v, start, stop) for v in X]
    if isinstance(X, (pd.DataFrame, pd.Series)):
        return X.iloc[start:stop]
    return X[start:stop]


def _per_view(out, view_names):
    """The codes ``transform`` returned, as one matrix per view."""
    if isinstance(out, pd.DataFrame):
        return [out[name].to_numpy() for name in view_names]
    return list(out)


def _with_sparse_codes(estimator):
    """``estimator``, or a shallow twin of it whose ``transform`` returns sparse codes.

    An estimator with a ``sparse_output`` parameter then builds its CSR codes from the kept
    entries alone, instead of a dense chunk that is made sparse afterwards. The twin shares
    the fitted model; the caller's estimator is left as it is.
    """
    get_params = getattr(estimator, "get_params", None)
    if get_params is None or get_params(deep=False).get("sparse_output") is not False:
        return estimator
    twin = object.__new__(type(estimator))
    twin.__dict__.update(estimator.__dict__)
    twin.sparse_output = True
    return twin


def collect_codes(estimator, X, *, chunk_size=None):
    """Every view's codes of ``X`` as CSR float32, from ``transform`` on row chunks."""
    names = list(estimator.view_names_)
    estimator = _with_sparse_codes(estimator)
    n = n_rows(X, names)
    if chunk_size is None:
        chunk_size = max(64, _CHUNK_VALUES // max(1, int(estimator.n_concepts_)))
    parts = [[] for _ in names]
    for start in range(0, n, chunk_size):
        codes = _per_view(estimator.transform(_rows(X, start, start + chunk_size)), names)
        if len(codes) != len(names):
            raise ValueError(
                f"{type(estimator).__name__}.transform returned {len(codes)} code matrices "
                f"for {len(names)} views."
            )
        for i, z in enumerate(codes):
            parts[i].append(as_csr(z, what=f"codes of view {names[i]!r}"))
    if n == 0:
        raise ValueError("X has no rows: the atlas needs at least one row.")
    return [sp.vstack(p, format="csr") for p in parts]
