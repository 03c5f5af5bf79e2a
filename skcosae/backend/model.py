"""The coupled model: one autoencoder per view, or shared weights, or a crosscoder.

:class:`CoupledModel` gives the training loop and the estimator one interface whatever the
architecture: ``encode(x, view, *, training=False)``, ``decode(z, view)``,
``encode_shared(xs, *, training=False)``. :class:`PerViewModel` gives the same interface to
any list of per-view modules that expose ``encode(x, *, training)`` and ``decode(z)``
(e.g. :class:`~skcosae.backend.sae.DenseLinearAE`),
so :func:`~skcosae.backend.train.train_coupled` can train them too.
"""

from __future__ import annotations

import torch
from torch import nn

from .sae import BatchTopKSAE, CrossCoder, DenseLinearAE

__all__ = ["ARCHITECTURES", "CoupledModel", "PerViewModel", "as_coupled_model"]

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
            self.units = nn.ModuleList(
                [DenseLinearAE(d, m, generator=generator) for d in self.widths])
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

    def encode(self, x, view, *, training=False, sparse=False):
        """Code of one view's rows (a crosscoder's standalone code).

        ``training=True`` encodes with BatchTopK over the rows and updates the inference
        threshold and the dead-concept counters; ``False`` changes nothing. ``sparse=True``
        (inference) returns a sparse CSR tensor.
        """
        x = self._normalise(x, view)
        if self.is_crosscoder:
            return self.crosscoder.encode(x, view, training=training, sparse=sparse)
        return self._unit(view).encode(x, training=training, sparse=sparse)

    def encode_shared(self, xs, *, training=False, sparse=False):
        """A crosscoder's code from all views at once."""
        xs = [self._normalise(x, view) for view, x in enumerate(xs)]
        return self.crosscoder.encode_shared(xs, training=training, sparse=sparse)

    def decode(self, z, view):
        if self.is_crosscoder:
            x = self.crosscoder.decode(z, view)
        else:
            x = self._unit(view).decode(z)
        return x * self.input_scale[view] + self.input_mean[view]

    def _host_scale(self, view):
        """``input_scale[view]`` as a float, read from the device only when it changed.

        The training loop needs it at every step; reading a GPU tensor would make every
        step wait for the device. The cache is keyed by the tensor's storage and its
        version counter, which every in-place change (``fill_``, ``load_state_dict``) bumps.
        """
        scale = self.input_scale[view]
        key = (scale.data_ptr(), scale._version)
        cache = self.__dict__.setdefault("_host_scales", {})
        if cache.get(view, (None,))[0] != key:
            cache[view] = (key, float(scale))
        return cache[view][1]

    def code_variances(self, variances):
        """Total variance of each view as its encoder sees it (after the input scaling)."""
        return [float(v) / self._host_scale(i) ** 2 for i, v in enumerate(variances)]

    def aux_loss(self, x, z, view, *, variance, dead_steps):
        """AuxK term of one view, in the units of ``rec`` (error over the view's variance)."""
        if not self.is_sparse:
            return x.new_zeros(())
        # The units work on standardised inputs: residual and variance are taken there.
        x = self._normalise(x, view)
        variance = variance / self._host_scale(view) ** 2
        if self.is_crosscoder:
            return self.crosscoder.aux_loss(x, z, view, variance=variance, dead_steps=dead_steps)
        return self._unit(view).aux_loss(x, z, variance=variance, dead_steps=dead_steps)

    def dictionary(self, view):
        """(d_view, m) decoder matrix of a view: column c is concept c's atom."""
        if self.is_crosscoder:
            return self.crosscoder.W_dec[view]
        unit = self._unit(view)
        return unit.V if self.architecture == "linear" else unit.W_dec[0]

    def _dictionaries(self):
        return [self.crosscoder] if self.is_crosscoder else list(self.units)

    @torch.no_grad()
    def init_from_moments(self, means, variances):
        """Input normalisation from each view's feature means and (biased) variances.

        Each view is centred on its mean and scaled to unit mean feature variance; the
        decoder biases then start at the centre of the standardised data, zero.
        """
        if not self.is_sparse:
            return
        for view, (mean, var) in enumerate(zip(means, variances)):
            mean = torch.as_tensor(mean, dtype=self.input_mean[view].dtype)
            scale = float(max(float(torch.as_tensor(var, dtype=torch.float64).mean()), 0.0))
            self.input_mean[view].copy_(mean)
            self.input_scale[view].fill_(max(scale ** 0.5, 1e-12))
        for unit in self._dictionaries():
            for bias in unit.b_dec:
                bias.zero_()

    @torch.no_grad()
    def init_from_data(self, views):
        """:meth:`init_from_moments` from tensors holding each view's data."""
        data = [x.double() for x in views]
        self.init_from_moments([x.mean(0) for x in data],
                               [x.var(0, unbiased=False) for x in data])

    def after_backward(self):
        if self.is_sparse:
            for unit in self._dictionaries():
                unit.remove_parallel_gradient()

    def after_step(self):
        if self.is_sparse:
            for unit in self._dictionaries():
                unit.normalise_decoder()


class PerViewModel(nn.Module):
    """One user-supplied module per view, seen through :class:`CoupledModel`'s interface.

    Each module needs ``encode(x, *, training)`` and ``decode(z)``; the optional hooks
    ``aux_loss(x, z, *, variance, dead_steps)``, ``remove_parallel_gradient()`` and
    ``normalise_decoder()`` are called when a module has them (a :class:`BatchTopKSAE` does).
    No input normalisation is added: the modules see the data as given.
    """

    architecture = "per-view"
    is_crosscoder = False

    def __init__(self, modules):
        super().__init__()
        self.views = nn.ModuleList(modules)
        self.n_views = len(self.views)

    @property
    def is_sparse(self):
        return any(hasattr(m, "aux_loss") for m in self.views)

    def encode(self, x, view, *, training=False):
        return self.views[view].encode(x, training=training)

    def decode(self, z, view):
        return self.views[view].decode(z)

    def code_variances(self, variances):
        return list(variances)  # no input scaling: codes see the data as given

    def aux_loss(self, x, z, view, *, variance, dead_steps):
        module = self.views[view]
        if not hasattr(module, "aux_loss"):
            return x.new_zeros(())
        return module.aux_loss(x, z, variance=variance, dead_steps=dead_steps)

    def after_backward(self):
        for module in self.views:
            if hasattr(module, "remove_parallel_gradient"):
                module.remove_parallel_gradient()

    def after_step(self):
        for module in self.views:
            if hasattr(module, "normalise_decoder"):
                module.normalise_decoder()


def as_coupled_model(model):
    """``model`` itself if it is a coupled model, else a :class:`PerViewModel` of its items."""
    if hasattr(model, "encode") and hasattr(model, "after_step"):
        return model
    modules = list(model)
    if len(modules) < 2:
        raise ValueError(f"A coupled model needs at least 2 per-view modules; got {len(modules)}.")
    for i, module in enumerate(modules):
        if not (hasattr(module, "encode") and hasattr(module, "decode")):
            raise ValueError(
                f"The module of view {i} ({type(module).__name__}) has no encode/decode methods."
            )
    return PerViewModel(modules)
