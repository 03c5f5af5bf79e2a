"""Closed forms against the gradient solver (the torch backend of CoupledSAE).

The gradient solver knows nothing of the closed forms: it runs Adam through
``skcosae.backend.train.train_coupled`` on the backend's loss functions, with the whitening
constraint built into the encoder. Where the two agree, the closed form is confirmed as the
minimiser of the objective the backend computes; where a lemma's condition fails, the
gradient solver finds a lower objective than the lemma's closed form.
"""

import warnings

import numpy as np
import pytest

from skcosae.linear import CCA, LinearCoupledAE, PairingNotIdentifiedWarning
from skcosae.linear._closed_forms import coupled_readouts, principal_angles, view_moments

from .test_linear_lemmas import cov, inv_sqrt, make_views

# Full-batch Adam, 400 steps in three learning-rate stages: on these 5 x 4 problems it
# reaches the closed form to ~1e-6 rad and ~1e-12 in objective (measured); the tolerances
# leave two orders of magnitude for other BLAS builds and seeds.
GRADIENT = dict(solver="gradient", max_epochs=400, learning_rate=0.1, random_state=0)
ANGLE_TOL = 1e-3
OBJECTIVE_RTOL = 1e-7

CASES = [
    ("mahalanobis", {"rec": 1.0, "trans": 1.0, "cc": 1.0}),
    ("mahalanobis", {"rec": 3.0, "cc": 1.0}),
    ("mahalanobis", {"trans": 1.0, "cc": 2.0}),
    ("mahalanobis", {"trans": 1.0}),
    ("euclidean", {"rec": 1.0}),
    ("euclidean", {"trans": 1.0}),
    ("euclidean", {"rec": 1.0, "cycle": 1.0}),
]


@pytest.fixture(scope="module")
def views():
    return make_views(11, 5, 4, n=200, spread=1.0, noise=0.5)


@pytest.mark.parametrize("metric, losses", CASES,
                         ids=[f"{m}-{'+'.join(w)}" for m, w in CASES])
def test_closed_form_matches_gradient_descent(views, metric, losses):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PairingNotIdentifiedWarning)
        closed = LinearCoupledAE(n_components=2, losses=losses, metric=metric).fit(views)
        descent = LinearCoupledAE(n_components=2, losses=losses, metric=metric,
                                  **GRADIENT).fit(views)
    assert descent.stop_reason_ == "completed"
    # The closed form is at least as good as anything gradient descent found...
    best = closed.objective_["total"]
    assert best <= descent.objective_["total"] * (1 + OBJECTIVE_RTOL)
    # ...and gradient descent gets there: same value, same encoder subspaces.
    assert descent.objective_["total"] == pytest.approx(best, rel=1e-5)
    for W_closed, W_descent in zip(closed.encoders_, descent.encoders_):
        assert principal_angles(W_closed, W_descent).max() < ANGLE_TOL
    # Every gradient iterate is feasible: whitened codes.
    for X, W in zip(views, descent.encoders_):
        np.testing.assert_allclose(W.T @ cov(X) @ W, np.eye(2), atol=1e-10)


def test_gradient_beats_cca_on_raw_views_in_euclidean_metric():
    """Lemmas 4 and 6 outside their condition: the CCA encoders are not the minimiser."""
    Xs = make_views(3, 6, 5, spread=1.5)
    for weights in ({"cc": 1.0, "rec": 5.0}, {"trans": 1.0, "rec": 5.0}):
        model = LinearCoupledAE(n_components=2, losses=weights, metric="euclidean", n_init=2,
                                **GRADIENT).fit(Xs)
        cca = CCA(n_components=2).fit(Xs).encoders_
        readouts = coupled_readouts(view_moments(Xs), cca, weights.get("rec", 0.0),
                                    weights.get("trans", 0.0))
        at_cca = model.objective(Xs, encoders=cca, decoders=readouts)["total"]
        assert model.objective_["total"] < 0.8 * at_cca


def test_views_whitened_beforehand_restore_the_lemmas_in_euclidean_metric():
    Xs = [X @ inv_sqrt(cov(X)) for X in make_views(3, 6, 5, spread=1.5)]
    weights = {"cc": 1.0, "rec": 5.0}
    closed = LinearCoupledAE(n_components=2, losses=weights, metric="euclidean").fit(Xs)
    descent = LinearCoupledAE(n_components=2, losses=weights, metric="euclidean",
                              **GRADIENT).fit(Xs)
    assert closed.objective_["total"] <= descent.objective_["total"] * (1 + OBJECTIVE_RTOL)
    for W_closed, W_descent in zip(closed.encoders_, descent.encoders_):
        assert principal_angles(W_closed, W_descent).max() < ANGLE_TOL


def test_gradient_handles_three_views_where_no_closed_form_exists():
    rng = np.random.default_rng(0)
    shared = rng.normal(size=(200, 2))
    Xs = [shared @ rng.normal(size=(2, d)) + 0.3 * rng.normal(size=(200, d)) for d in (4, 5, 3)]
    with pytest.raises(ValueError, match="3 views have no closed form"):
        LinearCoupledAE(n_components=2, losses=["rec", "cc"]).fit(Xs)
    model = LinearCoupledAE(n_components=2, losses=["rec", "cc"], max_epochs=150,
                            solver="gradient", random_state=0).fit(Xs)
    # cc per pair is 2 (1 - mean canonical correlation of the pair) at best; the shared
    # signal dominates, so every pair of codes agrees closely.
    codes = model.transform(Xs)
    for i in range(3):
        for j in range(i + 1, 3):
            corr = [np.corrcoef(codes[i][:, c], codes[j][:, c])[0, 1] for c in range(2)]
            assert min(corr) > 0.9
    assert model.history_["total"].iloc[-1] < 0.5 * model.history_["total"].iloc[0]


def test_gradient_with_distributional_terms_says_pairing_is_not_identified(views):
    with pytest.warns(PairingNotIdentifiedWarning, match="do not identify"):
        model = LinearCoupledAE(n_components=2, losses=["rec", "dist_cc", "dist_trans"],
                                metric="euclidean", solver="gradient", max_epochs=20,
                                batch_size=100, random_state=0).fit(views)
    assert not model.pairing_identified_
    assert {"rec", "dist_cc", "dist_trans", "total"} <= set(model.objective_)
    assert len(model.history_) == 20


def test_gradient_with_partial_pairs_uses_only_paired_rows(views):
    """Shuffling the unpaired rows of one view changes nothing the solver may use: both runs
    reach the same minimum. (Run to convergence: Adam's sign-like first steps turn round-off
    differences in near-zero gradients into different paths.)"""
    mask = np.zeros(len(views[0]), dtype=bool)
    mask[:120] = True
    shuffled = [views[0], views[1].copy()]
    rest = np.flatnonzero(~mask)
    shuffled[1][rest] = views[1][np.random.default_rng(0).permutation(rest)]
    fits = [LinearCoupledAE(n_components=2, losses=["rec", "trans", "cc"], **GRADIENT)
            .fit(Xs, pair_mask=mask) for Xs in (views, shuffled)]
    assert fits[0].objective_["total"] == pytest.approx(fits[1].objective_["total"], rel=1e-6)
    for W0, W1 in zip(fits[0].encoders_, fits[1].encoders_):
        assert principal_angles(W0, W1).max() < ANGLE_TOL
    # Pairing the shuffled rows would be a different problem with a different minimum.
    wrong = LinearCoupledAE(n_components=2, losses=["rec", "trans", "cc"], **GRADIENT).fit(
        shuffled)
    assert wrong.objective(views, pair_mask=mask)["total"] > fits[0].objective_["total"] + 1e-3


def test_gradient_solver_is_reproducible_and_leaves_torchs_global_stream_alone():
    import torch

    rng = np.random.default_rng(0)
    s = rng.normal(size=(300, 2))
    Xs = [s @ rng.normal(size=(2, d)) + rng.normal(size=(300, d)) for d in (6, 5)]

    def fit():
        return LinearCoupledAE(n_components=2, losses=["rec"], metric="euclidean",
                               solver="gradient", max_epochs=5, random_state=0).fit(Xs)

    torch.manual_seed(123)
    first = fit()
    after_fit = torch.rand(1)
    torch.manual_seed(123)
    expected = torch.rand(1)
    second = fit()
    # Same seed, same data: the same arithmetic, so equal to the last bit.
    np.testing.assert_array_equal(first.encoders_[0], second.encoders_[0])
    np.testing.assert_array_equal(first.history_["total"], second.history_["total"])
    assert after_fit == expected
