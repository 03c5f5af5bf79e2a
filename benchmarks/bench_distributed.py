"""Data-parallel training on the CPU under torchrun: N processes of one thread each.

For each process count, runs ``python -m torch.distributed.run --standalone
--nproc_per_node=N`` on this script; every process fits the same ``CoupledSAE`` on the same
data with one torch thread, as a user's unchanged script would (one process: no process
group at all). Rank 0 reports its epochs' seconds (``history_["seconds"]``) and the whole
``fit``. The data and sizes are ``bench_train.py``'s CPU defaults; ``batch_size`` is the
batch of a step over all processes, so every run takes the same steps.

The table gives the per-view rows/s of the epochs after the first (whose time holds the
allocator's and the process group's warm-up) and the speed-up over one process.

    python benchmarks/bench_distributed.py --procs 1 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

_WORKER = "BENCH_DISTRIBUTED_WORKER"  # the worker's settings (torchrun parses options)


def worker(settings):
    import torch
    from bench_train import RECIPES, _synthetic_views

    from skcosae import CoupledSAE

    args = argparse.Namespace(**settings)
    torch.set_num_threads(1)
    views = [v.numpy() for v in _synthetic_views(args.n, [args.d, args.d], args.m,
                                                 torch.device("cpu"))]
    est = CoupledSAE(n_concepts=args.m, k=args.k, losses=RECIPES[args.losses],
                     batch_size=args.batch_size, max_epochs=args.epochs,
                     learning_rate=1e-3, device="cpu", random_state=0)
    start = time.perf_counter()
    est.fit(views)
    wall = time.perf_counter() - start
    if int(os.environ.get("RANK", "0")) == 0:
        with open(args.report, "w") as handle:
            json.dump({"wall": wall, "epochs": est.history_["seconds"].tolist()}, handle)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--procs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--d", type=int, default=256)
    parser.add_argument("--m", type=int, default=2048)
    parser.add_argument("--k", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--losses", default="rec", choices=["rec", "rec+trans+cc", "cosae"])
    if _WORKER in os.environ:
        return worker(json.loads(os.environ[_WORKER]))
    args = parser.parse_args(argv)

    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [
               os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
               os.environ.get("PYTHONPATH")]))}
    results = {}
    for procs in args.procs:
        with tempfile.TemporaryDirectory() as folder:
            report = os.path.join(folder, "rank0.json")
            env[_WORKER] = json.dumps({**vars(args), "report": report})
            command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                       f"--nproc_per_node={procs}", os.path.abspath(__file__)]
            print(f"load average before {procs} process(es): {os.getloadavg()[0]:.2f}",
                  file=sys.stderr)
            subprocess.run(command, env=env, check=True)
            with open(report) as handle:
                results[procs] = json.load(handle)

    print(f"\nn={args.n}, d={args.d}, m={args.m}, k={args.k}, global batch={args.batch_size},"
          f" losses={args.losses}, {args.epochs} epochs, 2 views; one torch thread per "
          f"process; load average after: {os.getloadavg()[0]:.2f}\n")
    print("| processes x threads | per-view rows/s, epochs 2+ | speed-up | whole fit, s |")
    print("|---|---|---|---|")
    base = None
    for procs, result in results.items():
        later = result["epochs"][1:] or result["epochs"]
        rate = 2 * args.n * len(later) / sum(later)
        base = base or rate
        print(f"| {procs} x 1 | {rate:,.0f} | {rate / base:.2f}x | {result['wall']:.1f} |")


if __name__ == "__main__":
    main()
