"""Per-view probe accuracy and cross-view linear fit of the shipped real data sets.

Prints the tables of docs/datasets.rst:

    python scripts/probe_datasets.py

Protocol: one stratified split, 70% train / 30% test (random_state=0). Probe:
StandardScaler + multinomial LogisticRegression(max_iter=5000) on one view. Cross-view:
RidgeCV (alphas 1e-3..1e3) from the standardised source view to the target view, held-out
R^2 averaged over the target's features; and the first canonical correlation (sklearn CCA,
one component) on the test rows, with the same statistic for rows paired at random beside it.
"""

from __future__ import annotations

import itertools

import numpy as np
from sklearn.cross_decomposition import CCA
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skcosae.datasets import load_bbc_news, load_mfeat


def first_canonical_correlation(A, B, tr, te):
    A = StandardScaler().fit(A[tr]).transform(A)
    B = StandardScaler().fit(B[tr]).transform(B)
    u, v = CCA(n_components=1, max_iter=2000).fit(A[tr], B[tr]).transform(A[te], B[te])
    return abs(np.corrcoef(u[:, 0], v[:, 0])[0, 1])


def main():
    for loader in (load_mfeat, load_bbc_news):
        bunch = loader()
        y = bunch.target
        tr, te = train_test_split(np.arange(len(y)), test_size=0.3, stratify=y, random_state=0)
        print(f"\n{loader.__name__}: n={len(y)}, classes={len(bunch.target_names)}, "
              f"chance={np.bincount(y).max() / len(y):.3f}")
        print(f"{'view':<10} {'width':>5} {'probe acc':>9}")
        for name, X in zip(bunch.view_names, bunch.data):
            probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
            acc = probe.fit(X[tr], y[tr]).score(X[te], y[te])
            print(f"{name:<10} {X.shape[1]:>5} {acc:>9.3f}")
        names, data = bunch.view_names, bunch.data
        shuffled = np.random.default_rng(0).permutation(len(y))
        r2 = np.full((len(names), len(names)), np.nan)
        rho = np.full_like(r2, np.nan)
        for i, j in itertools.permutations(range(len(names)), 2):
            A_std = StandardScaler().fit(data[i][tr]).transform(data[i])
            ridge = RidgeCV(alphas=np.logspace(-3, 3, 13)).fit(A_std[tr], data[j][tr])
            r2[i, j] = ridge.score(A_std[te], data[j][te])
            if i < j:
                rho[i, j] = first_canonical_correlation(data[i], data[j], tr, te)
                # Rows paired at random: what no shared structure looks like.
                rho[j, i] = first_canonical_correlation(data[i], data[j][shuffled], tr, te)
        for title, table in [("ridge R2, row = source, column = target", r2),
                             ("first canonical correlation (upper: paired rows, "
                              "lower: rows paired at random)", rho)]:
            print(title)
            print(" " * 10 + "".join(f"{n:>10}" for n in names))
            for n, row in zip(names, table):
                print(f"{n:<10}" + "".join("         ." if np.isnan(v) else f"{v:>10.3f}"
                                          for v in row))


if __name__ == "__main__":
    main()
