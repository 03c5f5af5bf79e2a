"""Load a user's own embeddings: one file per view, same rows."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .._typing import ArrayLike
from .._views import as_frame as _as_frame
from .._views import check_views

__all__ = ["load_embeddings"]

_EXTENSIONS = (".npy", ".npz", ".parquet")


def _read_parquet(path):
    try:
        return pd.read_parquet(path)
    except ImportError as exc:
        raise ImportError(
            f"Reading {path.name} needs a parquet engine, which is not installed: "
            "pip install pyarrow (or fastparquet), or save the view as .npy."
        ) from exc


def _read(path, mmap):
    """The array in ``path`` and its column names (None unless a parquet file)."""
    suffix = path.suffix.lower()
    if suffix == ".npy":
        # A memory map keeps large views on disk until rows are used.
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False), None
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as npz:
            if len(npz.files) != 1:
                raise ValueError(
                    f"{path.name} holds {len(npz.files)} arrays ({', '.join(npz.files)}); "
                    "a view file must hold exactly one."
                )
            return npz[npz.files[0]], None
    if suffix == ".parquet":
        frame = _read_parquet(path)
        return frame.to_numpy(), [str(c) for c in frame.columns]
    raise ValueError(
        f"{path.name}: unknown extension {path.suffix!r}; a view file is one of "
        f"{', '.join(_EXTENSIONS)}."
    )


def _view_files(path):
    if isinstance(path, (list, tuple)):
        files = [Path(p) for p in path]
        for f in files:
            if not f.is_file():
                raise ValueError(f"{f} is not a file.")
    else:
        directory = Path(path)
        if not directory.is_dir():
            raise ValueError(
                f"{directory} is not a directory; load_embeddings takes a directory holding "
                "one file per view (or a list of such files)."
            )
        files = sorted(
            f for f in directory.iterdir()
            if f.is_file() and not f.name.startswith(".")
            and not f.name.upper().startswith("README")
        )
        if not files:
            raise ValueError(
                f"{directory} holds no view files; expected one {'/'.join(_EXTENSIONS)} file "
                "per view."
            )
    by_name = {}
    for f in files:
        if f.suffix.lower() not in _EXTENSIONS:
            raise ValueError(
                f"{f.name}: unknown extension {f.suffix!r}; a view file is one of "
                f"{', '.join(_EXTENSIONS)}."
            )
        if f.stem in by_name:
            raise ValueError(
                f"Two files name the view {f.stem!r}: {by_name[f.stem].name}, {f.name}."
            )
        by_name[f.stem] = f
    return by_name


def _label_path(labels, directory):
    """The labels file named by ``labels`` (relative to the directory first), or None."""
    if not isinstance(labels, (str, os.PathLike)):
        return None
    path = Path(labels)
    if not path.is_absolute() and directory is not None and (directory / path).is_file():
        path = directory / path
    if not path.is_file():
        raise ValueError(f"labels file {str(labels)!r} not found.")
    return path


def _read_labels(labels, label_file, n_samples):
    if labels is None:
        return None
    if label_file is not None:
        values, _ = _read(label_file, mmap=False)
        values = np.asarray(values)
        if values.ndim == 2 and values.shape[1] == 1:
            values = values[:, 0]
        where = f"labels file {label_file.name}"
    else:
        values = np.asarray(labels)
        where = "labels"
    if values.ndim != 1:
        raise ValueError(f"{where} must be 1-D (one label per row); got shape {values.shape}.")
    if values.shape[0] != n_samples:
        raise ValueError(f"{where} has {values.shape[0]} labels for {n_samples} rows.")
    return values


def load_embeddings(path: str | os.PathLike | list[str | os.PathLike]
                    | tuple[str | os.PathLike, ...], *,
                    view_names: Sequence[str] | None = None, mmap: bool = True,
                    labels: str | os.PathLike | ArrayLike | None = None, as_frame: bool = False,
                    ) -> tuple[list[np.ndarray] | pd.DataFrame, np.ndarray | None]:
    """Load embeddings of the same rows by several models: one file per view.

    Layout: a directory with one file per view, named after the view, each holding a 2-D
    array of shape (n_samples, d_view) whose row r is the same data point in every file::

        my_embeddings/
            vit.npy          # (n, 768), memory-mapped
            dinov2.npy       # (n, 1024)
            clip_text.npz    # one array inside
            captions.parquet # one column per feature (needs pyarrow)
            labels.npy       # optional, (n,): pass labels="labels.npy"

    ``.npy`` files are memory-mapped (``mmap=True``): rows are read from disk when used,
    and a float32 or float64 view is not copied as long as every view has that dtype.
    ``.npz`` (one array) and ``.parquet`` files are read into memory. Hidden files and
    ``README*`` are ignored; any other extension is an error.

    Parameters
    ----------
    path : str, path-like, or list of paths
        The directory (views sorted by file name), or a list of view files (in that order).
    view_names : list of str, default=None
        The views to load, by file name without extension, in this order. Default: all
        files of the directory, except the labels file.
    mmap : bool, default=True
        Memory-map ``.npy`` files instead of reading them.
    labels : str, path-like or array-like, default=None
        Class labels: a file (in the directory, or a path; ``.npy``/``.npz``/``.parquet``
        with one column) or an array of length n_samples. The labels file is not a view.
    as_frame : bool, default=False
        Return one DataFrame with (view, feature) columns (reads everything into memory).

    Returns
    -------
    Xs : list of ndarray of shape (n_samples, d_view), or DataFrame
        The views, checked by skcosae's input layer (same rows, finite values).
    y : ndarray of shape (n_samples,) or None

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> from skcosae.datasets import load_embeddings
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> np.save(folder / "a.npy", np.ones((5, 3), dtype=np.float32))
    >>> np.save(folder / "b.npy", np.zeros((5, 2), dtype=np.float32))
    >>> np.save(folder / "y.npy", np.arange(5))
    >>> Xs, y = load_embeddings(folder, labels="y.npy")
    >>> [X.shape for X in Xs], y.tolist()
    ([(5, 3), (5, 2)], [0, 1, 2, 3, 4])
    """
    by_name = _view_files(path)
    directory = None if isinstance(path, (list, tuple)) else Path(path)
    label_file = _label_path(labels, directory)
    if label_file is not None:
        by_name = {n: f for n, f in by_name.items() if f.resolve() != label_file.resolve()}
    if view_names is None:
        names = list(by_name)
    else:
        names = [str(v) for v in view_names]
        unknown = [v for v in names if v not in by_name]
        if unknown:
            raise ValueError(
                f"No file for view(s) {unknown}; the view files are {sorted(by_name)}."
            )

    arrays, feature_names = [], []
    for name in names:
        X, columns = _read(by_name[name], mmap)
        if X.ndim != 2:
            raise ValueError(
                f"{by_name[name].name} holds an array of shape {X.shape}; a view is 2-D "
                "(n_samples, n_features). A 1-D file of labels goes in labels=."
            )
        arrays.append(X)
        feature_names.append(columns)
    rows = {by_name[n].name: X.shape[0] for n, X in zip(names, arrays)}
    if len(set(rows.values())) > 1:
        detail = ", ".join(f"{f}: {r}" for f, r in rows.items())
        raise ValueError(f"The view files must have the same number of rows; got {detail}.")

    # One float dtype shared by every view is kept, so memory maps are not copied.
    dtypes = {X.dtype for X in arrays}
    dtype = np.float64
    if len(dtypes) == 1 and dtypes <= {np.dtype(np.float32), np.dtype(np.float64)}:
        dtype = dtypes.pop()
    mv = check_views(arrays, view_names=names, dtype=dtype)
    y = _read_labels(labels, label_file, mv.n_samples)
    if as_frame:
        names_per_view = [
            c if c is not None else f for c, f in zip(feature_names, mv.feature_names)
        ]
        return _as_frame(mv.views, view_names=names, feature_names=names_per_view), y
    return mv.views, y
