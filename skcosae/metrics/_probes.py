"""Probes and concept selection: the scikit-learn side of InterVenchA.

Every probe is a :class:`~sklearn.linear_model.LogisticRegression` fitted on probe-train rows
only. Concepts are chosen before any probe sees them, by SAEBench's rule: the difference
between a class's mean activation and the mean activation of the other rows. This keeps the
probes small (``k_probe`` features) whatever the dictionary size, so no logistic regression is
ever fitted on thousands of codes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from .._typing import Codes

__all__ = [
    "SELECTION_RULES",
    "OneVsRestProbes",
    "Scaler",
    "balanced_accuracy",
    "class_mean_differences",
    "concepts_for_classes",
    "contrast",
    "fit_probe",
    "select_probe_concepts",
]

SELECTION_RULES = ("per_class", "max")


class Scaler:
    """Standardisation of one view's features with its probe-train statistics (no labels).

    Each view gets its own scaler, so a probe moved from view ``i`` to view ``j`` meets
    features on the scale it was trained on: transfer tests what the features encode, not
    their units. ``enabled=False`` leaves features as they are.
    """

    def __init__(self, F_train: np.ndarray, enabled: bool = True) -> None:
        self._scaler = StandardScaler().fit(F_train) if enabled else None

    def __call__(self, F: np.ndarray) -> np.ndarray:
        return self._scaler.transform(F) if self._scaler is not None else np.asarray(F)


def fit_probe(F: np.ndarray, y: np.ndarray, *, C: float, max_iter: int,
              class_weight: str | None = None) -> LogisticRegression:
    """A logistic-regression probe (multinomial when ``y`` has more than two classes)."""
    return LogisticRegression(C=C, max_iter=max_iter, class_weight=class_weight).fit(F, y)


def contrast(Z: Codes, weights: np.ndarray) -> np.ndarray:
    """``weights @ Z`` (weighted sums of rows) as a dense array, without copying rows of ``Z``.

    ``weights`` is one weight per row (then one value per column of ``Z``) or one such
    vector per row of ``weights``. ``Z`` may be a scipy.sparse matrix: the product is then
    taken as ``(Z.T @ weights.T).T``, a sparse-times-dense product that never densifies ``Z``.
    """
    if sp.issparse(Z):
        return np.asarray(Z.T @ weights.T).T
    return np.asarray(weights @ Z)


def class_mean_differences(Z: Codes, y: np.ndarray, rows: np.ndarray,
                           n_classes: int) -> np.ndarray:
    """Per class, mean of ``Z`` over its rows minus mean over the other rows.

    Parameters
    ----------
    Z : ndarray or scipy.sparse matrix of shape (n_samples, n_features)
    y : ndarray of int of shape (n_samples,)
        Class codes ``0..n_classes-1``.
    rows : ndarray of int
        Rows taken into account (the probe-train rows).
    n_classes : int

    Returns
    -------
    diffs : ndarray of shape (n_classes, n_features)
    """
    y_rows = y[rows]
    counts = np.bincount(y_rows, minlength=n_classes).astype(float)
    weights = np.zeros((n_classes, Z.shape[0]))
    weights[y_rows, rows] = 1.0
    sums = contrast(Z, weights)
    total = sums.sum(axis=0)
    inside = sums / np.maximum(counts, 1.0)[:, None]
    outside = (total - sums) / np.maximum(len(rows) - counts, 1.0)[:, None]
    return inside - outside


def select_probe_concepts(diffs: np.ndarray, k: int, rule: str = "per_class") -> np.ndarray:
    """The ``k`` concepts a sparse probe may use, chosen from class-mean differences.

    ``"per_class"``: classes take turns, each adding its concept of largest
    ``|difference|`` not yet chosen, so that every class is represented (SAEBench ranks
    latents per binary task; this is its multiclass counterpart). ``"max"``: the ``k``
    concepts of largest ``|difference|`` over all classes.

    Examples
    --------
    >>> import numpy as np
    >>> from skcosae.metrics._probes import select_probe_concepts
    >>> diffs = np.array([[5.0, 4.0, 0.0, 0.1], [0.0, 0.0, 1.0, 0.2]])
    >>> select_probe_concepts(diffs, 2).tolist(), select_probe_concepts(diffs, 2, "max").tolist()
    ([0, 2], [0, 1])
    """
    n_classes, n_features = diffs.shape
    k = min(int(k), n_features)
    magnitude = np.abs(diffs)
    if rule == "max":
        return np.argsort(-magnitude.max(axis=0), kind="stable")[:k]
    if rule != "per_class":
        raise ValueError(f"Unknown selection rule {rule!r}; use one of {list(SELECTION_RULES)}.")
    order = np.argsort(-magnitude, axis=1, kind="stable")
    chosen, seen = [], set()
    for rank in range(n_features):
        for c in range(n_classes):
            concept = int(order[c, rank])
            if concept not in seen:
                seen.add(concept)
                chosen.append(concept)
                if len(chosen) == k:
                    return np.array(chosen)
    return np.array(chosen)


def concepts_for_classes(diffs: np.ndarray, classes: Iterable[int], k: int) -> np.ndarray:
    """Union over ``classes`` of each class's ``k`` most positively associated concepts.

    Only concepts more active inside the class than outside it count (a concept that is
    quieter on the class is not "the class's" concept to ablate).
    """
    chosen = []
    for c in classes:
        d = diffs[c]
        top = np.argsort(-d, kind="stable")[:k]
        chosen.extend(top[d[top] > 0].tolist())
    return np.unique(np.array(chosen, dtype=int))


def balanced_accuracy(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Mean of the true-positive and true-negative rates of boolean predictions.

    Columns are scored separately: ``pred`` and ``truth`` of shape (n, K) give K values.
    """
    pred = np.asarray(pred, dtype=bool)
    truth = np.asarray(truth, dtype=bool)
    pos = truth.sum(axis=0)
    neg = truth.shape[0] - pos
    tpr = (pred & truth).sum(axis=0) / np.maximum(pos, 1)
    tnr = (~pred & ~truth).sum(axis=0) / np.maximum(neg, 1)
    return (tpr + tnr) / 2.0


class OneVsRestProbes:
    """One binary probe per class (class ``c`` against the rest), as TPP needs.

    Each probe is fitted with balanced class weights and scored by balanced accuracy, so its
    chance level is 0.5 whatever the class frequencies.
    """

    def __init__(self, probes: Sequence[LogisticRegression]) -> None:
        self.coef = np.stack([p.coef_.ravel() for p in probes], axis=1)
        self.intercept = np.array([p.intercept_[0] for p in probes])

    def predict(self, F: np.ndarray) -> np.ndarray:
        """Boolean (n, n_classes): probe ``c`` says "class c"."""
        return F @ self.coef + self.intercept > 0

    def balanced_accuracies(self, F: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Balanced accuracy of every probe on features ``F`` with class codes ``y``."""
        truth = y[:, None] == np.arange(self.coef.shape[1])[None, :]
        return balanced_accuracy(self.predict(F), truth)
