"""Time of a full InterVenchA report, and where the time goes.

The target of issue 5: three views, 10,000 labelled rows, 4,096 concepts, every default
metric (SCR excluded, as by default), in under 60 s on 2 CPU cores.

The estimator is a ``CoupledSAE`` trained briefly (``--epochs``, default 1) on the data
(``rec + trans + cc``): the report's cost depends on the shapes and on how sparse the codes
are, not on how well the model is trained, so its scores here are not meaningful. The gate
of the ablation metrics is off (``--ablation-threshold 0``) so that every ablation is
computed, as for a well-trained model: the worst case. Where
``CoupledSAE`` cannot be imported, a stand-in with the same shapes is used (a random
encoder, per-row top-k codes, a random dictionary), and the output says so.

Prints the settings, the machine load (1-minute load average before and after: the 2 cores
are shared), the report's total wall time, and a table of seconds per stage or metric
(``InterVenchAReport.timings``):

- ``encode``: checking the views and ``transform`` of every row of every view;
- ``probes``: the logistic-regression probes on the original views (one multiclass probe
  and one one-vs-rest probe per class, per view), fitted with ``n_jobs`` threads;
- ``translate``: ``N^2`` decodes of the probe-test rows;
- ``cycle_r2``: ``N (N - 1)`` translations back (encode + decode);
- ``ablation_setup_*``: per target view, the zero-ablation reference of the interventions;
- one line per metric for the rest.

Run ``python benchmarks/bench_report.py --help`` for the sizes.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from skcosae.datasets import make_platonic
from skcosae.metrics import intervencha_report


class StandIn:
    """Same shapes as a CoupledSAE, no training: a random encoder with per-row top-k."""

    def __init__(self, widths, n_concepts, k, seed=0):
        rng = np.random.default_rng(seed)
        self.enc = [rng.normal(size=(d, n_concepts)) / np.sqrt(d) for d in widths]
        self.dec = [rng.normal(size=(n_concepts, d)) / np.sqrt(n_concepts) for d in widths]
        self.k = k
        self.n_views_ = len(widths)
        self.view_names_ = list(range(len(widths)))
        self.view_sizes_ = list(widths)
        self.n_concepts_ = n_concepts
        self.dictionaries_ = self.dec

    def transform(self, X, view=None):
        if view is None:
            return [self.transform(x, view=i) for i, x in enumerate(X)]
        pre = np.maximum(np.asarray(X) @ self.enc[view], 0.0)
        cut = np.partition(pre, -self.k, axis=1)[:, -self.k][:, None]
        return np.where(pre >= cut, pre, 0.0)

    def inverse_transform(self, Z, view=None):
        return np.asarray(Z) @ self.dec[view]

    def translate(self, X, source, target):
        X = X[source] if isinstance(X, list) else X
        return self.inverse_transform(self.transform(X, view=source), view=target)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=10_000)
    parser.add_argument("--n-concepts", type=int, default=4096)
    parser.add_argument("--k", type=int, default=32, help="active concepts per row")
    parser.add_argument("--dims", type=int, nargs="+", default=[384, 512, 768],
                        help="width of each view (one per view)")
    parser.add_argument("--n-classes", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--ablation-threshold", type=float, default=0.0,
                        help="the report's gate; 0 computes every ablation (worst case)")
    parser.add_argument("--stand-in", action="store_true",
                        help="use the untrained stand-in even if CoupledSAE is available")
    args = parser.parse_args()

    Xs, y, _ = make_platonic(n_samples=args.n_samples, n_views=len(args.dims),
                             n_concepts=256, n_active=8, n_classes=args.n_classes,
                             view_dims=args.dims, random_state=0)
    estimator, kind = None, "stand-in (random encoder, per-row top-k, random dictionary)"
    fit_seconds = 0.0
    if not args.stand_in:
        try:
            from skcosae import CoupledSAE
        except ImportError:
            CoupledSAE = None
        if CoupledSAE is not None:
            estimator = CoupledSAE(n_concepts=args.n_concepts, k=args.k,
                                   losses=["rec", "trans", "cc"], max_epochs=args.epochs,
                                   batch_size=1024, random_state=0)
            start = time.perf_counter()
            estimator.fit(Xs)
            fit_seconds = time.perf_counter() - start
            kind = (f"CoupledSAE (rec + trans + cc, {args.epochs} epoch(s), fitted in "
                    f"{fit_seconds:.0f} s)")
    if estimator is None:
        estimator = StandIn(args.dims, args.n_concepts, args.k)

    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    report = intervencha_report(estimator, Xs, y, n_jobs=args.n_jobs,
                                ablation_threshold=args.ablation_threshold)
    total = time.perf_counter() - start
    load_after = os.getloadavg()[0]
    active = np.mean([(np.asarray(z) != 0).sum(axis=1).mean()
                      for z in estimator.transform([x[:1000] for x in Xs])])

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"1-min load average {load_before:.1f} before, {load_after:.1f} after")
    print(f"data: {len(args.dims)} views of {args.n_samples} rows, widths {args.dims}, "
          f"{args.n_classes} classes; n_concepts={args.n_concepts}, k={args.k}")
    print(f"estimator: {kind}; {active:.1f} active codes per row")
    print(f"report: default metrics, test_size=0.3, n_jobs={args.n_jobs}, "
          f"ablation_threshold={args.ablation_threshold}")
    print()
    print("| stage / metric | seconds | share |")
    print("|---|---:|---:|")
    for name, seconds in sorted(report.timings.items(), key=lambda kv: -kv[1]):
        print(f"| {name} | {seconds:.2f} | {100 * seconds / total:.0f}% |")
    print(f"| **total (wall)** | **{total:.2f}** | |")
    print()
    print("aggregates:", {k: round(v, 3) for k, v in report.aggregates.items()})


if __name__ == "__main__":
    main()
