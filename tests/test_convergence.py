"""Convergence control: the learning-rate schedule, plateau stops, early stopping, errors."""

import numpy as np
import pytest
from sklearn.metrics import r2_score

from skcosae import CoupledSAE
from skcosae.backend.schedule import ConvergenceRule, Schedule
from skcosae.datasets import make_platonic


def _run(schedule, losses, epoch_steps, *, start=0, until=None):
    """Drive ``schedule`` as the training loop does, from epoch ``start`` to ``until`` at
    most; return the rates of the steps and the epochs done."""
    rates, step, epoch = [], start * epoch_steps, start
    while epoch < (until or schedule.max_epochs):
        schedule.begin_epoch(epoch, epoch_steps, step)
        for _ in range(epoch_steps):
            rates.append(schedule.rate(step))
            step += 1
        loss = losses(epoch)
        schedule.add_steps(loss * epoch_steps, epoch_steps)
        epoch += 1
        if schedule.end_epoch(epoch, epoch_steps, step):
            break
    return np.array(rates), epoch


def test_warmup_rises_linearly_then_holds_the_peak():
    rule = ConvergenceRule(tol=None, decay_fraction=0.0)
    schedule = Schedule(rule, 1e-2, max_epochs=100, state=None)
    rates, epochs = _run(schedule, lambda e: 1.0, epoch_steps=40)
    # 5% of the 4,000 steps the cap allows, at most 200 steps.
    assert schedule.warmup_steps == 200 and epochs == 100
    np.testing.assert_allclose(rates[:200], 1e-2 * np.arange(1, 201) / 200)
    np.testing.assert_allclose(rates[200:], 1e-2)


def test_a_plateau_starts_a_decay_of_a_fifth_of_the_run_then_stops():
    rule = ConvergenceRule(tol=1e-3, n_iter_no_change=3, warmup=False)
    schedule = Schedule(rule, 1.0, max_epochs=1000)
    # Falls by 0.01 per epoch of 100 steps for 20 epochs, then is flat.
    rates, epochs = _run(schedule, lambda e: max(1.0 - 0.01 * e, 0.8), epoch_steps=100)
    # The first epoch no better than the best is epoch 22 (the best is epoch 21's
    # 0.8); the third in a row is epoch 24, after which 6 decay epochs run
    # (a fifth of 30: a quarter of 24, rounded up).
    assert schedule.reason == "converged" and epochs == 30
    assert np.all(rates[:2400] == 1.0)
    decay = rates[2400:]
    assert len(decay) == 600 and np.all(np.diff(decay) < 0)
    assert decay[0] == pytest.approx(1 - 1 / 601) and decay[-1] == pytest.approx(1 / 601)


def test_a_loss_still_improving_decays_just_in_time_for_max_epochs():
    rule = ConvergenceRule(tol=1e-3, n_iter_no_change=3, warmup=False)
    schedule = Schedule(rule, 1.0, max_epochs=50)
    rates, epochs = _run(schedule, lambda e: 10.0 - 0.1 * e, epoch_steps=20)
    assert schedule.reason == "completed" and epochs == 50 and len(rates) == 1000
    assert np.all(rates[:800] == 1.0) and np.all(np.diff(rates[800:]) < 0)
    assert rates[-1] == pytest.approx(1 / 201)


def test_short_epochs_are_pooled_into_checks_of_at_least_100_steps():
    rule = ConvergenceRule(tol=1e-3, n_iter_no_change=2, warmup=False, decay_fraction=0.0)
    schedule = Schedule(rule, 1.0, max_epochs=10_000)
    # Noisy epochs of 4 steps: one epoch against the next would often look like no
    # progress, but the means over 25 epochs fall steadily until epoch 500.
    noise = np.random.default_rng(0).normal(scale=0.02, size=10_000)
    _, epochs = _run(schedule, lambda e: max(2.0 - 1e-3 * e, 1.5) + noise[e], epoch_steps=4)
    assert schedule.reason == "converged"
    assert schedule.state_dict()["n_checks"] == epochs // 25 and 500 < epochs < 700


def test_a_resumed_schedule_makes_the_same_decisions():
    rule = ConvergenceRule(tol=1e-3, n_iter_no_change=3)
    losses = lambda e: max(1.0 - 0.01 * e, 0.8)  # noqa: E731
    rates, epochs = _run(Schedule(rule, 1.0, max_epochs=1000), losses, epoch_steps=100)

    for stopped_after in (10, 23, 27):  # before the plateau, within the checks, in the decay
        first = Schedule(rule, 1.0, max_epochs=1000)
        head, _ = _run(first, losses, epoch_steps=100, until=stopped_after)
        second = Schedule(rule, 1.0, max_epochs=1000, state=first.state_dict())
        assert not second.finished(stopped_after)
        tail, resumed_epochs = _run(second, losses, epoch_steps=100, start=stopped_after)
        np.testing.assert_array_equal(np.concatenate([head, tail]), rates)
        assert resumed_epochs == epochs and second.reason == "converged"
        assert second.finished(epochs)


@pytest.fixture(scope="module")
def platonic():
    Xs, _, _ = make_platonic(n_samples=1400, n_concepts=16, n_active=3, view_dims=(12, 16),
                             random_state=0)
    return [X[:1000] for X in Xs], [X[1000:] for X in Xs]


SMALL = dict(n_concepts=32, k=3, losses={"rec": 1, "trans": 1, "cc": 1}, random_state=0)


def test_a_plateau_stop_gives_a_model_as_good_as_a_longer_fit(platonic):
    # The benchmarks' table (bench_convergence.py) shows this at the defaults from 1k to
    # 100k rows; here a coarser tol keeps the fits short.
    train, test = platonic
    params = {**SMALL, "batch_size": 128, "tol": 0.05, "n_iter_no_change": 2}
    est = CoupledSAE(**params).fit(train)
    assert est.stop_reason_ == "converged" and est.n_iter_ < est.max_epochs
    longer = CoupledSAE(**{**params, "tol": None, "max_epochs": 2 * est.n_iter_}).fit(train)
    assert longer.stop_reason_ == "completed" and longer.n_iter_ == 2 * est.n_iter_

    def r2(model):
        return r2_score(test[1], model.translate(test[0], 0, 1),
                        multioutput="variance_weighted")

    assert r2(est) > 0.4 and r2(est) > r2(longer) - 0.02
    rates = est.history_["learning_rate"].to_numpy()
    assert rates.max() == pytest.approx(est.learning_rate) and rates[-1] < 0.1 * rates.max()
    assert np.all(np.diff(rates[-5:]) < 0)  # the final decay


def test_early_stopping_monitors_held_out_rows(platonic):
    train, _ = platonic
    est = CoupledSAE(**SMALL, early_stopping=True, validation_fraction=0.2).fit(train)
    checks = est.history_["validation"].dropna()
    assert len(checks) >= est.n_iter_no_change and np.all(np.isfinite(checks))
    assert est.stop_reason_ in ("converged", "completed")
    # Held-out rows are scored at inference: their objective is not the training one.
    assert not np.allclose(checks.to_numpy(),
                           est.history_.loc[checks.index, "total"].to_numpy())


def test_constant_schedule_and_no_tol_run_every_epoch_at_one_rate(platonic):
    train, _ = platonic
    est = CoupledSAE(**SMALL, tol=None, learning_rate_schedule="constant",
                     max_epochs=3).fit(train)
    assert est.stop_reason_ == "completed" and est.n_iter_ == 3
    np.testing.assert_allclose(est.history_["learning_rate"], est.learning_rate)


@pytest.mark.parametrize("params, match", [
    ({"tol": -1e-3}, "tol"),
    ({"n_iter_no_change": 0}, "n_iter_no_change"),
    ({"validation_fraction": 1.0}, "validation_fraction"),
    ({"learning_rate_schedule": "cosine"}, "learning_rate_schedule"),
    ({"early_stopping": True, "validation_fraction": 0.001},
     r"holds out validation_fraction=0.001 of the 1000 rows, which is 1 row"),
    ({"early_stopping": True, "pair_mask": 0.004},
     r"instance-wise losses \['cc', 'trans'\] needs paired rows both held out and trained"),
])
def test_bad_convergence_settings_name_the_problem(platonic, params, match):
    with pytest.raises(ValueError, match=match):
        CoupledSAE(**{**SMALL, **params}).fit(platonic[0])
