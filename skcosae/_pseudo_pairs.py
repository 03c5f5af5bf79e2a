"""Pseudo-pairs from a few anchors: an anchor CCA, then mutual nearest neighbours.

With few known pairs, the instance-wise losses see only a handful of rows. A linear
alignment fitted on the anchors alone already puts most rows near their counterpart: each
view is reduced by PCA on all its rows, a regularised CCA takes its within-view covariances
from all rows and its cross-covariance from the anchors, and two rows of different views
that are each other's nearest neighbour (by cosine) in the canonical space become a
pseudo-pair. The coupled model then trains on the anchors plus these pseudo-pairs (docs:
Pairing, "Few anchors"). Every view is matched with the first; a row of the first view
becomes a pseudo-pair when it is matched in every other view.
"""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors

__all__ = ["MIN_ANCHORS", "aligned_views", "cca_pseudo_pairs"]

#: A CCA needs a few pairs to estimate any cross-covariance.
MIN_ANCHORS = 3
# Canonical dimensions: half the anchors, within these bounds (the cross-covariance of a
# few anchors carries no more directions).
_MIN_DIM, _MAX_DIM = 2, 64
# Ridge shrinkage of the within-view covariances (skcosae.linear.CCA's reg).
_REG = 0.1


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


def cca_pseudo_pairs(views, anchors, *, random_state=None):
    """Pseudo-pairs of the rows outside ``anchors``.

    Parameters
    ----------
    views : list of ndarray of shape (n_samples, n_features_i)
        In memory; row ``r`` of every view is a pair where ``anchors[r]``.
    anchors : ndarray of bool of shape (n_samples,)
        The known pairs (at least :data:`MIN_ANCHORS`).
    random_state : int or None
        Seeds the randomised PCA solver.

    Returns
    -------
    ndarray of int of shape (n_pseudo_pairs, n_views)
        Each row: the row of every view that makes one pseudo-pair (column 0 the first
        view's); none of them an anchor.
    """
    from .linear import CCA

    n_anchors = int(anchors.sum())
    dim = int(np.clip(n_anchors // 2, _MIN_DIM, _MAX_DIM))
    dim = min(dim, *(min(V.shape) for V in views))
    reduced = [PCA(dim, random_state=random_state).fit_transform(V) for V in views]
    free = np.flatnonzero(~anchors)
    matched = None
    for j in range(1, len(views)):
        cca = CCA(n_components=dim, reg=_REG).fit([reduced[0], reduced[j]], pair_mask=anchors)
        Z0, Zj = cca.transform([reduced[0][free], reduced[j][free]])
        a, b = mutual_nearest_neighbours(Z0, Zj)
        column = np.full(len(free), -1)
        column[a] = free[b]
        matched = column[:, None] if matched is None else np.hstack([matched, column[:, None]])
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
