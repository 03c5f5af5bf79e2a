"""Fit time of CoupledSAE for n_threads in {1, 2}, on an idle machine and beside a busy process.

The data and settings are the first-ten-minutes case: ``make_platonic(8_000, n_views=3)``,
the default recipe, 3 epochs. "busy" starts one other process that spins on one core for
the whole measurement, as a second job on a 2-core machine would. Each cell is the fastest
of ``--repeats`` fits; the load average at the start of each row is printed beside it.

Run ``python benchmarks/bench_threads.py --help`` for the options.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import time


def _spin(stop):
    while not stop.is_set():
        sum(i * i for i in range(10_000))


def _fit_seconds(Xs, n_threads, repeats):
    from skcosae import CoupledSAE

    best = float("inf")
    for seed in range(repeats):
        started = time.perf_counter()
        CoupledSAE(max_epochs=3, n_threads=n_threads, random_state=seed).fit(Xs)
        best = min(best, time.perf_counter() - started)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=8_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    from skcosae.datasets import make_platonic

    Xs, _, _ = make_platonic(n_samples=args.rows, n_views=3, random_state=0)
    print(f"make_platonic({args.rows}, n_views=3), default recipe, 3 epochs, "
          f"{os.cpu_count()} cores; best of {args.repeats}")
    print("| machine | load average at start | " +
          " | ".join(f"n_threads={t}" for t in args.threads) + " |")
    print("|---|---|" + "---|" * len(args.threads))
    for busy in (False, True):
        stop = mp.Event()
        spinner = mp.Process(target=_spin, args=(stop,)) if busy else None
        if spinner is not None:
            spinner.start()
            time.sleep(1.0)
        load = os.getloadavg()[0]
        try:
            cells = [f"{_fit_seconds(Xs, t, args.repeats):.1f} s" for t in args.threads]
        finally:
            if spinner is not None:
                stop.set()
                spinner.join()
        print(f"| {'one busy process' if busy else 'idle'} | {load:.1f} | "
              + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
