"""The InterVenchA report: a tidy frame of every metric and the aggregates."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._intervencha import CONCEPT_METRICS, LATENT_METRICS, compute_intervencha

__all__ = ["InterVenchAReport", "intervencha_report", "AGGREGATES"]

AGGREGATES = ("S_ext", "S_trans", "S_cc", "S_align", "S_cycle")


def _aggregates(frame, cycle_frame, include):
    diag = frame[frame.source == frame.target]
    off = frame[frame.source != frame.target]

    def mean_of(part, metrics):
        values = [part[part.metric == m].value.mean() for m in metrics if m in include]
        values = [v for v in values if np.isfinite(v)]
        return float(np.mean(values)) if values else float("nan")

    s_ext = mean_of(diag, LATENT_METRICS + CONCEPT_METRICS)
    s_trans = mean_of(off, LATENT_METRICS)
    s_cc = mean_of(off, CONCEPT_METRICS)
    s_cycle = float(cycle_frame.value.mean()) if len(cycle_frame) else float("nan")
    return {"S_ext": s_ext, "S_trans": s_trans, "S_cc": s_cc,
            "S_align": (s_trans + s_cc) / 2, "S_cycle": s_cycle}


class InterVenchAReport:
    """Every InterVenchA metric of one estimator on one dataset, and the aggregates.

    Attributes
    ----------
    frame : pandas.DataFrame
        Tidy records ``metric, source, target, value`` (the diagonal ``source == target`` is
        single-view quality, the rest transfer).
    cycle : pandas.DataFrame
        The full-cycle R^2 records (``i -> j -> i``), reported apart.
    aggregates : dict
        ``S_ext``, ``S_trans``, ``S_cc``, ``S_align``, ``S_cycle``.
    view_names : list
    """

    def __init__(self, frame, cycle, aggregates, view_names):
        self.frame = frame
        self.cycle = cycle
        self.aggregates = aggregates
        self.view_names = view_names

    def to_frame(self):
        """The tidy records, cycle included (metric ``cycle_r2``)."""
        return pd.concat([self.frame, self.cycle], ignore_index=True)

    def matrix(self, metric):
        """N x N DataFrame of one metric (rows: source view, columns: target view)."""
        data = self.to_frame()
        if metric not in set(data.metric):
            raise ValueError(f"Unknown metric {metric!r}; the report has {sorted(set(data.metric))}.")
        part = data[data.metric == metric]
        table = part.pivot(index="source", columns="target", values="value")
        return table.reindex(index=self.view_names, columns=self.view_names)

    @property
    def metrics(self):
        return list(dict.fromkeys(self.frame.metric))

    def __getitem__(self, name):
        return self.aggregates[name]

    def __repr__(self):
        lines = ["InterVenchA report (rows: source view, columns: target view)"]
        lines.append("  " + "  ".join(f"{k}={v:.3f}" for k, v in self.aggregates.items()))
        for metric in self.metrics + (["cycle_r2"] if len(self.cycle) else []):
            lines.append("")
            lines.append(f"{metric}:")
            lines.append(self.matrix(metric).round(3).to_string(na_rep="-"))
        return "\n".join(lines)

    def plot(self, metrics=None):
        """One heatmap per metric (needs matplotlib: ``pip install skcosae[plot]``)."""
        try:
            import matplotlib.pyplot as plt
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "InterVenchAReport.plot needs matplotlib; install it with "
                "`pip install skcosae[plot]`."
            ) from exc
        metrics = metrics or self.metrics
        fig, axes = plt.subplots(1, len(metrics), figsize=(3 * len(metrics), 3), squeeze=False)
        for ax, metric in zip(axes[0], metrics):
            table = self.matrix(metric)
            ax.imshow(table.to_numpy(dtype=float), vmin=0, vmax=1, cmap="viridis")
            ax.set_title(metric, fontsize=9)
            ax.set_xticks(range(len(self.view_names)), [str(v) for v in self.view_names])
            ax.set_yticks(range(len(self.view_names)), [str(v) for v in self.view_names])
            ax.set_xlabel("target")
            ax.set_ylabel("source")
        fig.tight_layout()
        return fig


def intervencha_report(estimator, X, y, *, metrics=None, test_size=0.3, k_probe=8,
                       k_ablate=4, C=1.0, ablation_threshold=0.1, n_forget_classes=5,
                       n_subsets=5, n_jobs=None, random_state=0):
    """Run InterVenchA on a fitted estimator: every metric for every ordered pair of views.

    Parameters
    ----------
    estimator : fitted skcosae estimator
        Anything with ``transform``, ``translate``, ``inverse_transform(Z, view=j)`` and
        ``dictionaries_`` (CoupledSAE in every mode, its baselines, the linear siblings).
    X : multi-view input
        Views of labelled data (split inside into probe-train and probe-test rows).
    y : array-like of shape (n_samples,)
        Class labels shared by the views.
    metrics : list of str, default=None
        Metrics that enter the aggregates (default: all of ``LATENT_METRICS`` and
        ``CONCEPT_METRICS``); every metric is still reported.
    test_size : float, default=0.3
        Fraction of rows held out to score the probes.
    k_probe : int, default=8
        Concepts (codes or atoms) a sparse probe may use.
    k_ablate : int, default=4
        Concepts zeroed per forget class by unlearning and TPP.
    C : float, default=1.0
        Inverse regularisation of the logistic-regression probes.
    ablation_threshold : float, default=0.1
        Unlearning and TPP are 0 where the normalised concept sparse-probing score is lower.
    n_forget_classes : int, default=5
        Forget tasks of unlearning (one class each, drawn with ``random_state``).
    n_subsets : int, default=5
        Random class subsets of TPP.
    n_jobs : int, default=None
        Source views processed in parallel by joblib.
    random_state : int, default=0
        The probe split and the task draws.

    Returns
    -------
    InterVenchAReport
    """
    from ._intervencha import CONCEPT_METRICS as CM, LATENT_METRICS as LM

    include = set(metrics) if metrics is not None else set(LM + CM)
    unknown = include - set(LM + CM)
    if unknown:
        raise ValueError(f"Unknown metrics {sorted(unknown)}; the metrics are {list(LM + CM)}.")
    records, cycle_records, names = compute_intervencha(
        estimator, X, y, test_size=test_size, k_probe=k_probe, k_ablate=k_ablate, C=C,
        ablation_threshold=ablation_threshold, n_forget_classes=n_forget_classes,
        n_subsets=n_subsets, n_jobs=n_jobs, random_state=random_state)
    columns = ["metric", "source", "target", "value"]
    frame = pd.DataFrame(records, columns=columns)
    cycle = pd.DataFrame(cycle_records, columns=columns)
    return InterVenchAReport(frame, cycle, _aggregates(frame, cycle, include), names)
