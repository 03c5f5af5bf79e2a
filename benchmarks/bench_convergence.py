"""Does the default recipe converge, from a thousand rows up? Defaults against 4x longer.

For each training size n, on ``make_platonic(n + 2000, 2 views)`` (the last 2,000 rows held
out), fits ``CoupledSAE`` at its defaults (the CoSAE recipe, every row paired, convergence
control and warm-up/decay schedule on), then the same model trained 4 times as many epochs
as the default fit ran (``tol=None``, so it runs them all, with its decay at the end).
Printed: held-out translation R^2 (view 0 to view 1, variance-weighted) of both, epochs,
steps, why the default fit stopped, and both fit times. The issue's target: the default
within 0.02 of the longer fit at every n.

    python benchmarks/bench_convergence.py                      # n = 1k, 4k, 20k, 100k
    python benchmarks/bench_convergence.py --rows 1000 4000 --threads 2
"""

import argparse
import os
import time
import warnings

from sklearn.metrics import r2_score


def fit(train, test, **params):
    """A CoupledSAE fitted on ``train``, its held-out translation R^2 and its fit time."""
    from skcosae import CoupledSAE

    started = time.perf_counter()
    est = CoupledSAE(**params).fit(train)
    r2 = r2_score(test[1], est.translate(test[0], 0, 1), multioutput="variance_weighted")
    return est, r2, time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1000, 4000, 20_000, 100_000])
    parser.add_argument("--longer", type=int, default=4, help="epochs factor of the long fit")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from skcosae.datasets import make_platonic

    warnings.simplefilter("ignore")  # an undertrained fit is what the table shows
    print(f"CoupledSAE defaults (n_concepts=512, k=8, CoSAE recipe), make_platonic 2 views; "
          f"{args.threads} torch thread(s); load average {os.getloadavg()[0]:.1f}")
    print(f"| n train | defaults: R^2 | epochs | steps | stop | fit s | {args.longer}x longer: "
          "R^2 | epochs | fit s | difference |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for n in args.rows:
        Xs, _, _ = make_platonic(n_samples=n + 2000, random_state=args.seed)
        train, test = [X[:n] for X in Xs], [X[n:] for X in Xs]

        default, r2_default, s_default = fit(train, test, random_state=args.seed)
        longer, r2_longer, s_longer = fit(train, test, random_state=args.seed, tol=None,
                                          max_epochs=args.longer * default.n_iter_)
        print(f"| {n:,} | {r2_default:.3f} | {default.n_iter_} | {default.n_steps_:,} | "
              f"{default.stop_reason_} | {s_default:.0f} | {r2_longer:.3f} | "
              f"{longer.n_iter_} | {s_longer:.0f} | {r2_default - r2_longer:+.3f} |",
              flush=True)


if __name__ == "__main__":
    main()
