"""Training speed of skcosae's CoupledSAE against a plain-torch BatchTopK loop and overcomplete.

Prints a markdown table of rows per second, warm-up excluded:

- ``plain torch``: a minimal BatchTopK SAE loop written here (one view, MSE, Adam, decoder
  columns renormalised after each step), the floor any trainer pays;
- ``overcomplete``: ``overcomplete.sae.BatchTopKSAE`` trained by ``overcomplete.sae.train_sae``
  (version 0.3.0, the library the paper names), when it is importable;
- ``skcosae``: ``CoupledSAE`` on 2 views of the same width, with ``rec`` alone and with
  ``rec + trans + cc`` (every row paired); ``--losses cosae`` adds the CoSAE recipe (every
  term but ``cycle``).

``--precision`` sets the arithmetic of every trainer: ``bf16`` runs the plain loop and
overcomplete under bfloat16 autocast and passes ``precision="bf16"`` to CoupledSAE; ``tf32``
(CUDA) lets float32 matrix products use TensorFloat-32. On CUDA the script also measures
the bf16 rate of ``torch.matmul`` at the encoder's shapes (batch x d times d x m) and
reports, for each trainer, the fraction of that roofline it reaches if a step cost only
its dense encoder products (``2 * batch * d * m`` FLOP per view). ``--widths`` trains
CoupledSAE alone on views of those widths (e.g. the paper's 768 768 1152).

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
import contextlib
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


def _precision_context(precision, device):
    """The plain loop's and overcomplete's arithmetic for ``--precision``."""
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _prepared(run_epoch, device, warmup_rows=None):
    """Warm up (allocator, kernels, lazily built state), then return a timer of ``epochs``."""
    run_epoch(warmup_rows)

    def timed(epochs):
        _sync(device)
        start = time.perf_counter()
        for _ in range(epochs):
            run_epoch(None)
        _sync(device)
        wall = time.perf_counter() - start
        return wall, wall

    return timed


# ---------------------------------------------------------------------------- plain torch
def bench_plain(x, m, k, batch_size, lr, device, precision="float32", warmup_rows=None):
    n, d = x.shape
    g = torch.Generator().manual_seed(0)
    atoms = torch.randn(d, m, generator=g)
    atoms /= atoms.norm(dim=0, keepdim=True)
    W_dec = atoms.clone().to(device).requires_grad_()
    W_enc = atoms.T.contiguous().to(device).requires_grad_()
    b_enc = torch.zeros(m, device=device, requires_grad=True)
    b_dec = x.mean(0).detach().clone().requires_grad_()
    opt = torch.optim.Adam([W_enc, b_enc, W_dec, b_dec], lr=lr)

    def epoch(rows):
        for xb in _batches(x[:rows], batch_size, g):
            with _precision_context(precision, device):
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

    return _prepared(epoch, device, warmup_rows)


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


def bench_overcomplete(sae_module, x, m, k, batch_size, lr, device, monitoring=0,
                       precision="float32", warmup_rows=None):
    n, d = x.shape
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    # overcomplete's top_k counts non-zeros over the whole batch, not per row.
    model = sae_module.BatchTopKSAE(d, m, top_k=k * batch_size, device=str(device))
    opt = torch.optim.Adam(model.parameters(), lr=lr)

    def criterion(x, x_hat, pre_codes, codes, dictionary):
        return ((x - x_hat) ** 2).sum(1).mean()

    def epoch(rows):
        # monitoring=0 (no per-step R^2 or logging) is overcomplete's fastest setting.
        with _precision_context(precision, device):
            sae_module.train_sae(model, _batches(x[:rows], batch_size, g), criterion, opt,
                                 nb_epochs=1, monitoring=monitoring, device=str(device))

    return _prepared(epoch, device, warmup_rows)


# -------------------------------------------------------------------------------- skcosae
@contextlib.contextmanager
def _products(dense):
    """CoupledSAE with dense products with the codes (``dense``), or its default kernels."""
    from skcosae.backend import sae

    kept = sae.SPARSE_CODES_MAX_DENSITY
    sae.SPARSE_CODES_MAX_DENSITY = 0.0 if dense else kept
    try:
        yield
    finally:
        sae.SPARSE_CODES_MAX_DENSITY = kept


def bench_skcosae(host, m, k, batch_size, lr, device, losses, precision="float32",
                  warmup_rows=None, dense_products=False):
    """A timer of ``epochs`` more epochs of ``CoupledSAE.fit``, after a one-epoch warm-up fit
    (on the first ``warmup_rows`` rows, when given).

    The timed call is a warm-started ``fit``, so it includes what ``fit`` does around the
    epochs (input validation, the dead-concept count over the training rows).
    ``dense_products`` makes every product with the codes dense (the sparse kernels off).
    """
    from skcosae import CoupledSAE

    est = CoupledSAE(n_concepts=m, k=k, losses=losses, batch_size=batch_size, max_epochs=1,
                     learning_rate=lr, device=str(device), precision=precision,
                     random_state=0)
    with _products(dense_products):
        est.fit([h[:warmup_rows] for h in host])

    def timed(epochs):
        est.set_params(warm_start=True, max_epochs=epochs)
        done = len(est.history_)
        _sync(device)
        start = time.perf_counter()
        with _products(dense_products):
            est.fit(host)
        _sync(device)
        wall = time.perf_counter() - start
        # The loop's own per-epoch clock, when history_ records one: the epochs alone.
        seconds = est.history_.get("seconds")
        return wall, (None if seconds is None else float(seconds.iloc[done:].sum()))

    return timed


def _synthetic_views(n, widths, m, device, seed=0):
    """Views of one synthetic law: sparse codes through a random dictionary per view.

    The codes are ``relu(N(0, 1) - 2)`` over ``m`` concepts; at most 2**27 code entries are
    drawn at once (on the device), so that a million rows of thousands of concepts fit.
    """
    g = torch.Generator().manual_seed(seed)
    if n * m <= 2**27:  # the CPU default's data, drawn as they always were
        codes = torch.relu(torch.randn(n, m, generator=g) - 2.0)
        views = [(codes @ torch.randn(m, d, generator=g) / np.sqrt(m)).to(device)
                 for d in widths]
    else:
        maps = [(torch.randn(m, d, generator=g) / np.sqrt(m)).to(device) for d in widths]
        views = [torch.empty(n, d, device=device) for d in widths]
        draw = torch.Generator(device=device).manual_seed(seed)
        step = max(1, 2**27 // m)
        for start in range(0, n, step):
            rows = min(step, n - start)
            codes = torch.relu(torch.randn(rows, m, generator=draw, device=device) - 2.0)
            for view, dictionary in zip(views, maps):
                view[start:start + rows] = codes @ dictionary
    for v in views:
        v.sub_(v.mean(0)).div_(v.std())
    return views


def matmul_rate(batch_size, d, m, device, dtype=torch.bfloat16, repeats=20):
    """FLOP/s of ``torch.matmul`` of a (batch, d) by a (d, m) matrix on ``device``."""
    a = torch.randn(batch_size, d, device=device, dtype=dtype)
    b = torch.randn(d, m, device=device, dtype=dtype)
    for _ in range(3):
        torch.matmul(a, b)
    _sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        torch.matmul(a, b)
    _sync(device)
    return 2.0 * batch_size * d * m * repeats / (time.perf_counter() - start)


RECIPES = {"rec": {"rec": 1.0}, "rec+trans+cc": {"rec": 1.0, "trans": 1.0, "cc": 1.0},
           "cosae": None}


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
    parser.add_argument("--precision", default="float32", choices=["float32", "tf32", "bf16"])
    parser.add_argument("--losses", nargs="+", default=["rec", "rec+trans+cc"],
                        choices=sorted(RECIPES), help="CoupledSAE's recipes (cosae: None)")
    parser.add_argument("--widths", type=int, nargs="+", default=None,
                        help="train CoupledSAE alone on views of these widths")
    parser.add_argument("--warmup-rows", type=int, default=None,
                        help="rows of the untimed warm-up epoch (default: all)")
    parser.add_argument("--dense-products", action="store_true",
                        help="add a CoupledSAE row of the first recipe with dense products "
                             "with the codes")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--overcomplete-monitoring", type=int, default=0, choices=[0, 1, 2],
                        help="train_sae's monitoring level (its default is 1)")
    parser.add_argument("--skip", nargs="*", default=[],
                        choices=["plain", "overcomplete", "skcosae"])
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if args.precision == "tf32":
        torch.set_float32_matmul_precision("high")
    widths = args.widths or [args.d, args.d]
    if args.widths:
        args.skip = sorted(set(args.skip) | {"plain", "overcomplete"})

    # Views of one synthetic law: sparse codes through a random dictionary per view.
    views = _synthetic_views(args.n, widths, args.m, device)
    common = dict(m=args.m, k=args.k, batch_size=args.batch_size, lr=args.lr, device=device,
                  precision=args.precision, warmup_rows=args.warmup_rows)

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
            trainers.append(("skcosae CoupledSAE", len(views), "rec", f"not importable ({exc})"))
        else:
            host = [v.cpu().numpy() for v in views]
            for recipe in args.losses:
                losses = RECIPES[recipe]
                label = "CoSAE recipe" if losses is None else " + ".join(losses)
                trainers.append(("skcosae CoupledSAE", len(views), label,
                                 bench_skcosae(host, losses=losses, **common)))
                if args.dense_products and recipe == args.losses[0]:
                    trainers.append(("skcosae CoupledSAE, dense products", len(views), label,
                                     bench_skcosae(host, losses=losses, dense_products=True,
                                                   **common)))
    rate = None
    if device.type == "cuda":
        rate = matmul_rate(args.batch_size, args.d if not args.widths else max(widths),
                           args.m, device)

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

    hardware = platform.machine()
    if device.type == "cuda":
        hardware = torch.cuda.get_device_name(device)
    warmup = "1 warm-up epoch" if args.warmup_rows is None else \
        f"a warm-up epoch of {args.warmup_rows} rows"
    print(f"\nn={args.n}, widths={widths}, m={args.m}, k={args.k}, batch={args.batch_size}, "
          f"precision={args.precision}; fastest of {args.repeats} interleaved runs of "
          f"{args.epochs} epochs, after {warmup} each; device={device}, torch "
          f"{torch.__version__}, {torch.get_num_threads()} threads, {hardware}; "
          f"load average after: {_load()}\n")
    roofline_header = roofline_rule = ""
    if rate is not None:
        print(f"bf16 torch.matmul ({args.batch_size} x {max(widths)}) @ ({max(widths)} x "
              f"{args.m}): {rate / 1e12:.0f} TFLOP/s; the roofline is one dense encoder "
              f"product per view and step at that rate ({rate / (2 * widths[0] * args.m):,.0f} "
              f"rows/s of a view of width {widths[0]})\n")
        roofline_header, roofline_rule = " roofline, epochs alone |", "---|"
    print("| trainer | views | losses | rows/s | per-view rows/s | vs plain | vs overcomplete |"
          " time vs rec alone | per-view rows/s, epochs alone | vs plain |" + roofline_header)
    print("|---|---|---|---|---|---|---|---|---|---|" + roofline_rule)
    for name, n_views, losses, timer in trainers:
        if not callable(timer):
            print(f"| {name} | {n_views} | {losses} | {timer} | | | | | | |"
                  + (" |" if rate is not None else ""))
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
        roofline = ""
        if rate is not None:
            # A plain loop's epochs are its whole timed run; it trains the first view.
            epochs_alone = inner if name.startswith("skcosae") else pv
            trained = widths if name.startswith("skcosae") else widths[:1]
            flop_per_row = 2 * args.m * sum(trained)
            roofline = f" {epochs_alone / n_views * flop_per_row / rate:.0%} |"
        print(f"| {name} | {n_views} | {losses} | {pv / n_views:,.0f} | {pv:,.0f} | "
              f"{vs_plain} | {vs_over} | {vs_rec} | {inner_cols} |{roofline}")
    print()
    for (name, losses), seconds in best_epochs.items():
        print(f"{name} [{losses}]: one epoch of {args.n:,} rows in "
              f"{seconds / args.epochs:.1f} s (epochs alone), "
              f"{best[name, losses] / args.epochs:.1f} s per epoch of the whole fit")

if __name__ == "__main__":
    main()
