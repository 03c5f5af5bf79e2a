"""Learning-rate schedule and convergence control of a training run (torch-free).

Warm-up, stable phase, decay: the learning rate rises linearly over the first steps, stays
at its peak while the monitored loss still improves, then falls linearly to zero over a
final phase, after which training stops. The final phase starts when the loss has not
improved on its best by more than ``tol`` for ``n_iter_no_change`` checks in a row
("converged"), or at the latest so that it ends with ``max_epochs`` ("completed"). A decay
at the end averages out the noise of the last steps' gradients; starting it from a
plateau, rather than at a step count fixed in advance, is what lets one recipe serve a
thousand rows and a million.

A *check* closes at the end of an epoch once at least ``check_steps`` steps have run since
the previous one: every epoch on large data, every few epochs on small data, whose epochs
of a handful of steps have losses too noisy to compare one by one. Its loss is the mean
training objective of those steps, or the objective on held-out rows (early stopping).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

__all__ = ["ConvergenceRule", "Schedule"]


@dataclass(frozen=True)
class ConvergenceRule:
    """What the estimator resolved: when to check, what counts as progress, how to decay.

    Attributes
    ----------
    tol : float or None
        Smallest improvement of the monitored loss that counts; None: no convergence check
        (the run lasts ``max_epochs``).
    n_iter_no_change : int
        Checks in a row without such an improvement that end the stable phase.
    warmup : bool
        Rise linearly over the first ``warmup_fraction`` of the steps that ``max_epochs``
        allows (at most ``max_warmup_steps``).
    decay_fraction : float
        Length of the final decay as a fraction of the whole run (0: constant rate, and a
        plateau stops training at once).
    check_steps : int
        Least number of steps between two checks.
    """

    tol: float | None = 1e-4
    n_iter_no_change: int = 5
    warmup: bool = True
    decay_fraction: float = 0.2
    check_steps: int = 100
    warmup_fraction: float = 0.05
    max_warmup_steps: int = 200


@dataclass
class _State:
    best: float = math.inf
    bad_checks: int = 0
    steps_since_check: int = 0
    loss_since_check: float = 0.0
    decay_start: int | None = None  # the step at which the rate starts to fall
    decay_steps: int = 0
    stop_after_epoch: int | None = None
    reason: str = "completed"
    n_checks: int = 0
    cap: int | None = None  # the max_epochs that set a decay (none: a plateau set it)


class Schedule:
    """The learning rate of every step and the decision to stop, for one training run.

    Parameters
    ----------
    rule : ConvergenceRule
    learning_rate : float
        The peak rate.
    max_epochs : int
        Epochs in all (counting those of a resumed run).
    state : dict, optional
        :meth:`state_dict` of a run to continue (from a checkpoint).
    """

    def __init__(self, rule, learning_rate, max_epochs, state=None):
        self.rule = rule
        self.learning_rate = float(learning_rate)
        self.max_epochs = int(max_epochs)
        self.warmup_steps = 0
        self._state = _State(**(state or {}))
        s = self._state
        if s.cap is not None and s.cap != self.max_epochs:
            # A run that ended with its own max_epochs, resumed under another: the rate
            # returns to its peak and decays again before the new cap.
            s.decay_start, s.decay_steps, s.stop_after_epoch, s.cap = None, 0, None, None

    # -------------------------------------------------------------------------- rate
    def rate(self, step):
        """The learning rate of optimiser step ``step`` (0-based, counted over the run)."""
        factor = 1.0
        if self.warmup_steps:
            factor = min(1.0, (step + 1) / self.warmup_steps)
        s = self._state
        if s.decay_start is not None and step >= s.decay_start:
            # Down to 1 / (decay_steps + 1) of the peak at the last step: no step is wasted
            # at a rate of zero.
            factor *= max(0.0, 1.0 - (step - s.decay_start + 1) / (s.decay_steps + 1))
        return self.learning_rate * factor

    # -------------------------------------------------------------------------- epochs
    def begin_epoch(self, epoch, epoch_steps, step):
        """Before epoch ``epoch`` (0-based) of ``epoch_steps`` steps, the run at ``step``.

        Sets the warm-up from the length the run may have, and starts the final decay
        when it must end with ``max_epochs``.
        """
        capped_steps = self.max_epochs * epoch_steps
        if self.rule.warmup:
            self.warmup_steps = max(1, min(self.rule.max_warmup_steps,
                                           round(self.rule.warmup_fraction * capped_steps)))
        s = self._state
        if s.decay_start is not None or self.rule.decay_fraction <= 0:
            return
        decay_steps = max(1, math.ceil(self.rule.decay_fraction * capped_steps))
        steps_left = (self.max_epochs - epoch) * epoch_steps
        if steps_left <= decay_steps + epoch_steps:
            s.decay_start = step + max(0, steps_left - decay_steps)
            s.decay_steps = min(decay_steps, steps_left)
            s.stop_after_epoch = s.cap = self.max_epochs

    def add_steps(self, loss_sum, n_steps):
        """Record an epoch's summed training objective over its ``n_steps`` steps."""
        self._state.loss_since_check += float(loss_sum)
        self._state.steps_since_check += int(n_steps)

    def check_due(self):
        """Whether the epoch just recorded closes a check (the caller then computes its loss
        when it monitors held-out rows)."""
        return (self.rule.tol is not None
                and self._state.steps_since_check >= self.rule.check_steps)

    def training_loss(self):
        """Mean training objective of the steps since the last check."""
        s = self._state
        return s.loss_since_check / max(s.steps_since_check, 1)

    def end_epoch(self, epochs_done, epoch_steps, step, loss=None):
        """After an epoch: record a due check's ``loss``; return True to stop training.

        ``loss`` is the monitored loss when :meth:`check_due` (None: the training
        objective since the last check).
        """
        s = self._state
        if s.stop_after_epoch is not None and epochs_done >= s.stop_after_epoch:
            return True
        if not self.check_due():
            return False
        loss = self.training_loss() if loss is None else float(loss)
        s.loss_since_check, s.steps_since_check = 0.0, 0
        s.n_checks += 1
        if s.decay_start is not None:
            return False
        if loss < s.best - self.rule.tol:
            s.best, s.bad_checks = loss, 0
        else:
            s.best = min(s.best, loss)
            s.bad_checks += 1
        if s.bad_checks < self.rule.n_iter_no_change:
            return False
        s.reason = "converged"
        if self.rule.decay_fraction <= 0:
            return True
        # The decay lasts decay_fraction of the whole run: f / (1 - f) of what ran so far.
        share = self.rule.decay_fraction / (1.0 - self.rule.decay_fraction)
        decay_epochs = min(max(1, math.ceil(share * epochs_done)),
                           self.max_epochs - epochs_done)
        if decay_epochs <= 0:
            return True
        s.decay_start, s.decay_steps = step, decay_epochs * epoch_steps
        s.stop_after_epoch = epochs_done + decay_epochs
        return False

    def finished(self, epochs_done):
        """Whether a run resumed after ``epochs_done`` epochs has already ended."""
        stop = self._state.stop_after_epoch
        return stop is not None and epochs_done >= stop

    # -------------------------------------------------------------------------- state
    @property
    def reason(self):
        """"converged" when a plateau started the final decay, else "completed"."""
        return self._state.reason

    @property
    def best_loss(self):
        return self._state.best

    def state_dict(self):
        return asdict(self._state)
