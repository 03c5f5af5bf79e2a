"""The training loop of the coupled model (torch only; knows nothing of scikit-learn).

Batches and pairs
-----------------
``pair_mask`` marks the rows whose pairing across views is known. Each epoch shuffles the
rows; a paired row keeps its index in every view, while the unpaired rows are drawn through
an independent permutation per view, so an unpaired row of one view never meets its own
counterpart in another view: unpaired rows are never used as pairs.

Instance-wise terms (``trans``, ``cc``) see only the paired rows of a batch. When pairs are
rare (fewer than half the rows), every step appends a *pair batch* drawn from the paired rows
(``min(n_pairs, batch_size // 4)`` rows), so that a handful of anchor pairs (the paper's "1 in 1000")
is seen at every step; the all-row terms (``rec``, ``cycle``, distributional) use every row
of the step.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from . import losses as L
from .model import as_coupled_model

__all__ = ["INSTANCE_LOSSES", "LOSS_NAMES", "TrainResult", "batch_losses", "train_coupled"]

LOSS_NAMES = ("rec", "trans", "cycle", "cc", "dist_trans", "dist_cc")
INSTANCE_LOSSES = ("trans", "cc")


@dataclass
class TrainResult:
    """What a call of :func:`train_coupled` did."""

    history: list = field(default_factory=list)
    n_epochs: int = 0
    n_steps: int = 0
    stop_reason: str = "completed"  # "completed", "diverged" or "interrupted"
    optimizer: object = None  # the optimiser used, to continue training (warm start)


def _pairs(n_views):
    return [(i, j) for i in range(n_views) for j in range(n_views) if i != j]


def batch_losses(model, xs, paired, weights, *, variances, n_slices=32, generator=None,
                 training=True, source_view=None, aux_weight=0.0, dead_steps=1000):
    """Each loss term of one batch (unweighted), as a dict of scalar tensors.

    Parameters
    ----------
    model : CoupledModel, or a list of per-view modules with ``encode``/``decode``
    xs : list of Tensor of shape (B, d_i)
        The batch of every view; row r of two views is a pair only where ``paired[r]``.
    paired : bool Tensor of shape (B,)
        Rows of the batch that are known pairs; instance-wise terms see only these.
    weights : dict
        Loss name -> weight; terms with weight 0 or absent are not computed.
    variances : list of float
        Total variance of each view (the normalisation of SPEC section 3). ``cc`` compares
        codes, which a :class:`CoupledModel` computes from inputs it has standardised itself:
        its scale is the mean of the two views' variances *as the encoders see them*
        (``model.code_variances``), so that rescaling the data leaves every term unchanged.
    n_slices : int
        Random directions of ``dist_trans`` and random active concept axes of ``dist_cc``
        drawn at each step.
    source_view : int, optional
        USAE: only this view is encoded; it is decoded into every view.
    """
    model = as_coupled_model(model)
    n_views = len(xs)
    wanted = {name for name, w in weights.items() if w > 0}
    terms = {}
    any_pairs = bool(paired.any())
    all_pairs = bool(paired.all())

    def pairs_of(t):
        # Indexing copies (and its backward scatters) a whole batch: skip it when every row
        # of the batch is a pair.
        return t if all_pairs else t[paired]

    if wanted & set(INSTANCE_LOSSES) and not any_pairs and not model.is_crosscoder:
        # Keep the graph shape: no pair in this batch contributes nothing.
        for name in wanted & set(INSTANCE_LOSSES):
            terms[name] = xs[0].new_zeros(())

    if model.is_crosscoder:
        # The shared code needs every view of a row: train on the paired rows only.
        sub = [pairs_of(x) for x in xs]
        z = model.encode_shared(sub, training)
        terms["rec"] = sum(L.reconstruction_loss(x, model.decode(z, j), variances[j])
                           for j, x in enumerate(sub))
        if aux_weight > 0:
            terms["aux"] = sum(model.aux_loss(x, z, j, variances[j], dead_steps)
                               for j, x in enumerate(sub))
        return terms

    sources = range(n_views) if source_view is None else [source_view]
    codes = {i: model.encode(xs[i], i, training) for i in sources}
    if "rec" in wanted:
        terms["rec"] = sum(L.reconstruction_loss(xs[i], model.decode(codes[i], i), variances[i])
                           for i in sources)
    if aux_weight > 0 and model.is_sparse:
        terms["aux"] = sum(model.aux_loss(xs[i], codes[i], i, variances[i], dead_steps)
                           for i in sources)
    targets = [(i, j) for i, j in _pairs(n_views) if i in codes]
    if "trans" in wanted and any_pairs:
        terms["trans"] = sum(
            L.translation_loss(pairs_of(xs[j]), model.decode(pairs_of(codes[i]), j), variances[j])
            for i, j in targets
        )
    if "cycle" in wanted:
        total = 0.0
        for i, j in targets:
            back = model.decode(model.encode(model.decode(codes[i], j), j, training), i)
            total = total + L.cycle_loss(xs[i], back, variances[i])
        terms["cycle"] = total
    if "cc" in wanted and any_pairs:
        code_var = model.code_variances(variances)
        terms["cc"] = sum(
            L.concept_consistency_loss(pairs_of(codes[i]), pairs_of(codes[j]),
                                       0.5 * (code_var[i] + code_var[j]))
            for i, j in targets if i < j and j in codes
        )
    if "dist_trans" in wanted:
        terms["dist_trans"] = sum(
            L.distributional_translation_loss(model.decode(codes[i], j), xs[j],
                                              n_slices=n_slices, generator=generator)
            for i, j in targets
        )
    if "dist_cc" in wanted:
        terms["dist_cc"] = sum(
            L.distributional_concept_loss(*_sampled_axes(codes[i], codes[j], n_slices, generator))
            for i, j in targets if i < j
        )
    return terms


def _sampled_axes(z_a, z_b, n_axes, generator):
    """Both codes restricted to at most ``n_axes`` concept axes drawn among the active ones.

    ``dist_cc`` is a mean over the axes active in the batch; a uniform draw of them is an
    unbiased estimate at a bounded cost (a batch of 256 rows with k=8 activates most of 512
    axes, and the ECF over all of them took 6 times the rest of a CoSAE step), just as
    ``dist_trans`` draws ``n_slices`` random directions.
    """
    active = torch.nonzero((z_a.detach() != 0).any(0) | (z_b.detach() != 0).any(0)).flatten()
    if len(active) > n_axes:
        pick = torch.randperm(len(active), generator=generator)[:n_axes]
        active = active[pick.to(active.device)]
    return z_a[:, active], z_b[:, active]


def _epoch_batches(n, pair_index, unpaired_index, n_views, batch_size, rng, pair_batch):
    """Row indices of each view for every step of one epoch, and the paired flags."""
    order = rng.permutation(n)
    is_paired = np.zeros(n, dtype=bool)
    is_paired[pair_index] = True
    # Position of each unpaired row in the unpaired list, and one permutation per view.
    rank = np.full(n, -1)
    rank[unpaired_index] = np.arange(len(unpaired_index))
    view_perms = [np.arange(len(unpaired_index))] + [
        rng.permutation(len(unpaired_index)) for _ in range(n_views - 1)
    ]
    for start in range(0, n, batch_size):
        rows = order[start:start + batch_size]
        paired = is_paired[rows]
        per_view = []
        for perm in view_perms:
            idx = rows.copy()
            idx[~paired] = unpaired_index[perm[rank[rows[~paired]]]]
            per_view.append(idx)
        if pair_batch:
            extra = rng.choice(pair_index, size=min(len(pair_index), max(1, batch_size // 4)),
                               replace=False)
            per_view = [np.concatenate([idx, extra]) for idx in per_view]
            paired = np.concatenate([paired, np.ones(len(extra), dtype=bool)])
        yield per_view, paired


def train_coupled(model, views, pair_mask, weights, *, max_epochs=20, batch_size=512,
                  learning_rate=1e-3, seed=0, n_slices=32, aux_weight=1 / 32,
                  dead_steps=1000, optimizer=None, callback=None, variances=None):
    """Fit ``model`` on ``views`` with the weighted losses; return a :class:`TrainResult`.

    Parameters
    ----------
    model : CoupledModel, or a list of per-view modules
        A list (e.g. of :class:`~skcosae.backend.sae.DenseLinearAE`) is wrapped in a
        :class:`~skcosae.backend.model.PerViewModel`; each module needs ``encode(x,
        training)`` and ``decode(z)``.
    views : list of Tensor of shape (n, d_i)
        Training data, already on the model's device.
    pair_mask : ndarray of bool of shape (n,)
    weights : dict
        Loss name -> weight (see :data:`LOSS_NAMES`).
    optimizer : torch.optim.Optimizer, optional
        Continue with this optimiser (warm start); a new Adam otherwise. The one used is
        stored on the result as ``result.optimizer``.
    callback : callable, optional
        Called as ``callback(epoch, row)`` after every epoch with that epoch's mean losses;
        it may raise ``KeyboardInterrupt`` (as a Ctrl-C would) to stop training.

    Divergence (a NaN or infinite loss) and ``KeyboardInterrupt`` stop training, restore the
    weights of the last completed epoch and set ``stop_reason``.
    """
    model = as_coupled_model(model)
    n_views, n = len(views), views[0].shape[0]
    pair_mask = np.asarray(pair_mask, dtype=bool)
    pair_index = np.flatnonzero(pair_mask)
    unpaired_index = np.flatnonzero(~pair_mask)
    if variances is None:
        variances = [float(x.var(0, unbiased=False).sum().clamp_min(1e-12)) for x in views]
    rng = np.random.default_rng(seed)
    generator = torch.Generator().manual_seed(int(seed))
    usae = model.architecture == "usae"
    pair_batch = len(pair_index) > 0 and len(pair_index) < n / 2 and not model.is_crosscoder
    if model.is_crosscoder:
        # A crosscoder trains on pairs only: its epochs run over the paired rows.
        views = [x[torch.as_tensor(pair_index, device=x.device)] for x in views]
        n, pair_mask = len(pair_index), np.ones(len(pair_index), dtype=bool)
        pair_index, unpaired_index = np.arange(n), np.array([], dtype=int)
    if optimizer is None:
        optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    result = TrainResult()
    result.optimizer = optimizer
    good_state = copy.deepcopy(model.state_dict())
    good_optim = copy.deepcopy(optimizer.state_dict())
    device = views[0].device
    try:
        for epoch in range(max_epochs):
            sums, n_batches = {}, 0
            started = time.perf_counter()
            for per_view, paired in _epoch_batches(n, pair_index, unpaired_index, n_views,
                                                    batch_size, rng, pair_batch):
                xs = [x[torch.as_tensor(idx, device=device)] for x, idx in zip(views, per_view)]
                paired_t = torch.as_tensor(paired, device=device)
                source = int(rng.integers(n_views)) if usae else None
                terms = batch_losses(model, xs, paired_t, weights, variances=variances,
                                     n_slices=n_slices, generator=generator, training=True,
                                     source_view=source, aux_weight=aux_weight,
                                     dead_steps=dead_steps)
                total = sum(weights.get(name, 0.0) * value for name, value in terms.items()
                            if name != "aux")
                if "aux" in terms:
                    total = total + aux_weight * terms["aux"]
                if not torch.isfinite(total):
                    raise FloatingPointError(f"loss is {float(total.detach())} at epoch {epoch + 1}")
                optimizer.zero_grad(set_to_none=True)
                total.backward()
                model.after_backward()
                optimizer.step()
                model.after_step()
                result.n_steps += 1
                n_batches += 1
                for name, value in terms.items():
                    sums[name] = sums.get(name, 0.0) + float(value.detach())
                sums["total"] = sums.get("total", 0.0) + float(total.detach())
            row = {"epoch": epoch + 1, **{name: s / n_batches for name, s in sums.items()},
                   "seconds": time.perf_counter() - started}
            if not all(math.isfinite(v) for v in row.values()):
                raise FloatingPointError(f"loss is not finite at epoch {epoch + 1}")
            good_state = copy.deepcopy(model.state_dict())
            good_optim = copy.deepcopy(optimizer.state_dict())
            result.history.append(row)
            result.n_epochs = epoch + 1
            if callback is not None:
                callback(epoch + 1, row)
    except FloatingPointError:
        result.stop_reason = "diverged"
    except KeyboardInterrupt:
        result.stop_reason = "interrupted"
    if result.stop_reason != "completed":
        model.load_state_dict(good_state)
        optimizer.load_state_dict(good_optim)
    return result
