"""The resolved training plan that the estimators hand to the training loop.

Torch-free on purpose: the estimators import the loss names from here without importing
torch. Every field is already validated (the estimators check their parameters once); the
loop neither re-validates nor converts it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["DEFAULTS", "INSTANCE_LOSSES", "LOSS_NAMES", "PRECISIONS", "TrainingPlan",
           "check_precision"]

#: Every loss term, in the order of the docs' method page.
LOSS_NAMES = ("rec", "trans", "cycle", "cc", "dist_trans", "dist_cc")
#: The terms that compare a row of one view with the same row of another: pairs only.
INSTANCE_LOSSES = ("trans", "cc")
#: The arithmetic of the training steps (docs: GPU and multi-GPU training).
PRECISIONS = ("float32", "tf32", "bf16")
#: The training defaults, the same as :class:`skcosae.CoupledSAE`'s (a test keeps them equal).
DEFAULTS: dict[str, Any] = {
    "max_epochs": 200,
    "batch_size": 256,
    "learning_rate": 3e-3,
    "aux_weight": 1 / 32,
    "dead_steps": 200,
    "n_slices": 32,
}


def check_precision(precision, device):
    """Raise a ValueError when ``precision`` cannot run on ``device`` (a torch device string)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r} is not one of {list(PRECISIONS)}.")
    if precision == "tf32" and not str(device).startswith("cuda"):
        raise ValueError(
            f"precision='tf32' needs a CUDA device (TensorFloat-32 is a mode of NVIDIA "
            f"tensor cores); device is {str(device)!r}. Use 'float32' here, or 'bf16'."
        )


@dataclass(frozen=True)
class TrainingPlan:
    """Everything one call of :func:`~skcosae.backend.train.train_coupled` needs.

    Attributes
    ----------
    views : sequence
        The training data of every view: tensors already on ``device`` when
        ``shuffle_rows`` is None (the in-memory path), else row sources read in chunks
        (objects with ``shape``, ``dtype``, ``rows(start, stop)`` and ``take(index)``,
        e.g. :class:`skcosae._views.LazyView`).
    pair_mask : ndarray of bool of shape (n_samples,)
        Rows whose pairing across views is known.
    weights : mapping
        Loss name -> weight, positive weights only (a term that is absent is not computed).
    variances : sequence of float
        Total variance of each view (the normalisation of every term).
    device : str
        Torch device of the model and the batches.
    max_epochs : int
        Epochs in all, counting those of a resumed checkpoint.
    batch_size, learning_rate, seed, n_slices, aux_weight, dead_steps
        As the estimator's parameters of the same names (``seed`` is an int).
    shuffle_rows : int or None
        Rows of the shuffle buffer of the streaming path; None keeps the whole data in
        device memory and shuffles it whole.
    chunk_rows : int
        Contiguous rows read at a time by the streaming path (the unit the buffer shuffles).
    checkpoint_path : str or None
        Where each epoch is checkpointed (atomically); None writes nothing.
    checkpoint_config : mapping
        Stored with each checkpoint, to recognise the configuration that wrote it.
    log_every : int
        Steps between two reads of the running loss on the host (progress, divergence).
    convergence : ConvergenceRule or None
        Learning-rate schedule and convergence checks
        (:class:`~skcosae.backend.schedule.ConvergenceRule`); None: a constant rate for
        ``max_epochs``.
    validation_rows : ndarray of int or None
        Rows held out of training, whose objective is the monitored loss of the
        convergence checks (early stopping); None monitors the training objective.
    precision : {"float32", "tf32", "bf16"}
        Arithmetic of the steps: "tf32" lets CUDA matrix products use TensorFloat-32,
        "bf16" runs the model's dense products under bfloat16 autocast (weights, codes,
        losses and optimiser stay float32).
    """

    views: Sequence[Any]
    pair_mask: np.ndarray
    weights: Mapping[str, float]
    variances: Sequence[float]
    device: str
    max_epochs: int
    batch_size: int
    learning_rate: float
    seed: int
    n_slices: int
    aux_weight: float
    dead_steps: int
    shuffle_rows: int | None = None
    chunk_rows: int = 512
    checkpoint_path: str | None = None
    checkpoint_config: Mapping[str, Any] = field(default_factory=dict)
    log_every: int = 50
    precision: str = "float32"
    convergence: Any = None
    validation_rows: np.ndarray | None = None

    @property
    def n_samples(self) -> int:
        return int(self.views[0].shape[0])

    @property
    def streaming(self) -> bool:
        return self.shuffle_rows is not None
