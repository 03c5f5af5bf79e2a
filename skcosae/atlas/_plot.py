"""Matplotlib figures of the atlas (matplotlib is optional: ``pip install skcosae[plot]``)."""

from __future__ import annotations

from itertools import combinations

import numpy as np

KIND_COLOURS = {"shared": "#1b9e77", "private": "#d95f02", "dead": "#999999"}


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "The atlas plots need matplotlib: pip install 'skcosae[plot]'. The HTML page "
            "(atlas.to_html) needs no matplotlib."
        ) from exc
    return plt


def plot_overview(atlas):
    plt = _pyplot()
    names = [str(v) for v in atlas.view_names]
    pairs = list(combinations(names, 2))
    table = atlas.table
    fig, axes = plt.subplots(1, len(pairs) + 1, figsize=(4.2 * (len(pairs) + 1), 3.8),
                             squeeze=False)
    axes = axes[0]
    floor = 0.5 / atlas.n_samples  # never-firing concepts sit on the axes' floor
    for ax, (a, b) in zip(axes, pairs):
        for kind, colour in KIND_COLOURS.items():
            rows = table["kind"] == kind
            ax.scatter(np.maximum(table.loc[rows, f"frequency_{a}"], floor),
                       np.maximum(table.loc[rows, f"frequency_{b}"], floor),
                       s=8, alpha=0.6, color=colour, label=f"{kind} ({int(rows.sum())})")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(f"frequency in {a}")
        ax.set_ylabel(f"frequency in {b}")
        ax.legend(fontsize=8, loc="upper left")
    ax = axes[-1]
    bins = np.linspace(-1, 1, 41)
    stacked = [table.loc[table["kind"] == k, "agreement"].dropna() for k in KIND_COLOURS]
    ax.hist(stacked, bins=bins, stacked=True, color=list(KIND_COLOURS.values()),
            label=list(KIND_COLOURS))
    ax.axvline(atlas.min_correlation, color="black", lw=1, ls="--")
    ax.set_xlabel("cross-view agreement (correlation)")
    ax.set_ylabel("concepts")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_concept(atlas, concept, *, bins=30):
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(atlas.view_names), figsize=(3.6 * len(atlas.view_names), 3),
                             squeeze=False)
    for i, (ax, name) in enumerate(zip(axes[0], atlas.view_names)):
        _, values = atlas._column(i, concept)
        ax.hist(values, bins=bins, color="#4c72b0")
        ax.set_title(f"view {name}: fires on {len(values)} rows", fontsize=9)
        ax.set_xlabel("activation")
    axes[0][0].set_ylabel("rows")
    kind = atlas.table.loc[concept, "kind"]
    fig.suptitle(f"concept {concept} ({kind})")
    fig.tight_layout()
    return fig
