"""The training loop: loss composition, pair batches, determinism, stops."""

import numpy as np
import pytest
import torch

from skcosae.backend import (
    DEFAULTS,
    CoupledModel,
    DenseLinearAE,
    TrainingPlan,
    batch_losses,
    train_coupled,
)
from skcosae.backend.data import plan_epoch


def _plan(views, pair_mask, weights, **params):
    """A training plan with the estimator's defaults, on the CPU."""
    settings = {**DEFAULTS, "seed": 0, "device": "cpu", **params}
    if "variances" not in settings:
        settings["variances"] = [float(x.var(0, unbiased=False).sum()) for x in views]
    return TrainingPlan(views=views, pair_mask=np.asarray(pair_mask, dtype=bool),
                        weights=weights, **settings)


def _linear_views(n=600, dims=(6, 9), latent=4, seed=0):
    """Views that are noisy linear images of one shared latent (a pair per row)."""
    rng = np.random.default_rng(seed)
    s = rng.normal(size=(n, latent))
    return [torch.as_tensor(s @ rng.normal(size=(latent, d)) + 0.05 * rng.normal(size=(n, d)),
                            dtype=torch.float32) for d in dims]


def _r2(x, x_hat):
    return float(1 - ((x - x_hat) ** 2).sum() / ((x - x.mean(0)) ** 2).sum())


def test_batch_losses_match_the_equations_term_by_term():
    xs = _linear_views(40)
    model = CoupledModel([6, 9], 12, 2, seed=0)
    model.init_from_data(xs)
    paired = torch.zeros(40, dtype=torch.bool)
    paired[::3] = True
    var = [float(x.var(0, unbiased=False).sum()) for x in xs]
    weights = {"rec": 1, "trans": 1, "cycle": 1, "cc": 1}
    terms = batch_losses(model, xs, paired, weights, variances=var, training=False)
    with torch.no_grad():  # the reference values need no graph
        z = [model.encode(x, i) for i, x in enumerate(xs)]
        dec = lambda c, j: model.decode(c, j)  # noqa: E731
        msq = lambda a, b: float(((a - b) ** 2).sum(1).mean())  # noqa: E731
        p = paired
        expected = {
            "rec": sum(msq(xs[i], dec(z[i], i)) / var[i] for i in (0, 1)),
            "trans": sum(msq(xs[j][p], dec(z[i][p], j)) / var[j] for i, j in [(0, 1), (1, 0)]),
            "cycle": sum(msq(xs[i], dec(model.encode(dec(z[i], j), j), i)) / var[i]
                         for i, j in [(0, 1), (1, 0)]),
            # Codes come from standardised inputs: cc is scaled by their variances.
            "cc": msq(z[0][p], z[1][p]) / (0.5 * sum(
                float(model._normalise(x, i).var(0, unbiased=False).sum())
                for i, x in enumerate(xs))),
        }
    assert set(terms) == set(expected)
    for name, value in expected.items():
        assert float(terms[name].detach()) == pytest.approx(value, rel=1e-4), name


@pytest.mark.parametrize("shuffle_rows", [None, 96])
def test_epoch_batches_keep_pairs_aligned_and_shuffle_unpaired_rows_per_view(shuffle_rows):
    rng = np.random.default_rng(0)
    n = 300
    pair_mask = rng.random(n) < 0.1
    unpaired_index = np.flatnonzero(~pair_mask)
    seen = [[], [], []]
    buffers = list(plan_epoch(np.arange(n), pair_mask, 3, 64, rng, shuffle_rows=shuffle_rows,
                              chunk_rows=16, pair_batch=True))
    for buffer in buffers:
        for step in buffer.steps:
            per_view, paired = step.rows, step.paired
            assert paired.any()  # a pair batch rides along with every step
            for v in range(3):
                np.testing.assert_array_equal(per_view[v][paired], per_view[0][paired])
                assert pair_mask[per_view[v][paired]].all()
                assert not pair_mask[per_view[v][~paired]].any()
                seen[v].append(per_view[v][~paired])
            # An unpaired row never meets its own counterpart in another view.
            for v in range(3):
                for w in range(v):
                    assert not np.any(per_view[v][~paired] == per_view[w][~paired])
    rows = [np.concatenate(s) for s in seen]
    for v in range(3):  # every unpaired row once per epoch in each view...
        np.testing.assert_array_equal(np.sort(rows[v]), unpaired_index)
    # ...and the steps are full batches (of 64 rows and the pair batch) but for the last.
    sizes = [len(step.paired) - step.n_extra for b in buffers for step in b.steps]
    assert sizes[:-1] == [64] * (len(sizes) - 1) and sum(sizes) == n
    if shuffle_rows is not None:
        assert len(buffers) == 4  # 19 chunks of 16 rows, 6 per buffer


@pytest.mark.parametrize("n, batch_size, shuffle_rows", [
    (300, 64, None), (300, 64, 96), (1000, 50, 130), (257, 256, 64), (10, 64, 16)])
def test_epoch_plan_is_drawn_as_read_and_knows_its_steps(n, batch_size, shuffle_rows):
    rng = np.random.default_rng(1)
    pair_mask = rng.random(n) < 0.5
    state = rng.bit_generator.state
    plan = plan_epoch(np.arange(n), pair_mask, 2, batch_size, rng, shuffle_rows=shuffle_rows,
                      chunk_rows=16)
    assert rng.bit_generator.state == state  # nothing is drawn before the buffers are read
    buffers = iter(plan)
    first = next(buffers)
    if shuffle_rows is not None and shuffle_rows < n:
        # Only the buffer being read holds per-row arrays, not the whole epoch.
        assert len(first.load) <= shuffle_rows
    steps = first.steps + [step for buffer in buffers for step in buffer.steps]
    assert plan.n_steps == len(steps)
    assert plan.last_step_rows == len(steps[-1].paired) - steps[-1].n_extra
    with pytest.raises(RuntimeError, match="read once"):
        iter(plan)


def test_rare_pairs_reach_every_step(monkeypatch):
    import skcosae.backend.train as train

    xs = _linear_views(2000)
    mask = np.zeros(2000, dtype=bool)
    mask[[5, 700, 1500]] = True  # 3 pairs in 2000 rows
    steps = []
    real = train.batch_losses

    def spy(model, batch, paired, *args, **kwargs):
        steps.append(int(paired.sum()))
        return real(model, batch, paired, *args, **kwargs)

    monkeypatch.setattr(train, "batch_losses", spy)
    model = CoupledModel([6, 9], 8, 2, seed=0)
    model.init_from_data(xs)
    result = train_coupled(model, _plan(xs, mask, {"rec": 1, "trans": 1}, max_epochs=1,
                                        batch_size=256))
    assert len(steps) == 8 and min(steps) >= 3
    assert result.history[0]["trans"] > 0


def test_per_view_linear_modules_learn_to_translate():
    xs = _linear_views(800)
    gen = torch.Generator().manual_seed(0)
    modules = [DenseLinearAE(6, 4, generator=gen), DenseLinearAE(9, 4, generator=gen)]
    result = train_coupled(modules, _plan(xs, np.ones(800, bool), {"rec": 1, "trans": 1},
                                          max_epochs=40, batch_size=100, learning_rate=1e-2))
    assert result.stop_reason == "completed" and result.n_epochs == 40
    assert result.history[-1]["total"] < 0.1 * result.history[0]["total"]
    with torch.no_grad():
        assert _r2(xs[1], modules[1].decode(modules[0].encode(xs[0]))) > 0.9
        assert _r2(xs[0], modules[0].decode(modules[1].encode(xs[1]))) > 0.9


@pytest.fixture
def torch_threads():
    """Sets torch's intra-op threads for one test, then restores the session's setting."""
    before = torch.get_num_threads()
    yield torch.set_num_threads
    torch.set_num_threads(before)


@pytest.mark.parametrize("n_threads", [1, 2])
def test_training_is_deterministic_given_a_seed(n_threads, torch_threads):
    torch_threads(n_threads)
    assert torch.get_num_threads() == n_threads
    xs = _linear_views(300)
    mask = np.arange(300) % 4 == 0
    runs = []
    for _ in range(2):
        model = CoupledModel([6, 9], 16, 2, seed=3)
        model.init_from_data(xs)
        result = train_coupled(model, _plan(xs, mask, {"rec": 1, "trans": 1, "dist_trans": 0.1},
                                            max_epochs=2, batch_size=64, seed=7))
        runs.append((result.history, model.state_dict()))
    strip = lambda h: [{k: v for k, v in r.items() if k != "seconds"} for r in h]  # noqa: E731
    assert strip(runs[0][0]) == strip(runs[1][0])
    for name, value in runs[0][1].items():
        assert torch.equal(value, runs[1][1][name]), name


def test_usae_step_updates_only_the_drawn_views_encoder():
    xs = _linear_views(64)
    model = CoupledModel([6, 9], 12, 2, architecture="usae", seed=0)
    model.init_from_data(xs)
    terms = batch_losses(model, xs, torch.ones(64, dtype=torch.bool), {"rec": 1, "trans": 1},
                         variances=[1.0, 1.0], source_view=1)
    (terms["rec"] + terms["trans"]).backward()
    assert model.units[0].W_enc[0].grad is None  # view 0 was not drawn
    assert model.units[1].W_enc[0].grad.abs().max() > 0
    assert all(unit.W_dec[0].grad.abs().max() > 0 for unit in model.units)  # decoded into both


def test_interrupt_from_the_callback_keeps_the_last_epoch():
    xs = _linear_views(300)
    model = CoupledModel([6, 9], 16, 2, seed=0)
    model.init_from_data(xs)
    snapshot = {}

    def callback(epoch, row):
        if epoch == 2:
            snapshot.update({k: v.clone() for k, v in model.state_dict().items()})
            raise KeyboardInterrupt

    result = train_coupled(model, _plan(xs, np.ones(300, bool), {"rec": 1, "trans": 1},
                                        max_epochs=10, batch_size=64), callback=callback)
    assert result.stop_reason == "interrupted" and result.n_epochs == 2
    assert len(result.history) == 2
    for name, value in model.state_dict().items():
        assert torch.equal(value, snapshot[name]), name


def test_divergence_restores_the_weights_of_the_last_good_epoch():
    xs = _linear_views(300)
    gen = torch.Generator().manual_seed(0)
    modules = [DenseLinearAE(6, 4, generator=gen), DenseLinearAE(9, 4, generator=gen)]
    initial = [{k: v.clone() for k, v in m.state_dict().items()} for m in modules]
    parameters = [p for m in modules for p in m.parameters()]
    optimizer = torch.optim.Adam(parameters, lr=1e-2)
    good = {}

    def callback(epoch, row):
        if epoch == 2:  # two good epochs, then a step size that overflows within epoch 3
            good["weights"] = [{k: v.clone() for k, v in m.state_dict().items()}
                               for m in modules]
            for group in optimizer.param_groups:
                group["lr"] = 1e12

    steps = []
    original_step = optimizer.step

    def counting_step(*args, **kwargs):
        steps.append(len(good))
        return original_step(*args, **kwargs)

    optimizer.step = counting_step
    result = train_coupled(modules, _plan(xs, np.ones(300, bool), {"rec": 1, "trans": 1},
                                          max_epochs=5, batch_size=32),
                           optimizer=optimizer, callback=callback)
    assert result.stop_reason == "diverged" and result.n_epochs == 2
    assert len(result.history) == 2
    # Epoch 3 stepped before its loss overflowed: the weights were moved and must come back.
    assert steps.count(1) >= 1
    for module, state, start in zip(modules, good["weights"], initial):
        assert any(not torch.equal(value, start[name]) for name, value in state.items())
        for name, value in module.state_dict().items():
            assert torch.isfinite(value).all() and torch.equal(value, state[name]), name


def test_divergence_in_the_first_epoch_restores_the_initial_weights():
    xs = _linear_views(300)
    gen = torch.Generator().manual_seed(0)
    modules = [DenseLinearAE(6, 4, generator=gen), DenseLinearAE(9, 4, generator=gen)]
    initial = [{k: v.clone() for k, v in m.state_dict().items()} for m in modules]
    result = train_coupled(modules, _plan(xs, np.ones(300, bool), {"rec": 1, "trans": 1},
                                          max_epochs=5, batch_size=32, learning_rate=1e12))
    assert result.stop_reason == "diverged" and result.n_epochs == 0
    for module, state in zip(modules, initial):
        for name, value in module.state_dict().items():
            assert torch.isfinite(value).all() and torch.equal(value, state[name])


def test_per_view_modules_are_checked():
    with pytest.raises(ValueError, match="at least 2 per-view modules; got 1"):
        train_coupled([DenseLinearAE(6, 4)],
                      _plan(_linear_views(10)[:1], np.ones(10, bool), {"rec": 1}))
    with pytest.raises(ValueError, match="view 1 \\(Linear\\) has no encode/decode"):
        train_coupled([DenseLinearAE(6, 4), torch.nn.Linear(9, 4)],
                      _plan(_linear_views(10), np.ones(10, bool), {"rec": 1}))
