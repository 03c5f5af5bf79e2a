"""CCA speed and accuracy: skcosae.linear.CCA against scikit-learn, cca-zoo and bare numpy.

Usage::

    python benchmarks/bench_linear.py [--n 20000] [--d 256] [--k 16] [--seed 0] [--repeat 1]

Prints one markdown table: wall time of one fit (with ``--repeat R``, the fastest of R fits,
except scikit-learn's, which runs once) and the largest error of the top-k canonical
correlations against a Bjorck-Golub reference (QR of each centred view, then the singular
values of ``Q_a^T Q_b``; the most accurate way to get them in float64). Every method is run
once, on the same data. cca-zoo is optional: the row says "not installed" when its import
fails (it is not a dependency of skcosae; install it in a throwaway environment).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings

import numpy as np
import scipy.linalg

from skcosae.linear import CCA


def make_data(n, d, k, seed):
    """Two views sharing 2k latent signals of decreasing strength, plus noise."""
    rng = np.random.default_rng(seed)
    shared = rng.normal(size=(n, 2 * k)) * np.linspace(2.0, 0.2, 2 * k)
    views = []
    for _ in range(2):
        mix = rng.normal(size=(2 * k, d)) / np.sqrt(2 * k)
        scales = np.exp(rng.uniform(-1, 1, size=d))
        views.append((shared @ mix + rng.normal(size=(n, d))) * scales + rng.normal(size=d))
    return views


def reference_correlations(Xa, Xb, k):
    Qa = np.linalg.qr(Xa - Xa.mean(0))[0]
    Qb = np.linalg.qr(Xb - Xb.mean(0))[0]
    return np.linalg.svd(Qa.T @ Qb, compute_uv=False)[:k]


def numpy_reference(Xa, Xb, k):
    """Bare numpy: centre, covariances, eigh for S^{-1/2}, SVD of the whitened cross-cov."""
    n = len(Xa)
    A, B = Xa - Xa.mean(0), Xb - Xb.mean(0)
    Saa, Sbb, Sab = A.T @ A / n, B.T @ B / n, A.T @ B / n
    wa, Ua = np.linalg.eigh(Saa)
    wb, Ub = np.linalg.eigh(Sbb)
    Ra = (Ua / np.sqrt(wa)) @ Ua.T
    Rb = (Ub / np.sqrt(wb)) @ Ub.T
    U, rho, Vt = np.linalg.svd(Ra @ Sab @ Rb)
    return rho[:k]


def score_correlations(Za, Zb):
    return np.array([np.corrcoef(Za[:, c], Zb[:, c])[0, 1] for c in range(Za.shape[1])])


def run_skcosae(Xa, Xb, k):
    return CCA(n_components=k).fit([Xa, Xb]).canonical_correlations_


def run_sklearn(Xa, Xb, k):
    from sklearn.cross_decomposition import CCA as SkCCA

    model = SkCCA(n_components=k, scale=False).fit(Xa, Xb)  # defaults: tol 1e-6, 500 iters
    return score_correlations(*model.transform(Xa, Xb))


def run_ccazoo(Xa, Xb, k):
    from cca_zoo.linear import CCA as ZooCCA

    model = ZooCCA(n_components=k).fit([Xa, Xb])
    return score_correlations(Xa @ model.weights_[0], Xb @ model.weights_[1])


def timed(fn, *args):
    """Seconds of one call, its |correlations|, and the warnings it raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        out = fn(*args)
        seconds = time.perf_counter() - start
    notes = sorted({str(w.message) for w in caught})
    return seconds, np.abs(np.asarray(out)), "; ".join(notes)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--d", type=int, default=256)
    parser.add_argument("--k", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=1,
                        help="fits per method (fastest kept); scikit-learn always runs once")
    args = parser.parse_args()

    Xa, Xb = make_data(args.n, args.d, args.k, args.seed)
    truth = reference_correlations(Xa, Xb, args.k)
    # Warm-up on small data: BLAS/LAPACK thread pools start on their first call, which
    # would otherwise be charged to whichever method runs first.
    small = [X[:2000, :64] for X in (Xa, Xb)]
    numpy_reference(*small, 4)
    run_skcosae(*small, 4)
    rows = []
    for name, fn in [
        ("numpy eigh + SVD (reference)", numpy_reference),
        ("skcosae.linear.CCA", run_skcosae),
        ("scikit-learn CCA (NIPALS, defaults)", run_sklearn),
        ("cca-zoo CCA", run_ccazoo),
    ]:
        try:
            runs = [timed(fn, Xa, Xb, args.k)
                    for _ in range(1 if fn is run_sklearn else max(1, args.repeat))]
            seconds, rho, notes = min(runs, key=lambda run: run[0])
        except ImportError:
            rows.append((name, None, None, ""))
            continue
        rows.append((name, seconds, float(np.max(np.abs(rho - truth))), notes))

    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",) * 3
    print(f"n={args.n}, d={args.d} per view, k={args.k}; fastest of {args.repeat} run(s) "
          "(scikit-learn: 1); "
          f"{os.cpu_count()} CPU(s), load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
          f"numpy {np.__version__}, scipy {scipy.__version__}, {platform.python_version()}")
    print(f"canonical correlations (reference): rho_1 = {truth[0]:.4f}, rho_k = {truth[-1]:.4f}")
    print()
    print("| method | time (s) | vs numpy | vs skcosae | max abs error of rho_1..rho_k | notes |")
    print("|---|---:|---:|---:|---:|---|")
    base = rows[0][1]
    ours = rows[1][1]
    for name, seconds, error, notes in rows:
        if seconds is None:
            print(f"| {name} | not installed | | | | |")
            continue
        print(f"| {name} | {seconds:.3f} | {seconds / base:.2f}x | {seconds / ours:.1f}x | "
              f"{error:.1e} | {notes} |")


if __name__ == "__main__":
    main()
