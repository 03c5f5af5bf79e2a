"""Gradient solver of the linear coupled objective, through the torch backend of CoupledSAE.

The same losses (:mod:`skcosae.backend.losses`) and training loop
(:func:`skcosae.backend.train.train_coupled`) as :class:`~skcosae.CoupledSAE` train one
:class:`~skcosae.backend.sae.DenseLinearAE` per view. The whitening constraint
``W_i^T S_ii W_i = I`` of the linear objective is built into the encoder rather than
penalised: ``W_i = S_ii^{-1/2} Q_i`` with ``Q_i`` kept on the Stiefel manifold (orthonormal
columns) by :func:`torch.nn.utils.parametrizations.orthogonal`, so every iterate is
feasible. Decoders are free.

Torch is imported here only; :mod:`skcosae.linear` imports this module on demand.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch.nn.utils.parametrizations import orthogonal

from .._typing import RandomState
from ..backend.model import PerViewModel
from ..backend.plan import DEFAULTS, TrainingPlan
from ..backend.sae import DenseLinearAE
from ..backend.train import train_coupled

__all__ = ["WhitenedLinearAE", "solve_gradient"]

# Fractions of the epochs run at learning_rate, learning_rate / 10 and learning_rate / 100:
# Adam at a constant step hovers around the minimum at a distance set by the step, and the
# closed forms are compared with the result to a few 1e-3.
_STAGES = ((0.6, 1.0), (0.25, 0.1), (0.15, 0.01))


class WhitenedLinearAE(DenseLinearAE):
    """:class:`DenseLinearAE` whose encoder is ``W = R Q``, ``R`` fixed, ``Q^T Q = I``.

    With ``R = S^{-1/2}`` (``S`` the view's covariance) every encoder satisfies the whitening
    constraint ``W^T S W = I``; ``R = I`` keeps orthonormal encoders (a view already white).
    """

    def __init__(self, d: int, m: int, whitener: np.ndarray, *,
                 generator: torch.Generator | None = None) -> None:
        super().__init__(d, m, generator=generator)
        # Double precision before the parametrisation is registered: it stores an orthogonal
        # base in the parameter's dtype, and a float32 base is orthogonal to 1e-7 only.
        self.double()
        with torch.no_grad():
            start, _ = torch.linalg.qr(torch.randn(d, m, generator=generator, dtype=torch.float64))
            self.W.copy_(start)
        self.register_buffer("whitener", torch.as_tensor(whitener, dtype=torch.float64))
        orthogonal(self, "W")

    def encoder(self) -> torch.Tensor:
        """The effective encoder ``R Q`` of shape (d, m)."""
        return self.whitener @ self.W

    def encode(self, x: torch.Tensor, view: int = 0, *, training: bool = False,
               sparse: bool = False) -> torch.Tensor:
        z = x @ self.encoder()
        return z.to_sparse_csr() if sparse else z


class _WhitenedCodesModel(PerViewModel):
    """Per-view linear autoencoders whose codes have identity covariance.

    ``cc`` is divided by the code's variance: with whitened encoders that is ``m`` for every
    view, whatever the scale of the data.
    """

    def code_variances(self, variances: Sequence[float]) -> list[float]:
        return [float(module.m) for module in self.views]


def solve_gradient(views: Sequence[np.ndarray], whiteners: Sequence[np.ndarray],
                   n_components: int, weights: Mapping[str, float], pair_mask: np.ndarray,
                   variances: Sequence[float], *, max_epochs: int, batch_size: int | None,
                   learning_rate: float, seed: int, n_slices: int = 64,
                   ) -> tuple[list[np.ndarray], list[np.ndarray], list[dict], str]:
    """Minimise the linear coupled objective by Adam over feasible (whitened) encoders.

    Parameters
    ----------
    views : list of ndarray of shape (n, d_i)
        Centred views, in the coordinates where the errors are Euclidean.
    whiteners : list of ndarray of shape (d_i, d_i)
        ``S_ii^{-1/2}`` of each view in those coordinates.
    weights : dict
        Loss name -> weight.
    variances : list of float
        Total variance of each view (the normalisation of the error terms).
    max_epochs, batch_size, learning_rate, seed, n_slices
        As for :class:`~skcosae.CoupledSAE`; ``batch_size=None`` is one full batch.

    Returns
    -------
    encoders, decoders : list of ndarray of shape (d_i, n_components)
    history : list of dict
        One row per epoch (the backend's records, stages concatenated).
    stop_reason : str
    """
    generator = torch.Generator().manual_seed(int(seed))
    # The orthogonal parametrisation completes its base with torch's global generator: seed
    # it in a forked state so that random_state fixes the fit and the caller's stream stays.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        modules = [WhitenedLinearAE(v.shape[1], n_components, R, generator=generator)
                   for v, R in zip(views, whiteners)]
    model = _WhitenedCodesModel(modules)
    tensors = [torch.as_tensor(v, dtype=torch.float64) for v in views]
    with torch.no_grad():
        # Decoders start at the least-squares readout of the random initial encoder (S W):
        # a random decoder fed into another view's whitening encoder blows up along that
        # view's low-variance directions (cycle terms start at 1e3 on ill-conditioned views).
        for module, x in zip(modules, tensors):
            module.V.copy_(x.T @ (x @ module.encoder()) / x.shape[0])
    n = views[0].shape[0]
    batch = n if batch_size is None else int(batch_size)
    optimizer, history, stop_reason, done = None, [], "completed", 0
    for index, (share, factor) in enumerate(_STAGES):
        epochs = (max_epochs - done if index == len(_STAGES) - 1
                  else max(1, int(round(share * max_epochs))))
        epochs = min(epochs, max_epochs - done)
        if epochs <= 0:
            continue
        if optimizer is not None:
            for group in optimizer.param_groups:
                group["lr"] = learning_rate * factor
        plan = TrainingPlan(
            views=tensors, pair_mask=np.asarray(pair_mask, dtype=bool),
            weights={name: w for name, w in weights.items() if w > 0},
            variances=variances, device="cpu", max_epochs=epochs, batch_size=batch,
            learning_rate=learning_rate * factor, seed=int(seed) + index, n_slices=n_slices,
            aux_weight=0.0, dead_steps=DEFAULTS["dead_steps"],
        )
        result = train_coupled(model, plan, optimizer=optimizer)
        optimizer = result.optimizer
        for row in result.history:
            history.append({**row, "epoch": row["epoch"] + done})
        done += result.n_epochs
        if result.stop_reason != "completed":
            stop_reason = result.stop_reason
            break
    with torch.no_grad():
        encoders = [m.encoder().numpy().copy() for m in modules]
        decoders = [m.V.detach().numpy().copy() for m in modules]
    return encoders, decoders, history, stop_reason


def dist_terms(views: Sequence[np.ndarray], encoders: Sequence[np.ndarray],
               decoders: Sequence[np.ndarray], weights: Mapping[str, float], *,
               n_slices: int = 64, seed: int = 0) -> dict[str, float]:
    """The distributional terms (``dist_trans``, ``dist_cc``) of fitted linear maps.

    Evaluated with the backend's ECF losses on all rows at once (the gradient solver sees
    them per batch); ``dist_trans`` draws ``n_slices`` directions from ``seed``.
    """
    generator = torch.Generator().manual_seed(int(seed))
    xs = [torch.as_tensor(v, dtype=torch.float64) for v in views]
    codes = [x @ torch.as_tensor(W, dtype=torch.float64) for x, W in zip(xs, encoders)]
    from ..backend import losses as L

    terms = {}
    n_views = len(views)
    if "dist_trans" in weights:
        terms["dist_trans"] = float(sum(
            L.distributional_translation_loss(
                codes[i] @ torch.as_tensor(decoders[j], dtype=torch.float64).T, xs[j],
                n_slices=n_slices, generator=generator)
            for i in range(n_views) for j in range(n_views) if i != j))
    if "dist_cc" in weights:
        terms["dist_cc"] = float(sum(
            L.distributional_concept_loss(codes[i], codes[j])
            for i in range(n_views) for j in range(i + 1, n_views)))
    return terms


def as_numpy_seed(random_state: RandomState) -> int:
    """An int seed from a ``random_state`` (int, RandomState or None)."""
    from sklearn.utils import check_random_state

    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
