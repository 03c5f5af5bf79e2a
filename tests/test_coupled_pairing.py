"""pair_mask: unpaired rows are never used as pairs."""

import numpy as np
import pytest
import torch

from skcosae import CoupledSAE
from skcosae.backend.model import CoupledModel
from skcosae.backend.train import batch_losses
from skcosae.datasets import make_platonic

from ._helpers import r2


def test_permuting_unpaired_rows_leaves_instance_wise_terms_unchanged():
    rng = np.random.default_rng(0)
    xs = [torch.as_tensor(rng.normal(size=(64, d)), dtype=torch.float32) for d in (6, 9)]
    paired = torch.as_tensor(rng.random(64) < 0.4)
    model = CoupledModel([6, 9], m=16, k=2, seed=0)
    model.init_from_data(xs)
    weights = {"rec": 1, "trans": 1, "cc": 1}
    before = batch_losses(model, xs, paired, weights, variances=[6.0, 9.0])
    unpaired = torch.nonzero(~paired).flatten()
    shuffled = xs[1].clone()
    shuffled[unpaired] = xs[1][unpaired[torch.randperm(len(unpaired))]]
    after = batch_losses(model, [xs[0], shuffled], paired, weights, variances=[6.0, 9.0])
    for name in ("trans", "cc", "rec"):
        assert float(after[name].detach()) == pytest.approx(float(before[name].detach()),
                                                            rel=1e-6), name
    # Control: permuting the paired rows does change the instance-wise terms.
    p = torch.nonzero(paired).flatten()
    broken = xs[1].clone()
    broken[p] = xs[1][p.roll(1)]
    moved = batch_losses(model, [xs[0], broken], paired, weights, variances=[6.0, 9.0])
    assert float(moved["trans"].detach()) != pytest.approx(float(before["trans"].detach()),
                                                           rel=1e-3)


@pytest.fixture(scope="module")
def shuffled_data():
    Xs, _, _ = make_platonic(n_samples=4000, n_views=2, n_concepts=32, n_active=3,
                             idiosyncrasy=0.05, linear=True, random_state=1)
    train, test = [X[:3000] for X in Xs], [X[3000:] for X in Xs]
    rng = np.random.default_rng(0)
    mask = rng.random(3000) < 0.3
    unpaired = np.flatnonzero(~mask)
    shuffled = [train[0], train[1].copy()]
    shuffled[1][unpaired] = train[1][rng.permutation(unpaired)]
    return train, shuffled, test, mask


@pytest.mark.parametrize("path", [{"streaming": False},
                                  {"streaming": True, "shuffle_buffer": 1024}])
def test_shuffled_unpaired_rows_do_not_hurt_but_false_pairs_do(shuffled_data, path):
    train, shuffled, test, mask = shuffled_data
    params = dict(n_concepts=64, k=3, losses=["rec", "trans", "cc"], max_epochs=25,
                  random_state=0, **path)
    clean = CoupledSAE(**params).fit(train, pair_mask=mask)
    masked = CoupledSAE(**params).fit(shuffled, pair_mask=mask)
    false_pairs = CoupledSAE(**params).fit(shuffled)  # the shuffled rows declared paired
    score = {name: r2(test[1], est.translate(test[0], 0, 1))
             for name, est in [("clean", clean), ("masked", masked), ("false", false_pairs)]}
    assert score["masked"] > 0.6, score
    assert abs(score["masked"] - score["clean"]) < 0.05, score
    assert score["false"] < score["masked"] - 0.2, score


def test_float_pair_mask_draws_that_fraction(shuffled_data):
    train = shuffled_data[0]
    sae = CoupledSAE(n_concepts=16, k=2, losses=["rec", "trans"], pair_mask=0.1,
                     max_epochs=1, random_state=0).fit(train)
    assert sae.pair_mask_.sum() == 300
    again = CoupledSAE(n_concepts=16, k=2, losses=["rec", "trans"], pair_mask=0.1,
                       max_epochs=1, random_state=0).fit(train)
    np.testing.assert_array_equal(sae.pair_mask_, again.pair_mask_)


def test_fit_pair_mask_wins_over_constructor(shuffled_data):
    train, _, _, mask = shuffled_data
    sae = CoupledSAE(n_concepts=16, k=2, losses=["rec", "trans"], pair_mask=0.5,
                     max_epochs=1, random_state=0).fit(train, pair_mask=mask)
    np.testing.assert_array_equal(sae.pair_mask_, mask)


@pytest.mark.parametrize("losses", [["rec", "trans"], ["rec", "cc"]])
def test_instance_wise_loss_with_no_pair_is_an_error(shuffled_data, losses):
    train = shuffled_data[0]
    with pytest.raises(ValueError, match=r"pair_mask marks no row as paired, but \['(trans|cc)'\]"):
        CoupledSAE(n_concepts=16, k=2, losses=losses, max_epochs=1).fit(
            train, pair_mask=np.zeros(3000, dtype=bool))


def test_distributional_losses_alone_need_no_pairs(shuffled_data):
    train = shuffled_data[0]
    sae = CoupledSAE(n_concepts=16, k=2, losses=["rec", "dist_trans", "dist_cc"],
                     max_epochs=1, random_state=0).fit(train, pair_mask=np.zeros(3000, bool))
    assert sae.stop_reason_ == "completed"
