"""Time and memory of the concept atlas at scale: 100k rows x 2 views x 8192 concepts.

The stand-in model is a CoupledSAE of 8192 concepts trained for one epoch on a subset of the
rows: what the atlas costs depends on the number of rows, concepts and active codes, not on
how well the model is trained. After so few steps the learnt inference threshold keeps only
a few codes per row, so the threshold is unset (the backend then keeps each row's top k):
every row has exactly k active codes, the sparsity of a fully trained model. The atlas
encodes every row with ``transform`` in row chunks and keeps the codes sparse. Printed: wall
time and peak resident memory of each step (the first step's peak is measured from the data
and the model alone; later steps start from what earlier ones left), the table's own peak
allocation by numpy and scipy (tracemalloc), beside two references: ``transform`` to sparse
codes alone over the same rows (the encoding cost the atlas cannot avoid) and the size the
codes would take dense (float32).

    PYTHONPATH=$PWD python benchmarks/bench_atlas.py --threads 2
"""

import argparse
import os
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np


def rss_mb(field="VmRSS"):
    """Resident memory of this process (VmHWM: its peak since the last reset), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak():
    """Start a new peak: writing 5 to clear_refs resets VmHWM (Linux)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def measure(label, fn, rows):
    reset_peak()
    before = rss_mb()
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    rows.append((label, seconds, before, rss_mb("VmHWM")))
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--concepts", type=int, default=8192)
    parser.add_argument("--dim", type=int, default=256, help="width of each view")
    parser.add_argument("--k", type=float, default=32)
    parser.add_argument("--train-rows", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-reference", action="store_true",
                        help="skip the transform-alone reference (halves the run)")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from skcosae import CoupledSAE
    from skcosae.atlas import concept_atlas
    from skcosae.datasets import make_platonic

    Xs, y, _ = make_platonic(n_samples=args.rows, view_dims=args.dim, n_concepts=256,
                             n_active=8, random_state=0)
    Xs = [X.astype(np.float32) for X in Xs]
    sae = CoupledSAE(n_concepts=args.concepts, k=args.k, max_epochs=1, batch_size=1024,
                     losses={"rec": 1, "cc": 1}, random_state=0)
    start = time.perf_counter()
    sae.fit([X[: args.train_rows] for X in Xs])
    for unit in sae.model_.units:
        unit.threshold.fill_(float("nan"))
    print(f"stand-in model: CoupledSAE({args.concepts} concepts, k={args.k}) trained 1 epoch "
          f"on {args.train_rows} rows in {time.perf_counter() - start:.0f} s; "
          f"{args.threads} torch thread(s); load average {os.getloadavg()[0]:.1f}")

    rows = []
    # First, so that its peak memory is measured from the data and the model alone.
    atlas = measure("concept_atlas(sae, Xs, labels=y)",
                    lambda: concept_atlas(sae, Xs, labels=y), rows)
    codes = atlas.codes
    measure("  the table alone, from the codes", lambda: concept_atlas(sae, codes=codes, labels=y),
            rows)
    with tempfile.TemporaryDirectory() as tmp:
        page = measure("atlas.to_html", lambda: atlas.to_html(Path(tmp) / "atlas.html"), rows)
        page_mb = Path(page).stat().st_size / 1e6
    if not args.no_reference:
        def transform_alone():
            sae.set_params(sparse_output=True)  # as the atlas asks for it
            chunk = 512
            for start in range(0, args.rows, chunk):
                sae.transform([X[start:start + chunk] for X in Xs])
            sae.set_params(sparse_output=False)

        measure("reference: transform alone (sparse codes, 512-row chunks, discarded)",
                transform_alone, rows)
    # What numpy and scipy allocate for the table (tracemalloc sees them; torch it does not).
    tracemalloc.start()
    concept_atlas(sae, codes=codes, labels=y)
    _, numpy_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    nnz = sum(Z.nnz for Z in codes)
    sparse_mb = sum(Z.data.nbytes + Z.indices.nbytes + Z.indptr.nbytes for Z in codes) / 1e6
    dense_mb = args.rows * args.concepts * 4 * len(codes) / 1e6
    print(f"\n{args.rows} rows x {len(codes)} views x {args.concepts} concepts; "
          f"{nnz / args.rows / len(codes):.1f} active codes per row and view; "
          f"{atlas}")
    print(f"codes: {sparse_mb:.0f} MB sparse (CSC), {dense_mb:.0f} MB if dense float32; "
          f"the table's peak allocation (numpy/scipy, tracemalloc) {numpy_peak / 1e6:.0f} MB; "
          f"page {page_mb:.1f} MB\n")
    print("| step | seconds | RSS before (MB) | peak RSS (MB) | peak above start (MB) |")
    print("|---|---|---|---|---|")
    for label, seconds, before, peak in rows:
        print(f"| {label} | {seconds:.1f} | {before:.0f} | {peak:.0f} | {peak - before:.0f} |")


if __name__ == "__main__":
    main()
