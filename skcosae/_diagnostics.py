"""Checks that catch a wasted fit, each a pure function that returns a message or None.

A fit can finish with ``stop_reason_ == "completed"`` and still have learnt little: too few
optimiser steps for the data, or a training loss that was still falling when the epochs ran
out. A translation can be worse than predicting the target view's mean. Each check below
returns the warning text (saying what to change) or None; the caller issues it with the
warning class given here, so that a user can filter each kind on its own.

The thresholds come from two measured learning curves (``make_platonic`` with 2 views,
``n_concepts=128, k=4``, losses ``rec + trans + 0.5 cc``, every row a pair, held-out
translation R^2 on 600 or 800 other rows):

====================  ==========================  ===============================
optimiser steps       A: 2,400 rows, batch 256    B: 3,200 rows, batch 64
                      (10 steps per epoch)        (50 steps per epoch)
====================  ==========================  ===============================
100                   R^2 0.25, loss -4.8%/epoch  R^2 0.10, loss -14.6%/epoch
200                   0.48, -3.4%                 0.30, -11.9%
300                   0.58, -1.6%                 0.42, -10.0%
400                   0.61, -0.7%                 0.50, -8.1%
600                   0.62, -0.2%                 0.58, -4.7%
800                   0.62, 0.0%                 0.60, -1.5%
1,500                                             0.61, -0.2%
====================  ==========================  ===============================

Smaller batches need more steps, so the step rule is a floor: below 300 steps both fits
were far from their plateau. The loss rule carries over between the two: a loss still
falling by more than 2% per epoch marked fits with 3% or more of their final R^2 still
to gain (curve A at 250 steps, curve B at 700), and both fell by less than 2% per epoch
once they were within 2% of it.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from sklearn.exceptions import ConvergenceWarning

__all__ = [
    "MIN_STEPS",
    "LOSS_DROP_TOL",
    "LOSS_DROP_WINDOW",
    "NegativeR2Warning",
    "UndertrainedWarning",
    "check_loss_curve",
    "check_n_steps",
    "check_translation_r2",
]

#: Fewer optimiser steps than this warn (see the curves above: after 200 steps the fits
#: had 77% and 49% of their final held-out R^2).
MIN_STEPS = 300
#: A training loss that still fell by more than this fraction per epoch, on average over
#: the last ``LOSS_DROP_WINDOW`` epochs, warns (see the curves above).
LOSS_DROP_TOL = 0.02
LOSS_DROP_WINDOW = 3


class UndertrainedWarning(ConvergenceWarning):
    """The fit ended before it learnt what it could (too few steps, or a loss still falling).

    A subclass of scikit-learn's :class:`~sklearn.exceptions.ConvergenceWarning`, so a filter
    on either silences it.
    """


class NegativeR2Warning(UserWarning):
    """A translation between two views does worse than predicting the target view's mean."""


def check_n_steps(n_steps, n_epochs, *, batch_size, min_steps=MIN_STEPS):
    """Whether a fit took too few optimiser steps to learn its data.

    Rule: warn when ``n_steps < min_steps``. The number of steps, not of epochs, is what
    counts: one epoch of ``n`` rows is ``ceil(n / batch_size)`` steps, so the default 10
    epochs are 80 steps on 2,000 rows and 790 on 20,000.

    Parameters
    ----------
    n_steps : int
        Optimiser steps taken (all epochs; with a warm start, all calls together).
    n_epochs : int
        Epochs those steps came from.
    batch_size : int
        Rows per step.
    min_steps : int, default=MIN_STEPS
        The threshold (300; see the module docstring for the measurement behind it).

    Returns
    -------
    message : str or None
        What to change, or None when there were enough steps.

    Examples
    --------
    >>> from skcosae._diagnostics import check_n_steps
    >>> print(check_n_steps(80, 10, batch_size=256))  # doctest: +ELLIPSIS
    The fit took 80 optimiser steps (10 epochs of 8 batches of 256 rows), fewer than 300...
    >>> check_n_steps(790, 10, batch_size=256) is None
    True
    """
    _check_count(n_steps, "n_steps", 0)
    _check_count(n_epochs, "n_epochs", 1)
    _check_count(batch_size, "batch_size", 1)
    _check_count(min_steps, "min_steps", 1)
    if n_steps >= min_steps:
        return None
    per_epoch = max(1, round(n_steps / n_epochs))
    epochs_needed = math.ceil(min_steps / per_epoch)
    return (
        f"The fit took {n_steps} optimiser steps ({n_epochs} epochs of {per_epoch} batches "
        f"of {batch_size} rows), fewer than {min_steps}: on small data the model has barely "
        f"started to learn (held-out translation R^2 of a model fitted on skcosae's "
        f"synthetic data was at 16-40% of its final value after 100 steps). "
        f"Set max_epochs to at least {epochs_needed}, or lower batch_size, so that "
        f"max_epochs * ceil(n_samples / batch_size) >= {min_steps}."
    )


def check_loss_curve(history, *, window=LOSS_DROP_WINDOW, tol=LOSS_DROP_TOL):
    """Whether the training loss was still falling at the last epoch.

    Rule: with ``L`` the per-epoch total loss and ``w = min(window, n_epochs - 1)``, warn
    when ``(L[-1 - w] - L[-1]) / (w * |L[-1 - w]|) > tol``: the loss fell by more than
    ``tol`` of its value per epoch, on average over the last ``w`` epochs. A single epoch
    cannot be judged (None).

    Parameters
    ----------
    history : DataFrame with a ``total`` column, or 1-D array-like
        The per-epoch loss (``CoupledSAE.history_``, or its ``total`` column).
    window : int, default=LOSS_DROP_WINDOW
        Epochs the drop is averaged over (3).
    tol : float, default=LOSS_DROP_TOL
        Relative drop per epoch above which the loss counts as still falling (0.02).

    Returns
    -------
    message : str or None
        What to change, or None when the curve has levelled off.

    Examples
    --------
    >>> from skcosae._diagnostics import check_loss_curve
    >>> print(check_loss_curve([3.6, 2.8, 2.3, 1.9, 1.6]))  # doctest: +ELLIPSIS
    The training loss was still falling at the last epoch: it fell by 14.3% per epoch...
    >>> check_loss_curve([3.6, 1.2, 1.12, 1.11, 1.1, 1.09]) is None
    True
    """
    _check_count(window, "window", 1)
    if not isinstance(tol, numbers.Real) or not tol >= 0:
        raise ValueError(f"tol must be a non-negative number, got {tol!r}.")
    if hasattr(history, "columns"):
        if "total" not in history.columns:
            raise ValueError(
                f"history has no 'total' column (columns: {list(history.columns)}); pass "
                "an estimator's history_ or a 1-D array of per-epoch losses."
            )
        history = history["total"]
    losses = np.asarray(history, dtype=float)
    if losses.ndim != 1:
        raise ValueError(f"history must be 1-D (one loss per epoch); got shape {losses.shape}.")
    losses = losses[np.isfinite(losses)]
    if len(losses) < 2:
        return None
    w = min(window, len(losses) - 1)
    start, end = losses[-1 - w], losses[-1]
    if start == 0:
        return None
    rate = (start - end) / (w * abs(start))
    if rate <= tol:
        return None
    n = len(losses)
    return (
        f"The training loss was still falling at the last epoch: it fell by {rate:.1%} per "
        f"epoch over the last {f'{w} epochs' if w > 1 else 'epoch'} (more than "
        f"{100 * tol:g}%), so more training would "
        f"likely improve the model. Raise max_epochs (e.g. to {2 * n}), or call fit again "
        "with warm_start=True to continue from these weights."
    )


def check_translation_r2(raw_r2):
    """Whether some translation explains less than the target view's mean.

    Rule: warn when any off-diagonal R^2 (source view != target view) is below 0, i.e.
    the translated rows are further from the true ones than the target view's mean is.

    Parameters
    ----------
    raw_r2 : iterable of (source, target, value)
        Unclipped translation R^2 per ordered pair of views (diagonal entries are ignored).

    Returns
    -------
    message : str or None

    Examples
    --------
    >>> from skcosae._diagnostics import check_translation_r2
    >>> print(check_translation_r2([(0, 1, -0.09), (1, 0, 0.2)]))  # doctest: +ELLIPSIS
    Translation R^2 is below 0 for 0 -> 1 (-0.090): ...
    >>> check_translation_r2([(0, 1, 0.4), (1, 0, 0.3), (0, 0, -1.0)]) is None
    True
    """
    bad = [(s, t, float(v)) for s, t, v in raw_r2
           if s != t and np.isfinite(v) and v < 0]
    if not bad:
        return None
    pairs = ", ".join(f"{s} -> {t} ({v:.3f})" for s, t, v in bad)
    return (
        f"Translation R^2 is below 0 for {pairs}: the translated rows are further from the "
        "true ones than the target view's mean, so the model learnt no usable translation "
        "there (the report shows these cells as 0, marked clipped). Train on more paired "
        "rows (pair_mask) or for more steps (max_epochs), and check that the rows of the "
        "views really are the same data points."
    )


def _check_count(value, name, low):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}.")
