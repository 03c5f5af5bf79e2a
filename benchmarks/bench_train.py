"""Training speed of skcosae's CoupledSAE against a plain-torch BatchTopK loop and overcomplete.

Prints a markdown table of rows per second, warm-up excluded:

- ``plain torch``: a minimal BatchTopK SAE loop written here (one view, MSE, Adam, decoder
  columns renormalised after each step), the floor any trainer pays;
- ``overcomplete``: ``overcomplete.sae.BatchTopKSAE`` trained by ``overcomplete.sae.train_sae``
  (version 0.3.0, the library the paper names), when it is importable;
- ``skcosae``: ``CoupledSAE`` on 2 views of the same width, with ``rec`` alone and with
  ``rec + trans + cc`` (every row paired).

"per-view rows/s" counts each view's rows: a 2-view model that sees 10k rows/s does the
work of 20k single-view rows/s. The plain loop and overcomplete get the same float32 tensors
in shuffled mini-batches; CoupledSAE gets the same data as arrays and batches it itself. Each
trainer runs one warm-up epoch that is not timed; the timed runs are interleaved, so a burst
of load from other processes hits every trainer alike, and the fastest run is reported.

overcomplete is not a dependency of skcosae. To include it (CPU machine)::

    pip install --no-deps overcomplete==0.3.0 && pip install einops

Its top-level ``import overcomplete`` pulls torchvision, OpenCV, scikit-image and matplotlib
(< 3.9) for the vision wrappers; this script imports only ``overcomplete.sae``, which needs
torch and einops, by registering the package without running its ``__init__``.

Run ``python benchmarks/bench_train.py --help`` for the sizes and the device.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import sys
import time
import types

import numpy as np
import torch


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _batches(x, batch_size, generator):
    order = torch.randperm(x.shape[0], generator=generator).to(x.device)
    return [x[order[s:s + batch_size]] for s in range(0, x.shape[0], batch_size)]


def _prepared(run_epoch, device):
    """Warm up (allocator, kernels, lazily built state), then return a timer of ``epochs``."""
    run_epoch()

    def timed(epochs):
        _sync(device)
        start = time.perf_counter()
        for _ in range(epochs):
            run_epoch()
        _sync(device)
        wall = time.perf_counter() - start
        return wall, wall

    return timed


# ---------------------------------------------------------------------------- plain torch
def bench_plain(x, m, k, batch_size, lr, device):
    n, d = x.shape
    g = torch.Generator().manual_seed(0)
    atoms = torch.randn(d, m, generator=g)
    atoms /= atoms.norm(dim=0, keepdim=True)
    W_dec = atoms.clone().to(device).requires_grad_()
    W_enc = atoms.T.contiguous().to(device).requires_grad_()
    b_enc = torch.zeros(m, device=device, requires_grad=True)
    b_dec = x.mean(0).detach().clone().requires_grad_()
    opt = torch.optim.Adam([W_enc, b_enc, W_dec, b_dec], lr=lr)

    def epoch():
        for xb in _batches(x, batch_size, g):
            acts = torch.relu((xb - b_dec) @ W_enc.T + b_enc)
            flat = acts.flatten()
            top = torch.topk(flat, k * xb.shape[0], sorted=False)
            z = torch.zeros_like(flat).scatter(0, top.indices, top.values).view_as(acts)
            loss = ((xb - (z @ W_dec.T + b_dec)) ** 2).sum(1).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                W_dec.div_(W_dec.norm(dim=0, keepdim=True))

    return _prepared(epoch, device)


# --------------------------------------------------------------------------- overcomplete
def _import_overcomplete_sae():
    """``overcomplete.sae`` without the package ``__init__`` (torchvision, cv2, matplotlib)."""
    spec = importlib.util.find_spec("overcomplete")
    if spec is None or not spec.submodule_search_locations:
        return None, "not installed"
    if "overcomplete" not in sys.modules:
        package = types.ModuleType("overcomplete")
        package.__path__ = list(spec.submodule_search_locations)
        sys.modules["overcomplete"] = package
    try:
        from importlib.metadata import version

        import overcomplete.sae as sae

        return sae, version("overcomplete")
    except Exception as exc:  # a missing light dependency (einops), or an API change
        return None, f"not importable ({type(exc).__name__}: {exc})"


def bench_overcomplete(sae_module, x, m, k, batch_size, lr, device, monitoring=0):
    n, d = x.shape
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    # overcomplete's top_k counts non-zeros over the whole batch, not per row.
    model = sae_module.BatchTopKSAE(d, m, top_k=k * batch_size, device=str(device))
    opt = torch.optim.Adam(model.parameters(), lr=lr)

    def criterion(x, x_hat, pre_codes, codes, dictionary):
        return ((x - x_hat) ** 2).sum(1).mean()

    def epoch():
        # monitoring=0 (no per-step R^2 or logging) is overcomplete's fastest setting.
        sae_module.train_sae(model, _batches(x, batch_size, g), criterion, opt, nb_epochs=1,
                             monitoring=monitoring, device=str(device))

    return _prepared(epoch, device)


# -------------------------------------------------------------------------------- skcosae
def bench_skcosae(views, m, k, batch_size, lr, device, losses):
    """A timer of ``epochs`` more epochs of ``CoupledSAE.fit``, after a one-epoch warm-up fit.

    The timed call is a warm-started ``fit``, so it includes what ``fit`` does around the
    epochs (input validation, the dead-concept count over the training rows).
    """
    from skcosae import CoupledSAE

    host = [v.cpu().numpy() for v in views]
    est = CoupledSAE(n_concepts=m, k=k, losses=losses, batch_size=batch_size, max_epochs=1,
                     learning_rate=lr, device=str(device), random_state=0)
    est.fit(host)

    def timed(epochs):
        est.set_params(warm_start=True, max_epochs=epochs)
        done = len(est.history_)
        _sync(device)
        start = time.perf_counter()
        est.fit(host)
        _sync(device)
        wall = time.perf_counter() - start
        # The loop's own per-epoch clock, when history_ records one: the epochs alone.
        seconds = est.history_.get("seconds")
        return wall, (None if seconds is None else float(seconds.iloc[done:].sum()))

    return timed


def _load():
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "n/a"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20_000, help="rows")
    parser.add_argument("--d", type=int, default=256, help="width of each view")
    parser.add_argument("--m", type=int, default=2048, help="concepts (dictionary size)")
    parser.add_argument("--k", type=int, default=32, help="active concepts per row")
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--epochs", type=int, default=2, help="epochs per timed run")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed runs per trainer, interleaved; the fastest is reported")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--overcomplete-monitoring", type=int, default=0, choices=[0, 1, 2],
                        help="train_sae's monitoring level (its default is 1)")
    parser.add_argument("--skip", nargs="*", default=[],
                        choices=["plain", "overcomplete", "skcosae"])
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    # Two views of one synthetic law: sparse codes through two random dictionaries.
    g = torch.Generator().manual_seed(0)
    codes = torch.relu(torch.randn(args.n, args.m, generator=g) - 2.0)
    views = [(codes @ torch.randn(args.m, args.d, generator=g) / np.sqrt(args.m)).to(device)
             for _ in range(2)]
    for v in views:
        v.sub_(v.mean(0)).div_(v.std())
    common = dict(m=args.m, k=args.k, batch_size=args.batch_size, lr=args.lr, device=device)

    # (trainer, views, losses, timer or a reason it is absent)
    trainers = []
    print(f"load average before: {_load()}", file=sys.stderr)
    if "plain" not in args.skip:
        trainers.append(("plain torch", 1, "rec", bench_plain(views[0], **common)))
    if "overcomplete" not in args.skip:
        module, ver = _import_overcomplete_sae()
        if module is None:
            trainers.append(("overcomplete", 1, "rec", ver))
        else:
            trainers.append((f"overcomplete {ver}", 1, "rec", bench_overcomplete(
                module, views[0], monitoring=args.overcomplete_monitoring, **common)))
    if "skcosae" not in args.skip:
        try:
            from skcosae import CoupledSAE  # noqa: F401
        except ImportError as exc:
            trainers.append(("skcosae CoupledSAE", 2, "rec", f"not importable ({exc})"))
        else:
            for losses in ({"rec": 1.0}, {"rec": 1.0, "trans": 1.0, "cc": 1.0}):
                trainers.append(("skcosae CoupledSAE", 2, " + ".join(losses),
                                 bench_skcosae(views, losses=losses, **common)))

    # Interleaved runs, so a burst of load from other processes hits every trainer alike.
    best, best_epochs = {}, {}
    for rep in range(args.repeats):
        for name, _, losses, timer in trainers:
            if callable(timer):
                seconds, epochs_only = timer(args.epochs)
                key = (name, losses)
                best[key] = min(best.get(key, np.inf), seconds)
                if epochs_only is not None:
                    best_epochs[key] = min(best_epochs.get(key, np.inf), epochs_only)
                print(f"  run {rep + 1}: {name} [{losses}] {seconds:.2f} s, epochs alone "
                      f"{epochs_only or float('nan'):.2f} s (load {_load()})", file=sys.stderr)

    n_rows = args.n * args.epochs

    def per_view(key, n_views, table=best):
        return None if key not in table else n_rows * n_views / table[key]

    plain = per_view(("plain torch", "rec"), 1)
    over = next((per_view(key, 1) for key in best if key[0].startswith("overcomplete")), None)
    rec_alone = best.get(("skcosae CoupledSAE", "rec"))

    print(f"\nn={args.n}, d={args.d}, m={args.m}, k={args.k}, batch={args.batch_size}; "
          f"fastest of {args.repeats} interleaved runs of {args.epochs} epochs, after 1 "
          f"warm-up epoch each; device={device}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {platform.machine()}; "
          f"load average after: {_load()}\n")
    print("| trainer | views | losses | rows/s | per-view rows/s | vs plain | vs overcomplete |"
          " time vs rec alone | per-view rows/s, epochs alone | vs plain |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, n_views, losses, timer in trainers:
        if not callable(timer):
            print(f"| {name} | {n_views} | {losses} | {timer} | | | | | | |")
            continue
        pv = per_view((name, losses), n_views)
        vs_plain = f"{pv / plain:.2f}x" if plain else ""
        vs_over = f"{pv / over:.2f}x" if over else ""
        vs_rec = ""
        if name.startswith("skcosae") and rec_alone is not None:
            vs_rec = f"{best[name, losses] / rec_alone:.2f}x"
        inner = per_view((name, losses), n_views, best_epochs)
        inner_cols = "| "
        if inner is not None and name.startswith("skcosae"):
            inner_cols = f"{inner:,.0f} | " + (f"{inner / plain:.2f}x" if plain else "")
        print(f"| {name} | {n_views} | {losses} | {pv / n_views:,.0f} | {pv:,.0f} | "
              f"{vs_plain} | {vs_over} | {vs_rec} | {inner_cols} |")

if __name__ == "__main__":
    main()
