"""The loss terms of the coupled objective, as small pure functions of tensors.

The paper leaves the normalisations open; these are skcosae's choices (docs: Method):

- Instance-wise errors (``rec``, ``trans``, ``cycle``) are the mean over rows of the squared L2
  error divided by the target view's total variance (the trace of its covariance), computed
  once on the training data by the caller. A model that predicts the view's mean scores 1,
  whatever the view's width or scale, so views of different scale weigh the same.
- ``cc`` is the mean over paired rows of ``||z_a - z_b||^2`` divided by a ``scale`` given by the
  caller; the training loop passes the mean of the two views' total variances, since unit-norm
  decoder atoms make a code's squared norm comparable with its view's variance.
- The distributional terms compare one-dimensional samples with the empirical characteristic
  function (ECF) statistic ``int |phi_a(t) - phi_b(t)|^2 w(t) dt`` on a fixed grid of ``t``
  (:func:`default_t_grid`: 17 points on ``[0, 3]``, trapezoid rule, Gaussian weight
  ``exp(-t^2 / 2)``, doubled for the negative half-line since the integrand is even, as in
  LeJEPA's Epps-Pulley test). Unlike LeJEPA the statistic is *not* multiplied by the sample
  size: it is a distance between laws, so its scale does not change with the batch size.
- ``dist_trans`` slices both samples along random unit directions of the target view, drawn
  afresh on every call, and divides each slice by the real sample's standard deviation along
  it (detached: the scale is a fixed yardstick, not something to optimise), so the fixed
  ``t`` grid means the same thing whatever the scale of a view.
- ``dist_cc`` uses the canonical axes of the concept space that are active somewhere in the
  batch; both codes have a claim to be the reference, so each axis is divided by the
  standard deviation of the two samples pooled (detached).
- Constant slices or axes are divided by ``max(std, 1e-8)``, never by 0.

Memory of the ECF form is ``O(n * S * T)`` for ``n`` rows, ``S`` slices and ``T`` grid points:
no ``n x n`` matrix is formed, whatever the batch size.

Proposition 3 of the paper: with ``k(u, v) = sum_t w_t cos(t (u - v))`` the ECF statistic on a
grid equals the squared MMD under ``k`` exactly; :func:`mmd_statistic` computes that form (and
is quadratic in memory: a check, not a training loss). With the exact integral over the whole
line and ``w(t) = exp(-t^2 / 2)``, ``k(u, v) = sqrt(2 pi) exp(-(u - v)^2 / 2)``, so the ECF
distance is ``sqrt(2 pi)`` times the squared MMD of :func:`gaussian_mmd_statistic`; the default
grid truncated at ``t = 3`` approximates it.
"""

from __future__ import annotations

import torch

from .data import host_to_device

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
    if target.shape != estimate.shape:
        raise ValueError(
            f"the target has shape {tuple(target.shape)} but the estimate has shape "
            f"{tuple(estimate.shape)}; they must match."
        )
    return ((target - estimate) ** 2).sum(dim=1).mean() / variance


def reconstruction_loss(x, x_hat, variance):
    """Reconstruction term ``mean_rows ||x - x_hat||^2 / variance`` (Eq. 3).

    Parameters
    ----------
    x, x_hat : Tensor of shape (n, d)
        A view's rows and their reconstruction ``D_i(E_i(x_i))``.
    variance : float or 0-d Tensor
        The view's total variance (trace of its covariance), computed once by the caller.

    Returns
    -------
    loss : 0-d Tensor

    Examples
    --------
    >>> import torch
    >>> x = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> float(reconstruction_loss(x, torch.zeros(2, 2), variance=2.0))
    7.5
    """
    return _mean_squared_error(x, x_hat, variance)


def translation_loss(x_target, x_translated, variance):
    """Translation term ``mean_pairs ||x_j - D_j(E_i(x_i))||^2 / variance_j`` (Eq. 4).

    Parameters
    ----------
    x_target, x_translated : Tensor of shape (n_pairs, d_j)
        The target view's paired rows and their translation from the source view.
    variance : float or 0-d Tensor
        The target view's total variance.

    Returns
    -------
    loss : 0-d Tensor
    """
    return _mean_squared_error(x_target, x_translated, variance)


def cycle_loss(x, x_cycle, variance):
    """Cycle term ``mean_rows ||x_i - D_i(E_j(D_j(E_i(x_i))))||^2 / variance_i`` (Eq. 5).

    Parameters
    ----------
    x, x_cycle : Tensor of shape (n, d_i)
        A view's rows and their image after the round trip through another view.
    variance : float or 0-d Tensor
        The view's total variance.

    Returns
    -------
    loss : 0-d Tensor
    """
    return _mean_squared_error(x, x_cycle, variance)


def concept_consistency_loss(z_a, z_b, scale):
    """Concept-consistency term ``mean_pairs ||z_a - z_b||^2 / scale`` (Eq. 6).

    Parameters
    ----------
    z_a, z_b : Tensor of shape (n_pairs, m)
        Codes of the same rows from two views.
    scale : float or 0-d Tensor
        Normaliser chosen by the caller (the training loop: the mean of the two views'
        total variances).

    Returns
    -------
    loss : 0-d Tensor
    """
    return _mean_squared_error(z_a, z_b, scale)


def default_t_grid(n_points=17, t_max=3.0, *, device=None, dtype=torch.float32):
    """Grid ``t`` on ``[0, t_max]`` and its quadrature weights for the whole real line.

    The weights combine the trapezoid rule, the Gaussian weight ``exp(-t^2 / 2)`` and a
    factor 2 for the negative half-line (the ECF integrand is even in ``t``), so that
    ``sum_t weights * f(t)`` approximates ``int_R f(t) exp(-t^2 / 2) dt`` for an even ``f``.

    Parameters
    ----------
    n_points : int, default=17
        Number of grid points (at least 2).
    t_max : float, default=3.0
        Last grid point.
    device, dtype : torch device and dtype of the returned tensors.

    Returns
    -------
    t, weights : Tensor of shape (n_points,)

    Examples
    --------
    >>> import math, torch
    >>> t, w = default_t_grid(n_points=2001, t_max=10.0, dtype=torch.float64)
    >>> round(float(w.sum()), 6) == round(math.sqrt(2 * math.pi), 6)
    True
    """
    if int(n_points) < 2 or not t_max > 0:
        raise ValueError(
            f"the t grid needs n_points >= 2 and t_max > 0; got n_points={n_points}, "
            f"t_max={t_max}."
        )
    t = torch.linspace(0.0, t_max, int(n_points), device=device, dtype=dtype)
    step = t_max / (int(n_points) - 1)
    trapezoid = torch.full_like(t, step)
    trapezoid[0] = trapezoid[-1] = step / 2
    return t, 2.0 * trapezoid * torch.exp(-(t**2) / 2)


def _grid(t, weights, like):
    if t is None and weights is None:
        return default_t_grid(device=like.device, dtype=like.dtype)
    if t is None or weights is None:
        raise ValueError("pass both t and weights (e.g. from default_t_grid), or neither.")
    t, weights = torch.as_tensor(t).to(like), torch.as_tensor(weights).to(like)
    if t.ndim != 1 or t.shape != weights.shape:
        raise ValueError(
            f"t and weights must be 1-D of one length; got shapes {tuple(t.shape)} and "
            f"{tuple(weights.shape)}."
        )
    return t, weights


def _check_samples(a, b):
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(
            f"the two samples must be 2-D with the same number of columns (one per slice); "
            f"got shapes {tuple(a.shape)} and {tuple(b.shape)}."
        )
    if a.shape[0] == 0 or b.shape[0] == 0:
        raise ValueError(
            f"each sample needs at least one row; got {a.shape[0]} and {b.shape[0]} rows."
        )


def ecf_statistic(a, b, t=None, weights=None):
    """ECF two-sample statistic of each column of ``a`` against the same column of ``b``.

    ``sum_t w_t |phi_a(t) - phi_b(t)|^2`` with ``phi_a(t) = mean_l exp(i t a_l)``: the
    quadrature of ``int |phi_a - phi_b|^2 w(t) dt``. Memory is ``O((n + n') * S * T)``.

    Parameters
    ----------
    a : Tensor of shape (n, S)
    b : Tensor of shape (n', S)
        Two samples of ``S`` one-dimensional variables (slices); ``n`` and ``n'`` may differ.
    t, weights : Tensor of shape (T,), optional
        Grid and quadrature weights; :func:`default_t_grid` when both are omitted.

    Returns
    -------
    statistic : Tensor of shape (S,)
        Non-negative; 0 when the two samples have the same empirical law.

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> a = torch.randn(2000, 1, generator=g)
    >>> float(ecf_statistic(a, a))
    0.0
    >>> bool(ecf_statistic(a, a + 1.0) > 100 * ecf_statistic(a, torch.randn(2000, 1, generator=g)))
    True
    """
    _check_samples(a, b)
    t, weights = _grid(t, weights, a)

    def characteristic(x):
        phase = x.unsqueeze(-1) * t  # (n, S, T): linear in the number of rows
        return torch.cos(phase).mean(0), torch.sin(phase).mean(0)

    real_a, imag_a = characteristic(a)
    real_b, imag_b = characteristic(b)
    return (((real_a - real_b) ** 2 + (imag_a - imag_b) ** 2) * weights).sum(-1)


def _mmd(a, b, kernel):
    def mean_kernel(u, v):
        return kernel(u.unsqueeze(1) - v.unsqueeze(0)).mean((0, 1))  # (n, n', S) differences

    return mean_kernel(a, a) + mean_kernel(b, b) - 2 * mean_kernel(a, b)


def mmd_statistic(a, b, t=None, weights=None):
    """Squared MMD of each column under ``k(u, v) = sum_t w_t cos(t (u - v))``.

    The kernel form of :func:`ecf_statistic` on the same grid (Proposition 3): expanding
    ``|phi_a - phi_b|^2`` gives the three mean-kernel terms, so the two agree up to
    round-off. It forms all pairwise differences, so its memory is quadratic in the
    sample size: for tests and small samples only.

    Parameters
    ----------
    a, b, t, weights : as in :func:`ecf_statistic`.

    Returns
    -------
    statistic : Tensor of shape (S,)

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> a, b = torch.randn(30, 2, generator=g).double(), torch.randn(20, 2, generator=g).double()
    >>> torch.allclose(mmd_statistic(a, b), ecf_statistic(a, b), rtol=1e-10, atol=1e-14)
    True
    """
    _check_samples(a, b)
    t, weights = _grid(t, weights, a)
    return _mmd(a, b, lambda diff: (torch.cos(diff.unsqueeze(-1) * t) * weights).sum(-1))


def gaussian_mmd_statistic(a, b, bandwidth=1.0):
    """Squared MMD of each column under the Gaussian kernel ``exp(-(u - v)^2 / (2 h^2))``.

    With the exact integral over the whole line and ``w(t) = exp(-t^2 / 2)``, the ECF
    statistic equals ``sqrt(2 pi)`` times this quantity at ``bandwidth=1`` (the Fourier
    transform of the weight is ``sqrt(2 pi) exp(-s^2 / 2)``). Quadratic memory.

    Parameters
    ----------
    a, b : Tensor of shape (n, S) and (n', S)
    bandwidth : float, default=1.0
        The kernel's width ``h``.

    Returns
    -------
    statistic : Tensor of shape (S,)
    """
    _check_samples(a, b)
    return _mmd(a, b, lambda diff: torch.exp(-(diff**2) / (2 * bandwidth**2)))


def _random_directions(d, n_slices, generator, like):
    if int(n_slices) < 1:
        raise ValueError(f"n_slices must be a positive integer; got {n_slices!r}.")
    # Drawn on the CPU so that one generator gives the same directions on every device.
    directions = torch.randn(d, int(n_slices), generator=generator, dtype=torch.float64)
    directions = directions / directions.norm(dim=0, keepdim=True).clamp_min(_EPS)
    return host_to_device(directions.to(like.dtype), like.device)


def _at_least_float32(t):
    return t.float() if t.dtype in (torch.float16, torch.bfloat16) else t


def _standardise(a, b, reference):
    # A common shift leaves |phi_a - phi_b| unchanged; centring only helps float32 phases.
    reference = reference.detach()
    centre = reference.mean(dim=0)
    scale = reference.std(dim=0, unbiased=False).clamp_min(_EPS)
    return (a - centre) / scale, (b - centre) / scale


def distributional_translation_loss(p, q, n_slices=256, generator=None, t=None, weights=None):
    """Sliced ECF distance between translated rows ``p`` and real rows ``q`` (Eq. 23-24).

    ``n_slices`` random unit directions of ``R^d`` are drawn on every call; both samples are
    projected on each, the projections are divided by ``q``'s standard deviation along it
    (detached), and the ECF statistics of the slices are averaged.

    Parameters
    ----------
    p : Tensor of shape (n, d)
        Translated rows ``D_j(E_i(x_i))``.
    q : Tensor of shape (n', d)
        Real rows ``x_j`` of the target view (``n'`` may differ from ``n``).
    n_slices : int, default=256
        Number of random directions.
    generator : torch.Generator, optional
        CPU generator of the directions, for reproducibility; the global one otherwise.
    t, weights : Tensor of shape (T,), optional
        ECF grid; :func:`default_t_grid` when omitted.

    Returns
    -------
    loss : 0-d Tensor

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> q = torch.randn(500, 3, generator=g)
    >>> float(distributional_translation_loss(q, q, n_slices=8, generator=g))
    0.0
    """
    _check_samples(p, q)
    # Phases of the ECF need float32 projections, under bf16 autocast too.
    p, q = _at_least_float32(p), _at_least_float32(q)
    directions = _random_directions(q.shape[1], n_slices, generator, q)
    with torch.autocast(device_type=q.device.type, enabled=False):
        slice_p, slice_q = _standardise(p @ directions, q @ directions, q @ directions)
        return ecf_statistic(slice_p, slice_q, t, weights).mean()


def distributional_concept_loss(z_a, z_b, t=None, weights=None):
    """ECF distance between two views' codes on the concept axes active in the batch (Eq. 25).

    An axis is kept when it is non-zero in at least one row of either sample; each kept axis
    is divided by the standard deviation of the two samples pooled (detached), and the ECF
    statistics of the kept axes are averaged.

    Parameters
    ----------
    z_a : Tensor of shape (n, m)
    z_b : Tensor of shape (n', m)
        Codes ``E_i(x_i)`` and ``E_j(x_j)`` of all rows of a batch (no pairing needed).
    t, weights : Tensor of shape (T,), optional
        ECF grid; :func:`default_t_grid` when omitted.

    Returns
    -------
    loss : 0-d Tensor
        0 when no axis is active (still attached to the graph, so ``backward`` works).

    Examples
    --------
    >>> import torch
    >>> z = torch.relu(torch.randn(100, 6, generator=torch.Generator().manual_seed(0)))
    >>> float(distributional_concept_loss(z, z.flip(0)))
    0.0
    """
    _check_samples(z_a, z_b)
    active = (z_a.detach() != 0).any(0) | (z_b.detach() != 0).any(0)
    if not bool(active.any()):
        return (z_a.sum() + z_b.sum()) * 0.0
    a, b = z_a[:, active], z_b[:, active]
    a, b = _standardise(a, b, torch.cat([a, b]))
    return ecf_statistic(a, b, t, weights).mean()
