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


def _moments(Z):
    """Per-concept count of active rows, and mean and standard deviation over all rows."""
    n = Z.shape[0]
    count = np.asarray(Z.getnnz(axis=0), dtype=np.float64)
    mean = np.asarray(Z.sum(axis=0, dtype=np.float64)).ravel() / n
    squares = np.asarray(Z.multiply(Z).sum(axis=0, dtype=np.float64)).ravel() / n
    return count, mean, np.sqrt(np.maximum(squares - mean**2, 0.0))


def _correlation(mean_product, mean_x, std_x, mean_y, std_y):
    """Pearson correlations from E[xy] and each side's moments; 0 where a side is constant.

    Works in place on ``mean_product`` (a float64 array the caller gives up).
    """
    out = mean_product
    out -= mean_x * mean_y
    scale = std_x * std_y
    constant = scale <= 1e-150
    scale[constant] = 1.0
    out /= scale
    out[constant] = 0.0
    return out


def _pair_statistics(Zi, Zj, moments_i, moments_j):
    """Co-firing Jaccard and activation correlation of each concept across two views."""
    n = Zi.shape[0]
    count_i, mean_i, std_i = moments_i
    count_j, mean_j, std_j = moments_j
    both = np.asarray((Zi != 0).multiply(Zj != 0).sum(axis=0)).ravel().astype(np.float64)
    mean_product = np.asarray(Zi.multiply(Zj).sum(axis=0, dtype=np.float64)).ravel() / n
    union = count_i + count_j - both
    with np.errstate(divide="ignore", invalid="ignore"):
        jaccard = np.where(union > 0, both / union, np.nan)
    return jaccard, _correlation(mean_product, mean_i, std_i, mean_j, std_j)


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


def _nearest(Zi, Zj, concepts, moments_i, moments_j, block_entries):
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
    _, mean_i, std_i = moments_i
    _, mean_j, std_j = moments_j
    # Size of each concept's part of the product: the other view's active entries on its rows.
    sizes = np.asarray((Zi[:, concepts] != 0).T @ np.diff(Zj.indptr)).ravel()
    ends = np.cumsum(sizes)
    best = np.full(len(concepts), -1, dtype=np.int64)
    best_corr = np.full(len(concepts), np.nan)
    start = 0
    while start < len(concepts):
        done = ends[start - 1] if start else 0
        stop = max(start + 1, int(np.searchsorted(ends, done + block_entries, side="right")))
        block = concepts[start:stop]
        products = Zi[:, block].T.tocsr() @ Zj
        rows = np.repeat(block, np.diff(products.indptr))
        corr = _correlation(products.data.astype(np.float64) / n, mean_i[rows], std_i[rows],
                            mean_j[products.indices], std_j[products.indices])
        where = _segment_argmax(corr, products.indptr)
        found = np.flatnonzero(where >= 0)
        found = found[corr[where[found]] > 0]
        best[start + found] = products.indices[where[found]]
        best_corr[start + found] = corr[where[found]]
        start = stop
    return best, best_corr


def label_shares(codes, labels):
    """Share of each concept's activation mass (|z|, all views) on the rows of each label.

    Returns the classes, an (n_concepts, n_classes) array whose rows sum to 1 (NaN for a
    concept with no mass) and each class's share of the rows.
    """
    classes, index = np.unique(np.asarray(labels), return_inverse=True)
    onehot = sp.csr_matrix((np.ones(len(index)), (np.arange(len(index)), index)),
                           shape=(len(index), len(classes)))
    mass = sum(np.asarray((abs(Z).T @ onehot).todense(), dtype=np.float64) for Z in codes)
    total = mass.sum(1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = np.where(total > 0, mass / total, np.nan)
    return classes, shares, np.bincount(index, minlength=len(classes)) / len(index)


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
    moments = [_moments(Z) for Z in codes]
    for name, Z, (count, mean, std) in zip(names, codes, moments):
        columns[f"frequency_{name}"] = count / n
        with np.errstate(divide="ignore", invalid="ignore"):
            columns[f"mean_activation_{name}"] = np.where(count > 0, mean * n / count, np.nan)
        columns[f"max_activation_{name}"] = np.where(
            count > 0, np.asarray(abs(Z).max(axis=0).todense()).ravel(), np.nan)
        energy.append(std**2 + mean**2)
    for name, D in zip(names, dictionaries if dictionaries is not None else [None] * len(names)):
        columns[f"atom_norm_{name}"] = (np.linalg.norm(np.asarray(D, dtype=np.float64), axis=1)
                                        if D is not None else np.full(m, np.nan))
    paired_codes, paired_moments = codes, moments
    if paired is not None:
        paired_codes = [Z[paired] for Z in codes]
        paired_moments = [_moments(Z) for Z in paired_codes]
    live = np.stack([columns[f"frequency_{name}"] > dead_frequency for name in names])
    agreement = np.full(m, -np.inf)
    for i, j in combinations(range(len(names)), 2):
        jaccard, corr = _pair_statistics(paired_codes[i], paired_codes[j],
                                         paired_moments[i], paired_moments[j])
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

    # The product blocks of the nearest-concept search hold about a quarter of the codes.
    block_entries = max(2**18, sum(Z.nnz for Z in paired_codes) // 4)
    by_column = {}
    for i, name in enumerate(names):
        nearest = np.full(m, -1, dtype=np.int64)
        nearest_corr = np.full(m, np.nan)
        for j in range(len(names)):
            # Private concepts of view j: their nearest concept in view i.
            mine = np.flatnonzero((kind == "private") & (owner == j))
            if j == i or not len(mine):
                continue
            if j not in by_column:
                by_column[j] = paired_codes[j].tocsc()
            nearest[mine], nearest_corr[mine] = _nearest(
                by_column[j], paired_codes[i], mine, paired_moments[j], paired_moments[i],
                block_entries)
        table[f"nearest_{name}"] = pd.array(np.where(nearest >= 0, nearest, None), dtype="Int64")
        table[f"nearest_correlation_{name}"] = nearest_corr

    association = None
    if labels is not None:
        classes, shares, base_rate = label_shares(codes, labels)
        best = np.nan_to_num(shares, nan=-1.0).argmax(1)
        has_mass = np.isfinite(shares).all(1)
        table["label"] = pd.Series(np.where(has_mass, classes[best].astype(object), None),
                                   dtype=object)
        table["label_share"] = np.where(has_mass, shares[np.arange(m), best], np.nan)
        table["label_lift"] = table["label_share"].to_numpy() / base_rate[best]
        association = (classes, shares)
    # What a reader looks at first: the verdict, then the evidence.
    first = ["kind", "view", "agreement"] + [c for c in ("label", "label_share", "label_lift")
                                             if c in table]
    return table[first + [c for c in table.columns if c not in first]], association
