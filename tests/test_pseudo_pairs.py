"""Pseudo-pairs from few anchors (``pseudo_pairs="pls"|"cca"``): what they add, and their errors."""

import numpy as np
import pytest
from sklearn.metrics import r2_score

from skcosae import CoupledSAE
from skcosae._pseudo_pairs import aligned_views, anchor_pseudo_pairs
from skcosae.datasets import load_bbc_news, make_platonic

PARAMS = dict(n_concepts=32, k=3, losses={"rec": 1, "trans": 1, "cc": 1}, random_state=0,
              batch_size=128, max_epochs=30)


@pytest.fixture(scope="module")
def anchored():
    """2% anchors; the other rows of the second view shuffled (their order says nothing)."""
    Xs, _, _ = make_platonic(n_samples=1600, n_concepts=16, n_active=3, view_dims=(12, 16),
                             linear=True, random_state=0)
    train, test = [X[:1200] for X in Xs], [X[1200:] for X in Xs]
    rng = np.random.default_rng(0)
    anchors = np.zeros(1200, dtype=bool)
    anchors[rng.choice(1200, 24, replace=False)] = True
    free = np.flatnonzero(~anchors)
    moved = free[rng.permutation(len(free))]
    shuffled = train[1].copy()
    shuffled[free] = train[1][moved]
    source = np.arange(1200)  # row r of the shuffled view is row source[r] of view 0's
    source[free] = moved
    return [train[0], shuffled], anchors, source, train, test


def _r2(model, test):
    return r2_score(test[1], model.translate(test[0], 0, 1), multioutput="variance_weighted")


def test_cca_pseudo_pairs_recover_most_of_the_fully_paired_translation(anchored):
    views, anchors, source, train, test = anchored
    control = CoupledSAE(**PARAMS).fit(views, pair_mask=anchors)  # the anchors alone
    grown = CoupledSAE(**PARAMS, pseudo_pairs="cca").fit(views, pair_mask=anchors)
    full = CoupledSAE(**PARAMS).fit(train)
    assert _r2(grown, test) > _r2(control, test) + 0.2
    assert _r2(grown, test) > 0.75 * _r2(full, test)
    pairs = grown.pseudo_pairs_
    assert pairs.shape[1] == 2 and len(pairs) > 100
    assert not anchors[pairs].any() and len(set(pairs[:, 1])) == len(pairs)
    # Far more of them are true pairs than a random matching would give (1 in 1176).
    assert np.mean(source[pairs[:, 1]] == pairs[:, 0]) > 0.2
    np.testing.assert_array_equal(grown.pair_mask_, anchors)  # the user's pairs, as given


def test_self_learning_rounds_find_more_true_pairs_than_the_anchors_alone(anchored):
    views, anchors, source, _, _ = anchored

    def exact(pairs):
        return np.mean(source[pairs[:, 1]] == pairs[:, 0])

    once = anchor_pseudo_pairs(views, anchors, directions="cca", random_state=0, max_rounds=0)
    refined = anchor_pseudo_pairs(views, anchors, directions="cca", random_state=0)
    assert exact(refined) > exact(once) + 0.1
    assert len(refined) >= len(once)


def test_self_learning_pairs_real_embeddings_from_one_percent_of_anchors():
    # BBC News seen by two sentence encoders: 22 anchors among 2,225 articles.
    bunch = load_bbc_news(views=["minilm_l6", "minilm_l3"])
    views, labels = [np.asarray(X, dtype=np.float32) for X in bunch.data], bunch.target
    anchors = np.zeros(len(labels), dtype=bool)
    anchors[np.random.default_rng(0).choice(len(labels), 22, replace=False)] = True
    found = {}
    for rounds in (0, 10):
        pairs = anchor_pseudo_pairs(views, anchors, directions="pls", random_state=0,
                                    max_rounds=rounds)
        found[rounds] = np.mean(pairs[:, 0] == pairs[:, 1])  # the same row: a true pair
    assert found[10] > 0.5  # of roughly a thousand pseudo-pairs
    assert found[10] > found[0] + 0.3  # the anchors' own matching finds few


def test_aligned_views_put_each_pseudo_pair_on_its_first_view_row():
    views = [np.arange(6)[:, None] * 1.0, np.arange(6)[:, None] * 10.0]
    anchors = np.array([True, False, False, False, False, False])
    aligned, mask = aligned_views(views, anchors, np.array([[2, 5], [4, 1]]))
    assert aligned[1][2, 0] == 50 and aligned[1][4, 0] == 10 and aligned[1][0, 0] == 0
    assert sorted(aligned[1][:, 0]) == sorted(views[1][:, 0])  # a permutation of its rows
    np.testing.assert_array_equal(mask, [True, False, True, False, True, False])


def test_every_row_paired_needs_no_pseudo_pairs(anchored):
    _, _, _, train, _ = anchored
    est = CoupledSAE(**{**PARAMS, "max_epochs": 1}, pseudo_pairs="cca").fit(train)
    assert est.pseudo_pairs_ is None


def test_pseudo_pairs_need_three_anchors_and_views_in_memory(anchored, tmp_path):
    views, anchors, *_ = anchored
    two = np.zeros(len(anchors), dtype=bool)
    two[:2] = True
    with pytest.raises(ValueError, match=r"needs at least 3; pair_mask marks 2 row\(s\)"):
        CoupledSAE(**PARAMS, pseudo_pairs="cca").fit(views, pair_mask=two)
    np.save(tmp_path / "b.npy", views[1])
    on_disk = [views[0], np.load(tmp_path / "b.npy", mmap_mode="r")]
    with pytest.raises(ValueError, match=r"view\(s\) 1 are read from a file"):
        CoupledSAE(**PARAMS, pseudo_pairs="cca").fit(on_disk, pair_mask=anchors)
    with pytest.raises(ValueError, match="pseudo_pairs"):
        CoupledSAE(**PARAMS, pseudo_pairs="procrustes").fit(views, pair_mask=anchors)
