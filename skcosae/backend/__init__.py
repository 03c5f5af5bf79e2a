"""The torch backend of skcosae: per-view autoencoders, the losses and the training loop.

Torch only: nothing here knows scikit-learn or pandas (the estimators in
:mod:`skcosae.coupled` and :mod:`skcosae.linear` do the validation).
"""

from .model import ARCHITECTURES, CoupledModel, PerViewModel, as_coupled_model
from .plan import DEFAULTS, INSTANCE_LOSSES, LOSS_NAMES, TrainingPlan
from .sae import BatchTopKSAE, CrossCoder, DenseLinearAE, batch_top_k
from .train import TrainResult, batch_losses, train_coupled

__all__ = [
    "ARCHITECTURES",
    "BatchTopKSAE",
    "CoupledModel",
    "CrossCoder",
    "DEFAULTS",
    "DenseLinearAE",
    "INSTANCE_LOSSES",
    "LOSS_NAMES",
    "PerViewModel",
    "TrainResult",
    "TrainingPlan",
    "as_coupled_model",
    "batch_losses",
    "batch_top_k",
    "train_coupled",
]
