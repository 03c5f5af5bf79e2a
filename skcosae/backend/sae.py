"""Per-view autoencoders of the torch backend (no sklearn here).

- :class:`BatchTopKSAE`: the BatchTopK sparse autoencoder of Bussmann et al. (2024), one per
  view. During training the ``k * B`` largest activations of a batch of ``B`` rows are kept;
  at inference every activation above ``threshold`` is kept, so a row's code does not depend
  on its batch. The threshold is a registered buffer (it travels with ``state_dict``), an
  exponential moving average of the smallest activation kept during training.
- :class:`CrossCoder`: one code shared by all views, ``TopK(sum_i W_enc_i (x_i - b_dec_i) + b)``.
- :class:`DenseLinearAE`: ``E(x) = x W``, ``D(z) = z V^T``: the linear regime's model.

Every module exposes ``encode(x, *, training=False)`` and ``decode(z)``, which is all the
training loop needs.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

__all__ = ["BatchTopKSAE", "CrossCoder", "DenseLinearAE", "batch_top_k", "batch_top_k_mask",
           "sparse_code_product"]

# On CPU, products with the codes (the decode, the encoder's backward pass) go through the
# active entries only when at most this share of them is active (k / m); at k / m = 1/64
# they are about 2x cheaper than dense products.
SPARSE_CODES_MAX_DENSITY = 1 / 16


# Torch announces once per process that its sparse CSR layout is in beta. The CSR
# operations used here are checked against the dense products in the backend's tests, so
# that one notice is silenced, by its message, here once (not by a catch_warnings around
# every step, which resets the process's filters and is not thread-safe).
warnings.filterwarnings("ignore", message=r"Sparse CSR tensor support is in beta",
                        category=UserWarning)


class _SparseCodeProduct(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z, W):
        codes = z.detach().to_sparse_csr()
        ctx.codes = codes
        ctx.save_for_backward(W)
        return codes @ W.detach().T

    @staticmethod
    def backward(ctx, grad_out):
        (W,) = ctx.saved_tensors
        codes = ctx.codes
        grad_z = grad_W = None
        if ctx.needs_input_grad[0]:
            grad_z = torch.sparse.sampled_addmm(
                codes, grad_out.contiguous(), W.detach(), beta=0.0).to_dense()
        if ctx.needs_input_grad[1]:
            grad_W = (codes.t() @ grad_out).T
        return grad_z, grad_W


def sparse_code_product(z, W):
    """``z @ W.T`` for mostly-zero codes ``z`` (n, m) and a dictionary ``W`` (d, m).

    Forward and backward touch only the active entries of ``z`` (sparse CSR products), so
    the cost scales with the number of active codes instead of ``n * m * d``. The gradient
    with respect to ``z`` is returned at the active entries only: every code of this
    backend is exactly zero where the top-k mask or the ReLU already stops the gradient, so
    the gradient at those entries would be discarded upstream anyway. Do not use it for
    codes whose zero entries must receive a gradient.
    """
    return _SparseCodeProduct.apply(z, W)


def batch_top_k_mask(activations, k, lower_bound=None):
    """Mask of the ``k * B`` largest entries of a (B, m) batch, and the smallest kept value.

    ``activations`` may be pre-activations: only positive entries are ever kept, so the
    ReLU need not be applied first. The cut is found with ``kthvalue`` (a selection, about
    3x cheaper than ``topk`` on CPU for a batch of 1024 x 2048), and entries tied with it
    are kept.

    ``lower_bound`` (e.g. the previous batches' cut, lowered) only makes it faster: when at
    least ``k * B`` entries exceed it, the cut lies among them and the selection runs on
    those alone; otherwise on the whole batch. The result is the same either way.
    """
    n_keep = min(activations.numel(), max(1, int(k * activations.shape[0])))
    flat = activations.detach().flatten()
    candidates = flat
    if lower_bound is not None and lower_bound > 0:
        above = flat[flat > lower_bound]
        if above.numel() >= n_keep:
            candidates = above
    cut = torch.kthvalue(candidates, candidates.numel() - n_keep + 1).values
    if cut <= 0:
        # Fewer positive activations than k * B: every positive one is kept.
        positive = flat[flat > 0]
        cut = positive.min() if positive.numel() else cut
        return activations.detach() > 0, cut
    return activations.detach() >= cut, cut


def batch_top_k(activations, k, lower_bound=None):
    """Keep the ``k * B`` largest entries of a (B, m) batch: the codes and the smallest kept.

    See :func:`batch_top_k_mask`; the codes are ``activations`` where the mask is set.
    """
    mask, cut = batch_top_k_mask(activations, k, lower_bound)
    return activations * mask, cut


class _ActiveEncoderProduct(torch.autograd.Function):
    """``mask * (x @ W.T + bias)`` from a precomputed product, differentiated at the mask only.

    Forward reuses ``pre`` (computed without gradient); backward multiplies only the masked
    entries of the incoming gradient (sparse CSR products), which is the whole gradient:
    outside the mask the codes are constant zero.
    """

    @staticmethod
    def forward(ctx, x, W, bias, pre, mask):
        rows, cols = mask.nonzero(as_tuple=True)
        ctx.save_for_backward(x, W, rows, cols)
        ctx.shape = mask.shape
        return pre * mask

    @staticmethod
    def backward(ctx, grad_codes):
        x, W, rows, cols = ctx.saved_tensors
        n, m = ctx.shape
        values = grad_codes[rows, cols]
        crow = torch.zeros(n + 1, dtype=torch.long, device=values.device)
        crow[1:] = torch.cumsum(torch.bincount(rows, minlength=n), 0)
        grad_pre = torch.sparse_csr_tensor(crow, cols, values, size=(n, m),
                                           check_invariants=False)
        grad_x = grad_W = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_x = grad_pre @ W.detach()
        if ctx.needs_input_grad[1]:
            grad_W = grad_pre.t() @ x.detach()
        if ctx.needs_input_grad[2]:
            grad_bias = torch.zeros(m, dtype=values.dtype, device=values.device)
            grad_bias.index_add_(0, cols, values)
        return grad_x, grad_W, grad_bias, None, None


def _encoder_bias(W_enc, b_dec, b_enc=None):
    """``b_enc - W_enc b_dec``: the decoder bias moved through the encoder weights.

    ``(x - b_dec) @ W_enc.T + b_enc == x @ W_enc.T + bias`` with this bias; the backward pass
    then needs no (n, m) x (m, d) product for the gradient of ``b_dec``, one of the five
    large products of a training step.
    """
    bias = -(b_dec @ W_enc.T)
    return bias if b_enc is None else bias + b_enc


def _encoder_product(x, W_enc, b_dec, b_enc=None):
    """``(x - b_dec) @ W_enc.T + b_enc``, computed as ``x @ W_enc.T + _encoder_bias(...)``."""
    return torch.addmm(_encoder_bias(W_enc, b_dec, b_enc), x, W_enc.T)


class _TopKDictionary(nn.Module):
    """Shared machinery: unit-norm decoder columns, inference threshold, dead tracking."""

    def _init_dictionary(self, widths, m, k, generator, threshold_momentum):
        self.m, self.k = int(m), float(k)
        self.threshold_momentum = float(threshold_momentum)
        self.W_dec = nn.ParameterList()
        self.b_dec = nn.ParameterList()
        self.W_enc = nn.ParameterList()
        for d in widths:
            atoms = torch.randn(d, m, generator=generator)
            atoms = atoms / atoms.norm(dim=0, keepdim=True)
            self.W_dec.append(nn.Parameter(atoms))
            # Tied initialisation (encoder = decoder transpose) avoids many dead latents early.
            self.W_enc.append(nn.Parameter(atoms.T.clone()))
            self.b_dec.append(nn.Parameter(torch.zeros(d)))
        self.b_enc = nn.Parameter(torch.zeros(m))
        # NaN means "not estimated yet": inference then falls back to per-row top-k.
        self.register_buffer("threshold", torch.tensor(float("nan")))
        self.register_buffer("steps_since_fired", torch.zeros(m, dtype=torch.long))

    @torch.no_grad()
    def init_decoder_bias(self, views):
        """Set each decoder bias to its view's mean (the data's centre)."""
        for b, x in zip(self.b_dec, views):
            b.copy_(x.mean(0).to(b))

    def _sparse_on(self, x):
        """Whether products with the codes go through their active entries only (CPU)."""
        return x.device.type == "cpu" and self.k <= SPARSE_CODES_MAX_DENSITY * self.m

    def _training_mask(self, pre):
        """The batch's BatchTopK mask; updates the inference threshold and dead tracking."""
        # Half the running cut is a safe bound for the selection: batch cuts vary far less.
        bound = None if torch.isnan(self.threshold) else 0.5 * self.threshold
        mask, smallest = batch_top_k_mask(pre, self.k, lower_bound=bound)
        with torch.no_grad():
            if torch.isnan(self.threshold):
                self.threshold.copy_(smallest)
            else:
                self.threshold.lerp_(smallest, 1.0 - self.threshold_momentum)
            self.steps_since_fired.add_(1).masked_fill_(mask.any(0), 0)
        return mask

    def _encode_one(self, x, view, *, training):
        W, b_dec = self.W_enc[view], self.b_dec[view]
        if training and self._sparse_on(x):
            bias = _encoder_bias(W, b_dec, self.b_enc)
            with torch.no_grad():
                pre = torch.addmm(bias, x, W.T)
            mask = self._training_mask(pre)
            return _ActiveEncoderProduct.apply(x, W, bias, pre, mask)
        return self._sparsify(_encoder_product(x, W, b_dec, self.b_enc), training=training)

    def _sparsify(self, pre, *, training):
        """Sparse codes from pre-activations (the ReLU is implied: only positives are kept)."""
        if training:
            return pre * self._training_mask(pre)
        if torch.isnan(self.threshold):
            k_row = max(1, int(round(self.k)))
            top = torch.topk(torch.relu(pre), min(k_row, pre.shape[1]), dim=1)
            return torch.zeros_like(pre).scatter(1, top.indices, top.values)
        if self.threshold <= 0:
            return torch.relu(pre)
        return pre * (pre > self.threshold)

    @torch.no_grad()
    def normalise_decoder(self):
        """Project decoder columns back to unit norm (after an optimiser step)."""
        for W in self.W_dec:
            W.div_(W.norm(dim=0, keepdim=True).clamp_min(1e-8))

    @torch.no_grad()
    def remove_parallel_gradient(self):
        """Drop the gradient part along each atom: it would only change the atom's norm."""
        for W in self.W_dec:
            if W.grad is not None:
                W.grad.sub_((W.grad * W).sum(0, keepdim=True) * W)

    def dead_mask(self, dead_steps):
        return self.steps_since_fired >= dead_steps

    def decode(self, z, view=0):
        W = self.W_dec[view]
        if z.layout == torch.sparse_csr:  # codes already sparse (inference from CSR codes)
            return z @ W.T + self.b_dec[view]
        if z.dim() == 2 and self._sparse_on(z):
            return sparse_code_product(z, W) + self.b_dec[view]
        return z @ W.T + self.b_dec[view]

    def aux_loss(self, x, z, view=0, *, variance, dead_steps, k_aux=None):
        """AuxK: dead latents reconstruct the (detached) residual of the live code."""
        dead = self.dead_mask(dead_steps)
        n_dead = int(dead.sum())
        if n_dead == 0:
            return z.sum() * 0.0
        residual = (x - self.decode(z, view)).detach()
        pre = torch.relu(_encoder_product(x, self.W_enc[view][dead], self.b_dec[view],
                                          self.b_enc[dead]))
        k_aux = min(n_dead, k_aux or max(1, x.shape[1] // 2))
        top = torch.topk(pre, k_aux, dim=1)
        aux_codes = torch.zeros_like(pre).scatter(1, top.indices, top.values)
        estimate = aux_codes @ self.W_dec[view][:, dead].T
        return ((residual - estimate) ** 2).sum(1).mean() / variance


class BatchTopKSAE(_TopKDictionary):
    """BatchTopK sparse autoencoder of one view: ``d`` features, ``m`` concepts, ``k`` per row."""

    def __init__(self, d, m, k, *, generator=None, threshold_momentum=0.99):
        super().__init__()
        self.d = int(d)
        self._init_dictionary([d], m, k, generator, threshold_momentum)

    def encode(self, x, view=0, *, training=False):
        return self._encode_one(x, 0, training=training)

    @property
    def dictionary(self):
        return self.W_dec[0]


class CrossCoder(_TopKDictionary):
    """Crosscoder: one sparse code for all views, decoded into each view.

    ``encode_shared(xs)`` sums every view's encoder pre-activation before the BatchTopK step;
    ``encode(x, view=i)`` is the standalone code of one view (its encoder alone, with the same
    shared bias and threshold), the evaluation the paper calls "standalone".
    """

    def __init__(self, widths, m, k, *, generator=None, threshold_momentum=0.99):
        super().__init__()
        self.widths = [int(d) for d in widths]
        self._init_dictionary(self.widths, m, k, generator, threshold_momentum)

    def encode_shared(self, xs, *, training=False):
        pre = sum(_encoder_product(x, W, b) for x, W, b in zip(xs, self.W_enc, self.b_dec))
        pre = pre + self.b_enc
        return self._sparsify(pre, training=training)

    def encode(self, x, view=0, *, training=False):
        return self._encode_one(x, view, training=training)


class DenseLinearAE(nn.Module):
    """Linear autoencoder of one view: ``E(x) = x W``, ``D(z) = z V^T`` (no bias, no top-k)."""

    def __init__(self, d, m, *, generator=None):
        super().__init__()
        self.d, self.m = int(d), int(m)
        self.W = nn.Parameter(torch.randn(d, m, generator=generator) / d**0.5)
        self.V = nn.Parameter(torch.randn(d, m, generator=generator) / m**0.5)

    def encode(self, x, view=0, *, training=False):
        return x @ self.W

    def decode(self, z, view=0):
        return z @ self.V.T
