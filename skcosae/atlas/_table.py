"""The atlas table: per-concept statistics of sparse codes, the ``kind`` rule, labels.

Everything is a column sum or a sparse product of the CSR codes (accumulated in float64),
so the cost grows with the number of active entries, not with ``n_samples * n_concepts``.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
import scipy.sparse as sp

KINDS = ("shared", "private", "dead")


def _column_sums(Z):
    """Per-concept count of active rows, sum and sum of squares of the activations."""
    return (np.asarray(Z.getnnz(axis=0), dtype=np.float64),
            np.asarray(Z.sum(axis=0, dtype=np.float64)).ravel(),
            np.asarray(Z.multiply(Z).sum(axis=0, dtype=np.float64)).ravel())


def _correlation(sxy, sx, sy, sxx, syy, n):
    """Pearson correlations from sums over ``n`` rows; 0 where a side is constant."""
    cov = sxy / n - (sx / n) * (sy / n)
    var_x = np.maximum(sxx / n - (sx / n) ** 2, 0.0)
    var_y = np.maximum(syy / n - (sy / n) ** 2, 0.0)
    scale = np.sqrt(var_x * var_y)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(scale > 1e-300, cov / scale, 0.0)


def _pair_statistics(Zi, Zj):
    """Co-firing Jaccard and activation correlation of each concept across two views."""
    n = Zi.shape[0]
    count_i, sum_i, sq_i = _column_sums(Zi)
    count_j, sum_j, sq_j = _column_sums(Zj)
    both = np.asarray((Zi != 0).multiply(Zj != 0).sum(axis=0)).ravel().astype(np.float64)
    sxy = np.asarray(Zi.multiply(Zj).sum(axis=0, dtype=np.float64)).ravel()
    union = count_i + count_j - both
    with np.errstate(divide="ignore", invalid="ignore"):
        jaccard = np.where(union > 0, both / union, np.nan)
    return jaccard, _correlation(sxy, sum_i, sum_j, sq_i, sq_j, n)


def _segment_argmax(values, indptr):
    """Position of the largest value of each CSR row segment (-1 for an empty one)."""
    counts = np.diff(indptr)
    best = np.full(len(counts), -1, dtype=np.int64)
    filled = np.flatnonzero(counts)
    if not len(filled):
        return best
    largest = np.maximum.reduceat(values, indptr[filled])
    hits = np.flatnonzero(values == np.repeat(largest, counts[filled]))
    segment = np.searchsorted(indptr, hits, side="right") - 1
    segment, first = np.unique(segment, return_index=True)
    best[segment] = hits[first]
    return best


def _nearest(Zi, Zj, concepts, block_entries=2**22):
    """For each concept of view i in ``concepts``, the concept of view j whose activations
    correlate best with it (on the same rows), and that correlation; -1 and NaN when no
    concept of view j correlates positively.

    ``Zi`` is CSC, ``Zj`` CSR. Only concepts that fire together can correlate positively:
    the sparse product ``Zi[:, concepts].T @ Zj`` finds them (its implicit zeros have
    correlations <= 0). It is formed for blocks of concepts of about ``block_entries``
    entries, so that its memory stays near that of the codes.
    """
    n = Zi.shape[0]
    concepts = np.asarray(concepts)
    _, sum_j, sq_j = _column_sums(Zj)
    # Size of each concept's part of the product: the other view's active entries on its rows.
    sizes = np.asarray((Zi[:, concepts] != 0).T @ np.diff(Zj.indptr)).ravel()
    best = np.full(len(concepts), -1, dtype=np.int64)
    best_corr = np.full(len(concepts), np.nan)
    start = 0
    while start < len(concepts):
        stop = start + max(1, int(np.searchsorted(np.cumsum(sizes[start:]), block_entries)))
        block = concepts[start:stop]
        Zb = Zi[:, block]
        _, sum_i, sq_i = _column_sums(Zb)
        products = (Zb.T.tocsr() @ Zj).tocsr()
        rows = np.repeat(np.arange(len(block)), np.diff(products.indptr))
        corr = _correlation(products.data.astype(np.float64), sum_i[rows],
                            sum_j[products.indices], sq_i[rows], sq_j[products.indices], n)
        where = _segment_argmax(corr, products.indptr)
        found = np.flatnonzero(where >= 0)
        found = found[corr[where[found]] > 0]
        best[start + found] = products.indices[where[found]]
        best_corr[start + found] = corr[where[found]]
        start = stop
    return best, best_corr


def label_shares(codes, labels):
    """Share of each concept's activation mass (|z|, all views) on the rows of each label.

    Returns the classes and an (n_concepts, n_classes) array whose rows sum to 1 (NaN for
    a concept with no mass).
    """
    classes, index = np.unique(np.asarray(labels), return_inverse=True)
    onehot = sp.csr_matrix((np.ones(len(index)), (np.arange(len(index)), index)),
                           shape=(len(index), len(classes)))
    mass = sum(np.asarray((abs(Z).T @ onehot).todense(), dtype=np.float64) for Z in codes)
    total = mass.sum(1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return classes, np.where(total > 0, mass / total, np.nan)


def build_table(codes, view_names, *, dictionaries=None, paired=None, labels=None,
                min_correlation=0.5, dead_frequency=0.0):
    """The atlas table (one row per concept) and the label shares (or None).

    ``codes``: one CSR (n, m) matrix per view; ``paired``: boolean mask of the rows whose
    views are the same data point (None: all).
    """
    n, m = codes[0].shape
    names = [str(v) for v in view_names]
    columns = {}
    energy = []
    for name, Z in zip(names, codes):
        count, total, squares = _column_sums(Z)
        columns[f"frequency_{name}"] = count / n
        with np.errstate(divide="ignore", invalid="ignore"):
            columns[f"mean_activation_{name}"] = np.where(count > 0, total / count, np.nan)
        columns[f"max_activation_{name}"] = np.where(
            count > 0, np.asarray(abs(Z).max(axis=0).todense()).ravel(), np.nan)
        energy.append(squares / n)
    for name, D in zip(names, dictionaries if dictionaries is not None else [None] * len(names)):
        columns[f"atom_norm_{name}"] = (np.linalg.norm(np.asarray(D, dtype=np.float64), axis=1)
                                        if D is not None else np.full(m, np.nan))
    if paired is None:
        paired_codes = codes
    else:
        paired_codes = [Z[paired] for Z in codes]
    live = np.stack([columns[f"frequency_{name}"] > dead_frequency for name in names])
    agreement = np.full(m, -np.inf)
    for i, j in combinations(range(len(names)), 2):
        jaccard, corr = _pair_statistics(paired_codes[i], paired_codes[j])
        columns[f"jaccard_{names[i]}_{names[j]}"] = jaccard
        columns[f"correlation_{names[i]}_{names[j]}"] = corr
        agreement = np.where(live[i] & live[j], np.maximum(agreement, corr), agreement)
    table = pd.DataFrame(columns)
    table.index.name = "concept"
    table["agreement"] = np.where(np.isfinite(agreement), agreement, np.nan)

    energy = np.where(live, np.stack(energy), -np.inf)
    kind = np.where(~live.any(0), "dead",
                    np.where(agreement >= min_correlation, "shared", "private"))
    table["kind"] = pd.Categorical(kind, categories=list(KINDS))
    owner = energy.argmax(0)
    table["view"] = pd.Series(
        np.where(kind == "private", np.asarray(view_names, dtype=object)[owner], None),
        dtype=object)

    for i, name in enumerate(names):
        nearest = np.full(m, -1, dtype=np.int64)
        nearest_corr = np.full(m, np.nan)
        for j in range(len(names)):
            if j == i:
                continue
            # Private concepts of view j: their nearest concept in view i.
            mine = np.flatnonzero((kind == "private") & (owner == j))
            if len(mine):
                nearest[mine], nearest_corr[mine] = _nearest(
                    paired_codes[j].tocsc(), paired_codes[i], mine)
        table[f"nearest_{name}"] = pd.array(np.where(nearest >= 0, nearest, None), dtype="Int64")
        table[f"nearest_correlation_{name}"] = nearest_corr

    shares = None
    if labels is not None:
        classes, shares = label_shares(codes, labels)
        best = np.nan_to_num(shares, nan=-1.0).argmax(1)
        has_mass = np.isfinite(shares).all(1)
        base_rate = np.bincount(np.unique(np.asarray(labels), return_inverse=True)[1],
                                minlength=len(classes)) / n
        table["label"] = pd.Series(np.where(has_mass, classes[best].astype(object), None),
                                   dtype=object)
        table["label_share"] = np.where(has_mass, shares[np.arange(m), best], np.nan)
        table["label_lift"] = table["label_share"].to_numpy() / base_rate[best]
        shares = (classes, shares)
    # What a reader looks at first: the verdict, then the evidence.
    first = ["kind", "view", "agreement"] + [c for c in ("label", "label_share", "label_lift")
                                             if c in table]
    return table[first + [c for c in table.columns if c not in first]], shares
