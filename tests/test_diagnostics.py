"""The checks that catch a wasted fit: each rule, its threshold, and silence on a good fit."""

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import ConvergenceWarning

from skcosae import CoupledSAE
from skcosae._diagnostics import (
    MIN_STEPS,
    NegativeR2Warning,
    UndertrainedWarning,
    check_loss_curve,
    check_n_steps,
    check_translation_r2,
)
from skcosae.datasets import make_platonic


def _steps(n_samples, batch_size, n_epochs):
    return n_epochs * math.ceil(n_samples / batch_size)


def test_too_few_steps_names_the_count_and_the_epochs_that_would_do():
    # The case: 2,000 rows at the defaults (10 epochs of 256 rows) are 80 steps.
    message = check_n_steps(_steps(2000, 256, 10), 10, batch_size=256)
    assert "80 optimiser steps" in message and f"fewer than {MIN_STEPS}" in message
    needed = math.ceil(MIN_STEPS / 8)  # 8 batches per epoch
    assert f"max_epochs to at least {needed}" in message
    # ... and that many epochs are indeed enough.
    assert check_n_steps(_steps(2000, 256, needed), needed, batch_size=256) is None
    # 20,000 rows at the defaults: 790 steps, no message.
    assert check_n_steps(_steps(20_000, 256, 10), 10, batch_size=256) is None
    # The threshold is a parameter.
    assert check_n_steps(80, 10, batch_size=256, min_steps=80) is None
    assert check_n_steps(79, 10, batch_size=256, min_steps=80) is not None


@pytest.mark.parametrize("bad", [dict(n_steps=-1), dict(n_epochs=0), dict(batch_size=0),
                                 dict(n_steps=1.5), dict(min_steps=True)])
def test_check_n_steps_refuses_bad_counts(bad):
    args = {"n_steps": 10, "n_epochs": 1, "batch_size": 8, **bad}
    name = next(iter(bad))
    with pytest.raises(ValueError, match=name):
        check_n_steps(args.pop("n_steps"), args.pop("n_epochs"), **args)


def test_loss_still_falling_measures_the_drop_over_the_last_epochs():
    # The README's old example: still falling by about 6% per epoch at its last epoch.
    falling = [3.62, 2.85, 2.34, 1.93, 1.63, 1.42, 1.28, 1.17, 1.10, 1.04]
    message = check_loss_curve(falling)
    rate = (1.28 - 1.04) / (3 * 1.28)  # from epoch 7 to epoch 10
    assert f"{rate:.1%} per epoch over the last 3 epochs" in message
    assert "max_epochs" in message and "warm_start=True" in message
    # A curve that has levelled off, noisy at the 0.5% level: no message.
    flat = falling[:6] + [1.10, 1.105, 1.099, 1.097]
    assert check_loss_curve(flat) is None
    # The tolerance is the boundary.
    assert check_loss_curve([1.0, 0.975], tol=0.03) is None
    assert "3.5% per epoch over the last epoch (more than 3%)" in check_loss_curve(
        [1.0, 0.965], tol=0.03)
    # A loss that rose is not "still falling"; one epoch cannot be judged.
    assert check_loss_curve([1.0, 1.2, 1.4]) is None
    assert check_loss_curve([5.0]) is None
    # history_ frames are read through their "total" column.
    assert check_loss_curve(pd.DataFrame({"total": falling, "rec": flat})) == message


def test_check_loss_curve_refuses_what_is_not_a_curve():
    with pytest.raises(ValueError, match="'total'"):
        check_loss_curve(pd.DataFrame({"rec": [1.0, 0.5]}))
    with pytest.raises(ValueError, match="1-D"):
        check_loss_curve(np.ones((3, 2)))
    with pytest.raises(ValueError, match="tol"):
        check_loss_curve([1.0, 0.5], tol=-0.1)


def test_negative_translation_r2_names_the_pairs():
    message = check_translation_r2([("a", "a", -0.5), ("a", "b", -0.09), ("b", "a", 0.2)])
    assert "a -> b (-0.090)" in message and "b -> a" not in message
    assert "pair_mask" in message and "max_epochs" in message
    # Diagonal entries (reconstruction) and undefined values are not translations.
    assert check_translation_r2([("a", "a", -0.5), ("a", "b", np.nan)]) is None


def test_warning_classes_can_be_filtered_as_scikit_learn_ones():
    assert issubclass(UndertrainedWarning, ConvergenceWarning)
    assert issubclass(NegativeR2Warning, UserWarning)


def test_a_real_fit_is_flagged_when_short_and_passes_when_trained():
    Xs, _, _ = make_platonic(n_samples=600, n_views=2, n_classes=4, random_state=0)
    kw = dict(n_concepts=32, k=4, losses=["rec", "trans", "cc"], batch_size=64,
              random_state=0)
    short = CoupledSAE(max_epochs=3, **kw).fit(Xs)
    assert check_n_steps(_steps(600, 64, 3), 3, batch_size=64) is not None
    assert check_loss_curve(short.history_) is not None
    # 400 steps on the same data: the loss has levelled off, neither check speaks.
    with warnings.catch_warnings():
        warnings.simplefilter("error", UndertrainedWarning)
        trained = CoupledSAE(max_epochs=40, **kw).fit(Xs)
    assert check_n_steps(_steps(600, 64, 40), 40, batch_size=64) is None
    assert check_loss_curve(trained.history_) is None
    assert trained.history_.total.iloc[-1] < short.history_.total.iloc[-1]
