"""The InterVenchA engine: every requested metric for every ordered pair of views.

It reads the estimator through its public surface only (DEVELOPERS.md, "Estimator surface"):
``transform`` on the multi-view input (so a shared-code crosscoder works too),
``inverse_transform(Z, view=j)``, ``translate`` (for the cycle), ``dictionaries_`` (for the
latent metrics), ``n_views_``, ``view_names_`` and ``view_sizes_``.

Cost: the views are encoded once; per probe split, each ordered pair ``(i, j)`` is decoded
once (``N^2`` decodes of the probe-test rows), each ablation decodes only the rows where an
ablated code is active, and every logistic regression sees either one view's original
features or ``k_probe`` chosen concepts, never the whole code.

Memory: float32 views stay float32 (they are not copied into float64), and sparse codes (an
estimator whose ``transform`` returns scipy.sparse matrices) stay sparse: only
``(n_samples, k_probe)`` column blocks and row chunks of the codes are ever dense.
"""

from __future__ import annotations

import time
import warnings
from collections import defaultdict
from collections.abc import Hashable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from .._typing import ArrayLike, MultiViewData, ViewSizes
from .._views import check_views
from ._concept import ConceptAblation, as_codes, code_columns, decode, zero_code
from ._latent import LatentAblation, explained_variance, faithfulness, latent_features
from ._postprocess import chance_level, clip01, normalise
from ._probes import (
    OneVsRestProbes,
    Scaler,
    class_mean_differences,
    concepts_for_classes,
    contrast,
    fit_probe,
    select_probe_concepts,
)
from ._protocol import GATES
from ._tasks import Tasks, scr_score, tpp_score, unlearning_score

__all__ = ["Context", "Timer", "evaluate_split", "prepare", "single_threaded_blas"]


def single_threaded_blas() -> threadpool_limits:
    """numpy/scipy's BLAS on one thread while the metrics do their bookkeeping.

    Their linear algebra is many small problems (probes on a few thousand rows, a d x d
    eigendecomposition), on which multithreaded OpenBLAS spin-waits when cores are shared
    (measured in benchmarks/README.md, bench_report). ``n_jobs`` parallelises across probes
    instead. Only the ``blas`` API is limited: a torch estimator keeps its own thread
    settings.
    """
    return threadpool_limits(limits=1, user_api="blas")


class Timer:
    """Wall-clock seconds spent per stage or metric (the report's ``timings``)."""

    def __init__(self) -> None:
        self.seconds: defaultdict[str, float] = defaultdict(float)

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - start


class Context:
    """What every probe split shares: the checked views, labels and codes."""

    def __init__(self, estimator: Any, views: Sequence[np.ndarray], y: np.ndarray,
                 classes: np.ndarray, codes: Sequence[np.ndarray],
                 dictionaries: Sequence[np.ndarray], names: Sequence[Hashable]) -> None:
        self.estimator = estimator
        self.views = views
        self.y = y
        self.classes = classes
        self.codes = codes
        self.dictionaries = dictionaries
        self.names = names

    @property
    def n_views(self) -> int:
        return len(self.views)

    @property
    def n_classes(self) -> int:
        return len(self.classes)


def _check_estimator(estimator):
    if isinstance(estimator, BaseEstimator):
        check_is_fitted(estimator)
    missing = [a for a in ("n_views_", "view_names_", "view_sizes_") if not hasattr(estimator, a)]
    if missing:
        raise ValueError(
            f"{type(estimator).__name__} lacks the fitted attributes {missing}; InterVenchA "
            "needs a fitted multi-view estimator (CoupledSAE, skcosae.linear, ...)."
        )


def _check_labels(y, n_samples):
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
    if y.ndim != 1 or y.shape[0] != n_samples:
        raise ValueError(
            f"y must be a 1-D array of class labels with one label per row; got shape "
            f"{y.shape} for {n_samples} rows."
        )
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise ValueError("y contains NaN or infinity; InterVenchA needs a class label per row.")
    classes, codes, counts = np.unique(y, return_inverse=True, return_counts=True)
    if len(classes) < 2:
        raise ValueError(
            f"y has a single class ({classes[0]!r}); InterVenchA's probes need at least 2 classes."
        )
    if counts.min() < 2:
        rare = classes[counts < 2].tolist()
        raise ValueError(
            f"Classes {rare} of y have a single row; every class needs at least 2 rows (one "
            "to fit the probes, one to score them). Drop or merge those classes."
        )
    return classes, codes.ravel()


def _split_codes(codes):
    """One code matrix per view from what ``transform`` returned: a list, or a frame with
    (view, concept) columns (an estimator set to pandas output)."""
    if isinstance(codes, pd.DataFrame) and codes.columns.nlevels == 2:
        codes = [codes[view].to_numpy() for view in codes.columns.unique(level=0)]
    return [as_codes(z) for z in codes]


def prepare(estimator: Any, X: MultiViewData, y: ArrayLike, *, view_sizes: ViewSizes,
            metrics: Sequence[str]) -> Context:
    """Check the inputs and encode every view once."""
    _check_estimator(estimator)
    names = list(estimator.view_names_)
    mv = check_views(X, view_sizes=view_sizes if view_sizes is not None
                     else list(estimator.view_sizes_),
                     expected_widths=list(estimator.view_sizes_),
                     expected_view_names=names, dtype=None,
                     estimator_name=type(estimator).__name__)
    classes, y_codes = _check_labels(y, mv.n_samples)
    codes = _split_codes(estimator.transform(list(mv.views)))
    widths = {z.shape[1] for z in codes}
    if len(codes) != mv.n_views or len(widths) != 1 or any(z.shape[0] != mv.n_samples
                                                            for z in codes):
        raise ValueError(
            f"{type(estimator).__name__}.transform returned codes of shapes "
            f"{[z.shape for z in codes]}; InterVenchA needs one (n_samples, n_concepts) array "
            "or scipy.sparse matrix per view, of the same width."
        )
    dictionaries: list[np.ndarray] = []  # read by the latent-space metrics only
    if any(m in metrics for m in ("sparse_probing_latent", "unlearning_latent", "tpp_latent",
                                  "scr_latent")):
        if not hasattr(estimator, "dictionaries_"):
            raise ValueError(
                f"The latent-space metrics need {type(estimator).__name__}.dictionaries_ (one "
                "(n_concepts, d_i) array per view); leave them out with metrics=[...]."
            )
        dictionaries = [np.asarray(D, dtype=float) for D in estimator.dictionaries_]
        m = widths.pop()
        for name, D, v in zip(names, dictionaries, mv.views):
            if D.shape != (m, v.shape[1]):
                raise ValueError(
                    f"dictionaries_ of view {name!r} has shape {D.shape}; expected "
                    f"({m}, {v.shape[1]}) (one atom per concept, in the view's space)."
                )
    return Context(estimator, mv.views, y_codes, classes, codes, dictionaries, names)


def _needed(metrics):
    """The requested metrics plus the sparse-probing scores that gate them."""
    needed = set(metrics)
    needed.update(GATES[m] for m in metrics if m in GATES)
    return needed


def evaluate_split(ctx: Context, train: np.ndarray, test: np.ndarray, tasks: Tasks,
                   params: Mapping[str, Any], metrics: Sequence[str], timer: Timer,
                   warned: set[int | str]) -> list[tuple[str, int, int, float, bool]]:
    """Records ``(metric, source, target, raw, gated)`` of one probe split.

    ``raw`` is the score before clipping to ``[0, 1]`` and before the ablation gate;
    ``gated`` says the gate sets the cell to 0 (the report applies both).
    """
    est, N, K = ctx.estimator, ctx.n_views, ctx.n_classes
    needed = _needed(metrics)
    y, views, codes = ctx.y, ctx.views, ctx.codes
    y_tr, y_te = y[train], y[test]
    X_te = [v[test] for v in views]
    values = {}  # (metric, i, j) -> value
    n_jobs = params["n_jobs"]
    probe_kw = dict(C=params["C"], max_iter=params["max_iter"])
    min_gap = params["min_gap"]

    # ---- original-representation probes of every view, fitted in parallel
    uses_probes = needed - {"r2", "cycle_r2"}
    with timer("probes"):
        scalers = [Scaler(v[train], params["standardize"]) for v in views]
        F_tr = [scalers[j](views[j][train]) for j in range(N)] if uses_probes else []
        jobs: list[tuple[tuple, np.ndarray, np.ndarray, dict[str, str]]] = []
        if uses_probes:
            jobs += [(("multi", j), F_tr[j], y_tr, {}) for j in range(N)]
        if needed & {"tpp_latent", "tpp_concept"}:
            jobs += [(("ovr", j, c), F_tr[j], y_tr == c, {"class_weight": "balanced"})
                     for j in range(N) for c in range(K)]
        if needed & {"scr_latent", "scr_concept"}:
            for t, (c00, c01, c10, c11) in enumerate(tasks.scr):
                biased = np.isin(y_tr, [c00, c11])
                four = np.isin(y_tr, [c00, c01, c10, c11])
                label = np.isin(y_tr, [c10, c11])
                for j in range(N):
                    jobs.append((("scr_biased", j, t), F_tr[j][biased], label[biased], {}))
                    jobs.append((("scr_oracle", j, t), F_tr[j][four], label[four], {}))
        fitted = Parallel(n_jobs=n_jobs, prefer="threads")(
            delayed(fit_probe)(F, target, **probe_kw, **kw) for _, F, target, kw in jobs)
        probes: dict[tuple, Any] = {key: probe for (key, *_), probe in zip(jobs, fitted)}
        F_te = [scalers[j](X_te[j]) for j in range(N)]
        ovr = {j: OneVsRestProbes([probes[("ovr", j, c)] for c in range(K)])
               for j in range(N) if ("ovr", j, 0) in probes}
        acc_orig, pred_orig = {}, {}
        chance = chance_level(y_tr, y_te, K, params["chance"])
        for j in range(N):
            if ("multi", j) not in probes:
                continue
            pred_orig[j] = probes[("multi", j)].predict(F_te[j])
            acc_orig[j] = float(np.mean(pred_orig[j] == y_te))
            if acc_orig[j] - chance < min_gap and j not in warned:
                warned.add(j)
                warnings.warn(
                    f"View {ctx.names[j]!r}: the probe on the original representation scores "
                    f"{acc_orig[j]:.3f} against a chance level of {chance:.3f}; y carries "
                    f"(almost) no signal there (less than min_gap={min_gap}), so the "
                    "probe-based scores with this target view are 0.",
                    UserWarning, stacklevel=4)

    # ---- concept choice on each source view's probe-train codes
    with timer("concept_selection"):
        diffs = [class_mean_differences(codes[i], y, train, K) for i in range(N)]
        chosen = [select_probe_concepts(diffs[i], params["k_probe"], params["selection"])
                  for i in range(N)]

    # ---- sparse probing: one small probe per source view, applied to every target view
    def sparse_probing(metric, features):
        with timer(metric):
            for i in range(N):
                feats = [features(j, chosen[i]) for j in range(N)]
                fscale = [Scaler(f[train], params["standardize"]) for f in feats]
                probe = fit_probe(fscale[i](feats[i][train]), y_tr, **probe_kw)
                for j in range(N):
                    acc = float(np.mean(probe.predict(fscale[j](feats[j][test])) == y_te))
                    values[(metric, i, j)] = normalise(acc, chance, acc_orig[j], min_gap,
                                                       clip=False)

    if "sparse_probing_concept" in needed:
        sparse_probing("sparse_probing_concept", lambda j, S: code_columns(codes[j], S))
    if "sparse_probing_latent" in needed:
        sparse_probing("sparse_probing_latent",
                       lambda j, S: latent_features(views[j], ctx.dictionaries[j][S]))

    # ---- decodings of the probe-test rows: T[i, j] = D_j(E_i(x_i))
    concept_ablations = needed & {"unlearning_concept", "tpp_concept", "scr_concept"}
    pairs = []
    if needed & {"r2", "faithfulness", "cycle_r2"}:
        pairs = [(i, j) for i in range(N) for j in range(N)]
    elif concept_ablations:
        pairs = [(j, j) for j in range(N)]
    T = {}
    with timer("translate"):
        Z_te = {i: codes[i][test] for i in {i for i, _ in pairs}}
        for i, j in pairs:
            T[(i, j)] = decode(est, Z_te[i], j)

    if "r2" in needed:
        with timer("r2"):
            for i, j in pairs:
                values[("r2", i, j)] = explained_variance(X_te[j], T[(i, j)], clip=False)
    if "faithfulness" in needed:
        with timer("faithfulness"):
            for j in range(N):
                X_zero = np.broadcast_to(decode(est, zero_code(codes[j]), j), X_te[j].shape)
                for i in range(N):
                    values[("faithfulness", i, j)] = faithfulness(
                        probes[("multi", j)], scalers[j], y_te, X_te[j], T[(i, j)], X_zero,
                        min_gap, clip=False)
    if "cycle_r2" in needed:
        with timer("cycle_r2"):
            for i in range(N):
                for j in range(N):
                    if i == j:
                        continue
                    try:
                        back = est.translate(T[(i, j)], source=j, target=i)
                    except ValueError as exc:
                        # e.g. a shared-code crosscoder cannot encode one view alone.
                        if "cycle" not in warned:
                            warned.add("cycle")
                            warnings.warn(f"cycle_r2 is undefined for this estimator ({exc}); "
                                          "it is reported as NaN.", UserWarning, stacklevel=4)
                        values[("cycle_r2", i, j)] = float("nan")
                        continue
                    values[("cycle_r2", i, j)] = explained_variance(
                        X_te[i], np.asarray(back), clip=False)

    # ---- ablations: concepts chosen on view i, removed from view j
    gated: set[tuple[str, int, int]] = set()
    for space in ("latent", "concept"):
        wanted = [m for m in (f"unlearning_{space}", f"tpp_{space}", f"scr_{space}")
                  if m in needed]
        if not wanted:
            continue
        gate_metric = f"sparse_probing_{space}"
        for j in range(N):
            with timer(f"ablation_setup_{space}"):
                ablate: ConceptAblation | LatentAblation
                if space == "concept":
                    ablate = ConceptAblation(est, j, X_te[j], codes[j][test], T[(j, j)])
                else:
                    ablate = LatentAblation(X_te[j], ctx.dictionaries[j],
                                            views[j][train].mean(axis=0, dtype=np.float64))
                X_zero = ablate.zero()
                multi = probes[("multi", j)]
                pred_zero = multi.predict(scalers[j](X_zero))
                bacc_orig = ovr[j].balanced_accuracies(F_te[j], y_te) if j in ovr else None
            threshold = params["ablation_threshold"]
            for i in range(N):
                # Gate: where the chosen concepts cannot even probe the classes on view j,
                # any forgetting is accidental damage and earns nothing. The ungated score
                # is still computed: the report keeps it as the cell's raw value.
                if clip01(values[(gate_metric, i, j)]) < threshold:
                    gated.update((metric, i, j) for metric in wanted)
                for metric in wanted:
                    with timer(metric):
                        values[(metric, i, j)] = _ablation_metric(
                            metric, i, j, ablate, diffs, codes, y, train, y_te, scalers[j],
                            probes, pred_orig[j], pred_zero, ovr.get(j), bacc_orig, tasks,
                            params)

    return [(metric, ctx.names[i], ctx.names[j], value, (metric, i, j) in gated)
            for (metric, i, j), value in values.items() if metric in metrics]


def _ablation_metric(metric, i, j, ablate, diffs, codes, y, train, y_te, scaler, probes,
                     pred_orig, pred_zero, ovr, bacc_orig, tasks, params):
    """One ablation metric of the pair ``(i, j)``, averaged over its tasks."""
    k = params["k_ablate"]
    rule, p, min_gap = params["combine"], params["p"], params["min_gap"]
    multi = probes[("multi", j)]
    if metric.startswith("unlearning"):
        scores = []
        for forget in tasks.unlearning:
            X_abl = ablate(concepts_for_classes(diffs[i], forget, k))
            scores.append(unlearning_score(pred_orig, multi.predict(scaler(X_abl)), pred_zero,
                                           y_te, forget, rule=rule, p=p, min_gap=min_gap))
        return float(np.mean(scores)) if scores else 0.0
    if metric.startswith("tpp"):
        scores = []
        for subset in tasks.tpp:
            X_abl = ablate(concepts_for_classes(diffs[i], subset, k))
            bacc = ovr.balanced_accuracies(scaler(X_abl), y_te)
            scores.append(tpp_score(bacc_orig, bacc, subset, rule=rule, p=p, min_gap=min_gap))
        return float(np.mean(scores)) if scores else 0.0
    # SCR: ablate the concepts of the spurious attribute B (chosen on view i's train rows).
    scores = []
    for t, (c00, c01, c10, c11) in enumerate(tasks.scr):
        y_tr = y[train]
        four_tr = np.isin(y_tr, [c00, c01, c10, c11])
        b_pos = four_tr & np.isin(y_tr, [c01, c11])
        b_neg = four_tr & ~np.isin(y_tr, [c01, c11])
        weights = np.zeros(len(y))
        weights[train[b_pos]] = 1.0 / max(b_pos.sum(), 1)
        weights[train[b_neg]] = -1.0 / max(b_neg.sum(), 1)
        diff = np.abs(contrast(codes[i], weights))
        top = np.argsort(-diff, kind="stable")[:k]
        concepts = top[diff[top] > 0]
        test_rows = np.isin(y_te, [c00, c01, c10, c11])
        label = np.isin(y_te, [c10, c11])[test_rows]
        groups = y_te[test_rows]

        def group_accuracy(probe, X, test_rows=test_rows, label=label, groups=groups,
                           classes=(c00, c01, c10, c11)):
            hits = probe.predict(scaler(X[test_rows])) == label
            return float(np.mean([hits[groups == c].mean() for c in classes]))

        X_orig = ablate.X
        X_abl = ablate(concepts)
        biased, oracle = probes[("scr_biased", j, t)], probes[("scr_oracle", j, t)]
        scores.append(scr_score(group_accuracy(biased, X_orig), group_accuracy(biased, X_abl),
                                group_accuracy(oracle, X_orig), min_gap=min_gap))
    return float(np.mean(scores)) if scores else 0.0

