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

Products with the codes
-----------------------
A code of ``k`` active concepts out of ``m`` makes the decode and the encoder's backward
pass sparse products. Two kernels compute them through the active entries only (when
``k / m <= SPARSE_CODES_MAX_DENSITY``), chosen by device type in ``CODE_KERNELS``:

- ``"csr"`` (the CPU): the batch's BatchTopK cut is found by ``kthvalue`` (ties kept) and
  the products are sparse CSR products;
- ``"gather"`` (CUDA and any other accelerator): the cut is a ``topk`` of fixed size, and
  every product is an ``embedding_bag`` over the active entries (a gather of dictionary
  rows, weighted and summed per row or per concept). Nothing in it reads a value back to
  the host, so a training step never waits for the GPU. The active entries found by the
  encoder travel with the codes (:class:`ActiveCodes`) to every product with them.

Both kernels give the dense products' results to float32 rounding (the backend's tests
check it on the CPU).
"""

from __future__ import annotations

import math
import warnings

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "CODE_KERNELS",
    "ActiveCodes",
    "BatchTopKSAE",
    "CrossCoder",
    "DenseLinearAE",
    "active_codes",
    "batch_top_k",
    "batch_top_k_mask",
    "gather_decode",
    "sparse_code_product",
    "waits_for_device",
]

# Products with the codes (the decode, the encoder's backward pass) go through the active
# entries only when at most this share of them is active (k / m); on the CPU, at
# k / m = 1/64 they are about 2x cheaper than dense products.
SPARSE_CODES_MAX_DENSITY = 1 / 16
# The kernel of each device type ("csr" or "gather"; see the module's docstring); a device
# type not listed takes "gather", the one that never synchronises with the host.
CODE_KERNELS = {"cpu": "csr"}
# Elements of the largest temporary (active entries x width) a gather product forms at once.
_GATHER_CHUNK_ELEMENTS = 2**25


# Torch announces once per process that its sparse CSR layout is in beta. The CSR
# operations used here are checked against the dense products in the backend's tests, so
# that one notice is silenced, by its message, here once (not by a catch_warnings around
# every step, which resets the process's filters and is not thread-safe).
warnings.filterwarnings("ignore", message=r"Sparse CSR tensor support is in beta",
                        category=UserWarning)


def _full_precision(like):
    """Autocast off: the sparse products run in float32 whatever the training precision."""
    return torch.autocast(device_type=like.device.type, enabled=False)


class _SparseCodeProduct(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z, W):
        with _full_precision(z):
            return _SparseCodeProduct._forward(ctx, z, W)

    @staticmethod
    def _forward(ctx, z, W):
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


class ActiveCodes:
    """The active entries of a (n, m) batch of codes, found once by the encoder.

    Every product with the codes (:func:`gather_decode`, the encoder's backward pass, AuxK)
    reuses them; all sizes are fixed in advance (the ``k * n`` entries of BatchTopK), so
    nothing here waits for the device. ``keep`` is False at entries that were selected but
    are not positive: they stay zero and get no gradient.

    Attributes
    ----------
    shape : tuple of int
    flat, rows, cols : int64 Tensor of shape (n_entries,)
        The entries in row-major order (``flat = rows * m + cols``).
    keep : bool Tensor of shape (n_entries,)
    row_starts : int64 Tensor of shape (n,)
        Where each row's entries start (the offsets of ``embedding_bag``).
    by_col : int64 Tensor of shape (n_entries,)
        The entries ordered by concept; ``col_starts`` (m,) where each concept's start.
    pre : Tensor of shape (n, m) or None
        The pre-activations the entries were selected from (AuxK reuses them).
    view : int or None
        The view whose encoder computed ``pre``.
    """

    def __init__(self, flat, keep, shape, *, pre=None, view=None):
        n, m = shape
        self.shape = (int(n), int(m))
        self.flat, order = torch.sort(flat)
        self.keep = keep[order]
        self.rows = torch.div(self.flat, m, rounding_mode="floor")
        self.cols = self.flat - self.rows * m
        device = flat.device
        self.row_starts = torch.searchsorted(self.rows, torch.arange(n, device=device))
        self.by_col = torch.argsort(self.cols, stable=True)
        self.col_starts = torch.searchsorted(self.cols[self.by_col],
                                             torch.arange(m, device=device))
        self.pre, self.view = pre, view

    def fired(self):
        """Bool (m,): the concepts that hold at least one kept entry."""
        return _segment_sum(self.keep[self.by_col].float(), self.col_starts) > 0

    def take(self, dense):
        """The float32 values of a (n, m) tensor at the entries."""
        return dense.reshape(-1).index_select(0, self.flat).float()

    def to_dense(self, values):
        """The (n, m) tensor that holds ``values`` at the entries and zeros elsewhere."""
        n, m = self.shape
        dense = torch.zeros(n * m, dtype=values.dtype, device=values.device)
        return dense.index_copy_(0, self.flat, values).view(n, m)


def waits_for_device(device):
    """Whether training on ``device`` may read values back to the host at every step (the
    "csr" kernel's device, the CPU), rather than keep sizes fixed in advance."""
    return CODE_KERNELS.get(torch.device(device).type, "gather") == "csr"


def active_codes(z):
    """The :class:`ActiveCodes` that travel with the codes ``z``, or None."""
    active = getattr(z, "_active_codes", None)
    if active is None or active.shape != tuple(z.shape):
        return None
    return active


def _with_active(z, active):
    z._active_codes = active
    return z


def _bag_sum(index, weight, starts, scale=None):
    """Row b: the sum over the entries e of bag b of ``scale[e] * weight[index[e]]``."""
    return F.embedding_bag(index, weight, starts, mode="sum", per_sample_weights=scale)


def _segment_sum(values, starts):
    """Sums of consecutive segments of ``values`` (one per start), in a fixed order."""
    index = torch.arange(len(values), device=values.device)
    return _bag_sum(index, values.unsqueeze(1), starts)[:, 0]


def _entry_dots(a, a_rows, b, b_rows):
    """``(a[a_rows[e]] * b[b_rows[e]]).sum()`` for every entry e, in chunks of bounded size."""
    out = torch.empty(len(a_rows), dtype=a.dtype, device=a.device)
    step = max(1, _GATHER_CHUNK_ELEMENTS // max(1, a.shape[1]))
    for start in range(0, len(a_rows), step):
        stop = start + step
        out[start:stop] = (a.index_select(0, a_rows[start:stop])
                           * b.index_select(0, b_rows[start:stop])).sum(1)
    return out


class _GatherDecode(torch.autograd.Function):
    """``z @ W.T`` through the active entries of ``z``: ``embedding_bag`` over W's columns."""

    @staticmethod
    def forward(ctx, z, W, active):
        with _full_precision(z):
            values = active.take(z.detach())
            out = _bag_sum(active.cols, W.detach().T.contiguous(), active.row_starts, values)
        ctx.save_for_backward(W, values)
        ctx.active = active
        return out

    @staticmethod
    def backward(ctx, grad_out):
        W, values = ctx.saved_tensors
        active = ctx.active
        grad_out = grad_out.contiguous().float()
        grad_z = grad_W = None
        if ctx.needs_input_grad[0]:
            grad_values = _entry_dots(grad_out, active.rows, W.detach().T.contiguous(),
                                      active.cols)
            grad_z = active.to_dense(grad_values)
        if ctx.needs_input_grad[1]:
            grad_W = _bag_sum(active.rows[active.by_col], grad_out, active.col_starts,
                              values[active.by_col]).T
        return grad_z, grad_W, None


def gather_decode(z, W, active):
    """``z @ W.T`` for codes ``z`` (n, m) whose active entries are ``active``, and W (d, m).

    The counterpart of :func:`sparse_code_product` that never synchronises with the device:
    forward and backward go through the entries of ``active`` only (the gradient with
    respect to ``z`` too, as there).
    """
    return _GatherDecode.apply(z, W, active)


class _GatherEncode(torch.autograd.Function):
    """Codes ``pre * keep`` at the active entries, differentiated at those entries only.

    ``pre = x @ W.T + bias`` was computed without gradient; the backward pass multiplies the
    gradient at the active entries by ``W`` and ``x`` (``embedding_bag`` per row and per
    concept), which is the whole gradient: elsewhere the codes are constant zero.
    """

    @staticmethod
    def forward(ctx, x, W, bias, pre, active):
        with _full_precision(pre):
            values = active.take(pre) * active.keep
            codes = active.to_dense(values)
        ctx.save_for_backward(x, W)
        ctx.active = active
        return codes

    @staticmethod
    def backward(ctx, grad_codes):
        x, W = ctx.saved_tensors
        active = ctx.active
        grad_values = active.take(grad_codes) * active.keep
        by_col = active.by_col
        grad_x = grad_W = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_x = _bag_sum(active.cols, W.detach().float(), active.row_starts, grad_values)
        if ctx.needs_input_grad[1]:
            grad_W = _bag_sum(active.rows[by_col], x.detach().float(), active.col_starts,
                              grad_values[by_col])
        if ctx.needs_input_grad[2]:
            grad_bias = _segment_sum(grad_values[by_col], active.col_starts)
        return grad_x, grad_W, grad_bias, None, None


def _largest_entries(pre, n_keep):
    """The ``n_keep`` largest entries of ``pre``: flat indices, keep flags, smallest kept.

    ``topk`` of a size fixed in advance, so that nothing waits for the device (ties at the
    cut are broken arbitrarily, where :func:`batch_top_k_mask` keeps them all). Only positive
    entries are kept; with fewer positive entries than ``n_keep``, the smallest kept one is
    the smallest positive one (the largest entry when none is positive).
    """
    values, flat = torch.topk(pre.detach().reshape(-1), n_keep, sorted=False)
    keep = values > 0
    smallest_positive = torch.where(keep, values, math.inf).amin()
    smallest = torch.where(torch.isinf(smallest_positive), values.amin(), smallest_positive)
    return flat, keep, smallest


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


def _inference_csr(pre, threshold, k):
    """Inference codes of ``pre`` as a CSR tensor, made from the kept entries alone.

    The same entries as the dense inference codes: those above ``threshold`` (and above 0),
    or each row's ``k`` largest positive ones while the threshold is unset (NaN). No dense
    (n, m) code matrix is written: the matrix products of the atlas and of sparse
    ``transform`` are then the largest cost left.
    """
    n, m = pre.shape
    if torch.isnan(threshold):
        top = torch.topk(pre, min(max(1, int(round(k))), m), dim=1)
        cols, order = torch.sort(top.indices, dim=1)
        values = top.values.gather(1, order)
        keep = values > 0
        cols, values = cols[keep], values[keep]
    else:
        keep = pre > threshold.clamp_min(0)
        cols = keep.nonzero()[:, 1]
        values = pre[keep]
    crow = torch.zeros(n + 1, dtype=torch.int64, device=pre.device)
    torch.cumsum(keep.sum(1), 0, out=crow[1:])
    return torch.sparse_csr_tensor(crow, cols, values, size=(n, m), check_invariants=False)


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

    def _kernel(self, x):
        """How products with the codes are computed on ``x``'s device: "csr", "gather" or
        None (dense products; the codes are too dense for sparse ones to pay)."""
        kernel = CODE_KERNELS.get(x.device.type, "gather")
        return kernel if self.k <= SPARSE_CODES_MAX_DENSITY * self.m else None

    def _n_keep(self, pre):
        return min(pre.numel(), max(1, int(self.k * pre.shape[0])))

    def _update_threshold(self, smallest):
        """The inference threshold's moving average; a where, not a branch: no device read."""
        with torch.no_grad():
            smallest = smallest.to(self.threshold.dtype)
            moved = torch.lerp(self.threshold, smallest, 1.0 - self.threshold_momentum)
            self.threshold.copy_(torch.where(torch.isnan(self.threshold), smallest, moved))

    def _training_mask(self, pre):
        """The batch's BatchTopK mask; updates the inference threshold and dead tracking."""
        if not waits_for_device(pre.device):
            flat, keep, smallest = _largest_entries(pre, self._n_keep(pre))
            self._update_threshold(smallest)
            mask = torch.zeros(pre.numel(), dtype=torch.bool, device=pre.device)
            mask = mask.scatter_(0, flat, keep).view(pre.shape)
            with torch.no_grad():
                self.steps_since_fired.add_(1).masked_fill_(mask.any(0), 0)
            return mask
        # Half the running cut is a safe bound for the selection: batch cuts vary far less.
        bound = None if torch.isnan(self.threshold) else 0.5 * self.threshold
        mask, smallest = batch_top_k_mask(pre, self.k, lower_bound=bound)
        self._update_threshold(smallest)
        with torch.no_grad():
            self.steps_since_fired.add_(1).masked_fill_(mask.any(0), 0)
        return mask

    def _training_entries(self, pre, view=None):
        """:meth:`_training_mask` as :class:`ActiveCodes` (the "gather" kernel)."""
        flat, keep, smallest = _largest_entries(pre, self._n_keep(pre))
        self._update_threshold(smallest)
        active = ActiveCodes(flat, keep, pre.shape, pre=None if view is None else pre, view=view)
        with torch.no_grad():
            self.steps_since_fired.add_(1).masked_fill_(active.fired(), 0)
        return active

    def _encode_one(self, x, view, *, training, sparse=False):
        W, b_dec = self.W_enc[view], self.b_dec[view]
        kernel = self._kernel(x) if training else None
        if kernel is None:
            pre = _encoder_product(x, W, b_dec, self.b_enc)
            return self._sparsify(pre.float(), training=training, sparse=sparse)
        with _full_precision(x):
            bias = _encoder_bias(W, b_dec, self.b_enc)
        with torch.no_grad():
            # Under bf16 autocast this product, the one dense product of a step, is bf16.
            pre = torch.addmm(bias, x, W.T).float()
        if kernel == "csr":
            mask = self._training_mask(pre)
            return _ActiveEncoderProduct.apply(x, W, bias, pre, mask)
        active = self._training_entries(pre, view)
        return _with_active(_GatherEncode.apply(x, W, bias, pre, active), active)

    def _sparsify(self, pre, *, training, sparse=False):
        """Sparse codes from pre-activations (the ReLU is implied: only positives are kept).

        ``sparse=True`` (inference only) returns a CSR tensor built from the kept entries,
        without a dense code matrix.
        """
        if training:
            if self._kernel(pre) == "gather":
                # The crosscoder's shared code: a dense gradient reaches ``pre``, and the
                # decodes go through the active entries.
                active = self._training_entries(pre.detach())
                return _with_active(pre * active.to_dense(active.keep), active)
            return pre * self._training_mask(pre)
        if sparse:
            return _inference_csr(pre, self.threshold, self.k)
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
        active = active_codes(z)
        if active is not None:
            return gather_decode(z, W, active) + self.b_dec[view]
        if z.dim() == 2 and self._kernel(z) == "csr":
            return sparse_code_product(z, W) + self.b_dec[view]
        return z @ W.T + self.b_dec[view]

    def aux_loss(self, x, z, view=0, *, variance, dead_steps, k_aux=None):
        """AuxK: dead latents reconstruct the (detached) residual of the live code."""
        if not waits_for_device(x.device):
            return self._fixed_size_aux_loss(x, z, view, variance, dead_steps, k_aux)
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

    def _fixed_size_aux_loss(self, x, z, view, variance, dead_steps, k_aux):
        """:meth:`aux_loss` without reading the number of dead concepts: the top ``k_aux``
        entries of every row among all concepts, the live ones set to -inf (not kept)."""
        dead = self.dead_mask(dead_steps)
        residual = (x - self.decode(z, view)).detach()
        W = self.W_enc[view]
        with _full_precision(x):
            bias = _encoder_bias(W, self.b_dec[view], self.b_enc)
        active = active_codes(z)
        if active is not None and active.view == view:
            pre = active.pre  # the encoder's own pre-activations of these rows
        else:
            with torch.no_grad():
                pre = torch.addmm(bias, x, W.T).float()
        n, m = pre.shape
        k_aux = min(m, k_aux or max(1, x.shape[1] // 2))
        values, cols = torch.topk(torch.where(dead, pre, -math.inf), k_aux, dim=1)
        flat = (torch.arange(n, device=pre.device).unsqueeze(1) * m + cols).reshape(-1)
        entries = ActiveCodes(flat, (values > 0).reshape(-1), (n, m))
        aux_codes = _GatherEncode.apply(x, W, bias, pre, entries)
        estimate = gather_decode(aux_codes, self.W_dec[view], entries)
        loss = ((residual - estimate) ** 2).sum(1).mean() / variance
        return torch.where(dead.any(), loss, 0.0)


class BatchTopKSAE(_TopKDictionary):
    """BatchTopK sparse autoencoder of one view: ``d`` features, ``m`` concepts, ``k`` per row."""

    def __init__(self, d, m, k, *, generator=None, threshold_momentum=0.99):
        super().__init__()
        self.d = int(d)
        self._init_dictionary([d], m, k, generator, threshold_momentum)

    def encode(self, x, view=0, *, training=False, sparse=False):
        return self._encode_one(x, 0, training=training, sparse=sparse)

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

    def encode_shared(self, xs, *, training=False, sparse=False):
        pre = sum(_encoder_product(x, W, b) for x, W, b in zip(xs, self.W_enc, self.b_dec))
        pre = pre + self.b_enc
        # float32 codes under autocast
        return self._sparsify(pre.float(), training=training, sparse=sparse)

    def encode(self, x, view=0, *, training=False, sparse=False):
        return self._encode_one(x, view, training=training, sparse=sparse)


class DenseLinearAE(nn.Module):
    """Linear autoencoder of one view: ``E(x) = x W``, ``D(z) = z V^T`` (no bias, no top-k)."""

    def __init__(self, d, m, *, generator=None):
        super().__init__()
        self.d, self.m = int(d), int(m)
        self.W = nn.Parameter(torch.randn(d, m, generator=generator) / d**0.5)
        self.V = nn.Parameter(torch.randn(d, m, generator=generator) / m**0.5)

    def encode(self, x, view=0, *, training=False, sparse=False):
        z = x @ self.W
        return z.to_sparse_csr() if sparse else z

    def decode(self, z, view=0):
        return z @ self.V.T
