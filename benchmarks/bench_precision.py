"""Accuracy of CoupledSAE's training precisions: held-out R^2 against float32.

Fits the same CoupledSAE (CoSAE recipe) once per precision and seed on ``make_platonic``
data and scores the held-out quarter of the rows: translation R^2 (view 0 into view 1) and
reconstruction R^2 (mean over the views). Prints the mean over seeds and the largest
difference from float32 over the seeds.

    python benchmarks/bench_precision.py                          # CPU: float32, bf16
    python benchmarks/bench_precision.py --device cuda --precisions float32 tf32 bf16
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def _r2(x, x_hat):
    return 1.0 - ((x - x_hat) ** 2).sum() / ((x - x.mean(0)) ** 2).sum()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precisions", nargs="+", default=["float32", "bf16"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--n", type=int, default=4000)
    parser.add_argument("--n-concepts", type=int, default=128)
    parser.add_argument("--k", type=float, default=4)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args(argv)

    from skcosae import CoupledSAE
    from skcosae.datasets import make_platonic

    scores = {p: [] for p in args.precisions}
    for seed in args.seeds:
        Xs, _, _ = make_platonic(n_samples=args.n, n_views=2, random_state=seed)
        cut = args.n * 3 // 4
        train, test = [x[:cut] for x in Xs], [x[cut:] for x in Xs]
        for precision in args.precisions:
            start = time.perf_counter()
            est = CoupledSAE(n_concepts=args.n_concepts, k=args.k, max_epochs=args.epochs,
                             precision=precision, device=args.device,
                             random_state=seed).fit(train)
            translation = _r2(test[1], est.translate(test[0], source=0, target=1))
            reconstruction = np.mean([_r2(x, r) for x, r in zip(test, est.reconstruct(test))])
            scores[precision].append((translation, reconstruction))
            print(f"seed {seed} {precision}: translation R^2 {translation:.4f}, "
                  f"reconstruction R^2 {reconstruction:.4f}, fit "
                  f"{time.perf_counter() - start:.1f} s")

    print(f"\nmake_platonic(n_samples={args.n}, n_views=2), held-out quarter; CoupledSAE "
          f"CoSAE recipe, n_concepts={args.n_concepts}, k={args.k}, {args.epochs} epochs; "
          f"device={args.device}; seeds {args.seeds}\n")
    print("| precision | translation R^2 | reconstruction R^2 | largest difference from "
          "float32 (translation, reconstruction) |")
    print("|---|---|---|---|")
    reference = np.array(scores.get("float32", []))
    for precision, values in scores.items():
        values = np.array(values)
        diff = ""
        if len(reference) and precision != "float32":
            delta = np.abs(values - reference).max(0)
            diff = f"{delta[0]:.4f}, {delta[1]:.4f}"
        print(f"| {precision} | {values[:, 0].mean():.4f} | {values[:, 1].mean():.4f} | "
              f"{diff} |")


if __name__ == "__main__":
    main()
