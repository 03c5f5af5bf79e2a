"""InterVenchA metrics (SPEC section 5): one N x N matrix per metric over ordered view pairs.

Protocol
--------
The rows of ``X`` are split once (stratified, ``test_size``, ``random_state``) into a
*probe-train* part, on which every probe is fitted and every concept is selected, and a
*probe-test* part, on which every score is measured: no label of a test row is ever seen
by a probe. The estimator itself was fitted by the user on data of their choosing. Features
fed to a probe are standardised with the statistics of their own view's probe-train rows
(label-free), so that a transfer ``i -> j`` compares like with like.

For the pair ``(i, j)`` (``i`` = source, ``j`` = target; the diagonal ``i == j`` is plain
single-view quality):

Latent-space metrics (about the dictionaries; off-diagonal = translation):

- ``r2``: ``1 - SSE / SST`` of ``x_j`` against ``D_j(E_i(x_i))``.
- ``faithfulness``: ``(L_zero - L_sae) / (L_zero - L_orig)`` for the log-loss of a probe
  fitted on the original ``x_j``, evaluated on ``x_j``, on ``D_j(E_i(x_i))`` and on ``D_j(0)``.
- ``sparse_probing_latent``: a probe on the projections of ``x_i`` onto the ``k_probe`` atoms
  of view ``i`` selected on the codes of view ``i``; transfer applies the same probe to the
  projections of ``x_j`` onto the same concepts' atoms of view ``j``.

Concept-space metrics (about the codes; off-diagonal = concept consistency):

- ``sparse_probing_concept``: a probe on ``k_probe`` codes of view ``i`` selected on view
  ``i``, applied to the same codes of view ``j``.
- ``unlearning``: for each forget class, the ``k_ablate`` codes most associated with it on
  view ``i`` are zeroed in view ``j``'s code, keeping view ``j``'s reconstruction error
  (``x' = D_j(z') + x_j - D_j(z)``); with the original probe of view ``j``, utility
  ``u = (A_abl - A_zero) / (A_orig - A_zero)`` on the other classes and forget
  ``f = (A_orig - A_abl) / (A_orig - A_zero)`` on the forget class (``A_zero``: every code
  zeroed); score ``u * f``, averaged over forget classes.
- ``tpp``: the same with random subsets of ``n_classes // 2`` classes (targeted probe
  perturbation), averaged over ``n_subsets`` subsets.

Post-processing: probe accuracies are normalised so that the majority-class rate is 0 and
the probe on the original representation of the target view is 1; every score is clipped
to ``[0, 1]``; ``unlearning`` and ``tpp`` are set to 0 where the matching
``sparse_probing_concept`` score is below ``ablation_threshold``.

Aggregates: ``S_ext`` = mean over all metrics of the diagonal mean; ``S_trans`` = mean over
the latent metrics of the off-diagonal mean; ``S_cc`` = the same over the concept metrics;
``S_align = (S_trans + S_cc) / 2``; ``S_cycle`` = mean over ``i != j`` of the R^2 of the full
cycle ``i -> j -> i`` (reported apart).

Not yet implemented: the latent-space versions of unlearning and TPP, and SCR.
"""

from __future__ import annotations

import numpy as np
from joblib import Parallel, delayed
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split

from .._views import check_views

__all__ = ["LATENT_METRICS", "CONCEPT_METRICS", "compute_intervencha"]

LATENT_METRICS = ("r2", "faithfulness", "sparse_probing_latent")
CONCEPT_METRICS = ("sparse_probing_concept", "unlearning", "tpp")


def _clip(value):
    return float(np.clip(value, 0.0, 1.0)) if np.isfinite(value) else 0.0


def _r2(X, X_hat):
    total = ((X - X.mean(0)) ** 2).sum()
    return 1.0 - ((X - X_hat) ** 2).sum() / max(total, 1e-12)


class _Standardiser:
    """Label-free per-view standardisation fitted on probe-train rows."""

    def __init__(self, A):
        self.mean = A.mean(0)
        self.scale = A.std(0)
        self.scale[self.scale < 1e-12] = 1.0

    def __call__(self, A):
        return (A - self.mean) / self.scale


def _probe(C):
    return LogisticRegression(C=C, max_iter=500)


def _normalised_accuracy(acc, chance, reference):
    return _clip((acc - chance) / max(reference - chance, 1e-12))


def _select_concepts(Z, y, classes, k):
    """The ``k`` codes whose class means differ most from the rest (SAEBench's rule)."""
    diffs = np.stack([Z[y == c].mean(0) - Z[y != c].mean(0) for c in classes])
    return np.argsort(-np.abs(diffs).max(0), kind="stable")[:k]


def _associated_concepts(Z, y, forget, k):
    """The ``k`` codes most positively associated with the classes in ``forget``."""
    inside = np.isin(y, forget)
    diff = Z[inside].mean(0) - Z[~inside].mean(0)
    return np.argsort(-diff, kind="stable")[:k]


def _accuracy(probe, X, y, rows):
    return float((probe.predict(X[rows]) == y[rows]).mean()) if rows.any() else np.nan


def _ablation_score(estimator, j, X_test, Z_test, y_test, probe, standardiser, forget,
                    concepts):
    """``u * f`` of zeroing ``concepts`` in view ``j``'s codes, error term kept."""
    recon = estimator.inverse_transform(Z_test, view=j)
    error = X_test - recon
    ablated = Z_test.copy()
    ablated[:, concepts] = 0.0
    X_abl = estimator.inverse_transform(ablated, view=j) + error
    X_zero = estimator.inverse_transform(np.zeros_like(Z_test), view=j) + error
    inside = np.isin(y_test, forget)
    scores = {}
    for name, rows in (("forget", inside), ("utility", ~inside)):
        a_orig = _accuracy(probe, standardiser(X_test), y_test, rows)
        a_abl = _accuracy(probe, standardiser(X_abl), y_test, rows)
        a_zero = _accuracy(probe, standardiser(X_zero), y_test, rows)
        span = a_orig - a_zero
        if not np.isfinite(span) or abs(span) < 1e-12:
            scores[name] = 0.0
        elif name == "forget":
            scores[name] = _clip((a_orig - a_abl) / span)
        else:
            scores[name] = _clip((a_abl - a_zero) / span)
    return scores["utility"] * scores["forget"]


def _source_metrics(i, estimator, views_tr, views_te, codes_tr, codes_te, trans_te, y_tr,
                    y_te, classes, orig, params):
    """Every metric of the row ``i -> *`` of the matrices."""
    n_views = len(views_tr)
    chance = max(np.mean(y_te == c) for c in classes)
    rows = {}
    S = _select_concepts(codes_tr[i], y_tr, classes, params["k_probe"])
    z_std = [_Standardiser(codes_tr[j][:, S]) for j in range(n_views)]
    concept_probe = _probe(params["C"]).fit(z_std[i](codes_tr[i][:, S]), y_tr)
    dicts = estimator.dictionaries_
    lat_tr = [views_tr[j] @ dicts[j][S].T for j in range(n_views)]
    lat_std = [_Standardiser(f) for f in lat_tr]
    latent_probe = _probe(params["C"]).fit(lat_std[i](lat_tr[i]), y_tr)
    for j in range(n_views):
        probe_j, std_j, acc_orig_j, loss_orig_j = orig[j]
        X_te = views_te[j]
        X_hat = trans_te[(i, j)]
        r = {"r2": _clip(_r2(X_te, X_hat))}
        zero = estimator.inverse_transform(np.zeros((X_te.shape[0], codes_te[j].shape[1])),
                                           view=j)
        labels = probe_j.classes_
        loss_sae = log_loss(y_te, probe_j.predict_proba(std_j(X_hat)), labels=labels)
        loss_zero = log_loss(y_te, probe_j.predict_proba(std_j(zero)), labels=labels)
        r["faithfulness"] = _clip((loss_zero - loss_sae) / max(loss_zero - loss_orig_j, 1e-12))
        acc = float((latent_probe.predict(lat_std[j](X_te @ dicts[j][S].T)) == y_te).mean())
        r["sparse_probing_latent"] = _normalised_accuracy(acc, chance, acc_orig_j)
        acc = float((concept_probe.predict(z_std[j](codes_te[j][:, S])) == y_te).mean())
        r["sparse_probing_concept"] = _normalised_accuracy(acc, chance, acc_orig_j)
        gate = r["sparse_probing_concept"] >= params["ablation_threshold"]
        for name, tasks in (("unlearning", params["forget_tasks"]),
                            ("tpp", params["tpp_tasks"])):
            if not gate:
                r[name] = 0.0
                continue
            values = [
                _ablation_score(estimator, j, X_te, codes_te[j], y_te, probe_j, std_j, forget,
                                _associated_concepts(codes_tr[i], y_tr, forget,
                                                     params["k_ablate"]))
                for forget in tasks
            ]
            r[name] = float(np.mean(values)) if values else 0.0
        rows[j] = r
    cycle = {}
    for j in range(n_views):
        if j != i and params["cycles"].get((i, j)) is not None:
            cycle[j] = _clip(_r2(views_te[i], params["cycles"][(i, j)]))
    return i, rows, cycle


def compute_intervencha(estimator, X, y, *, test_size=0.3, k_probe=8, k_ablate=4, C=1.0,
                        ablation_threshold=0.1, n_forget_classes=5, n_subsets=5,
                        n_jobs=None, random_state=0):
    """Compute every InterVenchA matrix; returns (records, cycle records, view names)."""
    mv = check_views(X, view_sizes=getattr(estimator, "view_sizes", None),
                     expected_widths=getattr(estimator, "view_sizes_", None),
                     estimator_name=type(estimator).__name__)
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != mv.n_samples:
        raise ValueError(
            f"y must be a 1-D array of class labels with one label per row; got shape "
            f"{y.shape} for {mv.n_samples} rows."
        )
    classes, counts = np.unique(y, return_counts=True)
    if len(classes) < 2:
        raise ValueError("y has a single class; InterVenchA's probes need at least 2 classes.")
    stratify = y if counts.min() >= 2 else None
    idx_tr, idx_te = train_test_split(np.arange(mv.n_samples), test_size=test_size,
                                      random_state=random_state, stratify=stratify)
    views = mv.views
    views_tr = [v[idx_tr] for v in views]
    views_te = [v[idx_te] for v in views]
    y_tr, y_te = y[idx_tr], y[idx_te]
    codes = estimator.transform(list(views))
    codes = [np.asarray(z, dtype=float) for z in codes]
    codes_tr = [z[idx_tr] for z in codes]
    codes_te = [z[idx_te] for z in codes]
    n_views = mv.n_views
    trans_te, cycles = {}, {}
    for i in range(n_views):
        for j in range(n_views):
            trans_te[(i, j)] = np.asarray(estimator.translate(list(views_te), source=i, target=j),
                                          dtype=float)
    for i in range(n_views):
        for j in range(n_views):
            if i != j:
                try:
                    cycles[(i, j)] = np.asarray(
                        estimator.translate(trans_te[(i, j)], source=j, target=i), dtype=float)
                except ValueError:
                    # A shared-code crosscoder cannot encode one view alone: no cycle.
                    cycles[(i, j)] = None

    def original_probe(j):
        std = _Standardiser(views_tr[j])
        probe = _probe(C).fit(std(views_tr[j]), y_tr)
        acc = float((probe.predict(std(views_te[j])) == y_te).mean())
        loss = log_loss(y_te, probe.predict_proba(std(views_te[j])), labels=probe.classes_)
        return probe, std, acc, loss

    parallel = Parallel(n_jobs=n_jobs)
    orig = parallel(delayed(original_probe)(j) for j in range(n_views))
    rng = np.random.default_rng(random_state)
    forget_tasks = [[c] for c in rng.permutation(classes)[:n_forget_classes]]
    half = max(1, len(classes) // 2)
    tpp_tasks = [list(rng.choice(classes, size=half, replace=False)) for _ in range(n_subsets)]
    params = dict(k_probe=min(k_probe, codes[0].shape[1]), k_ablate=k_ablate, C=C,
                  ablation_threshold=ablation_threshold, forget_tasks=forget_tasks,
                  tpp_tasks=tpp_tasks, cycles=cycles)
    results = parallel(
        delayed(_source_metrics)(i, estimator, views_tr, views_te, codes_tr, codes_te,
                                 trans_te, y_tr, y_te, classes, orig, params)
        for i in range(n_views)
    )
    records, cycle_records = [], []
    names = list(getattr(estimator, "view_names_", mv.view_names))
    for i, rows, cycle in results:
        for j, r in rows.items():
            for metric, value in r.items():
                records.append((metric, names[i], names[j], value))
        for j, value in cycle.items():
            cycle_records.append(("cycle_r2", names[i], names[j], value))
    return records, cycle_records, names
