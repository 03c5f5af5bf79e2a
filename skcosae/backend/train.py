"""The training loop of the coupled model (torch only; knows nothing of scikit-learn).

:func:`train_coupled` runs a :class:`~skcosae.backend.plan.TrainingPlan`: the batches come
from :mod:`skcosae.backend.data` (pairs keep their index across views, unpaired rows are
dealt to each view independently, rare pairs ride along with every step), the losses from
:func:`batch_losses`. Loss terms accumulate on the device and are read on the host every
``log_every`` steps and at the end of each epoch, which is where divergence is caught.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from . import losses as L
from .checkpoint import save_checkpoint
from .data import DeviceViews, StreamedViews, host_to_device, plan_epoch
from .distributed import DataParallel
from .model import as_coupled_model
from .plan import DEFAULTS, INSTANCE_LOSSES, LOSS_NAMES, TrainingPlan
from .sae import active_codes, waits_for_device
from .schedule import Schedule

__all__ = ["INSTANCE_LOSSES", "LOSS_NAMES", "TrainResult", "TrainingPlan", "batch_losses",
           "train_coupled"]


@dataclass
class TrainResult:
    """What a call of :func:`train_coupled` did."""

    history: list = field(default_factory=list)  # this call's epochs, numbered in all
    n_epochs: int = 0
    n_steps: int = 0
    # "completed" (max_epochs), "converged", "diverged" or "interrupted"
    stop_reason: str = "completed"
    optimizer: object = None  # the optimiser used, to continue training (warm start)


def _pairs(n_views):
    return [(i, j) for i in range(n_views) for j in range(n_views) if i != j]


def batch_losses(model, xs, paired, weights, *, variances, n_slices=DEFAULTS["n_slices"],
                 generator=None, training=False, source_view=None, aux_weight=0.0,
                 dead_steps=DEFAULTS["dead_steps"], pair_index=None):
    """Each loss term of one batch (unweighted), as a dict of scalar tensors.

    Parameters
    ----------
    model : CoupledModel, or a list of per-view modules with ``encode``/``decode``
    xs : list of Tensor of shape (B, d_i)
        The batch of every view; row r of two views is a pair only where ``paired[r]``.
    paired : bool Tensor or ndarray of shape (B,)
        Rows of the batch that are known pairs; instance-wise terms see only these.
    weights : dict
        Loss name -> weight; terms with weight 0 or absent are not computed.
    variances : list of float
        Total variance of each view (the normalisation of every term; docs: Method).
        ``cc`` compares
        codes, which a :class:`CoupledModel` computes from inputs it has standardised itself:
        its scale is the mean of the two views' variances *as the encoders see them*
        (``model.code_variances``), so that rescaling the data leaves every term unchanged.
    n_slices : int
        Random directions of ``dist_trans`` and random active concept axes of ``dist_cc``
        drawn at each step.
    training : bool, default=False
        Encode as in training (BatchTopK over the batch), which also updates the model's
        inference threshold and dead-concept counters; False leaves the model unchanged.
    source_view : int, optional
        USAE: only this view is encoded; it is decoded into every view.
    pair_index : int64 Tensor, optional
        The positions of ``paired`` (a host array then) already on the device, as the
        training loop uploads them ahead of the step.
    """
    model = as_coupled_model(model)
    n_views = len(xs)
    wanted = {name for name, w in weights.items() if w > 0}
    terms = {}
    device = xs[0].device
    if isinstance(paired, np.ndarray):
        # Flags from the host copy: reading them from a device tensor would stall a GPU.
        any_pairs, all_pairs = bool(paired.any()), bool(paired.all())
        if pair_index is None:
            pair_index = torch.as_tensor(np.flatnonzero(paired), device=device)
    else:
        any_pairs, all_pairs = bool(paired.any()), bool(paired.all())
        pair_index = torch.nonzero(torch.as_tensor(paired, device=device)).flatten()

    def pairs_of(t):
        # Indexing copies (and its backward scatters) a whole batch: skip it when every row
        # of the batch is a pair.
        return t if all_pairs else t.index_select(0, pair_index)

    def translated_pairs(i, j):
        # Codes with their active entries decode every row for less than a dense decode of
        # the pairs' rows (selecting rows of the codes would lose the entries).
        if not all_pairs and active_codes(codes[i]) is not None:
            return pairs_of(model.decode(codes[i], j))
        return model.decode(pairs_of(codes[i]), j)

    if wanted & set(INSTANCE_LOSSES) and not any_pairs and not model.is_crosscoder:
        # Keep the graph shape: no pair in this batch contributes nothing.
        for name in wanted & set(INSTANCE_LOSSES):
            terms[name] = xs[0].new_zeros(())

    if model.is_crosscoder:
        # The shared code needs every view of a row: train on the paired rows only.
        sub = [pairs_of(x) for x in xs]
        z = model.encode_shared(sub, training=training)
        terms["rec"] = sum(L.reconstruction_loss(x, model.decode(z, j), variances[j])
                           for j, x in enumerate(sub))
        if aux_weight > 0:
            terms["aux"] = sum(model.aux_loss(x, z, j, variance=variances[j],
                                              dead_steps=dead_steps)
                               for j, x in enumerate(sub))
        return terms

    sources = range(n_views) if source_view is None else [source_view]
    codes = {i: model.encode(xs[i], i, training=training) for i in sources}
    if "rec" in wanted:
        terms["rec"] = sum(L.reconstruction_loss(xs[i], model.decode(codes[i], i), variances[i])
                           for i in sources)
    if aux_weight > 0 and model.is_sparse:
        terms["aux"] = sum(model.aux_loss(xs[i], codes[i], i, variance=variances[i],
                                          dead_steps=dead_steps)
                           for i in sources)
    targets = [(i, j) for i, j in _pairs(n_views) if i in codes]
    if "trans" in wanted and any_pairs:
        terms["trans"] = sum(
            L.translation_loss(pairs_of(xs[j]), translated_pairs(i, j), variances[j])
            for i, j in targets
        )
    if "cycle" in wanted:
        total = 0.0
        for i, j in targets:
            back = model.decode(model.encode(model.decode(codes[i], j), j, training=training), i)
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
            _sampled_concept_distance(codes[i], codes[j], n_slices, generator)
            for i, j in targets if i < j
        )
    return terms


def _sampled_concept_distance(z_a, z_b, n_axes, generator):
    """``dist_cc`` on at most ``n_axes`` concept axes drawn among those active in the batch."""
    if waits_for_device(z_a.device):
        return L.distributional_concept_loss(*_sampled_axes(z_a, z_b, n_axes, generator))
    # The same draw without reading the number of active axes: a random key for every
    # active axis, -1 for the others, and the axes of the n_axes largest keys; an inactive
    # axis drawn (when fewer than n_axes are active) is left out of the mean.
    active = (z_a.detach() != 0).any(0) | (z_b.detach() != 0).any(0)
    keys = host_to_device(torch.rand(active.numel(), generator=generator), z_a.device)
    axes = torch.topk(torch.where(active, keys, -1.0), min(n_axes, active.numel())).indices
    valid = active.index_select(0, axes).to(z_a.dtype)
    a, b = z_a.index_select(1, axes), z_b.index_select(1, axes)
    a, b = L._standardise(a, b, torch.cat([a, b]))
    statistic = L.ecf_statistic(a, b)
    return (statistic * valid).sum() / valid.sum().clamp_min(1.0)


def _sampled_axes(z_a, z_b, n_axes, generator):
    """Both codes restricted to at most ``n_axes`` concept axes drawn among the active ones.

    ``dist_cc`` is a mean over the axes active in the batch; a uniform draw of them is an
    unbiased estimate at a bounded cost (a batch of 256 rows with k=8 activates most of 512
    axes, and the ECF over all of them costs several times the rest of a CoSAE step), just
    as ``dist_trans`` draws ``n_slices`` random directions.
    """
    active = torch.nonzero((z_a.detach() != 0).any(0) | (z_b.detach() != 0).any(0)).flatten()
    if len(active) > n_axes:
        pick = torch.randperm(len(active), generator=generator)[:n_axes]
        active = active[pick.to(active.device)]
    return z_a[:, active], z_b[:, active]


def _snapshot(model, optimizer):
    return copy.deepcopy(model.state_dict()), copy.deepcopy(optimizer.state_dict())


def _autocast(precision, device):
    """The context of a step's forward pass: bfloat16 autocast for "bf16"."""
    if precision == "bf16":
        return torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


@contextlib.contextmanager
def _matmul_precision(precision):
    """TensorFloat-32 CUDA matrix products during the run for "tf32"; restored after."""
    if precision != "tf32":
        yield
        return
    previous = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("high")
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(previous)


def _new_optimizer(model, plan):
    # On CUDA one fused kernel updates every parameter (no per-tensor launches).
    fused = torch.device(plan.device).type == "cuda"
    return torch.optim.Adam(model.parameters(), lr=plan.learning_rate,
                            **({"fused": True} if fused else {}))


def held_out_objective(model, data, rows, pair_mask, plan):
    """The weighted training objective (without AuxK) of the sorted ``rows``, at inference.

    The rows go in batches of about ``plan.batch_size``; the distributional terms draw
    their random directions from a generator seeded by ``plan.seed``, the same at every
    call, so that two calls differ only by the model.
    """
    generator = torch.Generator().manual_seed(int(plan.seed))
    n_batches = max(1, round(len(rows) / plan.batch_size))
    total, count = 0.0, 0
    with torch.no_grad(), _autocast(plan.precision, plan.device):
        for chunk in np.array_split(rows, n_batches):
            terms = batch_losses(model, data.rows(chunk), pair_mask[chunk], plan.weights,
                                 variances=plan.variances, n_slices=plan.n_slices,
                                 generator=generator)
            value = sum(plan.weights[name] * v for name, v in terms.items() if name != "aux")
            total += float(value) * len(chunk)
            count += len(chunk)
    return total / max(count, 1)


def train_coupled(model, plan, *, optimizer=None, resume=None, callback=None, progress=None):
    """Run ``plan`` on ``model``; return a :class:`TrainResult`.

    Parameters
    ----------
    model : CoupledModel, or a list of per-view modules
        A list (e.g. of :class:`~skcosae.backend.sae.DenseLinearAE`) is wrapped in a
        :class:`~skcosae.backend.model.PerViewModel`; each module needs ``encode(x, *,
        training)`` and ``decode(z)``.
    plan : TrainingPlan
    optimizer : torch.optim.Optimizer, optional
        Continue with this optimiser (warm start); a new Adam otherwise. The one used is
        stored on the result as ``result.optimizer``.
    resume : dict, optional
        Where training starts: ``epochs`` already trained and their ``history`` (counted in
        the epoch numbers and the checkpoints); an ``optimizer`` state to load (a warm start
        from a stored state); and, from a checkpoint, ``model``, ``numpy_rng`` and
        ``torch_rng`` states to restore.
    callback : callable, optional
        Called as ``callback(epoch, row)`` after every epoch with that epoch's mean losses;
        it may raise ``KeyboardInterrupt`` (as a Ctrl-C would) to stop training.
    progress : tqdm-like, optional
        ``update(rows)`` after every step and ``set_postfix`` at every loss read.

    With ``plan.convergence``, the learning rate follows its warm-up and decay
    (:mod:`skcosae.backend.schedule`) and a plateau of the monitored loss ends the run
    (``stop_reason`` "converged"); ``plan.validation_rows`` are then kept out of training and
    monitored. Divergence (a NaN or infinite loss) and ``KeyboardInterrupt`` stop training,
    restore the weights of the last completed epoch and set ``stop_reason``. With
    ``plan.checkpoint_path``, every completed epoch is checkpointed before ``callback`` runs.

    In a process group (:mod:`skcosae.backend.distributed`), every process runs this with
    the same plan: rank 0's ``resume`` and weights are taken by all, each step's rows are
    shared out, gradients and logged losses are averaged, and only rank 0 checkpoints and
    reports progress.
    """
    model = as_coupled_model(model)
    n_views, n = len(plan.views), plan.n_samples
    all_pairs_mask = np.asarray(plan.pair_mask, dtype=bool)
    training_rows = np.ones(n, dtype=bool)
    if plan.validation_rows is not None:
        training_rows[plan.validation_rows] = False
    pair_mask = all_pairs_mask & training_rows
    n_pairs = int(pair_mask.sum())
    # A crosscoder's shared code needs every view of a row: its epochs run over the pairs.
    domain = np.flatnonzero(pair_mask if model.is_crosscoder else training_rows)
    del training_rows
    pair_batch = not model.is_crosscoder and 0 < n_pairs < n / 2
    if plan.streaming:
        data = StreamedViews(plan.views, plan.device,
                             np.flatnonzero(pair_mask) if pair_batch else None)
    else:
        data = DeviceViews(plan.views)
    parallel = DataParallel.current(plan.device)
    main = parallel is None or parallel.rank == 0
    if not main:
        progress = None
    rng = np.random.default_rng(plan.seed)
    generator = torch.Generator().manual_seed(int(plan.seed))
    if optimizer is None:
        optimizer = _new_optimizer(model, plan)
    resume = resume or {}
    if parallel is not None:
        resume = parallel.broadcast_object(resume)
    if "model" in resume:
        model.load_state_dict(resume["model"])
        rng.bit_generator.state = resume["numpy_rng"]
        generator.set_state(resume["torch_rng"])
    if "optimizer" in resume:
        optimizer.load_state_dict(resume["optimizer"])
    if plan.convergence is None:
        # A continued optimiser carries the rate it last ran at; this run takes the plan's.
        for group in optimizer.param_groups:
            group["lr"] = plan.learning_rate
    if parallel is not None:
        parallel.broadcast_module(model)
    done, earlier = int(resume.get("epochs", 0)), list(resume.get("history", []))
    result = TrainResult(optimizer=optimizer, n_steps=int(resume.get("steps", 0)))
    schedule = None
    if plan.convergence is not None:
        schedule = Schedule(plan.convergence, plan.learning_rate, plan.max_epochs,
                            state=resume.get("schedule"))
    usae = model.architecture == "usae"
    weights = dict(plan.weights)

    def averaged(sums):
        return sums if parallel is None else parallel.mean(sums)

    good_state, good_optim = _snapshot(model, optimizer)
    last_epoch = plan.max_epochs
    if schedule is not None and schedule.finished(done):
        last_epoch, result.stop_reason = done, schedule.reason  # a finished run, resumed
    try:
        with _matmul_precision(plan.precision):
            for epoch in range(done, last_epoch):
                buffers = plan_epoch(domain, pair_mask, n_views, plan.batch_size, rng,
                                     shuffle_rows=plan.shuffle_rows, chunk_rows=plan.chunk_rows,
                                     pair_batch=pair_batch)
                epoch_steps = buffers.n_steps
                if parallel is not None:
                    epoch_steps = parallel.n_steps(buffers)
                    buffers = parallel.shard(buffers)
                if schedule is not None:
                    schedule.begin_epoch(epoch, epoch_steps, result.n_steps)
                sums, n_batches = {}, 0
                started = time.perf_counter()
                for xs, step, step_pairs in data.batches(buffers):
                    if schedule is not None:
                        rate = schedule.rate(result.n_steps)
                        for group in optimizer.param_groups:
                            group["lr"] = rate
                    source = int(rng.integers(n_views)) if usae else None
                    with _autocast(plan.precision, plan.device):
                        terms = batch_losses(model, xs, step.paired, weights,
                                             variances=plan.variances, n_slices=plan.n_slices,
                                             generator=generator, training=True,
                                             source_view=source, aux_weight=plan.aux_weight,
                                             dead_steps=plan.dead_steps, pair_index=step_pairs)
                        total = sum(weights[name] * value for name, value in terms.items()
                                    if name != "aux")
                        if "aux" in terms:
                            total = total + plan.aux_weight * terms["aux"]
                    optimizer.zero_grad(set_to_none=True)
                    total.backward()
                    if parallel is not None:
                        parallel.average_gradients(model)
                    model.after_backward()
                    optimizer.step()
                    model.after_step()
                    result.n_steps += 1
                    n_batches += 1
                    # On the device: read on the host only every log_every steps.
                    for name, value in terms.items():
                        sums[name] = sums.get(name, 0.0) + value.detach()
                    sums["total"] = sums.get("total", 0.0) + total.detach()
                    if progress is not None:
                        progress.update(step.epoch_rows)
                    if n_batches % plan.log_every == 0:
                        running = float(averaged({"total": sums["total"]})["total"]) / n_batches
                        if not math.isfinite(running):
                            raise FloatingPointError(f"loss is {running} in epoch {epoch + 1}")
                        if progress is not None:
                            progress.set_postfix(epoch=epoch + 1, loss=f"{running:.4f}",
                                                 refresh=False)
                row = {"epoch": epoch + 1,
                       **{name: float(s) / max(n_batches, 1)
                          for name, s in averaged(sums).items()},
                       "seconds": time.perf_counter() - started}
                if not all(math.isfinite(v) for v in row.values()):
                    raise FloatingPointError(f"loss is not finite in epoch {epoch + 1}")
                stop = False
                if schedule is not None:
                    schedule.add_steps(row["total"] * n_batches, n_batches)
                    monitored = None
                    if schedule.check_due() and plan.validation_rows is not None:
                        monitored = held_out_objective(model, data, plan.validation_rows,
                                                       all_pairs_mask, plan)
                        if not math.isfinite(monitored):
                            raise FloatingPointError(
                                f"held-out loss is {monitored} in epoch {epoch + 1}")
                        row["validation"] = monitored
                    stop = schedule.end_epoch(epoch + 1, epoch_steps, result.n_steps,
                                              monitored)
                    row["learning_rate"] = schedule.rate(result.n_steps - 1)
                good_state, good_optim = _snapshot(model, optimizer)
                result.history.append(row)
                result.n_epochs += 1
                if progress is not None:
                    progress.set_postfix(epoch=epoch + 1, loss=f"{row['total']:.4f}")
                if plan.checkpoint_path is not None and main:
                    save_checkpoint(plan.checkpoint_path, {
                        "config": dict(plan.checkpoint_config),
                        "model": model.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "numpy_rng": rng.bit_generator.state,
                        "torch_rng": generator.get_state(),
                        "epochs": epoch + 1,
                        "steps": result.n_steps,
                        "history": earlier + result.history,
                        "schedule": None if schedule is None else schedule.state_dict(),
                    })
                if callback is not None:
                    callback(epoch + 1, row)
                if stop:
                    result.stop_reason = schedule.reason
                    break
    except FloatingPointError:
        result.stop_reason = "diverged"
    except KeyboardInterrupt:
        result.stop_reason = "interrupted"
    if result.stop_reason != "completed":
        model.load_state_dict(good_state)
        optimizer.load_state_dict(good_optim)
    return result
