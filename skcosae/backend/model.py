"""The coupled model: one autoencoder per view, or shared weights, or a crosscoder.

:class:`CoupledModel` gives the training loop and the estimator one interface whatever the
architecture: ``encode(x, view, training)``, ``decode(z, view)``, ``encode_shared(xs)``.
"""

from __future__ import annotations

import torch
from torch import nn

from .sae import BatchTopKSAE, CrossCoder, DenseLinearAE

__all__ = ["ARCHITECTURES", "CoupledModel"]

ARCHITECTURES = ("cosae", "sae-a", "usae", "crosscoder", "linear")


class CoupledModel(nn.Module):
    """Autoencoders of ``len(widths)`` views into one concept space of ``m`` dimensions.

    Parameters
    ----------
    widths : list of int
        Width of each view.
    m : int
        Number of concepts.
    k : float
        Average number of active concepts per row (ignored by ``"linear"``).
    architecture : {"cosae", "sae-a", "usae", "crosscoder", "linear"}
        ``"cosae"`` and ``"usae"``: one BatchTopK SAE per view (they differ in training);
        ``"sae-a"``: one SAE whose weights all views share (equal widths);
        ``"crosscoder"``: one shared code; ``"linear"``: dense linear autoencoders.
    """

    def __init__(self, widths, m, k, architecture="cosae", *, seed=0, threshold_momentum=0.99):
        super().__init__()
        if architecture not in ARCHITECTURES:
            raise ValueError(f"Unknown architecture {architecture!r}; use one of {ARCHITECTURES}.")
        self.widths = [int(d) for d in widths]
        self.n_views = len(self.widths)
        self.m, self.k, self.architecture = int(m), float(k), architecture
        generator = torch.Generator().manual_seed(int(seed))
        # Each view is centred and scaled to unit mean feature variance inside the model, so
        # learning rates and thresholds mean the same whatever the scale of an embedding.
        self.input_mean = nn.ParameterList(
            [nn.Parameter(torch.zeros(d), requires_grad=False) for d in self.widths])
        self.input_scale = nn.ParameterList(
            [nn.Parameter(torch.ones(()), requires_grad=False) for _ in self.widths])
        if architecture == "crosscoder":
            self.crosscoder = CrossCoder(
                self.widths, m, k, generator=generator, threshold_momentum=threshold_momentum
            )
            self.units = nn.ModuleList()
            self._unit_of_view = []
        elif architecture == "sae-a":
            if len(set(self.widths)) > 1:
                raise ValueError(
                    "architecture='sae-a' shares one autoencoder across views and needs views "
                    f"of equal width; got widths {self.widths}."
                )
            self.units = nn.ModuleList(
                [BatchTopKSAE(self.widths[0], m, k, generator=generator,
                              threshold_momentum=threshold_momentum)]
            )
            self._unit_of_view = [0] * self.n_views
        elif architecture == "linear":
            self.units = nn.ModuleList([DenseLinearAE(d, m, generator=generator) for d in self.widths])
            self._unit_of_view = list(range(self.n_views))
        else:
            self.units = nn.ModuleList(
                [BatchTopKSAE(d, m, k, generator=generator, threshold_momentum=threshold_momentum)
                 for d in self.widths]
            )
            self._unit_of_view = list(range(self.n_views))

    @property
    def is_crosscoder(self):
        return self.architecture == "crosscoder"

    @property
    def is_sparse(self):
        return self.architecture != "linear"

    def _unit(self, view):
        return self.units[self._unit_of_view[view]]

    def _normalise(self, x, view):
        return (x - self.input_mean[view]) / self.input_scale[view]

    def encode(self, x, view, training=False):
        """Code of one view's rows (a crosscoder's standalone code)."""
        x = self._normalise(x, view)
        if self.is_crosscoder:
            return self.crosscoder.encode(x, training, view=view)
        return self._unit(view).encode(x, training)

    def encode_shared(self, xs, training=False):
        """A crosscoder's code from all views at once."""
        xs = [self._normalise(x, view) for view, x in enumerate(xs)]
        return self.crosscoder.encode_shared(xs, training)

    def decode(self, z, view):
        if self.is_crosscoder:
            x = self.crosscoder.decode(z, view)
        else:
            x = self._unit(view).decode(z)
        return x * self.input_scale[view] + self.input_mean[view]

    def aux_loss(self, x, z, view, variance, dead_steps):
        if not self.is_sparse:
            return x.new_zeros(())
        if self.is_crosscoder:
            return self.crosscoder.aux_loss(x, z, variance, view=view, dead_steps=dead_steps)
        return self._unit(view).aux_loss(x, z, variance, dead_steps=dead_steps)

    def dictionary(self, view):
        """(d_view, m) decoder matrix of a view: column c is concept c's atom."""
        if self.is_crosscoder:
            return self.crosscoder.W_dec[view]
        unit = self._unit(view)
        return unit.V if self.architecture == "linear" else unit.W_dec[0]

    def _dictionaries(self):
        return [self.crosscoder] if self.is_crosscoder else list(self.units)

    @torch.no_grad()
    def init_from_data(self, views):
        """Input normalisation from the data, decoder biases at each view's mean."""
        if self.is_sparse:
            for view, x in enumerate(views):
                self.input_mean[view].copy_(x.mean(0))
                scale = (x.var(0, unbiased=False).mean()).sqrt().clamp_min(1e-12)
                self.input_scale[view].copy_(scale)
        views = [self._normalise(x, view) for view, x in enumerate(views)]
        if self.is_crosscoder:
            self.crosscoder.init_decoder_bias(views)
        elif self.architecture == "sae-a":
            self.units[0].init_decoder_bias([torch.cat(list(views))])
        elif self.is_sparse:
            for view, x in enumerate(views):
                self._unit(view).init_decoder_bias([x])

    def after_backward(self):
        if self.is_sparse:
            for unit in self._dictionaries():
                unit.remove_parallel_gradient()

    def after_step(self):
        if self.is_sparse:
            for unit in self._dictionaries():
                unit.normalise_decoder()
