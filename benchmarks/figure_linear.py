"""Linear regime: closed forms against gradient descent, one panel per lemma (issue 6).

Usage::

    python benchmarks/figure_linear.py [--out docs/_static/figures] [--n-samples 2000]
        [--seed 0] [--max-epochs 1000] [--learning-rate 0.05] [--budgets 10] [--threads 1]

On two generated Gaussian views with a known covariance (three shared latent signals of
decreasing strength, independent noise per feature, feature scales spread over
``exp(+-1)`` so that neither view's covariance is isotropic), the script fits
:class:`skcosae.linear.LinearCoupledAE` twice for each loss combination below: with
``solver="closed_form"`` and with ``solver="gradient"`` (full-batch Adam through the torch
backend of CoupledSAE, the whitening constraint built into the encoder):

- Lemma 1: ``rec``, Euclidean metric (per-view PCA);
- Lemma 3: ``cc`` under whitening (CCA);
- Lemma 5: ``trans``, Euclidean metric (reduced-rank regression, both directions);
- Lemma 6: ``trans + 5 rec``, Mahalanobis metric (CCA encoders, interpolated decoders);
- Lemma 6 outside its condition: the same losses in the Euclidean metric on the raw views.
  There is no closed form (``LinearCoupledAE`` raises); the reference is the lemma's answer
  (the Mahalanobis fit's CCA encoders and Lemma 6 decoders) evaluated in the Euclidean
  objective with :meth:`LinearCoupledAE.objective`.

It draws one figure (one column per case): the gradient solver's objective per epoch
(``history_["total"]``, each full-batch epoch is one Adam step; the value is the loss at the
iterate before that step) with the closed-form objective as a horizontal line; the gap
between the two on a log scale; and the largest principal angle between the gradient and the
closed-form encoder subspaces (largest over the two views) at the end of fits run for an
increasing number of epochs (the gradient solver does not expose its iterates, so each point
is its own fit from the same starting point; its learning-rate stages scale with the
budget). ``random_state`` fixes every gradient fit, so the run is reproducible. It prints
a markdown table of the final values.

Only the public API of :mod:`skcosae.linear` is used, plus
:func:`skcosae.linear._closed_forms.principal_angles` (scipy's ``subspace_angles``).

Torch runs with ``--threads 1`` threads by default: on a 2-core machine shared with other
processes, torch's default of one thread per core made these tiny fits 30-80x slower
(measured 70-90 s instead of 1 s for 300 epochs), as each step's threads spin while waiting.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings
from dataclasses import dataclass

import numpy as np

K = 2  # components of every fit
LAMBDA = 5.0  # weight of rec against trans in the Lemma 6 cases
STRENGTHS = (2.0, 1.2, 0.7)  # standard deviations of the shared latent signals
D_A, D_B = 8, 6


@dataclass
class Case:
    label: str
    losses: dict
    metric: str
    # True: the reference is the lemma's answer outside its condition (no closed form).
    outside: bool = False

    @property
    def loss_text(self):
        parts = []
        for name, weight in self.losses.items():
            parts.append(name if weight == 1 else f"{weight:g} {name}")
        return " + ".join(parts)


CASES = [
    Case("Lemma 1 (PCA)", {"rec": 1.0}, "euclidean"),
    Case("Lemma 3 (CCA)", {"cc": 1.0}, "mahalanobis"),
    Case("Lemma 5 (RRR)", {"trans": 1.0}, "euclidean"),
    Case("Lemma 6", {"trans": 1.0, "rec": LAMBDA}, "mahalanobis"),
    Case("Lemma 6, outside its condition", {"trans": 1.0, "rec": LAMBDA}, "euclidean",
         outside=True),
]


def population(seed):
    """Mixing matrices, noise and feature scales of the two views (the known structure)."""
    rng = np.random.default_rng(seed)
    parts = []
    for d in (D_A, D_B):
        mix = rng.normal(size=(len(STRENGTHS), d)) / np.sqrt(len(STRENGTHS))
        noise = 0.7 * np.exp(rng.uniform(-0.5, 0.5, size=d))
        scales = np.exp(rng.uniform(-1.0, 1.0, size=d))
        mean = 3.0 * rng.normal(size=d)
        parts.append((mix, noise, scales, mean))
    return parts


def population_covariance(parts):
    """Joint covariance of (x_a, x_b): ``diag(s) (A^T L A + diag(noise^2)) diag(s)`` blocks."""
    L = np.diag(np.square(STRENGTHS))
    maps = [mix * scales for mix, _, scales, _ in parts]
    blocks = [[Ai.T @ L @ Aj for Aj in maps] for Ai in maps]
    for i, (_, noise, scales, _) in enumerate(parts):
        blocks[i][i] = blocks[i][i] + np.diag(np.square(noise * scales))
    return blocks


def population_correlations(blocks, k):
    def inv_sqrt(S):
        w, U = np.linalg.eigh(S)
        return (U / np.sqrt(w)) @ U.T

    M = inv_sqrt(blocks[0][0]) @ blocks[0][1] @ inv_sqrt(blocks[1][1])
    return np.linalg.svd(M, compute_uv=False)[:k]


def make_views(n, seed):
    """Two Gaussian views with the covariance of :func:`population_covariance`."""
    parts = population(seed)
    rng = np.random.default_rng(seed + 1)
    latent = rng.normal(size=(n, len(STRENGTHS))) * np.asarray(STRENGTHS)
    views = []
    for mix, noise, scales, mean in parts:
        x = latent @ mix + rng.normal(size=(n, mix.shape[1])) * noise
        views.append(x * scales + mean)
    return views, population_covariance(parts)


def max_angle(encoders_a, encoders_b):
    """Largest principal angle (radians) between the encoders' column spaces, over views."""
    from skcosae.linear._closed_forms import principal_angles

    return max(float(principal_angles(Wa, Wb).max()) for Wa, Wb in zip(encoders_a, encoders_b))


def budgets(max_epochs, count):
    grid = np.unique(np.round(np.geomspace(min(4, max_epochs), max_epochs, count)).astype(int))
    return [int(b) for b in grid]


def run_case(case, views, args):
    from skcosae.linear import LinearCoupledAE

    common = dict(n_components=K, losses=case.losses)
    gradient = dict(solver="gradient", learning_rate=args.learning_rate,
                    random_state=args.seed)
    started = time.perf_counter()
    if case.outside:
        # The lemma's answer: CCA encoders and Lemma 6 decoders (the Mahalanobis closed form;
        # the decoder formula holds in any metric), scored in the Euclidean objective.
        lemma = LinearCoupledAE(metric="mahalanobis", **common).fit(views)
        closed_seconds = time.perf_counter() - started
        ref_enc, ref_dec = lemma.encoders_, lemma.decoders_
        try:
            LinearCoupledAE(metric=case.metric, **common).fit(views)
            closed_raises = None
        except ValueError as exc:
            closed_raises = str(exc).split(":")[0]
    else:
        closed = LinearCoupledAE(metric=case.metric, **common).fit(views)
        closed_seconds = time.perf_counter() - started
        ref_enc, ref_dec = closed.encoders_, closed.decoders_
        closed_raises = None
    started = time.perf_counter()
    descent = LinearCoupledAE(metric=case.metric, max_epochs=args.max_epochs,
                                         **common, **gradient).fit(views)
    gradient_seconds = time.perf_counter() - started
    # Score both with the gradient fit's objective (same means, metric and normalisations).
    reference = descent.objective(views, encoders=ref_enc, decoders=ref_dec)["total"]
    angles = []
    for budget in budgets(args.max_epochs, args.budgets):
        if budget == args.max_epochs:
            fit = descent
        else:
            fit = LinearCoupledAE(metric=case.metric, max_epochs=budget, **common,
                                             **gradient).fit(views)
        angles.append((budget, max_angle(ref_enc, fit.encoders_)))
    return {
        "case": case,
        "reference": reference,
        "closed_solution": None if case.outside else closed.solution_,
        "closed_raises": closed_raises,
        "final": descent.objective_["total"],
        "history": descent.history_["total"].to_numpy(),
        "angles": angles,
        "angle": angles[-1][1],
        "closed_seconds": closed_seconds,
        "gradient_seconds": gradient_seconds,
        "stop_reason": descent.stop_reason_,
    }


def draw(results, path, args):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    floor = 1e-16
    n = len(results)
    fig, axes = plt.subplots(3, n, figsize=(3.4 * n, 8.2), constrained_layout=True)
    for col, res in enumerate(results):
        case = res["case"]
        history = res["history"]
        epochs = np.arange(1, len(history) + 1)
        ref_label = "lemma's answer (no closed form)" if case.outside else "closed form"
        ax = axes[0, col]
        ax.plot(epochs, history, color="C0", lw=1.5, label="gradient descent")
        ax.axhline(res["reference"], color="C3", ls="--", lw=1.2, label=ref_label)
        ax.set_xscale("log")
        ax.set_title(f"{case.label}\n{case.loss_text}, {case.metric}", fontsize=9)
        ax.legend(fontsize=7, loc="upper right")
        if col == 0:
            ax.set_ylabel("objective")

        ax = axes[1, col]
        gap = history - res["reference"]
        # Negative gaps within round-off of the reference are no descent below it.
        tol = 1e-9 * abs(res["reference"])
        below_mask = gap < -tol
        shown = np.maximum(np.abs(gap), floor)
        ax.plot(epochs, np.where(below_mask, np.nan, shown), color="C0", lw=1.2,
                label="above (or at) the reference")
        if below_mask.any():
            ax.plot(epochs, np.where(below_mask, shown, np.nan), color="C1", lw=1.5,
                    label="below the reference")
        ax.axhline(np.finfo(float).eps * abs(res["reference"]), color="0.5", ls=":", lw=1,
                   label="float64 round-off")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(floor / 3, None)
        ax.legend(fontsize=7, loc="lower left")
        if col == 0:
            ax.set_ylabel("|objective - reference|\n(0 drawn at 1e-16)")

        ax = axes[2, col]
        b, a = zip(*res["angles"])
        ax.plot(b, np.maximum(np.degrees(a), 1e-12), color="C2", marker="o", ms=3, lw=1.2)
        ax.set_xscale("log")
        # The outside case converges to another point: a linear scale shows where it stays.
        ax.set_yscale("linear" if case.outside else "log")
        ax.set_xlabel("epochs (full-batch Adam steps)")
        if col == 0:
            ax.set_ylabel("largest principal angle (deg)\nat the end of a fit of that length")
    fig.suptitle(
        f"Linear regime: closed form vs gradient descent (n={args.n_samples}, "
        f"d=({D_A}, {D_B}), k={K}, Adam lr={args.learning_rate:g}, seed={args.seed})",
        fontsize=10)
    fig.savefig(path, dpi=args.dpi)
    plt.close(fig)


def fmt(x):
    return f"{x:.10f}".rstrip("0").rstrip(".") if abs(x) >= 1e-3 else f"{x:.3g}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join("docs", "_static", "figures"),
                        help="folder of the PNG (default: docs/_static/figures)")
    parser.add_argument("--device", default="auto",
                        help="torch device; LinearCoupledAE's gradient solver has no device "
                             "parameter and always runs on the CPU (these problems are tiny), "
                             "so anything but 'cpu' is only reported")
    parser.add_argument("--n-samples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-epochs", type=int, default=1000)
    parser.add_argument("--learning-rate", type=float, default=0.05)
    parser.add_argument("--budgets", type=int, default=10,
                        help="epoch budgets (log-spaced up to --max-epochs) of the angle row")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--dpi", type=int, default=100)
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device != "cpu":
        print(f"note: --device {device} ignored: LinearCoupledAE's gradient solver runs on "
              "the CPU (it has no device parameter).")

    from skcosae.linear import CCA, LinearCoupledAE

    views, blocks = make_views(args.n_samples, args.seed)
    rho_pop = population_correlations(blocks, K)
    rho = CCA(n_components=K).fit(views).canonical_correlations_
    # Warm-up: import torch's lazy modules and the backend before anything is timed.
    LinearCoupledAE(n_components=K, losses=["cc"], solver="gradient", max_epochs=2,
                    random_state=0).fit(views)

    started = time.perf_counter()
    results = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning (e.g. early stop) is a failure here
        for case in CASES:
            results.append(run_case(case, views, args))
    total_seconds = time.perf_counter() - started

    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "linear_closed_form_vs_gradient.png")
    draw(results, path, args)

    print("# Linear regime: closed form vs gradient descent\n")
    print(f"n={args.n_samples}, d=({D_A}, {D_B}), k={K}, seed={args.seed}, "
          f"max_epochs={args.max_epochs}, learning_rate={args.learning_rate:g} "
          f"(full batch), torch threads={args.threads}, {platform.machine()} "
          f"{os.cpu_count()} CPUs, torch {torch.__version__}")
    print(f"canonical correlations: population {np.round(rho_pop, 4).tolist()}, "
          f"sample {np.round(rho, 4).tolist()}; Lemma 3 value 2 (k - sum rho) / k = "
          f"{fmt(2 * (K - rho.sum()) / K)}\n")
    print("| lemma | losses | metric | closed form | closed-form objective | "
          "gradient objective (end) | gradient - closed form | max principal angle (deg) | "
          "closed-form fit (s) | gradient fit (s) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for res in results:
        case = res["case"]
        solution = res["closed_solution"] or ("none (raises); CCA encoders + Lemma 6 "
                                              "decoders scored instead")
        print(f"| {case.label} | {case.loss_text} | {case.metric} | {solution} | "
              f"{fmt(res['reference'])} | {fmt(res['final'])} | "
              f"{res['final'] - res['reference']:.2g} | "
              f"{np.degrees(res['angle']):.3g} | {res['closed_seconds']:.4f} | "
              f"{res['gradient_seconds']:.2f} |")
    print(f"\nfigure: {path} ({os.path.getsize(path) / 1024:.0f} KB); "
          f"all fits (incl. {args.budgets} epoch budgets per case) {total_seconds:.1f} s")


if __name__ == "__main__":
    main()
