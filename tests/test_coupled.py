"""The paper's synthetic claims in miniature, and the baselines."""

import numpy as np
import pytest

from skcosae import CoupledSAE
from skcosae.coupled import make_baseline
from skcosae.datasets import concept_recovery_score, make_platonic

from ._helpers import code_agreement, r2

FIT = dict(n_concepts=64, k=3, max_epochs=30, batch_size=256, random_state=0)


@pytest.fixture(scope="module")
def data():
    Xs, y, truth = make_platonic(n_samples=4000, n_views=2, n_concepts=32, n_active=3,
                                 idiosyncrasy=0.05, linear=True, random_state=0)
    train = [X[:3000] for X in Xs]
    test = [X[3000:] for X in Xs]
    return train, test, truth.concepts[3000:]


@pytest.fixture(scope="module")
def fitted(data):
    train, _, _ = data
    return {
        name: CoupledSAE(losses=losses, **FIT).fit(train)
        for name, losses in {
            "rec": ["rec"],
            "rec+trans": ["rec", "trans"],
            "rec+trans+cc": {"rec": 1, "trans": 1, "cc": 2},
        }.items()
    }


def test_rec_alone_neither_translates_nor_agrees(data, fitted):
    _, test, _ = data
    sae = fitted["rec"]
    assert sae.score(test) > 0.9  # each view is well reconstructed...
    assert r2(test[1], sae.translate(test[0], source=0, target=1)) < 0.1  # ...but not translated
    assert abs(code_agreement(*sae.transform(test))) < 0.1


def test_translation_loss_gives_translation(data, fitted):
    _, test, _ = data
    assert r2(test[1], fitted["rec+trans"].translate(test[0], 0, 1)) > 0.75
    assert r2(test[0], fitted["rec+trans"].translate(test[1], 1, 0)) > 0.75


def test_concept_consistency_adds_code_agreement(data, fitted):
    _, test, _ = data
    with_cc = code_agreement(*fitted["rec+trans+cc"].transform(test))
    without = code_agreement(*fitted["rec+trans"].transform(test))
    assert with_cc > 0.5
    assert with_cc > without + 0.05
    assert with_cc > code_agreement(*fitted["rec"].transform(test)) + 0.4
    assert r2(test[1], fitted["rec+trans+cc"].translate(test[0], 0, 1)) > 0.7


def test_ground_truth_recovery_beats_a_random_dictionary(data, fitted):
    _, test, concepts = data
    learnt = concept_recovery_score(fitted["rec+trans+cc"].transform(test)[0], concepts)
    rng = np.random.default_rng(0)
    pre = test[0] @ rng.normal(size=(test[0].shape[1], 64))
    kth = np.sort(pre, axis=1)[:, -3][:, None]
    random_codes = np.where(pre >= kth, np.maximum(pre, 0), 0)
    random_score = concept_recovery_score(random_codes, concepts)
    assert learnt > 0.85
    assert learnt > random_score + 0.3


def test_history_inference_sparsity_and_dead_fraction(fitted, data):
    sae = fitted["rec+trans+cc"]
    assert list(sae.history_.columns[:1]) == ["epoch"]
    assert {"rec", "trans", "cc", "total"} <= set(sae.history_.columns)
    assert len(sae.history_) == sae.n_iter_ == 30
    assert sae.history_["total"].iloc[-1] < 0.5 * sae.history_["total"].iloc[0]
    Za, _ = sae.transform(data[1])
    assert 1.5 < (Za > 0).sum(1).mean() < 6  # inference threshold keeps about k per row
    assert sae.dead_fraction_.shape == (2,) and np.all(sae.dead_fraction_ < 0.9)


def test_code_of_a_row_does_not_depend_on_its_batch(fitted, data):
    sae = fitted["rec+trans+cc"]
    X = data[1][0]
    alone = sae.transform(X[:1], view=0)
    # Same active concepts; values equal up to float32 round-off of differently blocked matmuls.
    for batch in (X, X[:50], np.vstack([X[:1], 100 * X[1:20]])):
        in_batch = sae.transform(batch, view=0)[:1]
        np.testing.assert_array_equal(in_batch > 0, alone > 0)
        np.testing.assert_allclose(in_batch, alone, rtol=1e-5, atol=1e-6)


def test_dictionaries_have_unit_norm_atoms(fitted):
    sae = fitted["rec"]
    for D, d in zip(sae.dictionaries_, sae.view_sizes_):
        assert D.shape == (64, d)
        np.testing.assert_allclose(np.linalg.norm(D, axis=1), 1.0, atol=1e-4)


@pytest.mark.parametrize("name", ["sae", "transcoder", "crosscoder", "usae", "cosae"])
def test_baselines_fit_and_translate(name, data):
    train, test, _ = data
    sae = make_baseline(name, n_concepts=32, k=3, max_epochs=3, random_state=0).fit(train)
    out = sae.translate(test if name == "crosscoder" else test[0], source=0, target=1)
    assert out.shape == test[1].shape and np.isfinite(out).all()


def test_usae_translates_and_crosscoder_standalone_codes_differ(data):
    train, test, _ = data
    usae = make_baseline("usae", **FIT).fit(train)
    assert r2(test[1], usae.translate(test[0], 0, 1)) > 0.6
    cross = make_baseline("crosscoder", **{**FIT, "max_epochs": 10}).fit(train)
    shared = cross.transform(test)
    assert np.array_equal(shared[0], shared[1])  # one code for every view
    cross.set_params(crosscoder_mode="standalone")
    standalone = cross.transform(test)
    assert not np.array_equal(standalone[0], standalone[1])
    with pytest.raises(ValueError, match="crosscoder_mode='shared'.*needs"):
        cross.set_params(crosscoder_mode="shared").translate(test[0], 0, 1)


def test_sae_a_shares_weights_and_needs_equal_widths():
    Xs, _, _ = make_platonic(n_samples=600, n_views=2, view_dims=[24, 24], random_state=0)
    sae = make_baseline("sae-a", n_concepts=32, k=3, max_epochs=2, random_state=0).fit(Xs)
    np.testing.assert_array_equal(sae.dictionaries_[0], sae.dictionaries_[1])
    Xs, _, _ = make_platonic(n_samples=600, n_views=2, view_dims=[32, 48], random_state=0)
    with pytest.raises(ValueError, match=r"equal width; got widths \[32, 48\]"):
        make_baseline("sae-a", n_concepts=32, k=3, max_epochs=1).fit(Xs)
