"""Out-of-core scale: memory and speed of fit and transform on memmapped views.

Writes float32 ``.npy`` views of make_platonic-like data (sparse non-negative concept codes
through a random dictionary per view, plus noise) at the paper's widths, chunk by chunk, and
for each row count runs, in a fresh process:

- one epoch of ``CoupledSAE.fit`` on the memmaps (the streaming path), and
- ``transform`` of every view to sparse CSR codes,

sampling the process's anonymous memory (``RssAnon`` of ``/proc/self/status``: the memmaps'
page cache is not counted) every 20 ms. The table gives the peak above the memory held
before ``fit`` (torch, the package, the opened memmaps), the rows per second of the epoch
and of the transform, and the size of the codes against ``n * k * 8`` bytes per view (a
float32 value and an int32 column index per active code). With ``--compare`` the smallest
row count also runs the in-memory path (the views loaded into RAM first) for the speed ratio.
With ``--keep-models DIR`` each fitted model is kept with its fit's figures, and a later run
given the same folder loads it and measures the transform again without refitting (an epoch
at 1.28M rows takes over an hour on one CPU core).

Run ``python benchmarks/bench_scale.py --help`` for the sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np


def rss_anon():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no RssAnon in /proc/self/status (Linux only)")


class PeakSampler:
    """The largest RssAnon seen while the ``with`` block runs."""

    def __enter__(self):
        self.peak, self._stop = rss_anon(), threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss_anon())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_anon())


def write_views(folder, n, widths, n_true=512, n_active=8, seed=0, chunk=50_000):
    """make_platonic-like float32 views of n rows, written chunk by chunk to .npy files."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"view{i}_{n}.npy" for i in range(len(widths))]
    if all(p.exists() for p in paths):
        return paths
    rng = np.random.default_rng(seed)
    dictionaries = [rng.normal(size=(n_true, d)).astype(np.float32) / np.sqrt(n_active)
                    for d in widths]
    outs = [np.lib.format.open_memmap(p, mode="w+", dtype=np.float32, shape=(n, d))
            for p, d in zip(paths, widths)]
    for start in range(0, n, chunk):
        rows = min(chunk, n - start)
        codes = np.zeros((rows, n_true), dtype=np.float32)
        active = rng.integers(0, n_true, size=(rows, n_active))
        np.put_along_axis(codes, active, rng.exponential(size=(rows, n_active)).astype(
            np.float32), axis=1)
        for out, D in zip(outs, dictionaries):
            noise = 0.1 * rng.standard_normal(size=(rows, D.shape[1]), dtype=np.float32)
            out[start:start + rows] = codes @ D + noise
    for out in outs:
        out.flush()
    del outs
    return paths


def child(args):
    """One measurement in this process; prints a JSON line."""
    import torch

    torch.set_num_threads(args.threads)
    from skcosae import CoupledSAE

    views = [np.load(p, mmap_mode="r") for p in args.paths]
    if args.in_memory:
        views = [np.array(v) for v in views]  # read into RAM before timing
    n = views[0].shape[0]
    kept = None
    if args.keep_models:
        args.keep_models.mkdir(parents=True, exist_ok=True)
        kept = args.keep_models / f"{'memory' if args.in_memory else 'stream'}_{n}"
    if kept is not None and kept.with_suffix(".pkl").exists():
        # The fit of an earlier run: its figures as measured then, the transform measured now.
        with open(kept.with_suffix(".pkl"), "rb") as file:
            est = pickle.load(file)
        fitted = json.loads(kept.with_suffix(".json").read_text())
    else:
        est = CoupledSAE(n_concepts=args.n_concepts, k=args.k,
                         losses=args.losses.split(","), max_epochs=1,
                         batch_size=args.batch_size, sparse_output=True, random_state=0)
        with PeakSampler() as fit_memory:
            base = fit_memory.peak
            started = time.perf_counter()
            est.fit(views)
            fit_seconds = time.perf_counter() - started
        fitted = {"fit_peak": fit_memory.peak - base, "fit_seconds": fit_seconds,
                  "epoch_rows_per_s": n / float(est.history_["seconds"].iloc[0])}
        if kept is not None:
            with open(kept.with_suffix(".pkl"), "wb") as file:
                pickle.dump(est, file)
            kept.with_suffix(".json").write_text(json.dumps(fitted))
    with PeakSampler() as transform_memory:
        before = transform_memory.peak
        started = time.perf_counter()
        codes = est.transform(views)
        transform_seconds = time.perf_counter() - started
    code_bytes = [z.data.nbytes + z.indices.nbytes + z.indptr.nbytes for z in codes]
    print(json.dumps({
        "n": n, "path": "in memory" if args.in_memory else "streaming (memmap)",
        **fitted,
        "transform_peak": transform_memory.peak - before,
        "transform_rows_per_s": n / transform_seconds,
        "codes_ratio": max(b / (n * args.k * 8) for b in code_bytes),
        "codes_gib": sum(code_bytes) / 2**30,
    }))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[160_000, 640_000, 1_281_167])
    parser.add_argument("--widths", type=int, nargs="+", default=[768, 768, 1152])
    parser.add_argument("--n-concepts", type=int, default=2048)
    parser.add_argument("--k", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--losses", default="rec,trans,cc")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp"))
                        / "skcosae_bench_scale")
    parser.add_argument("--compare", action="store_true",
                        help="also run the in-memory path at the smallest row count")
    parser.add_argument("--keep-models", type=Path, default=None,
                        help="keep each fitted model (and its fit figures) in this folder; "
                        "a later run with the same folder re-measures only the transform")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--in-memory", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--paths", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)

    print(f"views of widths {args.widths}, n_concepts={args.n_concepts}, k={args.k}, "
          f"losses {args.losses}, batch {args.batch_size}, {args.threads} torch thread(s)")
    print("| rows | path | fit peak RssAnon | epoch rows/s | transform peak RssAnon "
          "(codes incl.) | transform rows/s | codes / (n k 8 B) per view |")
    print("|---|---|---|---|---|---|---|")
    runs = [(n, False) for n in args.rows]
    if args.compare:
        runs.insert(1, (min(args.rows), True))
    for n, in_memory in runs:
        paths = write_views(args.data, n, args.widths)
        command = [sys.executable, __file__, "--child", "--paths", *map(str, paths),
                   "--n-concepts", str(args.n_concepts), "--k", str(args.k),
                   "--batch-size", str(args.batch_size), "--losses", args.losses,
                   "--threads", str(args.threads)] + (["--in-memory"] if in_memory else [])
        if args.keep_models:
            command += ["--keep-models", str(args.keep_models)]
        env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
        out = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"| {r['n']:,} | {r['path']} | {r['fit_peak'] / 2**30:.2f} GiB | "
              f"{r['epoch_rows_per_s']:,.0f} | {r['transform_peak'] / 2**30:.2f} GiB "
              f"({r['codes_gib']:.2f} GiB codes) | {r['transform_rows_per_s']:,.0f} | "
              f"{r['codes_ratio']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
