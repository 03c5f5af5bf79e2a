"""The loss terms of the coupled objective, as small pure functions of tensors.

SPEC section 3 leaves the normalisations open; these are skcosae's choices:

- Instance-wise errors (``rec``, ``trans``, ``cycle``) are the mean over rows of the squared L2
  error divided by the target view's total variance (the trace of its covariance), computed
  once on the training data by the caller. A model predicting the view's mean scores 1.
- ``cc`` is the mean over paired rows of ``||z_a - z_b||^2`` divided by a ``scale`` given by the
  caller; the trainer passes the mean of the two views' total variances, since unit-norm
  decoder atoms make a code's squared norm comparable with its view's variance.
- The distributional terms compare one-dimensional projections with the empirical
  characteristic function (ECF) statistic ``int |phi_a(t) - phi_b(t)|^2 w(t) dt`` on a fixed
  grid of ``t`` (trapezoid rule, Gaussian weight ``exp(-t^2 / 2)``, 17 points on ``[0, 3]`` and
  the symmetry ``|phi(-t)| = |phi(t)|``, as LeJEPA's Epps-Pulley test). Projections are divided
  by the reference sample's standard deviation (detached), so the fixed grid means the same
  thing whatever the scale of a view. Memory is ``O(n * S * T)`` for ``n`` rows, ``S`` slices
  and ``T`` grid points: no ``n x n`` matrix is formed.

Proposition 3 of the paper: with ``k(u, v) = sum_t w_t cos(t (u - v))`` the ECF statistic on a
grid equals the squared MMD under ``k`` exactly; :func:`mmd_statistic` computes that form.
"""

from __future__ import annotations

import torch

__all__ = [
    "reconstruction_loss",
    "translation_loss",
    "cycle_loss",
    "concept_consistency_loss",
    "default_t_grid",
    "ecf_statistic",
    "mmd_statistic",
    "gaussian_mmd_statistic",
    "distributional_translation_loss",
    "distributional_concept_loss",
]

_EPS = 1e-8


def _mean_squared_error(target, estimate, variance):
    return ((target - estimate) ** 2).sum(dim=1).mean() / variance


def reconstruction_loss(x, x_hat, variance):
    """Mean over rows of ``||x - x_hat||^2``, divided by the view's total variance."""
    return _mean_squared_error(x, x_hat, variance)


def translation_loss(x_target, x_translated, variance):
    """Mean over paired rows of ``||x_j - D_j(E_i(x_i))||^2`` / the target view's variance."""
    return _mean_squared_error(x_target, x_translated, variance)


def cycle_loss(x, x_cycle, variance):
    """Mean over rows of ``||x_i - C_iji(x_i)||^2`` / the view's variance."""
    return _mean_squared_error(x, x_cycle, variance)


def concept_consistency_loss(z_a, z_b, scale):
    """Mean over paired rows of ``||z_a - z_b||^2`` / ``scale``."""
    return _mean_squared_error(z_a, z_b, scale)


def default_t_grid(n_points=17, t_max=3.0, *, device=None, dtype=torch.float32):
    """Grid ``t`` on ``[0, t_max]`` and its quadrature weights for the whole real line.

    The weights combine the trapezoid rule, the Gaussian weight ``exp(-t^2 / 2)`` and a
    factor 2 for the negative half-line (the integrand is even in ``t``).
    """
    t = torch.linspace(0.0, t_max, n_points, device=device, dtype=dtype)
    step = t_max / (n_points - 1)
    trapezoid = torch.full_like(t, step)
    trapezoid[0] = trapezoid[-1] = step / 2
    return t, 2.0 * trapezoid * torch.exp(-(t**2) / 2)


def _grid(t, weights, like):
    if t is None:
        return default_t_grid(device=like.device, dtype=like.dtype)
    return t.to(like), weights.to(like)


def ecf_statistic(a, b, t=None, weights=None):
    """ECF two-sample statistic of each column of ``a`` (n, S) against ``b`` (n', S).

    Returns a (S,) tensor: ``sum_t w_t |phi_a(t) - phi_b(t)|^2``.
    """
    t, weights = _grid(t, weights, a)
    # (n, S, T) phases: linear in the number of rows.
    phase_a = a.unsqueeze(-1) * t
    phase_b = b.unsqueeze(-1) * t
    real = torch.cos(phase_a).mean(0) - torch.cos(phase_b).mean(0)
    imag = torch.sin(phase_a).mean(0) - torch.sin(phase_b).mean(0)
    return ((real**2 + imag**2) * weights).sum(-1)


def mmd_statistic(a, b, t=None, weights=None):
    """Squared MMD of each column under ``k(u, v) = sum_t w_t cos(t (u - v))`` (S,).

    The kernel form of :func:`ecf_statistic` (Proposition 3); it forms pairwise differences,
    so its memory is quadratic in the sample size: for tests and small samples only.
    """
    t, weights = _grid(t, weights, a)

    def mean_kernel(u, v):
        diff = u.unsqueeze(1) - v.unsqueeze(0)  # (n, n', S)
        return (torch.cos(diff.unsqueeze(-1) * t) * weights).sum(-1).mean((0, 1))

    return mean_kernel(a, a) + mean_kernel(b, b) - 2 * mean_kernel(a, b)


def gaussian_mmd_statistic(a, b, bandwidth=1.0):
    """Squared MMD of each column under the Gaussian kernel ``exp(-(u-v)^2 / (2 h^2))``.

    With the exact integral over the whole line and ``w(t) = exp(-t^2 / 2)``, the ECF
    statistic equals ``sqrt(2 pi)`` times this quantity at ``bandwidth=1``.
    """

    def mean_kernel(u, v):
        diff = u.unsqueeze(1) - v.unsqueeze(0)
        return torch.exp(-(diff**2) / (2 * bandwidth**2)).mean((0, 1))

    return mean_kernel(a, a) + mean_kernel(b, b) - 2 * mean_kernel(a, b)


def _standardised(p, q):
    # Scale both samples by the reference's spread so the fixed t grid is scale-free.
    scale = q.detach().std(dim=0, unbiased=False).clamp_min(_EPS)
    centre = q.detach().mean(dim=0)
    return (p - centre) / scale, (q - centre) / scale


def distributional_translation_loss(p, q, n_slices=256, generator=None, t=None, weights=None):
    """Sliced ECF distance between translated rows ``p`` (n, d) and real rows ``q`` (n', d).

    Random unit directions in ``R^d`` are drawn on every call (from ``generator`` when given);
    each slice is standardised by ``q``'s spread along it.
    """
    directions = torch.randn(
        q.shape[1], n_slices, generator=generator, device="cpu", dtype=torch.float32
    ).to(device=q.device, dtype=q.dtype)
    directions = directions / directions.norm(dim=0, keepdim=True).clamp_min(_EPS)
    slice_p, slice_q = _standardised(p @ directions, q @ directions)
    return ecf_statistic(slice_p, slice_q, t, weights).mean()


def distributional_concept_loss(z_a, z_b, t=None, weights=None):
    """ECF distance between codes ``z_a`` and ``z_b`` on the concept axes active in the batch.

    Axes inactive in both samples are skipped; each kept axis is scaled by the spread of the
    two samples pooled. Returns 0 (with a gradient path) when no axis is active.
    """
    active = (z_a.detach() != 0).any(0) | (z_b.detach() != 0).any(0)
    if not bool(active.any()):
        return (z_a.sum() + z_b.sum()) * 0.0
    a, b = z_a[:, active], z_b[:, active]
    pooled = torch.cat([a, b]).detach()
    scale = pooled.std(dim=0, unbiased=False).clamp_min(_EPS)
    centre = pooled.mean(dim=0)
    return ecf_statistic((a - centre) / scale, (b - centre) / scale, t, weights).mean()

