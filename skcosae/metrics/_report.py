"""The InterVenchA report: a tidy frame of every metric, N x N matrices, the aggregates."""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._diagnostics import NegativeR2Warning, check_translation_r2
from .._typing import ArrayLike, MultiViewData, RandomState, ViewSizes
from ._evaluate import Timer, evaluate_split, prepare, single_threaded_blas
from ._postprocess import clip01
from ._protocol import (
    AGGREGATES,
    CONCEPT_METRICS,
    CYCLE_METRICS,
    GATES,
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

_COLUMNS = ["metric", "source", "target", "value", "raw", "mark"]

#: What each aggregate measures: the report's reading guide.
AGGREGATE_GUIDE = {
    "S_ext": "single-view quality: each view through its own autoencoder "
             "(mean of the metrics' diagonals)",
    "S_trans": "translation: view i's code decoded into view j "
               "(latent-space metrics off the diagonal)",
    "S_cc": "concept consistency: concept c of view i is concept c of view j "
            "(concept-space metrics off the diagonal)",
    "S_align": "alignment, (S_trans + S_cc) / 2: the headline score",
    "S_cycle": "round trip i -> j -> i (cycle_r2 off the diagonal; no proxy for alignment)",
}

#: One line per metric: what its diagonal and its off-diagonal cells measure.
METRIC_GUIDE = {
    "r2": "R^2 of view j rebuilt from view i's code (diagonal: reconstruction, "
          "off-diagonal: translation)",
    "faithfulness": "share of view j's label-probe loss recovered on the decoded rows",
    "sparse_probing_latent": "labels read from k_probe of view j's atoms, chosen on view i",
    "unlearning_latent": "removing a class's atoms (chosen on view i) from view j forgets it "
                         "and keeps the other classes",
    "tpp_latent": "removing a class subset's atoms hurts only that subset's probes in view j",
    "scr_latent": "removing a spurious attribute's atoms debiases view j's probe",
    "sparse_probing_concept": "labels read from k_probe of view j's codes, chosen on view i",
    "unlearning_concept": "zeroing a class's codes (chosen on view i) in view j forgets it "
                          "and keeps the other classes",
    "tpp_concept": "zeroing a class subset's codes hurts only that subset's probes in view j",
    "scr_concept": "zeroing a spurious attribute's codes debiases view j's probe",
    "cycle_r2": "R^2 of view i after i -> j -> i",
}

_MARK_SYMBOLS = {"clipped": "*", "gated": "g"}
_HATCHES = {"clipped": "///", "gated": "xxx"}


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
    ones). Every value is in ``[0, 1]``, 1 best. Two kinds of cell are set rather than
    measured, and marked: ``"clipped"`` (the score fell outside ``[0, 1]``, e.g. a
    translation R^2 below 0, and was clipped) and ``"gated"`` (an ablation score set to 0
    because sparse probing of the same space and pair is below ``ablation_threshold``);
    both keep the measured score in the ``raw`` column.

    Parameters
    ----------
    frame : DataFrame
        Tidy records with columns ``metric, source, target, value``, and optionally
        ``raw`` (default: ``value``) and ``mark`` (default: no mark).
    view_names : list
        The views, in the estimator's order.
    params : dict, default=None
        The settings the scores were computed with.
    timings : dict, default=None
        Seconds spent per stage and per metric.
    baselines : dict of str to InterVenchAReport, default=None
        Reports of reference estimators on the same rows, split and tasks.
    estimator_name : str, default="estimator"
        How the scored estimator is named beside the baselines.

    Attributes
    ----------
    frame : DataFrame
        The tidy records ``metric, source, target, value, raw, mark`` (every value in
        ``[0, 1]``; NaN only for an undefined cycle).
    aggregates : dict
        ``S_ext``, ``S_trans``, ``S_cc``, ``S_align``, ``S_cycle`` (see :func:`aggregate`).
    metrics : list of str
        The metrics of the report, in canonical order.
    view_names : list
    params : dict
    timings : dict
    baselines : dict of str to InterVenchAReport
    estimator_name : str

    Examples
    --------
    >>> import pandas as pd
    >>> from skcosae.metrics import InterVenchAReport
    >>> frame = pd.DataFrame({"metric": ["r2"] * 4, "source": [0, 0, 1, 1],
    ...                       "target": [0, 1, 0, 1], "value": [0.9, 0.0, 0.7, 0.8],
    ...                       "raw": [0.9, -0.2, 0.7, 0.8],
    ...                       "mark": ["", "clipped", "", ""]})
    >>> report = InterVenchAReport(frame, view_names=[0, 1])
    >>> report.matrix("r2")
    target    0    1
    source
    0       0.9  0.0
    1       0.7  0.8
    >>> float(report.matrix("r2", raw=True).loc[0, 1])
    -0.2
    >>> round(report["S_ext"], 2), round(report["S_trans"], 2)
    (0.85, 0.35)
    """

    def __init__(self, frame: pd.DataFrame, view_names: Sequence[Hashable],
                 params: Mapping[str, Any] | None = None,
                 timings: Mapping[str, float] | None = None,
                 baselines: Mapping[str, InterVenchAReport] | None = None,
                 estimator_name: str = "estimator") -> None:
        frame = frame.reset_index(drop=True).copy()
        if "raw" not in frame:
            frame["raw"] = frame["value"]
        if "mark" not in frame:
            frame["mark"] = ""
        self.frame = frame[_COLUMNS]
        self.view_names = list(view_names)
        self.params = dict(params or {})
        self.timings = dict(timings or {})
        self.baselines = dict(baselines or {})
        self.estimator_name = str(estimator_name)
        present = set(self.frame.metric)
        self.metrics = [m for m in LATENT_METRICS + CONCEPT_METRICS + CYCLE_METRICS
                        if m in present]
        self.aggregates = aggregate(self.frame)

    def to_frame(self) -> pd.DataFrame:
        """The tidy records ``metric, source, target, value, raw, mark`` (a copy).

        ``value`` is the reported score; ``raw`` the measured one (before clipping to
        ``[0, 1]`` and before the ablation gate); ``mark`` is ``"clipped"``, ``"gated"``
        or ``""`` (measured and in range).
        """
        return self.frame.copy()

    def matrix(self, metric: str, raw: bool = False) -> pd.DataFrame:
        """One metric as an N x N DataFrame (rows: source view, columns: target view).

        With ``raw=True``, the measured scores before clipping and gating.
        """
        if metric not in self.metrics:
            raise ValueError(f"Unknown metric {metric!r}; this report has {self.metrics}.")
        part = self.frame[self.frame.metric == metric]
        table = part.pivot(index="source", columns="target", values="raw" if raw else "value")
        return table.reindex(index=self.view_names, columns=self.view_names)

    def _marks(self, metric):
        part = self.frame[self.frame.metric == metric]
        table = part.pivot(index="source", columns="target", values="mark")
        return table.reindex(index=self.view_names, columns=self.view_names).fillna("")

    def summary(self) -> pd.DataFrame:
        """The aggregates of the estimator and of each baseline, one row each (a DataFrame)."""
        rows = {self.estimator_name: self.aggregates}
        rows.update((name, report.aggregates) for name, report in self.baselines.items())
        return pd.DataFrame.from_dict(rows, orient="index", columns=list(AGGREGATES))

    def __getitem__(self, name: str) -> float:
        if name not in self.aggregates:
            raise KeyError(f"{name!r} is not an aggregate; use one of {list(AGGREGATES)}.")
        return self.aggregates[name]

    def _header(self):
        n = self.params.get("n_samples")
        rows = f" on {n} labelled rows" if n is not None else ""
        if self.params.get("cv") is not None:
            how = f"probes cross-fitted over {self.params.get('n_splits')} folds"
        elif "test_size" in self.params:
            how = (f"probes fitted on {1 - self.params['test_size']:.0%} of them, scored "
                   "on the rest" if isinstance(self.params["test_size"], float)
                   else f"probes scored on {self.params['test_size']} held-out rows")
        else:
            how = ""
        views = ", ".join(str(v) for v in self.view_names)
        return (f"InterVenchA report of {self.estimator_name}: {len(self.view_names)} views "
                f"({views}){rows}" + (f"; {how}" if how else ""))

    def __repr__(self) -> str:
        lines = [self._header()]
        lines.append("  " + "  ".join(f"{k}={v:.3f}" for k, v in self.aggregates.items()))
        if self.baselines:
            lines += ["", "Beside reference estimators (same rows, probe split and tasks):",
                      self.summary().round(3).to_string(na_rep="-")]
        lines += ["", "How to read it: every score is in [0, 1], 1 best; 0 is no better than "
                  "the floor (chance, or the target view's mean)."]
        width = max(len(k) for k in AGGREGATES)
        lines += [f"  {name:<{width}}  {AGGREGATE_GUIDE[name]}" for name in AGGREGATES]
        if self.baselines:
            lines.append("Compare each number with the reference rows above: what an "
                         "estimator adds is its margin over them.")
        else:
            lines.append("Compare with reference estimators on the same rows: pass "
                         "baselines={'linear': CCA(...).fit(...), 'independent SAEs': "
                         "make_baseline('sae', ...).fit(...)}.")
        lines.append("Matrices: rows = source view i, columns = target view j; "
                     "* = clipped to [0, 1], g = set to 0 by the ablation gate "
                     "(measured values listed below the matrix).")
        for metric in self.metrics:
            lines += ["", f"{metric}: {METRIC_GUIDE[metric]}", self._matrix_text(metric)]
            lines += self._mark_notes(metric)
            lines += self._baseline_notes(metric)
        return "\n".join(lines)

    def _matrix_text(self, metric):
        values, marks = self.matrix(metric), self._marks(metric)
        cells = values.copy().astype(object)
        for r in values.index:
            for c in values.columns:
                value = values.loc[r, c]
                text = "-" if pd.isna(value) else f"{value:.3f}"
                cells.loc[r, c] = text + _MARK_SYMBOLS.get(marks.loc[r, c], " ")
        return cells.to_string()

    def _mark_notes(self, metric):
        part = self.frame[(self.frame.metric == metric) & (self.frame.mark != "")]
        position = {name: k for k, name in enumerate(self.view_names)}
        part = part.sort_values(["source", "target"], key=lambda col: col.map(position))
        notes = []
        for mark, why in (("clipped", "measured"),
                          ("gated", f"{GATES.get(metric, 'sparse probing')} below "
                                    f"ablation_threshold="
                                    f"{self.params.get('ablation_threshold', 0.1)}; "
                                    "ungated")):
            cells = part[part.mark == mark]
            if len(cells):
                listed = ", ".join(f"{s} -> {t}: {raw:.3f}"
                                   for s, t, raw in zip(cells.source, cells.target, cells.raw))
                notes.append(f"  {_MARK_SYMBOLS[mark]} {mark} ({why}): {listed}")
        return notes

    def _baseline_notes(self, metric):
        parts = []
        for name, report in self.baselines.items():
            if metric in report.metrics:
                diag, off = _diagonal_means(report.frame, metric)
                parts.append(f"{name} {_number(diag)} / {_number(off)}")
        if not parts:
            return []
        diag, off = _diagonal_means(self.frame, metric)
        return [f"  mean diagonal / off-diagonal: {self.estimator_name} {_number(diag)} / "
                f"{_number(off)}; " + "; ".join(parts)]

    def plot(self, metrics: Sequence[str] | None = None, *, ncols: int = 5,
             cmap: str = "viridis") -> Figure:
        """One heatmap per metric (rows: source view, columns: target view).

        The figure's title holds the aggregates (and those of the baselines); each cell
        shows its value, and cells that were clipped (``///``) or set to 0 by the ablation
        gate (``xxx``) are hatched, with their measured value in brackets.
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
            Its axes are the heatmaps in ``metrics`` order (unused grid cells are removed),
            then the colour bar.
        """
        try:
            import matplotlib.pyplot as plt
            from matplotlib.patches import Patch, Rectangle
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
        size = 0.7 * len(labels) + 1.6
        fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols + 1.0, size * nrows + 1.2),
                                 squeeze=False, layout="constrained")
        colours = plt.get_cmap(cmap)
        axes = axes.ravel()
        for ax in axes[len(metrics):]:
            fig.delaxes(ax)
        marked = set()
        for index, (ax, metric) in enumerate(zip(axes, metrics)):
            table = self.matrix(metric).to_numpy(dtype=float)
            raw = self.matrix(metric, raw=True).to_numpy(dtype=float)
            marks = self._marks(metric).to_numpy()
            image = ax.imshow(table, vmin=0.0, vmax=1.0, cmap=cmap)
            for (r, c), value in np.ndenumerate(table):
                text = "-" if np.isnan(value) else f"{value:.2f}"
                if marks[r, c]:
                    marked.add(marks[r, c])
                    text += f"\n({raw[r, c]:.2f})"
                    ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, linewidth=0,
                                           hatch=_HATCHES[marks[r, c]],
                                           edgecolor=(0.6, 0.6, 0.6, 0.6)))
                # Text in black or white, whichever stands out from the cell's colour (an
                # undefined cell is left blank, on the white background).
                red, green, blue, _ = (1, 1, 1, 1) if np.isnan(value) else colours(value)
                dark = 0.299 * red + 0.587 * green + 0.114 * blue < 0.5
                ax.text(c, r, text, ha="center", va="center", fontsize=8,
                        color="w" if dark else "k")
            ax.set_title(metric, fontsize=9)
            ax.set_xticks(range(len(labels)), labels, fontsize=8, rotation=45, ha="right")
            ax.set_yticks(range(len(labels)), labels if index % ncols == 0 else [], fontsize=8)
            if index % ncols == 0:
                ax.set_ylabel("source")
            if index >= len(metrics) - ncols:
                ax.set_xlabel("target")
        fig.colorbar(image, ax=list(axes[:len(metrics)]), shrink=0.8)
        title = [f"InterVenchA: {self.estimator_name}   " + _aggregate_text(self.aggregates)]
        title += [f"{name}   " + _aggregate_text(report.aggregates)
                  for name, report in self.baselines.items()]
        fig.suptitle("\n".join(title), fontsize=9)
        if marked:
            legend = {"clipped": "clipped to [0, 1] (measured value in brackets)",
                      "gated": "set to 0 by the ablation gate (ungated value in brackets)"}
            fig.legend(handles=[Patch(facecolor="none", edgecolor="0.5", hatch=_HATCHES[m],
                                      label=legend[m]) for m in sorted(marked)],
                       loc="outside lower center", fontsize=8, ncols=2, frameon=False)
        return fig


def _number(value):
    return "-" if np.isnan(value) else f"{value:.3f}"


def _aggregate_text(aggregates):
    return "  ".join(f"{k}={v:.2f}" for k, v in aggregates.items())


def _diagonal_means(frame, metric):
    part = frame[frame.metric == metric]
    on = part.source == part.target
    return float(part.value[on].mean()), float(part.value[~on].mean())


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
    baselines: Mapping[str, Any] | None = None,
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
    baselines : dict of str to fitted estimator, default=None
        Reference estimators scored on the same rows, with the same probe split and tasks:
        their aggregates are printed beside the estimator's, and each metric's diagonal
        and off-diagonal means beside its matrix, so that every number has a comparison.
        Fit them yourself on the estimator's training rows, typically a linear baseline on
        the same pairs (``skcosae.linear.CCA`` or ``ReducedRankRegression``) and
        independent SAEs (``make_baseline("sae", ...)``, which share no concepts: the level
        of no alignment). Their reports are in the result's ``baselines``.

    Returns
    -------
    InterVenchAReport

    Warns
    -----
    NegativeR2Warning
        When a translation R^2 of ``estimator`` (an off-diagonal cell of ``r2``) is below 0:
        it does worse than the target view's mean. The cell shows 0, marked clipped.

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
    >>> sae = CoupledSAE(n_concepts=32, k=4, losses=["rec", "trans", "cc"], batch_size=64,
    ...                  max_epochs=10, random_state=0).fit(Xs)
    >>> report = intervencha_report(sae, Xs, y)
    >>> report.matrix("r2").shape
    (2, 2)
    >>> sorted(report.aggregates)
    ['S_align', 'S_cc', 'S_cycle', 'S_ext', 'S_trans']

    With a reference estimator on the same rows:

    >>> from skcosae.linear import CCA
    >>> cca = CCA(n_components=8).fit(Xs)
    >>> report = intervencha_report(sae, Xs, y, baselines={"linear (CCA)": cca})
    >>> list(report.summary().index)
    ['CoupledSAE', 'linear (CCA)']
    """
    params = check_params(dict(
        metrics=metrics, test_size=test_size, cv=cv, k_probe=k_probe, k_ablate=k_ablate,
        selection=selection, C=C, max_iter=max_iter, standardize=standardize, chance=chance,
        min_gap=min_gap, ablation_threshold=ablation_threshold, combine=combine, p=p,
        n_unlearning_tasks=n_unlearning_tasks, n_tpp_subsets=n_tpp_subsets,
        tpp_subset_size=tpp_subset_size, n_scr_tasks=n_scr_tasks, scr_classes=scr_classes,
        view_sizes=view_sizes, n_jobs=n_jobs, random_state=random_state,
        baselines=baselines, estimator=estimator, X=X, y=y))
    for key in ("estimator", "X", "y", "baselines"):
        params.pop(key)
    references = _check_baselines(baselines)
    metric_names = resolve_metrics(metrics)
    seed = derive_seed(random_state)
    report = _score(estimator, X, y, params, metric_names, seed)
    r2 = report.frame[report.frame.metric == "r2"]
    message = check_translation_r2(zip(r2.source, r2.target, r2.raw))
    if message:
        warnings.warn(f"{report.estimator_name}: {message}", NegativeR2Warning, stacklevel=2)
    for name, reference in references.items():
        try:
            report.baselines[name] = _score(reference, X, y, params, metric_names, seed)
        except ValueError as exc:
            raise ValueError(f"baselines[{name!r}]: {exc}") from exc
    return report


def _check_baselines(baselines):
    """The reference estimators of ``baselines=``, checked before any scoring starts."""
    if baselines is None:
        return {}
    for name, reference in baselines.items():
        missing = [m for m in ("transform", "inverse_transform", "translate")
                   if not callable(getattr(reference, m, None))]
        if not isinstance(name, str) or missing:
            raise ValueError(
                f"baselines must map names (str) to fitted multi-view estimators; entry "
                f"{name!r} is a {type(reference).__name__}"
                + (f" without {missing}." if missing else " under a non-str name.")
            )
    return dict(baselines)


def _score(estimator, X, y, params, metric_names, seed):
    """The report of one estimator (no baselines, no warnings about its scores)."""
    timer = Timer()
    with timer("encode"):
        ctx = prepare(estimator, X, y, view_sizes=params["view_sizes"], metrics=metric_names)
    tasks = _tasks(ctx, params, metric_names, seed)
    records = []
    warned: set[int | str] = set()  # what was warned about once: a view, or "cycle"
    splits = probe_splits(ctx.y, params["test_size"], params["cv"], seed)
    with single_threaded_blas():
        for train, test in splits:
            records += evaluate_split(ctx, train, test, tasks, params, metric_names, timer,
                                      warned)
    frame = pd.DataFrame(records, columns=["metric", "source", "target", "raw", "gated"])
    frame["value"] = [0.0 if gated else (clip01(raw) if np.isfinite(raw) else raw)
                      for raw, gated in zip(frame.raw, frame.gated)]
    frame["clipped"] = ~frame.gated & ((frame.raw < 0) | (frame.raw > 1))
    # Cross-fitting: one value per (metric, source, target), the mean over folds; a cell
    # is marked when any fold was gated or clipped.
    frame = (frame.groupby(["metric", "source", "target"], sort=False, dropna=False)
             .agg(value=("value", "mean"), raw=("raw", "mean"), gated=("gated", "any"),
                  clipped=("clipped", "any"))
             .reset_index())
    frame["mark"] = np.where(frame.gated, "gated", np.where(frame.clipped, "clipped", ""))
    order = {m: r for r, m in enumerate(metric_names)}
    frame = frame.sort_values("metric", key=lambda s: s.map(order), kind="stable")
    params = dict(params, metrics=metric_names, n_splits=len(splits), n_samples=len(ctx.y))
    labels = ctx.classes.tolist()
    params["tasks"] = {  # in class labels
        "unlearning": [[labels[c] for c in task] for task in tasks.unlearning],
        "tpp": [[labels[c] for c in task] for task in tasks.tpp],
        "scr": [tuple(labels[c] for c in task) for task in tasks.scr],
    }
    return InterVenchAReport(frame[_COLUMNS], ctx.names, params=params,
                             timings=dict(timer.seconds),
                             estimator_name=type(estimator).__name__)


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
