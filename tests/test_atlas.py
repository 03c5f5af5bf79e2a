"""The concept atlas: the kind rule on ground truth, statistics against dense numpy, inputs."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError

from skcosae import CoupledSAE, as_frame
from skcosae.atlas import ConceptAtlas, concept_atlas
from skcosae.datasets import make_platonic
from skcosae.io import load_saelens, save_saelens
from skcosae.linear import CCA

NAMES = ["vit", "dino"]


@pytest.fixture(scope="module")
def platonic():
    """Views of 8 shared concepts plus 4 private ones per view, through linear maps."""
    return make_platonic(n_samples=1500, n_concepts=8, n_active=2, view_dims=24, n_private=4,
                         linear=True, noise=(0.01, 0.02), idiosyncrasy=0.0, view_names=NAMES,
                         random_state=0)


@pytest.fixture(scope="module")
def fitted(platonic):
    Xs, _, _ = platonic
    # rec keeps each view's private concepts; cc aligns the shared ones across views.
    return CoupledSAE(n_concepts=24, k=5, losses={"rec": 1, "cc": 1}, max_epochs=12,
                      batch_size=64, learning_rate=1e-2, view_names=NAMES,
                      random_state=0).fit(Xs)


@pytest.fixture(scope="module")
def atlas(platonic, fitted):
    Xs, y, _ = platonic
    return concept_atlas(fitted, Xs, labels=y, examples=[f"row {r}" for r in range(len(y))])


def _corr(A, B):
    A = (A - A.mean(0)) / np.maximum(A.std(0), 1e-12)
    B = (B - B.mean(0)) / np.maximum(B.std(0), 1e-12)
    return A.T @ B / len(A)


def test_kind_matches_the_ground_truth(platonic, fitted, atlas):
    Xs, _, truth = platonic
    Za, Zb = fitted.transform(Xs)
    shared_a, shared_b = _corr(Za, truth.concepts), _corr(Zb, truth.concepts)
    # A learnt concept matches a true shared concept when both views' codes follow it.
    shared = np.flatnonzero((shared_a.max(1) > 0.8) & (shared_b.max(1) > 0.8)
                            & (shared_a.argmax(1) == shared_b.argmax(1)))
    private = {name: set(np.flatnonzero(_corr(Z, P).max(1) > 0.8))
               for name, Z, P in zip(NAMES, (Za, Zb), truth.private_concepts)}
    table = atlas.table
    assert len(shared) >= 6 and len(private["vit"] | private["dino"]) >= 6
    assert (table["kind"].iloc[shared] == "shared").mean() >= 0.8

    right = []
    for name, other in (("vit", "dino"), ("dino", "vit")):
        for c in private[name]:
            # A slot may carry a private concept of each view (unrelated rows): then
            # either view is right.
            views = {name, other} if c in private[other] else {name}
            right.append(table.loc[c, "kind"] == "private" and table.loc[c, "view"] in views)
    assert np.mean(right) >= 0.8
    # Shared concepts agree across views far above the private ones.
    assert table.loc[shared, "agreement"].min() > 0.5
    assert table.loc[sorted(private["vit"] | private["dino"]), "agreement"].max() < 0.5


def test_statistics_match_dense_numpy(platonic, fitted, atlas):
    Xs, y, _ = platonic
    Za, Zb = fitted.transform(Xs)
    table = atlas.table
    for name, Z in zip(NAMES, (Za, Zb)):
        active = Z != 0
        np.testing.assert_allclose(table[f"frequency_{name}"], active.mean(0))
        with np.errstate(invalid="ignore"):
            mean = Z.sum(0) / active.sum(0)
        np.testing.assert_allclose(table[f"mean_activation_{name}"], mean, rtol=1e-5)
        np.testing.assert_allclose(table[f"max_activation_{name}"].fillna(0), Z.max(0), rtol=1e-6)
    np.testing.assert_allclose(table["atom_norm_vit"],
                               np.linalg.norm(fitted.dictionaries_[0], axis=1), rtol=1e-6)
    both, either = ((Za != 0) & (Zb != 0)).sum(0), ((Za != 0) | (Zb != 0)).sum(0)
    with np.errstate(invalid="ignore"):
        np.testing.assert_allclose(table["jaccard_vit_dino"], both / either)
    corr = [np.corrcoef(Za[:, c], Zb[:, c])[0, 1] if Za[:, c].std() and Zb[:, c].std() else 0.0
            for c in range(24)]
    # The atlas keeps float32 codes: agreement to float32 precision.
    np.testing.assert_allclose(table["correlation_vit_dino"], corr, atol=1e-5)

    # The label with the largest share of the activation mass, and that share.
    mass = np.stack([(np.abs(Za) + np.abs(Zb))[y == k].sum(0) for k in np.unique(y)], axis=1)
    live = mass.sum(1) > 0
    np.testing.assert_array_equal(table["label"][live].astype(int), mass[live].argmax(1))
    np.testing.assert_allclose(table["label_share"][live],
                               mass[live].max(1) / mass[live].sum(1), rtol=1e-6)

    # Nearest concept of the other view for each private concept: brute force.
    cross = _corr(Za, Zb)
    for c in np.flatnonzero(table["kind"] == "private"):
        owner = table.loc[c, "view"]
        other = "dino" if owner == "vit" else "vit"
        row = cross[c] if owner == "vit" else cross[:, c]
        assert table.loc[c, f"nearest_{owner}"] is pd.NA
        if row.max() > 1e-9:
            assert table.loc[c, f"nearest_{other}"] == row.argmax()
            assert table.loc[c, f"nearest_correlation_{other}"] == pytest.approx(row.max(),
                                                                                abs=1e-5)


def test_chunks_input_forms_and_given_codes_give_the_same_atlas(platonic, fitted, atlas):
    Xs, y, _ = platonic
    codes = fitted.transform(Xs)
    others = [
        concept_atlas(fitted, Xs, labels=y, chunk_size=7),
        concept_atlas(fitted, as_frame(Xs, view_names=NAMES), labels=pd.Series(y)),
        concept_atlas(fitted, codes=codes, labels=y),
        concept_atlas(fitted, codes=[sp.csr_matrix(z) for z in codes], labels=y),
    ]
    for other in others:
        pd.testing.assert_frame_equal(other.table, atlas.table, rtol=1e-5)
    # The atlas asks the model for sparse codes (built without a dense chunk) and leaves the
    # caller's estimator as it was; the codes are those of the dense transform.
    assert fitted.sparse_output is False and isinstance(codes[0], np.ndarray)
    for z, kept in zip(codes, atlas.codes):
        np.testing.assert_array_equal(kept.toarray(), z.astype(np.float32))


def test_pair_mask_keeps_unpaired_rows_out_of_the_cross_view_statistics(platonic, fitted):
    Xs, _, _ = platonic
    rng = np.random.default_rng(0)
    mask = rng.random(len(Xs[0])) < 0.5
    shuffled = Xs[1].copy()
    unpaired = np.flatnonzero(~mask)
    shuffled[unpaired] = shuffled[rng.permutation(unpaired)]
    kept = concept_atlas(fitted, Xs, pair_mask=mask).table
    mixed = concept_atlas(fitted, [Xs[0], shuffled], pair_mask=mask).table
    pd.testing.assert_frame_equal(kept, mixed, rtol=1e-5)
    # Without the mask, the shuffled rows count as pairs and lower the agreement.
    careless = concept_atlas(fitted, [Xs[0], shuffled]).table
    shared = kept["kind"] == "shared"
    assert (careless.loc[shared, "agreement"] < kept.loc[shared, "agreement"] - 0.2).mean() > 0.8


def test_linear_codes_agree_as_their_canonical_correlations():
    Xs, _, _ = make_platonic(n_samples=1000, view_dims=12, random_state=0)
    cca = CCA(n_components=6, view_names=NAMES).fit(Xs)
    table = concept_atlas(cca, Xs).table
    # Dense codes: every component fires on every row, none is dead.
    assert np.allclose(table[["frequency_vit", "frequency_dino"]], 1.0)
    np.testing.assert_allclose(table["agreement"], cca.canonical_correlations_, atol=1e-6)
    expected = np.where(cca.canonical_correlations_ >= 0.5, "shared", "private")
    np.testing.assert_array_equal(table["kind"].astype(str), expected)


def test_top_examples_are_each_views_strongest_rows(platonic, fitted, atlas):
    Xs, _, _ = platonic
    Za, Zb = fitted.transform(Xs)
    concept = int(atlas.table.index[atlas.table["kind"] == "shared"][0])
    top = atlas.top_examples(concept, n=4, quantiles=(0.0, 0.5, 1.0))
    assert top.index.tolist() == [("top", 1), ("top", 2), ("top", 3), ("top", 4),
                                  ("quantile", 0.0), ("quantile", 0.5), ("quantile", 1.0)]
    for name, Z in zip(NAMES, (Za, Zb)):
        column = Z[:, concept]
        strongest = top.loc["top", (name, "row")].to_numpy(dtype=int)
        np.testing.assert_allclose(column[strongest], np.sort(column)[::-1][:4], rtol=1e-6)
        np.testing.assert_allclose(top.loc["top", (name, "activation")], column[strongest],
                                   rtol=1e-6)
        assert top.loc["top", (name, "example")].tolist() == [f"row {r}" for r in strongest]
        active = np.sort(column[column != 0])
        np.testing.assert_allclose(top.loc["quantile", (name, "activation")],
                                   [active[0], active[len(active) // 2], active[-1]], rtol=1e-6)


def test_top_examples_leave_missing_rows_empty_and_carry_images(fitted):
    Xs, _, _ = make_platonic(n_samples=40, n_concepts=8, n_active=2, view_dims=24,
                             n_private=4, linear=True, view_names=NAMES, random_state=1)
    images = np.random.default_rng(0).random((40, 5, 6))
    atlas = concept_atlas(fitted, Xs, examples=images)
    counts = np.diff(atlas.codes[0].indptr)
    concept = int(np.flatnonzero((counts > 0) & (counts < 30))[0])
    top = atlas.top_examples(concept, n=30)
    rows = top.loc["top", ("vit", "row")]
    assert rows.notna().sum() == counts[concept]
    assert rows.isna().sum() == 30 - counts[concept]
    first = int(rows.iloc[0])
    np.testing.assert_array_equal(top.loc[("top", 1), ("vit", "example")], images[first])


def test_loaded_saelens_model_gives_the_same_atlas(platonic, fitted, atlas, tmp_path):
    Xs, y, _ = platonic
    loaded = load_saelens(save_saelens(fitted, tmp_path), sparse_output=True)
    other = concept_atlas(loaded, Xs, labels=y)
    np.testing.assert_array_equal(other.table["kind"], atlas.table["kind"])
    np.testing.assert_allclose(other.table["agreement"], atlas.table["agreement"], atol=1e-4)


def test_plots_have_a_panel_per_pair_and_per_view(atlas):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = atlas.plot()
    assert len(fig.axes) == 2  # one pair of views, and the agreement histogram
    assert fig.axes[0].get_xlabel() == "frequency in vit"
    fig_concept = atlas.plot_concept(0)
    assert len(fig_concept.axes) == 2
    plt.close("all")


# ------------------------------------------------------------------------------ bad input
def test_bad_input_names_the_problem(platonic, fitted, atlas):
    Xs, y, _ = platonic
    with pytest.raises(NotFittedError, match="CoupledSAE"):
        concept_atlas(CoupledSAE(), Xs)
    with pytest.raises(ValueError, match="labels has 10 items, but X has 1500 rows"):
        concept_atlas(fitted, Xs, labels=y[:10])
    with pytest.raises(ValueError, match="examples has 1499 items, but X has 1500 rows"):
        concept_atlas(fitted, Xs, examples=["x"] * 1499)
    with pytest.raises(ValueError, match="either X .* or codes"):
        concept_atlas(fitted)
    with pytest.raises(ValueError, match="same number of rows.*'dino': 1499"):
        concept_atlas(fitted, [Xs[0], Xs[1][:-1]])
    with pytest.raises(ValueError, match="n_concepts_=24"):
        concept_atlas(fitted, codes=[np.zeros((5, 24)), np.zeros((5, 23))])
    with pytest.raises(ValueError, match="no row as paired"):
        concept_atlas(fitted, Xs, pair_mask=np.zeros(1500, dtype=bool))
    with pytest.raises(ValueError, match="concept 24 is out of range: the atlas has 24 concepts"):
        atlas.top_examples(24)
    with pytest.raises(ValueError, match="out of range"):
        atlas.plot_concept(-1)
    with pytest.raises(TypeError, match="int index"):
        atlas.top_examples("3")
    assert isinstance(atlas, ConceptAtlas)
    assert "24 concepts" in repr(atlas)
