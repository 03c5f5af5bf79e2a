"""Pseudo-pairs from a few anchors: an anchor-fitted linear map, refined by self-learning.

With few known pairs, the instance-wise losses see only a handful of rows. A linear
alignment fitted on the anchors alone already puts many rows near their counterpart: each
view is reduced by PCA on all its rows, the canonical directions of the two reduced views
are fitted on the anchors, and two rows of different views that are each other's nearest
neighbour (by cosine) in the canonical space become pseudo-pairs. The map is then refitted
on the anchors plus these pseudo-pairs, and the matching redone, for a few rounds (the
self-learning of unsupervised word translation): each round's pairs carry more directions
than the anchors alone, so the matching sharpens. The coupled model then trains on the
anchors plus the last round's pseudo-pairs (docs: Pairing, "Few anchors"). Every view is
matched with the first; a row of the first view becomes a pseudo-pair when it is matched in
every other view.

Two kinds of directions (``directions``):

- ``"cca"``: canonical correlations, the within-view covariances from all rows shrunk a
  little (``CCA(reg=0.1)``): every direction of a view counts as much as any other. Best
  when the views are low-dimensional and mostly shared (the linear synthetic data).
- ``"pls"``: the covariances shrunk fully towards the identity (``CCA(reg=1)``, the
  directions of partial least squares): no whitening, so a view's strong directions lead.
  Few, noisy pairs cannot estimate the correlations of weak directions, which whitening
  would amplify. Best on the pretrained embeddings of the study (BBC News, mfeat, the
  WordNet glosses; docs: Reproducing the paper).
"""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors

__all__ = ["MIN_ANCHORS", "SHRINKAGE", "aligned_views", "anchor_pseudo_pairs"]

#: A CCA needs a few pairs to estimate any cross-covariance.
MIN_ANCHORS = 3
# Canonical dimensions: half the pairs, within these bounds (the cross-covariance of a few
# pairs carries no more directions).
_MIN_DIM, _MAX_DIM = 2, 64
# Shrinkage of the within-view covariances (skcosae.linear.CCA's reg) of each kind of
# directions.
SHRINKAGE = {"cca": 0.1, "pls": 1.0}
# Self-learning rounds after the anchors' own; they stop earlier once a round changes
# fewer than this share of the pseudo-pairs.
_MAX_ROUNDS, _SETTLED = 10, 0.01


def _unit_rows(Z):
    return Z / np.maximum(np.linalg.norm(Z, axis=1, keepdims=True), 1e-12)


def mutual_nearest_neighbours(Za, Zb):
    """Positions (i, j) of rows of ``Za`` and ``Zb`` that are each other's nearest
    neighbour by cosine."""
    A, B = _unit_rows(Za), _unit_rows(Zb)
    nn_b = NearestNeighbors(n_neighbors=1).fit(B).kneighbors(A)[1][:, 0]
    nn_a = NearestNeighbors(n_neighbors=1).fit(A).kneighbors(B)[1][:, 0]
    mutual = np.flatnonzero(nn_a[nn_b] == np.arange(len(A)))
    return mutual, nn_b[mutual]


def _dimension(n_pairs, limit):
    return int(min(np.clip(n_pairs // 2, _MIN_DIM, _MAX_DIM), limit))


def _match(reduced_a, reduced_b, pairs_a, pairs_b, free, dim, reg):
    """Mutual nearest neighbours among ``free`` rows, in the canonical space of the first
    ``dim`` principal components fitted on the pairs ``(pairs_a[i], pairs_b[i])``."""
    from .linear import CCA

    A, B = reduced_a[:, :dim], reduced_b[:, :dim]
    partner = B.copy()
    partner[pairs_a] = B[pairs_b]  # row pairs_a[i] of view a meets row pairs_b[i] of view b
    mask = np.zeros(len(A), dtype=bool)
    mask[pairs_a] = True
    cca = CCA(n_components=dim, reg=reg).fit([A, partner], pair_mask=mask)
    Za, Zb = cca.transform([A[free], B[free]])
    a, b = mutual_nearest_neighbours(Za, Zb)
    return free[a], free[b]


def _refined_matches(reduced_a, reduced_b, anchors, max_rounds, reg):
    """The rows of view b matched to view a's free rows (-1: none), after self-learning."""
    anchor_rows = np.flatnonzero(anchors)
    free = np.flatnonzero(~anchors)
    limit = reduced_a.shape[1]
    a, b = _match(reduced_a, reduced_b, anchor_rows, anchor_rows, free,
                  _dimension(len(anchor_rows), limit), reg)
    for _round in range(max_rounds):
        pairs_a, pairs_b = np.concatenate([anchor_rows, a]), np.concatenate([anchor_rows, b])
        a_next, b_next = _match(reduced_a, reduced_b, pairs_a, pairs_b, free,
                                _dimension(len(pairs_a), limit), reg)
        before = set(zip(a.tolist(), b.tolist()))
        after = set(zip(a_next.tolist(), b_next.tolist()))
        changed = len(before ^ after) / max(len(before | after), 1)
        a, b = a_next, b_next
        if changed < _SETTLED:
            break
    matched = np.full(len(anchors), -1)
    matched[a] = b
    return matched[free]


def anchor_pseudo_pairs(views, anchors, *, directions="pls", random_state=None,
                        max_rounds=_MAX_ROUNDS):
    """Pseudo-pairs of the rows outside ``anchors``.

    Parameters
    ----------
    views : list of ndarray of shape (n_samples, n_features_i)
        In memory; row ``r`` of every view is a pair where ``anchors[r]``.
    anchors : ndarray of bool of shape (n_samples,)
        The known pairs (at least :data:`MIN_ANCHORS`).
    directions : {"pls", "cca"}, default="pls"
        The directions the rows are matched along (see the module's docstring).
    random_state : int or None
        Seeds the randomised PCA solver.
    max_rounds : int, default=10
        Self-learning rounds after the anchors' own matching (0: the anchors' alone).

    Returns
    -------
    ndarray of int of shape (n_pseudo_pairs, n_views)
        Each row: the row of every view that makes one pseudo-pair (column 0 the first
        view's); none of them an anchor.
    """
    # One PCA per view at the largest dimension; a round of fewer pairs keeps its leading
    # components (the principal subspaces are nested).
    limit = min(_MAX_DIM, *(min(V.shape) for V in views))
    reduced = [PCA(limit, random_state=random_state).fit_transform(V) for V in views]
    free = np.flatnonzero(~anchors)
    reg = SHRINKAGE[directions]
    columns = [_refined_matches(reduced[0], reduced[j], anchors, max_rounds, reg)
               for j in range(1, len(views))]
    matched = np.column_stack(columns)
    keep = np.all(matched >= 0, axis=1)
    return np.hstack([free[keep][:, None], matched[keep]]).astype(np.int64)


def aligned_views(views, anchors, pseudo_pairs):
    """The views with each pseudo-pair's rows at its first-view row, and the new pair mask.

    Anchors stay where they are; every other view's remaining rows fill the positions left
    free, in their order. Returns the list of views (the first one unchanged, the others
    reordered copies) and the pair mask of anchors plus pseudo-pairs.
    """
    n = len(anchors)
    rows0 = pseudo_pairs[:, 0]
    out = [views[0]]
    for j in range(1, len(views)):
        order = np.full(n, -1)
        order[anchors] = np.flatnonzero(anchors)
        order[rows0] = pseudo_pairs[:, j]
        used = np.zeros(n, dtype=bool)
        used[order[order >= 0]] = True
        order[order < 0] = np.flatnonzero(~used)
        out.append(np.asarray(views[j])[order])
    mask = anchors.copy()
    mask[rows0] = True
    return out, mask
