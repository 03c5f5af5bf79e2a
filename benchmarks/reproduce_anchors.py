"""Anchors that count: held-out S_align against the fraction of paired rows (a study).

The paper's headline: the distributional objectives anchored by 0.1% of paired rows recover
strong instance-level alignment. This script measures it on real data that skcosae ships or
builds: for each anchor fraction (log scale), each seed and each recipe, one fit on the
training rows of two views, where only the anchors are declared paired and the other rows
of the second view are shuffled (so no recipe can use their order), scored with InterVenchA
on held-out rows (every held-out row a true pair). Printed: one markdown table per data set
(S_align mean ± spread over seeds, fit seconds), the ratio to the fully paired fit, and the
accuracy of the pseudo-pairs of the recipes that make them.

Recipes (``--recipes``):

- ``paired``: the control, the paired losses alone on the anchors (``rec``, ``trans``, ``cc``);
- ``cosae``: the CoSAE recipe (every loss but ``cycle``), the paper's mixed regime;
- ``schedule``: ``paired`` for the first half of the epochs, then ``cosae`` (warm start);
- ``pls_pairs``: ``CoupledSAE(pseudo_pairs="pls")``: pseudo-pairs first, from a linear map
  fitted on the anchors (each view reduced by PCA on all its rows, partial least squares
  directions of the anchors' cross-covariance), mutual nearest neighbours of the two views
  in that space, refitted on anchors plus pseudo-pairs for up to 10 rounds; ``cosae`` on the
  anchors plus the last pseudo-pairs;
- ``cca_pairs``: ``CoupledSAE(pseudo_pairs="cca")``: the same with canonical correlation
  directions (within-view covariances from all rows, shrunk by 0.1);
- ``cca_once``: the option as it was first landed: ``cca_pairs`` without the refinement
  rounds (the anchors' own matching only);
- ``self_train``: ``cosae``, then mutual nearest neighbours of the two views' concept codes
  as pseudo-pairs, then ``cosae`` again from scratch on anchors plus pseudo-pairs;
- ``cca_init``: ``rec`` for a quarter of the epochs, then the second view's encoder is set
  so that its pre-activations equal the first view's through the anchor CCA's linear map
  (its decoder to the least-squares readout of its rows from those codes), then ``cosae``
  for the remaining epochs (warm start).

``schedule``, ``self_train``, ``cca_once`` and ``cca_init`` are prototypes written against
the estimator (no option of CoupledSAE); the anchor pseudo-pairs, the best of the study,
became the option ``pseudo_pairs``.

    python benchmarks/reproduce_anchors.py                                   # bbc + mfeat, curve
    python benchmarks/reproduce_anchors.py --fractions 0.01 0.001 \
        --recipes paired cosae cca_pairs self_train
    python benchmarks/reproduce_anchors.py --datasets wordnet --wordnet-rows 20000
"""

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split

from skcosae import CoupledSAE
from skcosae._pseudo_pairs import aligned_views, anchor_pseudo_pairs, mutual_nearest_neighbours
from skcosae.datasets import fetch_wordnet_glosses, load_bbc_news, load_mfeat
from skcosae.linear import CCA
from skcosae.metrics import intervencha_report

PAIRED = {"rec": 1, "trans": 1, "cc": 1}
COSAE = {"rec": 1, "trans": 1, "cc": 1, "dist_trans": 1, "dist_cc": 1}
RECIPES = ("paired", "cosae", "schedule", "pls_pairs", "cca_pairs", "cca_once", "self_train",
           "cca_init")
SCORES = ("S_align", "S_trans", "S_cc")


def load(name, wordnet_rows):
    """Two views, labels, and the size defaults of the data set."""
    if name == "bbc":
        bunch = load_bbc_news(views=["minilm_l6", "minilm_l3"])
    elif name == "mfeat":
        bunch = load_mfeat(views=["fac", "pix"])
    else:
        bunch = fetch_wordnet_glosses(views=["minilm_l6", "glove_50"])
        if wordnet_rows:
            # The build's rows are in a random order: the first N are a uniform sample.
            bunch.data = [X[:wordnet_rows] for X in bunch.data]
            bunch.target = bunch.target[:wordnet_rows]
    return [np.asarray(X, dtype=np.float32) for X in bunch.data], np.asarray(bunch.target), \
        bunch.view_names


# ------------------------------------------------------------------------ pseudo-pairs
def code_pseudo_pairs(Za, Zb, anchors):
    """Mutual nearest neighbours (cosine) of the two views' codes outside the anchors."""
    free = np.flatnonzero(~anchors)
    dense = [np.asarray(Z.toarray() if hasattr(Z, "toarray") else Z)[free] for Z in (Za, Zb)]
    a, b = mutual_nearest_neighbours(*dense)
    return free[a], free[b]


def anchor_cca(Xa, Xb, anchors, seed):
    """PCA per view (all its rows), then CCA with the anchors as the only pairs."""
    n_anchors = int(anchors.sum())
    dim = int(np.clip(n_anchors // 2, 2, 64))
    pcas = [PCA(dim, random_state=seed).fit(X) for X in (Xa, Xb)]
    reduced = [p.transform(X) for p, X in zip(pcas, (Xa, Xb))]
    cca = CCA(n_components=dim, reg=0.1).fit(reduced, pair_mask=anchors)
    return pcas, cca, reduced


# ------------------------------------------------------------------------ recipes
def fit_cosae(train, mask, common, losses=COSAE, max_epochs=None):
    params = dict(common, losses=losses)
    if max_epochs is not None:
        params["max_epochs"] = max_epochs
    return CoupledSAE(**params).fit(train, pair_mask=mask)


def continue_fit(sae, train, mask, losses, max_epochs):
    sae.set_params(warm_start=True, losses=losses, max_epochs=max_epochs)
    return sae.fit(train, pair_mask=mask)


def set_view_from_linear_map(sae, source, target, M, c, X_target):
    """Make view ``target``'s pre-activations those of ``source`` at ``x_s = M x_t + c``."""
    import torch

    model = sae.model_
    units = model.units
    mu_s, s_s = model.input_mean[source].detach().numpy(), float(model.input_scale[source])
    mu_t, s_t = model.input_mean[target].detach().numpy(), float(model.input_scale[target])
    W_s = units[source].W_enc[0].detach().numpy().astype(np.float64)
    b_dec_s = units[source].b_dec[0].detach().numpy()
    b_enc_s = units[source].b_enc.detach().numpy()
    b_dec_t = units[target].b_dec[0].detach().numpy()
    W_t = W_s @ M * (s_t / s_s)
    b_enc_t = (W_s @ ((M @ mu_t + c - mu_s) / s_s - b_dec_s) + b_enc_s + W_t @ b_dec_t)
    with torch.no_grad():
        units[target].W_enc[0].copy_(torch.as_tensor(W_t, dtype=torch.float32))
        units[target].b_enc.copy_(torch.as_tensor(b_enc_t, dtype=torch.float32))
        units[target].threshold.copy_(units[source].threshold)
        # Decoder: least-squares readout of the target's (normalised) rows from its codes.
        x = (torch.as_tensor(X_target, dtype=torch.float32) - model.input_mean[target]) / s_t
        codes = units[target].encode(x).double()
        live = codes.abs().sum(0) > 0
        solution = torch.linalg.lstsq(codes[:, live], (x - units[target].b_dec[0]).double(),
                                      driver="gelsd").solution
        W_dec = units[target].W_dec[0]
        W_dec[:, live] = solution.T.to(W_dec.dtype)
        W_dec.div_(W_dec.norm(dim=0, keepdim=True).clamp_min(1e-8))
    sae._optimizer = None  # Adam's moments belong to the old weights


def run_recipe(recipe, train, anchors, common, seed):
    """Fit one recipe; returns the estimator and the pseudo-pairs it used (or None)."""
    Xa, Xb = train
    epochs = common["max_epochs"]
    if recipe == "paired":
        return fit_cosae(train, anchors, common, PAIRED), None
    if recipe == "cosae":
        return fit_cosae(train, anchors, common), None
    if recipe == "schedule":
        sae = fit_cosae(train, anchors, common, PAIRED, max_epochs=max(1, epochs // 2))
        return continue_fit(sae, train, anchors, COSAE, epochs - epochs // 2), None
    if recipe == "self_train":
        first = fit_cosae(train, anchors, common)
        Za, Zb = first.transform(train)
        rows = code_pseudo_pairs(Za, Zb, anchors)
        aligned, mask = aligned_views([Xa, Xb], anchors, np.column_stack(rows))
        return fit_cosae(aligned, mask, common), rows
    if int(anchors.sum()) < 3:
        return None, None  # a CCA needs a few pairs
    if recipe in ("pls_pairs", "cca_pairs"):  # the option CoupledSAE(pseudo_pairs=...)
        sae = CoupledSAE(**dict(common, losses=COSAE, pseudo_pairs=recipe[:3]))
        sae.fit(train, pair_mask=anchors)
        return sae, (sae.pseudo_pairs_[:, 0], sae.pseudo_pairs_[:, 1])
    if recipe == "cca_once":
        pairs = anchor_pseudo_pairs(train, anchors, directions="cca", random_state=seed,
                                    max_rounds=0)
        aligned, mask = aligned_views(train, anchors, pairs)
        return fit_cosae(aligned, mask, common), (pairs[:, 0], pairs[:, 1])
    if recipe == "cca_init":
        pcas, cca, _reduced = anchor_cca(Xa, Xb, anchors, seed)
        warmup = max(1, epochs // 4)
        sae = fit_cosae(train, anchors, common, {"rec": 1}, max_epochs=warmup)

        def b_to_a(X):
            translated = cca.translate(pcas[1].transform(X), source=1, target=0)
            return pcas[0].inverse_transform(translated)

        c = b_to_a(np.zeros((1, Xb.shape[1])))[0]
        M = (b_to_a(np.eye(Xb.shape[1])) - c).T
        set_view_from_linear_map(sae, 0, 1, M, c, Xb)
        return continue_fit(sae, train, anchors, COSAE, epochs - warmup), None
    raise ValueError(recipe)


# ------------------------------------------------------------------------ experiment
def anchors_for(fraction, n_rows, seed):
    n_pairs = max(1, round(fraction * n_rows))
    mask = np.zeros(n_rows, dtype=bool)
    mask[np.random.default_rng(seed).choice(n_rows, n_pairs, replace=False)] = True
    return mask


def shuffle_unpaired(X, anchors, seed):
    """Rows outside the anchors permuted among themselves; returns X and where each row went."""
    free = np.flatnonzero(~anchors)
    where = np.arange(len(X))
    where[free] = free[np.random.default_rng(seed + 1).permutation(len(free))]
    shuffled = np.empty_like(X)
    shuffled[where] = X
    return shuffled, where


def pseudo_pair_quality(rows, where, y_train):
    """Count, fraction that are the true partner, fraction whose rows share a label."""
    if not rows or not len(rows[0]):
        return 0, float("nan"), float("nan")
    a, b = rows
    label_of_b = np.empty_like(y_train)
    label_of_b[where] = y_train
    return len(a), float(np.mean(where[a] == b)), float(np.mean(y_train[a] == label_of_b[b]))


def run(name, args):
    Xs, y, view_names = load(name, args.wordnet_rows)
    size = {"bbc": dict(n_concepts=256, k=8), "mfeat": dict(n_concepts=256, k=8),
            "wordnet": dict(n_concepts=512, k=16)}[name]
    counts = np.bincount(y)
    stratify = y if counts[counts > 0].min() >= 2 else None
    results = {}
    for seed in args.seeds:
        split = train_test_split(*Xs, y, test_size=args.test_size, stratify=stratify,
                                 random_state=seed)
        train, test, y_train, y_test = [split[0], split[2]], [split[1], split[3]], *split[4:]
        if args.max_test_rows and len(y_test) > args.max_test_rows:
            test, y_test = [X[:args.max_test_rows] for X in test], y_test[:args.max_test_rows]
        # InterVenchA's cross-fitted probes need a few rows of every class scored.
        scored = np.isin(y_test, np.flatnonzero(np.bincount(y_test) >= 10))
        test, y_test = [X[scored] for X in test], y_test[scored]
        n_train = len(train[0])
        common = dict(max_epochs=args.max_epochs, batch_size=args.batch_size,
                      device=args.device, random_state=seed, view_names=view_names, **size)
        for fraction in args.fractions:
            anchors = anchors_for(fraction, n_train, seed)
            Xb, where = shuffle_unpaired(train[1], anchors, seed)
            for recipe in args.recipes:
                if fraction == 1 and recipe not in ("paired", "cosae"):
                    continue  # every row paired: nothing to pseudo-pair or initialise
                start = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)
                    sae, rows = run_recipe(recipe, [train[0], Xb], anchors, common, seed)
                fit_s = time.perf_counter() - start
                if sae is None:
                    continue
                report = intervencha_report(sae, test, y_test, cv=args.cv, random_state=seed)
                pseudo = pseudo_pair_quality(rows, where, y_train)
                key = (fraction, recipe)
                results.setdefault(key, []).append(
                    [report[s] for s in SCORES] + [fit_s, int(anchors.sum()), *pseudo])
                print(f"  [{name} seed {seed}] fraction {fraction:g} ({int(anchors.sum())} "
                      f"pairs) {recipe}: S_align={report['S_align']:.3f} "
                      f"S_trans={report['S_trans']:.3f} S_cc={report['S_cc']:.3f} "
                      f"pseudo-pairs {pseudo[0]} (exact {pseudo[1]:.2f}, same label "
                      f"{pseudo[2]:.2f}), fit {fit_s:.1f} s", flush=True)
    return view_names, len(y), results


def table(name, view_names, n_rows, results, args):
    full = [v for (f, r), v in results.items() if f == 1 and r == "cosae"]
    reference = np.mean([row[0] for row in full[0]]) if full else np.nan
    lines = [(f"### {name}: views {view_names}, {n_rows} rows ({1 - args.test_size:.0%} "
              f"fitted, held-out rows scored), {max(map(len, results.values()))} seed(s), at "
              f"most {args.max_epochs} epochs"),
             "", ("| anchors | pairs | recipe | S_align | / fully paired | S_trans | S_cc | "
                  "pseudo-pairs (exact / same label) | fit s |"),
             "|---:|---:|---|---:|---:|---:|---:|---:|---:|"]
    for (fraction, recipe), values in sorted(results.items(), key=lambda kv: (-kv[0][0],
                                                                               RECIPES.index(kv[0][1]))):
        v = np.asarray(values, dtype=float)
        mean, spread = v.mean(0), v.std(0)
        pm = [f"{mean[i]:.3f}" + (f" ± {spread[i]:.3f}" if len(v) > 1 else "") for i in range(3)]
        pseudo = "-" if mean[5] == 0 else (f"{mean[5]:.0f} ({np.nanmean(v[:, 6]):.2f} / "
                                           f"{np.nanmean(v[:, 7]):.2f})")
        lines.append(f"| {fraction:g} | {mean[4]:.0f} | {recipe} | {pm[0]} | "
                     f"{mean[0] / reference:.2f} | {pm[1]} | {pm[2]} | {pseudo} | "
                     f"{mean[3]:.1f} |")
    return "\n".join(lines)


def plot_curves(curves, path):
    """S_align against the anchor fraction (log scale), one panel per data set.

    ``curves``: data set name -> {(fraction, recipe): list of per-seed rows (S_align first)}.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(curves), figsize=(4.2 * len(curves), 3.4), squeeze=False)
    for ax, (name, results) in zip(axes[0], curves.items()):
        for recipe in RECIPES:
            points = sorted((f, np.mean([row[0] for row in v]), np.std([row[0] for row in v]))
                            for (f, r), v in results.items() if r == recipe)
            if not points:
                continue
            if recipe not in ("paired", "cosae") and (1.0, "cosae") in results:
                # With every row paired there is nothing to pseudo-pair: the CoSAE fit.
                full = results[(1.0, "cosae")]
                points.append((1.0, np.mean([row[0] for row in full]),
                               np.std([row[0] for row in full])))
            f, mean, spread = map(np.asarray, zip(*points))
            ax.errorbar(f, mean, yerr=spread, marker="o", capsize=3, label=recipe)
        ax.set_xscale("log")
        ax.set_xlabel("fraction of rows paired (anchors)")
        ax.set_ylabel("held-out S_align")
        ax.set_title(name)
        ax.set_ylim(-0.02, 0.8)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["bbc", "mfeat"],
                        choices=["bbc", "mfeat", "wordnet"])
    parser.add_argument("--fractions", type=float, nargs="+",
                        default=[1.0, 0.1, 0.03, 0.01, 0.003, 0.001])
    parser.add_argument("--recipes", nargs="+", default=["paired", "cosae"], choices=RECIPES)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--max-epochs", type=int, default=CoupledSAE().max_epochs,
                        help="the cap of every fit (CoupledSAE's default: fits stop when "
                             "they converge)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--test-size", type=float, default=0.4)
    parser.add_argument("--max-test-rows", type=int, default=4000)
    parser.add_argument("--cv", type=int, default=3, help="cross-fitted probes (InterVenchA)")
    parser.add_argument("--wordnet-rows", type=int, default=None,
                        help="use the first N rows of the WordNet build (a uniform sample)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--figure", help="save the S_align curves to this image file")
    parser.add_argument("--save", help="add the results to this JSON file (per data set)")
    parser.add_argument("--load", nargs="+", default=[],
                        help="JSON files of earlier runs: their tables and curves, no fit")
    args = parser.parse_args()
    curves, shapes = {}, {}
    for path in args.load:
        for name, saved in json.loads(Path(path).read_text()).items():
            results = curves.setdefault(name, {})
            for fraction, recipe, row in saved["rows"]:
                results.setdefault((fraction, recipe), []).append(row)
            shapes[name] = saved["view_names"], saved["n_rows"]
    for name, results in curves.items():
        print(table(name, *shapes[name], results, args) + "\n")
    for name in [] if args.load else args.datasets:
        view_names, n_rows, results = run(name, args)
        curves[name] = results
        print()
        print(table(name, view_names, n_rows, results, args))
        print(flush=True)
        if args.save:
            path = Path(args.save)
            saved = json.loads(path.read_text()) if path.exists() else {}
            entry = saved.setdefault(name, {"view_names": list(view_names), "n_rows": n_rows,
                                            "rows": []})
            entry["rows"] += [[f, r, [float(x) for x in row]]
                              for (f, r), rows in results.items() for row in rows]
            path.write_text(json.dumps(saved))
    if args.figure:
        plot_curves(curves, args.figure)


if __name__ == "__main__":
    main()
