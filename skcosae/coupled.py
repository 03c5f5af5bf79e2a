"""CoupledSAE: coupled BatchTopK sparse autoencoders with a scikit-learn API.

The estimator validates input (through :mod:`skcosae._views`), resolves ``pair_mask`` and the
loss weights, and hands tensors to the torch backend (:mod:`skcosae.backend`), which knows
nothing of scikit-learn. The paper's baselines are configurations of the same estimator; see
:func:`make_baseline`.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import numbers
import os
import warnings
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ._compat import Interval, StrOptions, fit_context, validate_parameter_constraints
from ._diagnostics import UndertrainedWarning, check_loss_curve, check_n_steps
from ._losses import LossWeightsMixin, resolve_losses
from ._surface import MultiViewSurfaceMixin
from ._typing import ArrayLike, Losses, MultiViewData, PairMask, RandomState, ViewNames, ViewSizes
from ._views import LazyView, check_finite_rows, check_views, resolve_pair_mask, scan_view
from .backend.plan import INSTANCE_LOSSES, LOSS_NAMES

__all__ = ["CoupledSAE", "TrainingStoppedWarning", "UndertrainedWarning", "make_baseline",
           "LOSS_NAMES"]

_ALLOWED_LOSSES = {
    "crosscoder": ("rec",),
    "usae": ("rec", "trans"),
}
# Elements of one (rows, n_concepts) float32 block of codes at inference (64 MiB).
_INFERENCE_ELEMENTS = 2**24
# The streaming path's shuffle buffer with shuffle_buffer="auto", all views together.
_AUTO_BUFFER_BYTES = 256 * 2**20
# On the CPU, in-memory views of another dtype than float32 are copied to float32 for the
# in-memory path only up to this size; larger ones stream.
_IN_MEMORY_COPY_BYTES = 2**30
# Parameters that do not change what a fit computes: a checkpoint written under other
# values of these is resumed all the same.
_NOT_IN_CHECKPOINT = ("max_epochs", "verbose", "checkpoint_dir", "device", "warm_start",
                      "streaming", "sparse_output", "n_threads")
# With random_state=None, the integer a checkpointed run drew for its random choices.
_DRAWN_RANDOM_STATE = "random_state drawn (random_state=None)"


class TrainingStoppedWarning(UserWarning):
    """Training stopped before ``max_epochs`` (divergence or interrupt); see ``stop_reason_``."""


def _torch():
    import torch

    return torch


def _resolve_device(device: str | None) -> str:
    torch = _torch()
    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device={device!r} is not a torch device (use 'auto', 'cpu', 'cuda')."
        ) from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} asks for CUDA, but torch sees no CUDA device.")
    return str(resolved)


class CoupledSAE(MultiViewSurfaceMixin, LossWeightsMixin, TransformerMixin, BaseEstimator,
                 auto_wrap_output_keys=None):
    """Coupled BatchTopK sparse autoencoders that align the concepts of several views.

    One BatchTopK sparse autoencoder per view encodes into a concept space shared by all
    views; the views are coupled by a weighted mix of the losses of the paper (docs: Method):
    ``rec`` (reconstruction), ``trans`` (translation), ``cycle``, ``cc`` (concept
    consistency), ``dist_trans`` and ``dist_cc`` (their distributional versions, sliced
    characteristic-function distances). ``pair_mask`` says which rows are known pairs: the
    instance-wise terms (``trans``, ``cc``) use only those, the others use every row.

    Parameters
    ----------
    n_concepts : int, default=512
        Size of the shared concept space (the dictionary of every view).
    k : float, default=8
        Average number of active concepts per row (BatchTopK keeps ``k * batch_size``
        activations per training batch; inference keeps those above a learnt threshold).
    losses : list of str or dict, default=None
        Loss names (weight 1 each) or a mapping name -> weight. None is the CoSAE recipe:
        every term but ``cycle``, weight 1 each. One weight can be set with
        ``set_params(losses__cc=0.5)``, so GridSearchCV can search it.
    pair_mask : None, float in (0, 1] or array-like of bool, default=None
        Rows whose pairing across views is known. None: every row. A float: that fraction of
        rows, drawn with ``random_state``. A boolean array of length ``n_samples``. The
        ``pair_mask`` argument of :meth:`fit` wins over this one.
    architecture : {"cosae", "crosscoder", "usae", "sae-a"}, default="cosae"
        ``"cosae"``: one SAE per view coupled by ``losses``. ``"crosscoder"``: one code shared
        by all views, ``TopK(sum_i W_enc_i x_i + b)``, decoded into every view (trained on
        pairs; ``losses`` may only hold ``rec``). ``"usae"``: universal SAE, each step encodes
        one randomly drawn view and decodes it into every view (``rec`` and ``trans`` only).
        ``"sae-a"``: one SAE whose weights all views share (equal widths), coupled by
        ``losses`` (typically ``rec`` + ``cc``). See :func:`make_baseline`.
    crosscoder_mode : {"shared", "standalone"}, default="shared"
        How a crosscoder encodes: ``"shared"`` from all views at once (every view's code is
        the shared code; needs multi-view input), ``"standalone"`` from each view's encoder
        alone.
    view_sizes : list of int or int, default=None
        View widths when ``X`` is one 2-D array (an int ``N``: ``N`` blocks of nearly equal
        width).
    view_names : list, default=None
        Names of the views; default: the frame's first column level, else ``0..N-1``.
    max_epochs : int, default=200
        Most passes over the data in :meth:`fit`: a cap. Training usually ends before it,
        when the monitored loss stops improving (``tol``, ``n_iter_no_change``) and the
        learning rate has decayed (``learning_rate_schedule``); ``stop_reason_`` says which
        ended it. What counts for learning is the number of steps,
        ``epochs * n_samples / batch_size`` (docs: Getting started, "Did the fit learn?").
    tol : float or None, default=0.02
        Improvement of the monitored loss (the weighted objective, whose terms are
        normalised by each view's variance, so ``tol`` is scale-free) that counts as
        progress. None: no convergence check; the fit runs ``max_epochs``.
    n_iter_no_change : int, default=3
        Convergence checks in a row without an improvement of at least ``tol`` that end the
        stable phase: the learning rate then decays and the fit stops. A check closes at the
        end of an epoch once at least 100 steps ran since the previous one (each epoch on
        large data; every few epochs on small data, whose epochs of a few steps are too
        noisy to compare one by one). Its loss is the mean training objective of those
        steps, or the held-out objective with ``early_stopping``.
    early_stopping : bool, default=False
        Monitor the objective of held-out rows instead of the training objective: a share
        ``validation_fraction`` of the rows (of the paired and of the unpaired rows alike)
        is kept out of training. Costs one inference pass over those rows per check.
    validation_fraction : float, default=0.1
        Share of the rows held out with ``early_stopping`` (at least 2 rows, and a pair
        when ``trans`` or ``cc`` is weighted).
    learning_rate_schedule : {"warmup_decay", "constant"}, default="warmup_decay"
        ``"warmup_decay"``: the rate rises linearly over the first 5% of the steps that
        ``max_epochs`` allows (at most 200 steps), stays at ``learning_rate`` while the
        loss improves, then falls linearly towards zero over a final phase of 20% of the
        fit, which starts at the plateau, or soon enough to end with ``max_epochs``. The
        decay averages out the noise of the last steps; starting it from the plateau
        makes one recipe fit a thousand rows or a million. ``"constant"``:
        ``learning_rate`` throughout, and a plateau stops the fit at once.
    pseudo_pairs : {None, "pls", "cca"}, default=None
        Grow few known pairs before training. Each view is reduced by PCA on all its rows;
        a linear map between the reduced views is fitted on the pairs, and rows of
        different views that are each other's nearest neighbour in its space become
        pseudo-pairs (``pseudo_pairs_``); the map is refitted on the pairs plus the
        pseudo-pairs and the matching redone, for up to 10 rounds (self-learning), and the
        model trains on the pairs and the last round's pseudo-pairs. ``"pls"``: partial
        least squares directions (no whitening), best on pretrained embeddings;
        ``"cca"``: canonical correlations (within-view covariances shrunk by 0.1), best on
        low-dimensional views that share most of their variance (docs: Pairing, "Few
        anchors"). Needs at least 3 pairs and views in memory (every view but the first
        is reordered in a copy); costs a PCA per view and, per round, a CCA and an exact
        nearest-neighbour search of every row against every row, whose time grows with the
        square of the number of rows (docs: Pairing). Measured on real data in the docs'
        Reproduction page: from 1% of pairs it recovers far more of the fully paired
        alignment than the distributional terms. Nothing happens when every row is paired.
    batch_size : int, default=256
        Rows per step.
    learning_rate : float, default=3e-3
        Adam learning rate.
    aux_weight : float, default=1/32
        Weight of the AuxK loss that revives dead concepts (latents that did not fire for
        ``dead_steps`` steps reconstruct the residual).
    dead_steps : int, default=200
        Steps without firing after which a concept counts as dead for AuxK.
    n_slices : int, default=32
        Random directions per step of the sliced ``dist_trans`` term, and active concept
        axes drawn per step for ``dist_cc`` (an unbiased estimate of its mean over axes).
        The distributional terms dominate a step's cost, which grows with ``n_slices``.
    sparse_output : bool, default=False
        Return codes from :meth:`transform` as scipy.sparse CSR float32 matrices (about
        ``8 * k`` bytes per row instead of ``8 * n_concepts``); :meth:`inverse_transform`,
        :meth:`translate`, the metrics and the report take them as they are. With False,
        codes are dense arrays in the input's float dtype.
    streaming : bool or "auto", default="auto"
        How :meth:`fit` reads the views. False: the whole data go to the device as float32
        tensors (fastest; no copy for in-memory float32 arrays on the CPU). True: the views
        are read in chunks of rows into a shuffle buffer, so memory does not grow with the
        data. "auto" keeps the data in memory when they are in-memory arrays on the CPU (a
        float32 copy of other dtypes only up to 1 GiB) or fit in half the free memory of
        an accelerator, and streams otherwise (memmaps, h5py, zarr). See the docs page
        "Large data".
    shuffle_buffer : int or "auto", default="auto"
        Rows of the streaming shuffle buffer ("auto": 256 MiB of float32 rows over all
        views, at least 16 batches). The buffer is filled with randomly chosen blocks of
        512 consecutive rows and shuffled; a larger buffer gives batches drawn from more
        places of the data (it matters for data stored in order, e.g. by class). A buffer
        that holds every row gives exactly the batches of the in-memory path.
    checkpoint_dir : str or path-like, default=None
        Folder where :meth:`fit` writes a checkpoint after every epoch (weights, optimiser,
        random states, ``history_``), atomically: a killed process leaves the last good
        one. A fit whose folder holds a checkpoint of the same configuration and data
        resumes from it and trains only the remaining epochs (``max_epochs`` in all); a
        checkpoint of another configuration is an error naming what differs. With
        ``random_state=None`` the run draws one integer for its random choices and keeps
        it in the checkpoint, so that a resumed run draws the same pairs, validation rows
        and batches as the run it continues.
    precision : {"float32", "tf32", "bf16"}, default="float32"
        Arithmetic of the training steps. ``"tf32"`` (CUDA only) lets matrix products use
        TensorFloat-32 tensor cores; ``"bf16"`` runs the dense matrix products (the
        encoder's, mainly) under bfloat16 autocast, with weights, codes, losses and the
        optimiser in float32. Inference is float32 whatever the choice. See the docs page
        "GPU and multi-GPU training" for speed and accuracy.
    device : str, default="auto"
        Torch device; ``"auto"`` takes CUDA when torch sees it, else the CPU. Under
        ``torchrun`` (several processes), every process trains one shared model on its
        own GPU (docs: GPU and multi-GPU training).
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation, the batches and the pair draw of a float ``pair_mask``.
    verbose : int, default=0
        Shows a progress bar over the rows of every epoch (rows per second, running loss)
        when positive.
    warm_start : bool, default=False
        Continue from the fitted weights (and optimiser state) when :meth:`fit` is called
        again on views of the same widths.
    n_threads : int, default=None
        CPU threads torch may use during :meth:`fit` and inference (set for the call and
        restored afterwards; the caller's ``torch.get_num_threads()`` is unchanged). None
        means one thread, as scikit-learn's ``n_jobs=None``: on a machine whose cores are
        busy with other processes, torch's threads wait on each other and a fit can run
        several times slower than with one (see the benchmarks' README). ``-1`` uses every
        core; a positive number uses that many.

    Attributes
    ----------
    n_views_ : int
    view_names_ : list
    view_sizes_ : list of int
        Width of each view.
    n_features_in_ : int
        Total width of the views.
    n_concepts_ : int
    losses_ : dict
        The positive loss weights used (a term of weight 0 is left out: it is no term).
    pair_mask_ : ndarray of bool of shape (n_samples,)
        Rows known as pairs in the last fit (the pseudo-pairs of ``pseudo_pairs`` aside).
    history_ : pandas.DataFrame
        One row per epoch: the mean of each loss term (unweighted), ``aux``, the weighted
        ``total`` and the epoch's wall time in ``seconds``.
    n_iter_ : int
        Epochs trained (all calls together when warm starting, and the epochs of a resumed
        checkpoint).
    dead_fraction_ : ndarray of shape (n_views,)
        Fraction of concepts never active on each view's training data at inference
        (counted in one streamed pass after training).
    pseudo_pairs_ : ndarray of int of shape (n_pseudo_pairs, n_views) or None
        With ``pseudo_pairs``: each row gives the row of every view that trained as one
        pseudo-pair (column 0 is the first view's row; an anchor never is one). None
        otherwise.
    n_steps_ : int
        Optimiser steps taken (all calls together, as ``n_iter_``). A completed fit with
        fewer than 300 steps, or whose loss still fell by more than 2% per epoch at the
        end, issues an ``UndertrainedWarning`` that says what to change (docs: Getting
        started, "Did the fit learn?").
    stop_reason_ : {"converged", "completed", "diverged", "interrupted"}
        Why the last fit stopped: ``"converged"`` (the monitored loss stopped improving
        and the learning rate decayed), ``"completed"`` (``max_epochs`` ran out first; an
        ``UndertrainedWarning`` follows when the loss was still falling). On divergence (a
        NaN or infinite loss) or Ctrl-C, the weights of the last completed epoch are
        restored and a
        :class:`TrainingStoppedWarning` is issued; the model stays usable.
    device_ : str
        Device the model lives on.
    model_ : torch.nn.Module
        The fitted backend model.

    See Also
    --------
    make_baseline : the paper's baselines as configured estimators.
    skcosae.linear.CCA : the linear closed form of concept consistency.

    Notes
    -----
    Each view is centred and scaled to unit mean feature variance inside the model, and
    every loss term is normalised (docs: Method), so rescaling a view changes nothing.
    Paired rows keep their index across views; unpaired rows are shuffled independently per
    view. When pairs are rare, every step also sees a small batch drawn from the pairs, so
    that even one pair in a thousand rows steers the instance-wise terms.

    The distributional terms take about half of a step (``n_slices`` sets their cost);
    fit times are in the benchmarks' README. When the cores are busy with other processes,
    torch's threads can wait on each other and a fit may run many times slower;
    ``torch.set_num_threads(1)`` avoids that. A model fitted on a GPU pickles with CPU
    weights.

    Examples
    --------
    >>> from skcosae import CoupledSAE
    >>> from skcosae.datasets import make_platonic
    >>> Xs, y, truth = make_platonic(n_samples=1000, n_views=2, random_state=0)
    >>> sae = CoupledSAE(n_concepts=64, k=4, losses=["rec", "trans", "cc"],
    ...                  max_epochs=3, random_state=0).fit(Xs)
    >>> Za, Zb = sae.transform(Xs)
    >>> Za.shape
    (1000, 64)
    >>> sae.translate(Xs[0], source=0, target=1).shape == Xs[1].shape
    True
    """

    _streams_input = True

    _parameter_constraints: dict = {
        "n_concepts": [Interval(numbers.Integral, 1, None, closed="left")],
        "k": [Interval(numbers.Real, 0, None, closed="neither")],
        "losses": [list, tuple, dict, str, None],
        "pair_mask": ["array-like", Interval(numbers.Real, 0, 1, closed="right"), None],
        "architecture": [StrOptions({"cosae", "crosscoder", "usae", "sae-a"})],
        "crosscoder_mode": [StrOptions({"shared", "standalone"})],
        "view_sizes": ["array-like", Interval(numbers.Integral, 2, None, closed="left"), None],
        "view_names": ["array-like", None],
        "max_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left"), None],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "learning_rate_schedule": [StrOptions({"warmup_decay", "constant"})],
        "pseudo_pairs": [StrOptions({"pls", "cca"}), None],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "aux_weight": [Interval(numbers.Real, 0, None, closed="left")],
        "dead_steps": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_slices": [Interval(numbers.Integral, 1, None, closed="left")],
        "sparse_output": ["boolean"],
        "streaming": ["boolean", StrOptions({"auto"})],
        "shuffle_buffer": [Interval(numbers.Integral, 1, None, closed="left"),
                           StrOptions({"auto"})],
        "checkpoint_dir": [str, os.PathLike, None],
        "precision": [StrOptions({"float32", "tf32", "bf16"})],
        "device": [str, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "n_threads": [Interval(numbers.Integral, -1, None, closed="left"), None],
    }

    def __init__(
        self,
        n_concepts: int = 512,
        k: float = 8,
        *,
        losses: Losses = None,
        pair_mask: PairMask = None,
        architecture: str = "cosae",
        crosscoder_mode: str = "shared",
        view_sizes: ViewSizes = None,
        view_names: ViewNames = None,
        max_epochs: int = 200,
        tol: float | None = 2e-2,
        n_iter_no_change: int = 3,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        learning_rate_schedule: str = "warmup_decay",
        pseudo_pairs: str | None = None,
        batch_size: int = 256,
        learning_rate: float = 3e-3,
        aux_weight: float = 1 / 32,
        dead_steps: int = 200,
        n_slices: int = 32,
        sparse_output: bool = False,
        streaming: bool | str = "auto",
        shuffle_buffer: int | str = "auto",
        checkpoint_dir: str | os.PathLike[str] | None = None,
        precision: str = "float32",
        device: str | None = "auto",
        random_state: RandomState = None,
        verbose: int = 0,
        warm_start: bool = False,
        n_threads: int | None = None,
    ) -> None:
        self.n_concepts = n_concepts
        self.k = k
        self.losses = losses
        self.pair_mask = pair_mask
        self.architecture = architecture
        self.crosscoder_mode = crosscoder_mode
        self.view_sizes = view_sizes
        self.view_names = view_names
        self.max_epochs = max_epochs
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.learning_rate_schedule = learning_rate_schedule
        self.pseudo_pairs = pseudo_pairs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.aux_weight = aux_weight
        self.dead_steps = dead_steps
        self.n_slices = n_slices
        self.sparse_output = sparse_output
        self.streaming = streaming
        self.shuffle_buffer = shuffle_buffer
        self.checkpoint_dir = checkpoint_dir
        self.precision = precision
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.n_threads = n_threads

    # ------------------------------------------------------------------ parameters
    def _check_configuration(self, weights):
        allowed = _ALLOWED_LOSSES.get(self.architecture)
        if allowed is not None:
            extra = sorted(set(weights) - set(allowed))
            if extra:
                raise ValueError(
                    f"architecture={self.architecture!r} trains with {list(allowed)} only; "
                    f"remove {extra} from losses (or set their weight to 0)."
                )
        if self.k > self.n_concepts:
            raise ValueError(
                f"k={self.k} active concepts per row exceeds n_concepts={self.n_concepts}."
            )

    # ------------------------------------------------------------------ fitting
    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: MultiViewData, y: ArrayLike | None = None,
            pair_mask: PairMask = None) -> CoupledSAE:
        """Fit the coupled autoencoders.

        Parameters
        ----------
        X : list of array-like, DataFrame with (view, feature) columns, or 2-D array
            The views; rows are data points. A 2-D array needs ``view_sizes``. A view may
            be any array-like with ``shape``, ``dtype`` and row slicing (numpy arrays and
            memmaps, h5py datasets, zarr arrays): it is read in row chunks.
        y : ignored
            Present for scikit-learn's API (labels are used by :meth:`score`).
        pair_mask : None, float or array-like of bool of shape (n_samples,), default=None
            Overrides the constructor's ``pair_mask`` (GridSearchCV splits a boolean array
            per fold).

        Returns
        -------
        self : CoupledSAE
        """
        return self._fit(X, pair_mask, epochs=self.max_epochs,
                         continue_training=self.warm_start, converge=True)

    def partial_fit(self, X: MultiViewData, y: ArrayLike | None = None,
                    pair_mask: PairMask = None) -> CoupledSAE:
        """Train one more epoch on ``X`` (initialising the model on the first call).

        The epoch runs at the constant ``learning_rate``, with no convergence check: the
        caller decides when to stop, as with scikit-learn's ``partial_fit``.

        Parameters
        ----------
        X, y, pair_mask : as in :meth:`fit`.

        Returns
        -------
        self : CoupledSAE
        """
        if not hasattr(self, "model_"):
            self._validate_params()
        return self._fit(X, pair_mask, epochs=1, continue_training=True, converge=False)

    def _fit(self, X, pair_mask, *, epochs, continue_training, converge):
        with _torch_threads(self.n_threads):
            return self._fit_with_threads(X, pair_mask, epochs=epochs,
                                          continue_training=continue_training,
                                          converge=converge)

    def _fit_with_threads(self, X, pair_mask, *, epochs, continue_training, converge):
        from .backend.checkpoint import load_checkpoint
        from .backend.distributed import is_main_process, join_process_group
        from .backend.model import CoupledModel
        from .backend.plan import TrainingPlan, check_precision
        from .backend.schedule import ConvergenceRule
        from .backend.train import train_coupled

        weights = resolve_losses(self.losses)
        self._check_configuration(weights)
        warm = continue_training and hasattr(self, "model_")
        mv = check_views(X, view_sizes=self.view_sizes, view_names=self.view_names,
                         expected_widths=self.view_sizes_ if warm else None,
                         estimator_name=type(self).__name__, lazy=True)
        if pair_mask is not None:
            # The same check, and so the same message, as the constructor's parameter.
            validate_parameter_constraints(
                {"pair_mask": self._parameter_constraints["pair_mask"]},
                {"pair_mask": pair_mask}, caller_name=f"{type(self).__name__}.fit")
        stored = None
        if not warm and self.checkpoint_dir is not None:
            stored = load_checkpoint(self.checkpoint_dir)
        random_state = self._fit_random_state(stored)
        mask = resolve_pair_mask(
            self.pair_mask if pair_mask is None else pair_mask, mv.n_samples, random_state
        )
        needs_pairs = sorted(n for n in INSTANCE_LOSSES if n in weights)
        if self.architecture == "crosscoder":
            needs_pairs = ["crosscoder"]
        if needs_pairs and not mask.any():
            raise ValueError(
                f"pair_mask marks no row as paired, but {needs_pairs} need pairs; pass a mask "
                "with at least one True row, or drop those losses."
            )
        # One streaming pass: NaN/inf are found before any weight moves, and the moments
        # initialise the model.
        moments = [scan_view(view, "fitting") for view in mv.views]
        variances = [max(float(var.sum()), 1e-12) for _, var in moments]
        seed = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
        device = self.device_ if warm else _resolve_device(self.device)
        # Under torchrun: this process's GPU, and rank 0's draws (one plan for every rank).
        device, mask, seed = join_process_group(device, mask, seed)
        pseudo, given_mask = None, mask
        if self.pseudo_pairs is not None and not mask.all():
            mv, mask, pseudo = self._with_pseudo_pairs(mv, mask, seed)
        validation_rows = None
        if converge and self.early_stopping:
            validation_rows = self._validation_rows(mask, needs_pairs, seed)
        rule = None
        if converge:
            rule = ConvergenceRule(tol=self.tol, n_iter_no_change=self.n_iter_no_change)
            if self.learning_rate_schedule == "constant":
                rule = dataclasses.replace(rule, warmup=False, decay_fraction=0.0)
        check_precision(self.precision, device)
        config = self._checkpoint_config(mv, mask, moments)
        if self.random_state is None and self.checkpoint_dir is not None:
            config[_DRAWN_RANDOM_STATE] = random_state

        resume = None
        if warm:
            # Train a copy: an error mid-fit must leave the fitted model as it was.
            model = copy.deepcopy(self.model_)
            resume = {"epochs": self.n_iter_, "history": self.history_.to_dict("records"),
                      "steps": self.n_steps_}
            optimizer_state = getattr(self, "_optimizer_state", None)  # None: an older pickle
            if optimizer_state is not None:
                # Adam's moments go on where the last fit left them. A copy, as loading a
                # state shares its tensors, which the run then updates in place.
                resume["optimizer"] = copy.deepcopy(optimizer_state)
            total_epochs = self.n_iter_ + epochs
            # A continued fit draws new batches: the same seed would replay the first epochs.
            seed = (seed + 7919 * self.n_iter_) % np.iinfo(np.int32).max
        else:
            model = CoupledModel(mv.view_sizes, self.n_concepts, self.k, self.architecture,
                                 seed=seed)
            model.init_from_moments([m for m, _ in moments], [v for _, v in moments])
            total_epochs = epochs
            resume = stored
            if resume is not None:
                self._check_checkpoint(resume["config"], config)
        model = model.to(device)
        shuffle_rows = self._shuffle_rows(mv, device)
        plan = TrainingPlan(
            views=self._training_views(mv, device, streaming=shuffle_rows is not None),
            pair_mask=mask, weights=weights, variances=variances, device=device,
            max_epochs=total_epochs, batch_size=self.batch_size,
            learning_rate=self.learning_rate, seed=seed, n_slices=self.n_slices,
            aux_weight=self.aux_weight, dead_steps=self.dead_steps,
            shuffle_rows=shuffle_rows,
            checkpoint_path=(None if self.checkpoint_dir is None
                             else os.fspath(self.checkpoint_dir)),
            checkpoint_config=config, precision=self.precision,
            convergence=rule, validation_rows=validation_rows,
        )

        progress = None
        done = 0 if resume is None else int(resume.get("epochs", 0))
        if self.verbose and total_epochs > done and is_main_process():
            from tqdm.auto import tqdm

            rows = int(mask.sum()) if self.architecture == "crosscoder" else mv.n_samples
            progress = tqdm(total=(total_epochs - done) * rows, desc="CoupledSAE", unit="row",
                            unit_scale=True, dynamic_ncols=True)
        try:
            result = train_coupled(model, plan, resume=resume,
                                   progress=progress)
        finally:
            if progress is not None:
                progress.close()

        records = [] if resume is None else list(resume.get("history", []))
        history = pd.DataFrame(records + result.history)
        dead = self._dead_fraction(model, mv, device)
        # Training produced a model: only now does the estimator change.
        self.model_ = model
        self._optimizer_state = result.optimizer.state_dict()
        self.device_ = device
        self.losses_ = dict(weights)
        self.pair_mask_ = given_mask
        self.pseudo_pairs_ = pseudo
        self.n_views_ = mv.n_views
        self.view_names_ = list(mv.view_names)
        self.view_sizes_ = list(mv.view_sizes)
        self.feature_names_per_view_ = [list(f) for f in mv.feature_names]
        self.n_features_in_ = int(sum(mv.view_sizes))
        self.n_concepts_ = int(self.n_concepts)
        self.history_ = history
        self.n_iter_ = done + result.n_epochs
        self.n_steps_ = int(result.n_steps)
        self.stop_reason_ = result.stop_reason
        self.dead_fraction_ = dead
        if result.stop_reason != "completed":
            warnings.warn(
                f"CoupledSAE training {result.stop_reason} after {self.n_iter_} of "
                f"{total_epochs} epoch(s); the weights of the last completed epoch were "
                "restored and the model is usable (see stop_reason_ and history_).",
                TrainingStoppedWarning,
                stacklevel=_user_stacklevel(),
            )
        else:
            for message in (check_n_steps(self.n_steps_, self.n_iter_,
                                          batch_size=self.batch_size),
                            check_loss_curve(self.history_)):
                if message:
                    warnings.warn(message, UndertrainedWarning, stacklevel=_user_stacklevel())
        return self

    def _fit_random_state(self, stored):
        """``random_state``, or with ``random_state=None`` and a ``checkpoint_dir``, one
        integer drawn for the run and kept in its checkpoint: a resumed run must draw the
        same pairs, validation rows and pseudo-pairs as the run it continues."""
        if self.random_state is not None or self.checkpoint_dir is None:
            return self.random_state
        drawn = None if stored is None else stored["config"].get(_DRAWN_RANDOM_STATE)
        if drawn is not None:
            return int(drawn)
        return int(check_random_state(None).randint(np.iinfo(np.int32).max))

    def _with_pseudo_pairs(self, mv, mask, seed):
        """The views aligned on the anchors' pseudo-pairs, the grown mask, and the pairs."""
        from ._pseudo_pairs import MIN_ANCHORS, aligned_views, anchor_pseudo_pairs

        n_pairs = int(mask.sum())
        if n_pairs < MIN_ANCHORS:
            raise ValueError(
                f"pseudo_pairs={self.pseudo_pairs!r} fits a linear map on the known pairs and "
                f"needs at least {MIN_ANCHORS}; pair_mask marks {n_pairs} row(s) as paired. Mark "
                "more rows as paired, or set pseudo_pairs=None."
            )
        on_disk = [repr(v.name) for v in mv.views if not v.in_memory]
        if on_disk:
            raise ValueError(
                f"pseudo_pairs={self.pseudo_pairs!r} reorders a copy of every view but the "
                f"first and needs the views in memory; view(s) {', '.join(on_disk)} are read "
                "from a file (memmap, h5py, zarr). Load them with numpy.asarray, or set "
                "pseudo_pairs=None."
            )
        arrays = [view.array() for view in mv.views]
        pseudo = anchor_pseudo_pairs(arrays, mask, directions=self.pseudo_pairs,
                                     random_state=seed)
        aligned, mask = aligned_views(arrays, mask, pseudo)
        views = [LazyView(X, view.name) for X, view in zip(aligned, mv.views)]
        return dataclasses.replace(mv, views=views), mask, pseudo

    def _validation_rows(self, mask, needs_pairs, seed):
        """The rows held out for early stopping: a share of the pairs and of the rest.

        ``needs_pairs``: the weighted terms that need pairs (as the fit listed them).
        """
        n_pairs = int(mask.sum())
        groups = [np.flatnonzero(mask)]
        if self.architecture != "crosscoder":  # a crosscoder trains on the pairs alone
            groups.append(np.flatnonzero(~mask))
        rng = np.random.default_rng(seed)
        held = [rng.choice(rows, size=int(round(self.validation_fraction * len(rows))),
                           replace=False) for rows in groups]
        n_held = sum(len(h) for h in held)
        pool = n_pairs if self.architecture == "crosscoder" else len(mask)
        if n_held < 2 or pool - n_held < 2:
            paired = "paired " if self.architecture == "crosscoder" else ""
            raise ValueError(
                f"early_stopping=True holds out validation_fraction={self.validation_fraction}"
                f" of the {pool} {paired}rows, which is {n_held} row(s) and leaves "
                f"{pool - n_held} to train on; both need at least "
                "2. Change validation_fraction, pass more rows, or set early_stopping=False."
            )
        if needs_pairs and self.architecture != "crosscoder" and not (
                0 < len(held[0]) < n_pairs):
            raise ValueError(
                f"early_stopping=True with the instance-wise losses {needs_pairs} needs paired "
                f"rows both held out and trained on, but validation_fraction="
                f"{self.validation_fraction} of the {n_pairs} paired rows is {len(held[0])}. "
                "Mark more rows as paired, change validation_fraction, or set "
                "early_stopping=False."
            )
        return np.sort(np.concatenate(held)).astype(np.int64)

    # ------------------------------------------------------------------ data paths
    def _shuffle_rows(self, mv, device):
        """Rows of the streaming shuffle buffer, or None for the in-memory path."""
        streaming = self.streaming
        if streaming == "auto":
            streaming = not self._fits_in_memory(mv, device)
        if not streaming:
            return None
        if self.shuffle_buffer != "auto":
            return int(self.shuffle_buffer)
        row_bytes = 4 * sum(mv.view_sizes)
        return max(16 * int(self.batch_size), _AUTO_BUFFER_BYTES // row_bytes)

    def _fits_in_memory(self, mv, device):
        from .backend.data import free_device_bytes

        needed = sum(v.shape[0] * v.shape[1] * 4 for v in mv.views)
        free = free_device_bytes(device)
        if free is not None:  # an accelerator: the data go there if they fit in half of it
            return needed <= free // 2
        if not all(v.in_memory for v in mv.views):
            return False  # memmaps and files stream: reading them whole would copy them
        copies = sum(v.nbytes for v in mv.views if v.dtype != np.float32)
        return copies <= _IN_MEMORY_COPY_BYTES

    def _training_views(self, mv, device, *, streaming):
        """The row sources (streaming path) or float32 tensors on ``device`` (in memory)."""
        if streaming:
            return list(mv.views)
        torch = _torch()
        tensors = []
        for view in mv.views:
            if device == "cpu" and view.in_memory and view.dtype == np.float32:
                tensors.append(_shared_tensor(view.array()))
                continue
            tensor = torch.empty(view.shape, dtype=torch.float32, device=device)
            for start, block in view.chunks():
                tensor[start:start + len(block)] = torch.from_numpy(
                    np.ascontiguousarray(block, dtype=np.float32))
            tensors.append(tensor)
        return tensors

    # ------------------------------------------------------------------ checkpoints
    def _checkpoint_config(self, mv, mask, moments):
        """What a checkpoint must match to be resumed: parameters, data shapes, pairs."""
        params = {name: _plain(value) for name, value in self.get_params().items()
                  if name not in _NOT_IN_CHECKPOINT}
        return {
            **params,
            "n_samples": int(mv.n_samples),
            "view sizes": [int(d) for d in mv.view_sizes],
            "view names": [str(name) for name in mv.view_names],
            "pairs (pair_mask)": hashlib.sha1(np.packbits(mask).tobytes()).hexdigest(),
            "view means": [[float(x) for x in mean] for mean, _ in moments],
        }

    def _check_checkpoint(self, stored, current):
        differing = []
        for key in sorted(set(stored) | set(current), key=str):
            a, b = stored.get(key), current.get(key)
            if key == "view means" and a is not None and b is not None:
                same = len(a) == len(b) and all(
                    len(x) == len(y) and np.allclose(x, y, rtol=1e-5, atol=1e-6)
                    for x, y in zip(a, b))
            else:
                same = a == b
            if not same:
                differing.append(key)
        if differing:
            raise ValueError(
                f"checkpoint_dir={os.fspath(self.checkpoint_dir)!r} holds a checkpoint of "
                f"another configuration or other data: {', '.join(map(str, differing))} "
                "differ(s). It is neither loaded nor overwritten; pass another "
                "checkpoint_dir, or delete this one to start over."
            )

    # ------------------------------------------------------------------ inference
    def _chunk_rows(self):
        return _inference_rows(self.n_concepts_, self.view_sizes_)

    def _dead_fraction(self, model, mv, device):
        # Counted on the device, chunk by chunk, from the streamed views.
        torch = _torch()
        fired = [torch.zeros(model.m, dtype=torch.bool, device=device) for _ in mv.views]
        step = _inference_rows(model.m, mv.view_sizes)
        with torch.no_grad():
            for i, view in enumerate(mv.views):
                for _start, block in view.chunks(step):
                    x = torch.from_numpy(np.ascontiguousarray(block, dtype=np.float32))
                    fired[i] |= (model.encode(x.to(device), i) > 0).any(0)
        return np.array([1.0 - float(f.float().mean()) for f in fired])

    def _rows(self, source, start, stop):
        """Rows of a view, a code matrix or an array, as float32 for the model."""
        if sp.issparse(source):
            return source[start:stop]
        if not hasattr(source, "rows"):
            return source[start:stop]
        block = source.rows(start, stop)
        check_finite_rows(block, source.name, start, "calling transform")
        return block

    def _to_tensor(self, block):
        torch = _torch()
        if sp.issparse(block):
            block = block.tocsr()
            return torch.sparse_csr_tensor(
                torch.from_numpy(block.indptr.astype(np.int64)),
                torch.from_numpy(block.indices.astype(np.int64)),
                torch.from_numpy(np.asarray(block.data, dtype=np.float32)),
                size=block.shape, device=self.device_, check_invariants=False)
        return torch.from_numpy(np.ascontiguousarray(block, dtype=np.float32)).to(self.device_)

    def _read_chunks(self, arrays, n):
        """``(start, stop, blocks)``: the rows of every array, chunk by chunk.

        When an array is read from a file, the next chunk is read by a background thread
        while the caller computes on this one (numpy's copy from a memmap releases the GIL),
        so the disk and the model work at the same time; one more chunk of rows is held.
        """
        step = self._chunk_rows()
        bounds = [(start, min(start + step, n)) for start in range(0, n, step)]

        def read(start, stop):
            return [self._rows(a, start, stop) for a in arrays]

        # Arrays, code matrices and in-memory views are read at once; files ahead.
        if all(getattr(a, "in_memory", True) for a in arrays):
            for start, stop in bounds:
                yield start, stop, read(start, stop)
            return
        with ThreadPoolExecutor(max_workers=1) as reader:
            pending = reader.submit(read, *bounds[0]) if bounds else None
            for i, (start, stop) in enumerate(bounds):
                blocks = pending.result()
                pending = reader.submit(read, *bounds[i + 1]) if i + 1 < len(bounds) else None
                yield start, stop, blocks

    def _run(self, fn, arrays, *, codes):
        """``fn`` on row chunks of ``arrays``, without gradients.

        Returns codes (``codes=True``: CSR float32 with ``sparse_output``) or dense rows in
        the float dtype of the input (float32 stays float32). Each chunk's result is copied
        into one output that grows in place and the chunk is freed at once, so the working
        memory is a chunk or two of rows, whatever their number.
        """
        torch = _torch()
        n = arrays[0].shape[0]
        dtype = _output_dtype(arrays[0])
        sparse = codes and self.sparse_output
        output = _CsrRows(n, self.n_concepts_) if sparse else None
        with torch.no_grad(), _torch_threads(getattr(self, "n_threads", None)):
            for start, stop, blocks in self._read_chunks(arrays, n):
                out = fn(*[self._to_tensor(block) for block in blocks])
                del blocks
                if sparse:
                    if out.layout != torch.sparse_csr:
                        out = out.to_sparse_csr()
                    output.append(out.crow_indices().cpu().numpy(),
                                  out.col_indices().cpu().numpy(),
                                  out.values().cpu().numpy())
                else:
                    block = out.cpu().numpy()
                    if output is None:
                        output = np.empty((n, block.shape[1]), dtype=dtype)
                    output[start:stop] = block
                del out
        if sparse:
            return output.matrix()
        return np.empty((0, 0), dtype=dtype) if output is None else output

    def _mode(self):
        return self.crosscoder_mode if self.architecture == "crosscoder" else "standalone"

    def _encode_views(self, views, mode=None):
        mode = mode or self._mode()
        if mode == "shared":
            shared = self._run(
                lambda *xs: self.model_.encode_shared(list(xs), sparse=self.sparse_output),
                views, codes=True)
            return [shared] * len(views)
        return super()._encode_views(views)

    def _encode_view(self, x, i):
        return self._run(lambda v: self.model_.encode(v, i, sparse=self.sparse_output), [x],
                         codes=True)

    def _decode_view(self, z, i):
        return self._run(lambda c: self.model_.decode(c, i), [z], codes=False)

    def _needs_all_views(self, what):
        if self._mode() == "shared":
            raise ValueError(
                f"{what}: crosscoder_mode='shared' encodes from every view at once and needs "
                "the multi-view X; pass all views, or set crosscoder_mode='standalone'."
            )

    @property
    def dictionaries_(self) -> list[np.ndarray]:
        """One (n_concepts, d_i) array per view: row c is concept c's decoder atom."""
        check_is_fitted(self)
        return [self.model_.dictionary(i).detach().cpu().numpy().T.astype(np.float64)
                for i in range(self.n_views_)]

    # ------------------------------------------------------------------ pickling
    def __getstate__(self):
        state = dict(super().__getstate__())
        # Weights travel as CPU tensors so a model fitted on CUDA loads on a CPU-only machine.
        if "model_" in state:
            state["model_"] = _cpu_copy(state["model_"])
            state["device_"] = "cpu"
        if "_optimizer_state" in state:
            state["_optimizer_state"] = _on_cpu(state["_optimizer_state"])
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.input_tags.allow_nan = False
        tags.target_tags.required = False
        return tags


class _torch_threads:
    """Set torch's CPU threads for a ``with`` block and restore the caller's afterwards."""

    def __init__(self, n_threads):
        self.n_threads = n_threads

    def __enter__(self):
        torch = _torch()
        self.previous = torch.get_num_threads()
        wanted = 1 if self.n_threads is None else int(self.n_threads)
        if wanted == -1:
            wanted = os.cpu_count() or 1
        if wanted != self.previous:
            torch.set_num_threads(wanted)
        return self

    def __exit__(self, *exc):
        torch = _torch()
        if torch.get_num_threads() != self.previous:
            torch.set_num_threads(self.previous)


def _cpu_copy(model):
    return copy.deepcopy(model).to("cpu")


def _on_cpu(value):
    """``value`` with every tensor in it (through dicts and lists) on the CPU."""
    torch = _torch()
    if torch.is_tensor(value):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {key: _on_cpu(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_on_cpu(item) for item in value)
    return value


def _shared_tensor(array):
    """A tensor sharing ``array``'s memory (the training loop only reads the data)."""
    torch = _torch()
    if array.flags.writeable:
        return torch.from_numpy(array)
    with warnings.catch_warnings():  # torch's notice on read-only arrays, once per fit
        warnings.simplefilter("ignore", UserWarning)
        return torch.from_numpy(array)


def _inference_rows(n_concepts, widths):
    """Rows per inference chunk: one (rows, widest of codes and views) float32 block at most."""
    return max(64, min(8192, _INFERENCE_ELEMENTS // max(n_concepts, *widths)))


def _output_dtype(source):
    dtype = getattr(source, "dtype", np.float64)
    return np.dtype(np.float32) if dtype == np.float32 else np.dtype(np.float64)


class _CsrRows:
    """A CSR float32 matrix filled chunk of rows by chunk of rows.

    The column indices and values live in two arrays whose capacity is sized from the
    density seen so far (with a small margin) and grown in place (``ndarray.resize``: a
    ``realloc``, which moves no data for large blocks on Linux) when a chunk needs more;
    the chunks themselves are not kept. Holding every chunk until one concatenation at the
    end doubled the codes' memory and, on long transforms, fragmented the heap with one
    small block per chunk between the freed inputs.
    """

    _MARGIN = 1.02

    def __init__(self, n_rows, n_cols):
        self.shape = (n_rows, n_cols)
        # int32 offsets while they fit (as scipy's own), so the matrix needs no copy.
        self.indptr = np.zeros(n_rows + 1, dtype=np.int32)
        self.indices = np.empty(0, dtype=np.int32)
        self.data = np.empty(0, dtype=np.float32)
        self.rows = self.nnz = 0

    def _reserve(self, count, chunk_rows):
        needed = self.nnz + count
        if needed > np.iinfo(self.indptr.dtype).max:
            self.indptr = self.indptr.astype(np.int64)
        if needed <= len(self.data):
            return
        rows_done = self.rows + chunk_rows
        expected = int(needed / rows_done * self.shape[0] * self._MARGIN)
        capacity = needed if rows_done >= self.shape[0] else max(needed, expected)
        self.indices.resize(capacity, refcheck=False)
        self.data.resize(capacity, refcheck=False)

    def append(self, crow, col, values):
        rows, count = len(crow) - 1, len(values)
        self._reserve(count, rows)
        self.indptr[self.rows + 1:self.rows + rows + 1] = crow[1:] + self.nnz
        self.indices[self.nnz:self.nnz + count] = col
        self.data[self.nnz:self.nnz + count] = values
        self.nnz += count
        self.rows += rows

    def matrix(self):
        # Give back the unused capacity in place, then hand the arrays over uncopied.
        self.indices.resize(self.nnz, refcheck=False)
        self.data.resize(self.nnz, refcheck=False)
        return sp.csr_matrix((self.data, self.indices, self.indptr), shape=self.shape)


def _plain(value):
    """A parameter as plain, comparable data (arrays by digest) for a checkpoint."""
    if isinstance(value, np.ndarray) or (hasattr(value, "__array__") and
                                         not isinstance(value, (str, bytes))):
        array = np.asarray(value)
        return f"array {array.shape} sha1:{hashlib.sha1(array.tobytes()).hexdigest()}"
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return repr(value)


def _user_stacklevel():
    """``stacklevel`` for a warning issued by the caller: the first frame outside
    skcosae and scikit-learn, so that the warning points at the user's line."""
    import sys

    frame, level = sys._getframe(2), 2
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not module.startswith(("skcosae.", "sklearn.")):
            return level
        frame, level = frame.f_back, level + 1
    return level


BASELINES: dict[str, dict[str, Any]] = {
    "cosae": {"architecture": "cosae"},
    "sae": {"architecture": "cosae", "losses": {"rec": 1.0}},
    "transcoder": {"architecture": "cosae", "losses": {"trans": 1.0}},
    "crosscoder": {"architecture": "crosscoder", "losses": {"rec": 1.0}},
    "usae": {"architecture": "usae", "losses": {"rec": 1.0, "trans": 1.0}},
    "sae-a": {"architecture": "sae-a", "losses": {"rec": 1.0, "cc": 1.0}},
}


def make_baseline(name: str, **params: Any) -> CoupledSAE:
    """A :class:`CoupledSAE` configured as one of the paper's baselines.

    Parameters
    ----------
    name : {"cosae", "sae", "transcoder", "crosscoder", "usae", "sae-a"}
        - ``"cosae"``: the paper's coupled SAE, CoSAE recipe (every loss but ``cycle``).
        - ``"sae"``: independent BatchTopK SAEs per view, ``rec`` only (the standard SAE,
          the paper's ref. [11]): each view is reconstructed, nothing aligns the codes.
        - ``"transcoder"``: ``trans`` only (transcoders, ref. [18]): every view's code is
          trained to predict the other views; no reconstruction term.
        - ``"crosscoder"``: one code shared by the views, ``TopK(sum_i (W_enc_i x_i +
          b_enc_i))``, decoded into every view (sparse crosscoders, ref. [46]). It trains
          on the paired rows only (the shared code needs every view of a row) and encodes
          with ``crosscoder_mode="shared"`` (from all views) or ``"standalone"`` (each
          view's encoder alone, the paper's second evaluation setting).
        - ``"usae"``: universal SAE (ref. [68]): each step draws one view, encodes it and
          decodes the code into every view (``rec`` on all rows, ``trans`` on the paired
          rows), so only the drawn view's encoder gets a gradient. Every decoder steps at
          once; the reference code instead lets the other decoders' gradients pile up
          until their own view is drawn.
        - ``"sae-a"``: SAE-Aligned (ref. [14]): one SAE whose weights all views share
          (views of equal width; other widths are an error naming them), ``rec`` + ``cc``
          on the pairs.
    **params
        Any other :class:`CoupledSAE` parameter (they win over the baseline's).

    Returns
    -------
    CoupledSAE

    Examples
    --------
    >>> from skcosae.coupled import make_baseline
    >>> make_baseline("usae", n_concepts=128).architecture
    'usae'
    """
    if name not in BASELINES:
        raise ValueError(f"Unknown baseline {name!r}; the baselines are {sorted(BASELINES)}.")
    return CoupledSAE(**{**BASELINES[name], **params})
