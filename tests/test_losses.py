"""The loss terms: independent computations, Proposition 3, linear memory, gradients."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from skcosae.backend import losses as L


class _LargestTensor(TorchDispatchMode):
    """Records the element count of the largest tensor any aten op produces."""

    def __init__(self):
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for leaf in tree_flatten(out)[0]:
            if isinstance(leaf, torch.Tensor):
                self.largest = max(self.largest, leaf.numel())
        return out


def _t(a):
    return torch.as_tensor(a, dtype=torch.float64)


def test_instance_wise_losses_match_numpy():
    rng = np.random.default_rng(0)
    x, x_hat = rng.normal(size=(50, 7)), rng.normal(size=(50, 7))
    expected = ((x - x_hat) ** 2).sum(1).mean() / 3.5
    for fn in (L.reconstruction_loss, L.translation_loss, L.cycle_loss,
               L.concept_consistency_loss):
        assert float(fn(_t(x), _t(x_hat), 3.5)) == pytest.approx(expected, rel=1e-12)
        assert float(fn(_t(x), _t(x), 3.5)) == 0.0


@settings(max_examples=25, deadline=None)
@given(n_a=st.integers(2, 40), n_b=st.integers(2, 40), n_slices=st.integers(1, 4),
       shift=st.floats(-2, 2), seed=st.integers(0, 2**16))
def test_ecf_equals_mmd_on_the_same_grid(n_a, n_b, n_slices, shift, seed):
    # Proposition 3: |phi_a - phi_b|^2 expands into the three mean-kernel terms exactly, so
    # only float64 round-off separates the two forms.
    rng = np.random.default_rng(seed)
    a = _t(rng.normal(size=(n_a, n_slices)))
    b = _t(rng.normal(loc=shift, size=(n_b, n_slices)))
    t, w = L.default_t_grid(dtype=torch.float64)
    np.testing.assert_allclose(L.ecf_statistic(a, b, t, w), L.mmd_statistic(a, b, t, w),
                               rtol=1e-10, atol=1e-13)


def test_ecf_on_a_wide_fine_grid_is_sqrt_2pi_gaussian_mmd():
    # With the integral over the whole line, ECF = sqrt(2 pi) * MMD^2 under a unit Gaussian
    # kernel; a grid to t=12 with 2001 points leaves a truncation error far below 1e-6.
    rng = np.random.default_rng(1)
    a, b = _t(rng.normal(size=(60, 2))), _t(rng.normal(0.7, 1.3, size=(45, 2)))
    t, w = L.default_t_grid(n_points=2001, t_max=12.0, dtype=torch.float64)
    ecf = L.ecf_statistic(a, b, t, w)
    np.testing.assert_allclose(ecf, np.sqrt(2 * np.pi) * L.gaussian_mmd_statistic(a, b),
                               rtol=1e-6)


def test_ecf_separates_laws():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(4000, 1, generator=g)
    same = torch.randn(4000, 1, generator=g)
    shifted = torch.randn(4000, 1, generator=g) + 0.5
    wider = torch.randn(4000, 1, generator=g) * 2
    base = float(L.ecf_statistic(a, same))
    assert base < 2e-3
    assert float(L.ecf_statistic(a, shifted)) > 10 * base
    assert float(L.ecf_statistic(a, wider)) > 10 * base


def test_sliced_loss_sees_dependence_that_axes_miss():
    # Equal unit-variance marginals on both axes, but correlated vs independent: only
    # oblique slices tell them apart.
    g = torch.Generator().manual_seed(0)
    independent = torch.randn(3000, 2, generator=g)
    u = torch.randn(3000, generator=g)
    v = torch.randn(3000, generator=g)
    correlated = torch.stack([u, 0.9 * u + np.sqrt(1 - 0.81) * v], 1)
    other_independent = torch.randn(3000, 2, generator=g)
    axis = L.ecf_statistic(correlated, independent).max()
    same = L.distributional_translation_loss(other_independent, independent, n_slices=64,
                                             generator=torch.Generator().manual_seed(1))
    diff = L.distributional_translation_loss(correlated, independent, n_slices=64,
                                             generator=torch.Generator().manual_seed(1))
    assert float(diff) > 5 * float(same)
    assert float(diff) > 5 * float(axis)


def test_distributional_losses_are_scale_free():
    g = torch.Generator().manual_seed(0)
    p, q = torch.randn(500, 3, generator=g), torch.randn(500, 3, generator=g) + 0.3
    one = L.distributional_translation_loss(p, q, generator=torch.Generator().manual_seed(2))
    big = L.distributional_translation_loss(100 * p, 100 * q,
                                            generator=torch.Generator().manual_seed(2))
    assert float(one) == pytest.approx(float(big), rel=1e-4)


def test_the_size_probe_sees_a_quadratic_form():
    # The probe below must be able to fail: the MMD form builds n x n' differences.
    a, b = torch.randn(300, 2), torch.randn(200, 2)
    with _LargestTensor() as probe:
        L.mmd_statistic(a, b)
    assert probe.largest >= 300 * 300


@pytest.mark.parametrize("name", ["ecf", "dist_trans", "dist_cc"])
def test_memory_is_linear_in_rows(name):
    # n = 20000 float64 rows: one n x n matrix alone would take 3.2 GB. Every tensor made in
    # the forward and backward passes stays within a few n * S * T elements.
    n, n_slices, n_points = 20_000, 4, 17
    g = torch.Generator().manual_seed(0)
    a = torch.randn(n, n_slices, generator=g, dtype=torch.float64).requires_grad_()
    b = torch.randn(n, n_slices, generator=g, dtype=torch.float64) + 0.1
    fn = {
        "ecf": lambda: L.ecf_statistic(a, b).sum(),
        "dist_trans": lambda: L.distributional_translation_loss(a, b, n_slices=n_slices,
                                                                generator=g),
        "dist_cc": lambda: L.distributional_concept_loss(torch.relu(a), torch.relu(b)),
    }[name]
    with _LargestTensor() as probe:
        fn().backward()
    assert probe.largest <= 2 * n * n_slices * n_points
    assert torch.isfinite(a.grad).all() and float(a.grad.abs().sum()) > 0


def test_dist_cc_ignores_inactive_axes_and_has_gradients():
    g = torch.Generator().manual_seed(0)
    za = torch.relu(torch.randn(200, 6, generator=g))
    zb = torch.relu(torch.randn(200, 6, generator=g) + 0.5)
    za[:, 3:] = 0
    zb[:, 3:] = 0
    full = L.distributional_concept_loss(za, zb)
    part = L.distributional_concept_loss(za[:, :3], zb[:, :3])
    assert float(full) == pytest.approx(float(part), rel=1e-6)
    none = L.distributional_concept_loss(torch.zeros(5, 3, requires_grad=True), torch.zeros(5, 3))
    assert float(none.detach()) == 0.0


@pytest.mark.parametrize(
    "name", ["rec", "trans", "cycle", "cc", "ecf", "mmd", "dist_trans", "dist_cc"]
)
def test_gradients_flow(name):
    g = torch.Generator().manual_seed(0)
    p = torch.randn(64, 5, generator=g).requires_grad_()
    q = torch.randn(64, 5, generator=g) + 1.0
    fn = {
        "rec": lambda: L.reconstruction_loss(q, p, 2.0),
        "trans": lambda: L.translation_loss(q, p, torch.tensor(2.0)),
        "cycle": lambda: L.cycle_loss(q, p, 2.0),
        "cc": lambda: L.concept_consistency_loss(p, q, 2.0),
        "ecf": lambda: L.ecf_statistic(p, q).sum(),
        "mmd": lambda: L.mmd_statistic(p, q).sum(),
        "dist_trans": lambda: L.distributional_translation_loss(p, q, n_slices=8),
        "dist_cc": lambda: L.distributional_concept_loss(torch.relu(p), torch.relu(q)),
    }[name]
    fn().backward()
    assert torch.isfinite(p.grad).all() and float(p.grad.abs().sum()) > 0


def test_distributional_losses_vanish_on_one_law_and_survive_constant_slices():
    g = torch.Generator().manual_seed(0)
    q = torch.randn(300, 4, generator=g)
    assert float(L.distributional_translation_loss(q[torch.randperm(300, generator=g)], q,
                                                   generator=g)) == pytest.approx(0, abs=1e-6)
    # A view that is constant (zero spread on every slice) must not divide by zero.
    constant = torch.ones(50, 4, requires_grad=True)
    value = L.distributional_translation_loss(constant, torch.ones(60, 4), n_slices=5)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(constant.grad).all()
    z = torch.zeros(40, 3)
    z[:, 0] = 2.0  # active but constant in both samples: equal laws, finite result
    assert float(L.distributional_concept_loss(z, z.clone())) == 0.0


def test_dist_cc_keeps_an_axis_active_in_one_sample_only():
    g = torch.Generator().manual_seed(0)
    za = torch.relu(torch.randn(300, 2, generator=g))
    zb = za[torch.randperm(300, generator=g)].clone()
    assert float(L.distributional_concept_loss(za, zb)) == pytest.approx(0, abs=1e-6)
    zb[:, 1] = 0.0  # axis 1 dead in zb, alive in za: a difference of laws
    assert float(L.distributional_concept_loss(za, zb)) > 0.05


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: L.ecf_statistic(torch.zeros(5, 2), torch.zeros(5, 3)), "same number of columns"),
        (lambda: L.ecf_statistic(torch.zeros(0, 2), torch.zeros(5, 2)), "at least one row"),
        (lambda: L.ecf_statistic(torch.zeros(5, 2), torch.zeros(5, 2), t=torch.ones(3)),
         "both t and weights"),
        (lambda: L.ecf_statistic(torch.zeros(5, 2), torch.zeros(5, 2), torch.ones(3),
                                 torch.ones(4)), "one length"),
        (lambda: L.default_t_grid(n_points=1), "n_points >= 2"),
        (lambda: L.distributional_translation_loss(torch.zeros(5, 2), torch.zeros(5, 2),
                                                   n_slices=0), "n_slices"),
        (lambda: L.reconstruction_loss(torch.zeros(5, 2), torch.zeros(5, 3), 1.0),
         "must match"),
    ],
)
def test_bad_arguments_name_the_problem(call, match):
    with pytest.raises(ValueError, match=match):
        call()
