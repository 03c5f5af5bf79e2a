"""The InterVenchA report: a tidy frame of every metric, N x N matrices, the aggregates."""

from __future__ import annotations

import numbers
from collections.abc import Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._typing import ArrayLike, MultiViewData, RandomState, ViewSizes
from ._evaluate import Timer, evaluate_split, prepare, single_threaded_blas
from ._protocol import (
    AGGREGATES,
    CONCEPT_METRICS,
    CYCLE_METRICS,
    LATENT_METRICS,
    check_params,
    derive_seed,
    probe_splits,
    resolve_metrics,
)
from ._tasks import Tasks, draw_tasks

__all__ = ["InterVenchAReport", "aggregate", "intervencha_report"]

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_COLUMNS = ["metric", "source", "target", "value"]


def aggregate(frame: pd.DataFrame) -> dict[str, float]:
    """The aggregates of a tidy frame ``metric, source, target, value``.

    - ``S_ext``: mean over the (non-cycle) metrics of each metric's diagonal mean;
    - ``S_trans``: mean over the latent-space metrics of their off-diagonal means;
    - ``S_cc``: the same over the concept-space metrics;
    - ``S_align = (S_trans + S_cc) / 2``;
    - ``S_cycle``: the off-diagonal mean of ``cycle_r2``.

    An aggregate none of whose metrics was computed is NaN.
    """
    diag = frame[frame.source == frame.target]
    off = frame[frame.source != frame.target]

    def mean_of(part, family):
        means = [part.value[part.metric == m].mean() for m in family
                 if (frame.metric == m).any()]
        means = [v for v in means if np.isfinite(v)]
        return float(np.mean(means)) if means else float("nan")

    s_trans = mean_of(off, LATENT_METRICS)
    s_cc = mean_of(off, CONCEPT_METRICS)
    return {
        "S_ext": mean_of(diag, LATENT_METRICS + CONCEPT_METRICS),
        "S_trans": s_trans,
        "S_cc": s_cc,
        "S_align": (s_trans + s_cc) / 2.0,
        "S_cycle": mean_of(off, CYCLE_METRICS),
    }


class InterVenchAReport:
    """InterVenchA scores of one fitted estimator on one labelled dataset.

    Built by :func:`intervencha_report`. Every metric has one value per ordered pair of
    views ``(source, target)``: the diagonal is single-view quality, the off-diagonal
    transfer (translation for latent-space metrics, concept consistency for concept-space
    ones).

    Parameters
    ----------
    frame : DataFrame
        Tidy records with columns ``metric, source, target, value``.
    view_names : list
        The views, in the estimator's order.
    params : dict, default=None
        The settings the scores were computed with.
    timings : dict, default=None
        Seconds spent per stage and per metric.

    Attributes
    ----------
    frame : DataFrame
        The tidy records (every value in ``[0, 1]``; NaN only for an undefined cycle).
    aggregates : dict
        ``S_ext``, ``S_trans``, ``S_cc``, ``S_align``, ``S_cycle`` (see :func:`aggregate`).
    metrics : list of str
        The metrics of the report, in canonical order.
    view_names : list
    params : dict
    timings : dict

    Examples
    --------
    >>> import pandas as pd
    >>> from skcosae.metrics import InterVenchAReport
    >>> frame = pd.DataFrame({"metric": ["r2"] * 4, "source": [0, 0, 1, 1],
    ...                       "target": [0, 1, 0, 1], "value": [0.9, 0.5, 0.7, 0.8]})
    >>> report = InterVenchAReport(frame, view_names=[0, 1])
    >>> report.matrix("r2")
    target    0    1
    source
    0       0.9  0.5
    1       0.7  0.8
    >>> round(report["S_ext"], 2), round(report["S_trans"], 2)
    (0.85, 0.6)
    """

    def __init__(self, frame: pd.DataFrame, view_names: Sequence[Hashable],
                 params: Mapping[str, Any] | None = None,
                 timings: Mapping[str, float] | None = None) -> None:
        self.frame = frame.reset_index(drop=True)[_COLUMNS]
        self.view_names = list(view_names)
        self.params = dict(params or {})
        self.timings = dict(timings or {})
        present = set(self.frame.metric)
        self.metrics = [m for m in LATENT_METRICS + CONCEPT_METRICS + CYCLE_METRICS
                        if m in present]
        self.aggregates = aggregate(self.frame)

    def to_frame(self) -> pd.DataFrame:
        """The tidy records ``metric, source, target, value`` (a copy)."""
        return self.frame.copy()

    def matrix(self, metric: str) -> pd.DataFrame:
        """One metric as an N x N DataFrame (rows: source view, columns: target view)."""
        if metric not in self.metrics:
            raise ValueError(f"Unknown metric {metric!r}; this report has {self.metrics}.")
        part = self.frame[self.frame.metric == metric]
        table = part.pivot(index="source", columns="target", values="value")
        return table.reindex(index=self.view_names, columns=self.view_names)

    def __getitem__(self, name: str) -> float:
        if name not in self.aggregates:
            raise KeyError(f"{name!r} is not an aggregate; use one of {list(AGGREGATES)}.")
        return self.aggregates[name]

    def __repr__(self) -> str:
        lines = [f"InterVenchA report: {len(self.view_names)} views, "
                 "rows = source view, columns = target view"]
        lines.append("  " + "  ".join(f"{k}={v:.3f}" for k, v in self.aggregates.items()))
        for metric in self.metrics:
            lines += ["", f"{metric}:",
                      self.matrix(metric).round(3).to_string(na_rep="-")]
        return "\n".join(lines)

    def plot(self, metrics: Sequence[str] | None = None, *, ncols: int = 5,
             cmap: str = "viridis") -> Figure:
        """One heatmap per metric (rows: source view, columns: target view).

        Needs matplotlib (``pip install skcosae[plot]``); it is imported here only.

        Parameters
        ----------
        metrics : list of str, default=None
            Metrics to draw; default every metric of the report.
        ncols : int, default=5
            Heatmaps per row of the figure; more metrics wrap onto further rows.
        cmap : str, default="viridis"

        Returns
        -------
        fig : matplotlib.figure.Figure
            Its axes are the heatmaps in ``metrics`` order (unused grid cells are removed).
        """
        try:
            import matplotlib.pyplot as plt
        except ImportError as exc:
            raise ImportError(
                "InterVenchAReport.plot needs matplotlib, which is not installed; install "
                "it with `pip install skcosae[plot]` (or `pip install matplotlib`)."
            ) from exc
        metrics = list(metrics) if metrics is not None else self.metrics
        for metric in metrics:
            if metric not in self.metrics:
                raise ValueError(f"Unknown metric {metric!r}; this report has {self.metrics}.")
        if not isinstance(ncols, numbers.Integral) or ncols < 1:
            raise ValueError(f"ncols must be a positive integer, got {ncols!r}.")
        labels = [str(v) for v in self.view_names]
        ncols = min(ncols, len(metrics))
        nrows = -(-len(metrics) // ncols)
        size = 0.45 * len(labels) + 1.4
        fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols + 1.0, size * nrows + 0.4),
                                 squeeze=False, layout="constrained")
        axes = axes.ravel()
        for ax in axes[len(metrics):]:
            fig.delaxes(ax)
        for index, (ax, metric) in enumerate(zip(axes, metrics)):
            table = self.matrix(metric).to_numpy(dtype=float)
            image = ax.imshow(table, vmin=0.0, vmax=1.0, cmap=cmap)
            for (r, c), value in np.ndenumerate(table):
                ax.text(c, r, "-" if np.isnan(value) else f"{value:.2f}", ha="center",
                        va="center", fontsize=7, color="w" if value < 0.5 else "k")
            ax.set_title(metric, fontsize=9)
            ax.set_xticks(range(len(labels)), labels, fontsize=7, rotation=45, ha="right")
            ax.set_yticks(range(len(labels)), labels if index % ncols == 0 else [], fontsize=7)
            if index % ncols == 0:
                ax.set_ylabel("source")
            if index >= len(metrics) - ncols:
                ax.set_xlabel("target")
        fig.colorbar(image, ax=list(axes[:len(metrics)]), shrink=0.8)
        return fig


def intervencha_report(
    estimator: Any,
    X: MultiViewData,
    y: ArrayLike,
    *,
    metrics: str | Sequence[str] | None = None,
    test_size: float | int = 0.3,
    cv: int | object | None = None,
    k_probe: int = 16,
    k_ablate: int = 10,
    selection: str = "per_class",
    C: float = 1.0,
    max_iter: int = 1000,
    standardize: bool = True,
    chance: str = "majority",
    min_gap: float = 0.05,
    ablation_threshold: float = 0.1,
    combine: str = "product",
    p: float = 2.0,
    n_unlearning_tasks: int = 10,
    n_tpp_subsets: int = 5,
    tpp_subset_size: int | None = None,
    n_scr_tasks: int = 5,
    scr_classes: Sequence[Sequence[Hashable]] | None = None,
    view_sizes: ViewSizes = None,
    n_jobs: int | None = None,
    random_state: RandomState = 0,
) -> InterVenchAReport:
    """InterVenchA: every metric for every ordered pair of views of a fitted estimator.

    The rows of ``X`` (every row a true pair, labelled by ``y``) are split into probe-train
    rows, on which every probe is fitted and every concept chosen, and probe-test rows, on
    which every score is measured: no probe or concept choice ever sees a test label. The
    estimator was fitted beforehand by the user, on data of their choosing (ideally other
    rows). See the InterVenchA page of the documentation for each metric.

    Parameters
    ----------
    estimator : fitted multi-view estimator
        Anything with the skcosae estimator surface: ``transform``, ``inverse_transform(Z,
        view=j)``, ``translate``, ``n_views_``, ``view_names_``, ``view_sizes_``, and
        ``dictionaries_`` for the latent-space probing and ablations (CoupledSAE in every
        mode, its baselines, the linear estimators).
    X : list of array-like, DataFrame with (view, feature) columns, or 2-D array
        The views (any form of :func:`skcosae._views.check_views`).
    y : array-like of shape (n_samples,)
        Class labels shared by the views; every class needs at least 2 rows.
    metrics : list of str, default=None
        Metrics to compute (and aggregate). Default: every metric but SCR
        (``scr_latent``, ``scr_concept``), which the paper leaves out of the aggregates.
        Latent-space: ``r2``, ``faithfulness``, ``sparse_probing_latent``,
        ``unlearning_latent``, ``tpp_latent``, ``scr_latent``. Concept-space:
        ``sparse_probing_concept``, ``unlearning_concept``, ``tpp_concept``,
        ``scr_concept``. Apart: ``cycle_r2``.
    test_size : float or int, default=0.3
        Share (or number) of rows held out to score the probes (stratified), when ``cv``
        is None.
    cv : int, cross-validation generator or iterable, default=None
        Cross-fitting instead of one split: probes are fitted on each fold's training rows,
        scored on its test rows, and the fold scores averaged (an int ``K``: shuffled
        stratified K-fold). Costs ``K`` times the probes.
    k_probe : int, default=16
        Concepts a sparse probe may use (codes, or atoms for the latent probe).
    k_ablate : int, default=10
        Concepts ablated per class by unlearning, TPP and SCR.
    selection : {"per_class", "max"}, default="per_class"
        How the ``k_probe`` concepts are chosen from class-mean differences of the source
        view's codes: classes in turn, or the largest differences overall.
    C : float, default=1.0
        Inverse regularisation strength of every logistic-regression probe.
    max_iter : int, default=1000
        Iterations of the probes' solver.
    standardize : bool, default=True
        Standardise each view's probe features with its own probe-train statistics.
    chance : {"majority", "uniform"}, default="majority"
        Chance accuracy (the 0 of normalised probe scores): the majority-class rate of the
        probe-test rows, or ``1 / n_classes``.
    min_gap : float, default=0.05
        A normalised score is 0 where its reference is less than ``min_gap`` above its floor
        (for instance an original probe at chance: the labels carry no signal).
    ablation_threshold : float, default=0.1
        Unlearning, TPP and SCR of a pair are 0 where the sparse-probing score of the same
        space and pair is below this.
    combine : {"product", "distance", "sum"}, default="product"
        How unlearning and TPP combine utility ``u`` and forgetting ``f``: ``u * f``,
        ``1 - ||(1-u, 1-f)||_p / 2^(1/p)``, or ``u + f - 1``.
    p : float, default=2.0
        Order of the distance of ``combine="distance"``.
    n_unlearning_tasks : int, default=10
        Forget classes drawn for unlearning (at most every class).
    n_tpp_subsets : int, default=5
        Random class subsets of TPP.
    tpp_subset_size : int, default=None
        Classes per TPP subset; default ``n_classes // 2``.
    n_scr_tasks : int, default=5
        Random four-class layouts of SCR (needs at least 4 classes).
    scr_classes : list of 4-tuples of labels, default=None
        SCR layouts ``(a0b0, a0b1, a1b0, a1b1)`` for data whose classes combine a target
        attribute ``a`` and a spurious one ``b``; default drawn at random.
    view_sizes : list of int, default=None
        View widths when ``X`` is one 2-D array; default the estimator's ``view_sizes_``.
    n_jobs : int, default=None
        Probes fitted in parallel by joblib (threads unless a joblib context says
        otherwise); None is 1.
    random_state : int, RandomState instance or None, default=0
        Seeds the probe split and the task draws. Fixed by default, so that estimators
        compared on the same data (e.g. in a grid search) meet the same split and tasks.

    Returns
    -------
    InterVenchAReport

    See Also
    --------
    intervencha_score : one number of the report.
    make_intervencha_scorer : the report as a scikit-learn scorer.

    Examples
    --------
    >>> from skcosae import CoupledSAE
    >>> from skcosae.datasets import make_platonic
    >>> from skcosae.metrics import intervencha_report
    >>> Xs, y, _ = make_platonic(n_samples=600, n_views=2, n_classes=4, random_state=0)
    >>> sae = CoupledSAE(n_concepts=32, k=4, max_epochs=2, random_state=0).fit(Xs)
    >>> report = intervencha_report(sae, Xs, y)
    >>> report.matrix("r2").shape
    (2, 2)
    >>> sorted(report.aggregates)
    ['S_align', 'S_cc', 'S_cycle', 'S_ext', 'S_trans']
    """
    params = check_params(dict(
        metrics=metrics, test_size=test_size, cv=cv, k_probe=k_probe, k_ablate=k_ablate,
        selection=selection, C=C, max_iter=max_iter, standardize=standardize, chance=chance,
        min_gap=min_gap, ablation_threshold=ablation_threshold, combine=combine, p=p,
        n_unlearning_tasks=n_unlearning_tasks, n_tpp_subsets=n_tpp_subsets,
        tpp_subset_size=tpp_subset_size, n_scr_tasks=n_scr_tasks, scr_classes=scr_classes,
        view_sizes=view_sizes, n_jobs=n_jobs, random_state=random_state,
        estimator=estimator, X=X, y=y))
    for key in ("estimator", "X", "y"):
        params.pop(key)
    metric_names = resolve_metrics(metrics)
    timer = Timer()
    with timer("encode"):
        ctx = prepare(estimator, X, y, view_sizes=view_sizes, metrics=metric_names)
    seed = derive_seed(random_state)
    tasks = _tasks(ctx, params, metric_names, seed)
    records = []
    warned: set[int | str] = set()  # what was warned about once: a view, or "cycle"
    splits = probe_splits(ctx.y, test_size, cv, seed)
    with single_threaded_blas():
        for train, test in splits:
            records += evaluate_split(ctx, train, test, tasks, params, metric_names, timer,
                                      warned)
    frame = pd.DataFrame(records, columns=_COLUMNS)
    # Cross-fitting: one value per (metric, source, target), the mean over folds.
    frame = (frame.groupby(["metric", "source", "target"], sort=False, dropna=False)
             .value.mean().reset_index())
    order = {m: r for r, m in enumerate(metric_names)}
    frame = frame.sort_values("metric", key=lambda s: s.map(order), kind="stable")
    params.update(metrics=metric_names, n_splits=len(splits))
    labels = ctx.classes.tolist()
    params["tasks"] = {  # in class labels
        "unlearning": [[labels[c] for c in task] for task in tasks.unlearning],
        "tpp": [[labels[c] for c in task] for task in tasks.tpp],
        "scr": [tuple(labels[c] for c in task) for task in tasks.scr],
    }
    return InterVenchAReport(frame, ctx.names, params=params, timings=dict(timer.seconds))


def _tasks(ctx, params, metrics, seed):
    """Draw the ablation tasks (class codes), or take the user's SCR layouts."""
    rng = np.random.default_rng(seed)
    tasks = draw_tasks(ctx.n_classes, rng, n_unlearning=params["n_unlearning_tasks"],
                       n_tpp=params["n_tpp_subsets"], tpp_size=params["tpp_subset_size"],
                       n_scr=params["n_scr_tasks"])
    wants_scr = any(m.startswith("scr") for m in metrics)
    if params["tpp_subset_size"] is not None and params["tpp_subset_size"] >= ctx.n_classes:
        raise ValueError(
            f"tpp_subset_size={params['tpp_subset_size']} leaves no class out of the subset "
            f"(y has {ctx.n_classes} classes); TPP needs other classes to measure utility."
        )
    if params["scr_classes"] is not None:
        lookup = {label: code for code, label in enumerate(ctx.classes.tolist())}
        layouts = []
        for layout in params["scr_classes"]:
            layout = tuple(layout)
            missing = [c for c in layout if c not in lookup]
            if len(layout) != 4 or len(set(layout)) != 4 or missing:
                raise ValueError(
                    f"scr_classes entries must be 4 distinct labels of y "
                    f"(a0b0, a0b1, a1b0, a1b1); got {layout!r}"
                    + (f" ({missing} not in y)." if missing else ".")
                )
            layouts.append(tuple(lookup[c] for c in layout))
        tasks = Tasks(tasks.unlearning, tasks.tpp, layouts)
    elif wants_scr and ctx.n_classes < 4:
        raise ValueError(
            f"SCR needs at least 4 classes (two binary attributes); y has {ctx.n_classes}. "
            "Leave scr_latent and scr_concept out of metrics."
        )
    return tasks
