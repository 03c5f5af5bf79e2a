"""The concept atlas: which concepts the views share, which are private, what each fires on."""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from .._compat import Interval, validate_params
from .._views import resolve_pair_mask
from ._codes import as_csr, collect_codes
from ._table import KINDS, build_table

__all__ = ["ConceptAtlas", "concept_atlas"]

DEFAULT_QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


def _as_items(values, name, n):
    """``labels`` or ``examples`` as an indexable sequence of ``n`` items, or None."""
    if values is None:
        return None
    if isinstance(values, (pd.Series, pd.Index)):
        values = values.to_numpy()
    if isinstance(values, pd.DataFrame):
        raise ValueError(f"{name} must hold one item per row; got a DataFrame.")
    length = len(values)
    if length != n:
        raise ValueError(f"{name} has {length} items, but X has {n} rows: give one per row.")
    return values


def _by_activation(Z):
    """CSC codes whose entries, within each column, go by increasing activation.

    A concept's top rows and quantiles are then slices of its column, with no sort per
    concept and no copy beside the codes.
    """
    Z = Z.tocsc(copy=True)
    # Sort by activation, then (stably) by column: tied activations keep their order by row.
    # The columns sort as the smallest integer type, which numpy sorts by radix.
    by_value = np.argsort(Z.data, kind="stable")
    column_type = np.min_scalar_type(max(Z.shape[1] - 1, 0))
    columns = np.repeat(np.arange(Z.shape[1], dtype=column_type), np.diff(Z.indptr))
    order = by_value[np.argsort(columns[by_value], kind="stable")]
    Z.data, Z.indices = Z.data[order], Z.indices[order]
    Z.has_sorted_indices = False
    return Z


def _is_image(item):
    return isinstance(item, np.ndarray) and (
        item.ndim == 2 or (item.ndim == 3 and item.shape[2] in (1, 3, 4)))


class ConceptAtlas:
    """Every concept of a fitted multi-view estimator: statistics, examples, plots, a page.

    Made by :func:`concept_atlas`, which documents the table's columns and the ``kind``
    rule. Holds the codes as sparse CSC matrices (one per view), so its memory is that of
    the sparse codes.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per concept (index ``concept``); see :func:`concept_atlas`.
    view_names : list
    n_samples : int
    n_concepts : int
    codes : list of scipy.sparse.csc_matrix of shape (n_samples, n_concepts)
        Each view's codes (float32); within a column, the entries go by increasing
        activation (not by row).
    label_classes : ndarray or None
        The distinct labels, when ``labels`` were given.
    label_shares : ndarray of shape (n_concepts, n_classes) or None
        Share of each concept's activation mass on the rows of each label.
    examples : sequence or None
        The item shown for each row, when ``examples`` were given.
    min_correlation, dead_frequency : float
        The thresholds of the ``kind`` rule.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from skcosae import CoupledSAE
    >>> from skcosae.atlas import concept_atlas
    >>> from skcosae.datasets import make_platonic
    >>> Xs, y, truth = make_platonic(n_samples=500, view_dims=16, random_state=0)
    >>> sae = CoupledSAE(n_concepts=32, k=4, max_epochs=2, random_state=0).fit(Xs)
    >>> atlas = concept_atlas(sae, Xs, labels=y)
    >>> atlas
    ConceptAtlas(32 concepts of views [0, 1] over 500 rows: ... shared, ... private, ... dead)
    >>> page = atlas.to_html(Path(tempfile.mkdtemp()) / "atlas.html")
    >>> Path(page).read_text().startswith("<!DOCTYPE html>")
    True
    """

    def __init__(self, codes, view_names, *, table, label_association=None, examples=None,
                 min_correlation=0.5, dead_frequency=0.0):
        self.codes = [_by_activation(Z) for Z in codes]
        self.view_names = list(view_names)
        self.n_samples, self.n_concepts = self.codes[0].shape
        self.table = table
        self.examples = examples
        self.label_classes, self.label_shares = label_association or (None, None)
        self.min_correlation = min_correlation
        self.dead_frequency = dead_frequency

    def __repr__(self):
        counts = self.table["kind"].value_counts()
        kinds = ", ".join(f"{int(counts.get(k, 0))} {k}" for k in KINDS)
        return (f"ConceptAtlas({self.n_concepts} concepts of views {self.view_names} over "
                f"{self.n_samples} rows: {kinds})")

    # ------------------------------------------------------------------ one concept
    def _check_concept(self, concept):
        if not isinstance(concept, numbers.Integral) or isinstance(concept, bool):
            raise TypeError(f"concept must be an int index; got {concept!r}.")
        if not 0 <= concept < self.n_concepts:
            raise ValueError(
                f"concept {concept} is out of range: the atlas has {self.n_concepts} concepts "
                f"(0 to {self.n_concepts - 1})."
            )
        return int(concept)

    def _column(self, view, concept):
        """Rows where ``concept`` fires in view ``view`` (a position) and the activations,
        by increasing activation."""
        Z = self.codes[view]
        start, stop = Z.indptr[concept], Z.indptr[concept + 1]
        return Z.indices[start:stop], Z.data[start:stop]

    def _top(self, view, concept, n):
        rows, values = self._column(view, concept)
        return rows[::-1][:n], values[::-1][:n]

    def _at_quantiles(self, view, concept, quantiles):
        rows, values = self._column(view, concept)
        if not len(values):
            return np.empty(0, dtype=rows.dtype), np.empty(0, dtype=values.dtype)
        ranks = np.round(np.asarray(quantiles) * (len(values) - 1)).astype(int)
        return rows[ranks], values[ranks]

    def top_examples(self, concept, n=5, *, quantiles=DEFAULT_QUANTILES):
        """Concept ``concept``'s top-activating rows in every view, side by side.

        Parameters
        ----------
        concept : int
            Index of the concept.
        n : int, default=5
            Top rows per view.
        quantiles : sequence of float in [0, 1], default=(0.1, 0.25, 0.5, 0.75, 0.9)
            Also show, per view, the row at each of these quantiles of the concept's
            nonzero activations (what a typical, not only the strongest, firing looks like).

        Returns
        -------
        examples : pandas.DataFrame
            Index (``section``, ``position``): (``"top"``, 1..n) then (``"quantile"``, q).
            Columns (view, field) with fields ``row`` (position in ``X``), ``activation`` and,
            when the atlas has ``examples``, ``example`` (the user's item for that row). A
            view where the concept fires on fewer rows leaves the rest empty.

        Examples
        --------
        >>> from skcosae import CoupledSAE
        >>> from skcosae.atlas import concept_atlas
        >>> from skcosae.datasets import make_platonic
        >>> Xs, y, truth = make_platonic(n_samples=500, view_dims=16, random_state=0)
        >>> sae = CoupledSAE(n_concepts=32, k=4, max_epochs=2, random_state=0).fit(Xs)
        >>> atlas = concept_atlas(sae, Xs, examples=[f"row {r}" for r in range(500)])
        >>> top = atlas.top_examples(0, n=3)
        >>> top.columns.tolist()[:3]
        [(0, 'row'), (0, 'activation'), (0, 'example')]
        >>> top.index.tolist()[:4]
        [('top', 1), ('top', 2), ('top', 3), ('quantile', 0.1)]
        """
        concept = self._check_concept(concept)
        if not isinstance(n, numbers.Integral) or n < 1:
            raise ValueError(f"n must be a positive int; got {n!r}.")
        quantiles = [float(q) for q in quantiles]
        if any(not 0.0 <= q <= 1.0 for q in quantiles):
            raise ValueError(f"quantiles must lie in [0, 1]; got {quantiles}.")
        # An object level keeps the ranks ints beside the float quantiles.
        index = pd.MultiIndex.from_arrays(
            [["top"] * n + ["quantile"] * len(quantiles),
             pd.Index(list(range(1, n + 1)) + quantiles, dtype=object)],
            names=["section", "position"])
        frames = {}
        for i, name in enumerate(self.view_names):
            rows, values = self._top(i, concept, n)
            q_rows, q_values = self._at_quantiles(i, concept, quantiles)
            row = np.full(len(index), -1, dtype=np.int64)
            activation = np.full(len(index), np.nan)
            row[:len(rows)], activation[:len(rows)] = rows, values
            row[n:n + len(q_rows)], activation[n:n + len(q_rows)] = q_rows, q_values
            part = {"row": pd.array(np.where(row >= 0, row, None), dtype="Int64"),
                    "activation": activation}
            if self.examples is not None:
                part["example"] = [self.examples[r] if r >= 0 else None for r in row]
            frames[name] = pd.DataFrame(part, index=index)
        return pd.concat(frames, axis=1)

    # ------------------------------------------------------------------ outputs
    def plot(self):
        """Overview figure: frequency against frequency per pair of views (coloured by
        ``kind``, log scales) and the histogram of cross-view agreement. Needs matplotlib.

        Returns
        -------
        figure : matplotlib.figure.Figure
        """
        from ._plot import plot_overview

        return plot_overview(self)

    def plot_concept(self, concept, *, bins=30):
        """Histograms of one concept's nonzero activations, one panel per view.

        Needs matplotlib.

        Parameters
        ----------
        concept : int
        bins : int, default=30

        Returns
        -------
        figure : matplotlib.figure.Figure
        """
        from ._plot import plot_concept

        return plot_concept(self, self._check_concept(concept), bins=bins)

    def to_html(self, path, *, n_examples=5, page_size=50, title="Concept atlas",
                max_example_chars=300):
        """Write the atlas as one self-contained HTML page (no network, no external files).

        A sortable, filterable concept table (paginated) and one card per concept, built when
        its page is shown: the views' top examples side by side, the rows at activation
        quantiles, each view's activation histogram (inline SVG) and the label association.
        Image examples appear as PNG thumbnails; text is cut at ``max_example_chars``.

        Parameters
        ----------
        path : str or path-like
        n_examples : int, default=5
            Top rows per view on each card.
        page_size : int, default=50
            Concepts per page (the reader can change it).
        title : str, default="Concept atlas"
        max_example_chars : int, default=300

        Returns
        -------
        path : str
        """
        from ._html import write_page

        return write_page(self, path, n_examples=n_examples, page_size=page_size, title=title,
                          max_example_chars=max_example_chars)


@validate_params(
    {
        "estimator": "no_validation",
        "X": "no_validation",
        "codes": [list, tuple, None],
        "labels": ["array-like", None],
        "examples": ["array-like", None],
        "pair_mask": ["array-like", None],
        "min_correlation": [Interval(numbers.Real, -1, 1, closed="both")],
        "dead_frequency": [Interval(numbers.Real, 0, 1, closed="left")],
        "chunk_size": [Interval(numbers.Integral, 1, None, closed="left"), None],
    },
    prefer_skip_nested_validation=True,
)
def concept_atlas(estimator, X=None, *, codes=None, labels=None, examples=None, pair_mask=None,
                  min_correlation=0.5, dead_frequency=0.0, chunk_size=None):
    """The atlas of a fitted multi-view estimator's concepts on data ``X``.

    Encodes ``X`` with ``estimator.transform`` in row chunks (or takes the ``codes``) and
    keeps the codes sparse, so memory grows with the active entries, not with
    ``n_samples * n_concepts``. See docs/atlas.rst.

    **The kind rule.** A concept *fires* on a row of a view when its code there is nonzero;
    its *frequency* in a view is the fraction of rows it fires on. A concept is

    - ``"dead"`` when its frequency is at most ``dead_frequency`` in every view;
    - ``"shared"`` when, for some pair of views where it is live (frequency above
      ``dead_frequency``), its activations correlate across the views on the paired rows
      with a Pearson correlation of at least ``min_correlation`` (the ``agreement`` column
      is the largest such correlation);
    - ``"private"`` otherwise. Its ``view`` is the live view where it is most active (largest
      mean squared activation); its frequencies show whether it also fires, on unrelated
      rows, in another view (a concept slot that two views use for two different things).

    For linear estimators (:mod:`skcosae.linear`) the codes are dense: every component
    "fires" on every row, no component is dead, and ``kind`` says whether a component's
    values correlate across the views (for :class:`~skcosae.linear.CCA`, whether its
    canonical correlation reaches ``min_correlation``); frequencies and Jaccard indices
    carry no information there.

    Parameters
    ----------
    estimator : fitted multi-view estimator
        Anything with ``transform``, ``view_names_`` and ``n_concepts_`` (CoupledSAE, the
        linear estimators, :class:`~skcosae.io.SAELensEstimator`); ``dictionaries_`` gives
        the atom norms when present.
    X : multi-view input, default=None
        A list of row-sliceable views (numpy arrays, memmaps, frames), a frame with (view,
        feature) columns, or a 2-D array the estimator splits by its ``view_sizes``.
    codes : list of (n_samples, n_concepts) arrays or scipy.sparse matrices, default=None
        The views' codes, when already computed (instead of ``X``).
    labels : array-like of shape (n_samples,), default=None
        A label per row: adds the label each concept is most associated with.
    examples : sequence of length n_samples, default=None
        What to show for each row: strings, or images (arrays of shape (h, w) or
        (h, w, 3)), shown as thumbnails on the page.
    pair_mask : array-like of bool of shape (n_samples,), default=None
        Rows whose views are the same data point; the cross-view statistics use only them.
        None: every row. Pass ``estimator.pair_mask_`` when ``X`` is the training data of
        a partly paired fit.
    min_correlation : float in [-1, 1], default=0.5
        Cross-view correlation from which a concept is shared.
    dead_frequency : float in [0, 1), default=0.0
        Frequency at or below which a concept counts as not firing in a view.
    chunk_size : int, default=None
        Rows per ``transform`` call; default: about 4M code values per view.

    Returns
    -------
    atlas : ConceptAtlas
        ``atlas.table`` has one row per concept (index ``concept``) and the columns

        - ``kind``, ``view`` (the view of a private concept) and ``agreement`` (see above);
        - with ``labels``: ``label`` (the label whose rows carry the largest share of the
          concept's activation mass, absolute activations summed over views),
          ``label_share`` (that share) and ``label_lift`` (that share over the label's share
          of rows; 1 means no association);
        - for each view ``v``: ``frequency_v``, ``mean_activation_v`` (mean of the nonzero
          activations), ``max_activation_v`` (largest absolute activation), ``atom_norm_v``
          (norm of the decoder atom);
        - for each pair of views ``a``, ``b``, on the paired rows: ``jaccard_a_b`` (rows
          where both fire over rows where either fires) and ``correlation_a_b`` (Pearson
          correlation of the activations);
        - for each view ``v``: ``nearest_v`` and ``nearest_correlation_v``: for a private
          concept of another view, the concept of view ``v`` whose activations correlate
          best with it on the paired rows (empty when none correlates positively).

    Examples
    --------
    >>> from skcosae import CoupledSAE
    >>> from skcosae.atlas import concept_atlas
    >>> from skcosae.datasets import make_platonic
    >>> Xs, y, truth = make_platonic(n_samples=500, view_dims=16, random_state=0)
    >>> sae = CoupledSAE(n_concepts=32, k=4, max_epochs=2, random_state=0).fit(Xs)
    >>> atlas = concept_atlas(sae, Xs, labels=y)
    >>> atlas.table.shape[0]
    32
    >>> sorted(set(atlas.table["kind"]) - {"shared", "private", "dead"})
    []
    >>> atlas.table.columns[:7].tolist()
    ['kind', 'view', 'agreement', 'label', 'label_share', 'label_lift', 'frequency_0']
    """
    check_is_fitted(estimator)
    names = list(estimator.view_names_)
    if (X is None) == (codes is None):
        raise ValueError("concept_atlas needs either X (to encode) or codes, not both.")
    if codes is None:
        codes = collect_codes(estimator, X, chunk_size=chunk_size)
    else:
        if len(codes) != len(names):
            raise ValueError(f"codes has {len(codes)} matrices for {len(names)} views {names}.")
        codes = [as_csr(z, what=f"codes of view {name!r}") for name, z in zip(names, codes)]
        shapes = [z.shape for z in codes]
        expected = (shapes[0][0], int(estimator.n_concepts_))
        if any(s != expected for s in shapes):
            raise ValueError(
                f"codes must be (n_samples, n_concepts_={estimator.n_concepts_}) for every "
                f"view, with the same rows; got shapes {dict(zip(names, shapes))}."
            )
    n = codes[0].shape[0]
    labels = _as_items(labels, "labels", n)
    examples = _as_items(examples, "examples", n)
    paired = None
    if pair_mask is not None:
        paired = resolve_pair_mask(pair_mask, n)
        if not paired.any():
            raise ValueError(
                "pair_mask marks no row as paired; the cross-view statistics need pairs."
            )
        if paired.all():
            paired = None
    dictionaries = getattr(estimator, "dictionaries_", None)
    table, association = build_table(codes, names, dictionaries=dictionaries, paired=paired,
                                     labels=labels, min_correlation=min_correlation,
                                     dead_frequency=dead_frequency)
    return ConceptAtlas(codes, names, table=table, label_association=association,
                        examples=examples, min_correlation=min_correlation,
                        dead_frequency=dead_frequency)
