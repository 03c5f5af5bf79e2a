"""The batches of a training epoch, from data in device memory or streamed in row chunks.

One planner (:func:`plan_epoch`) decides every step's rows; two loaders gather them:
:class:`DeviceViews` indexes tensors that hold the whole data, :class:`StreamedViews` reads
row chunks into a shuffle buffer. With a buffer that holds every row, both see the same
batches.

Pairs
-----
A paired row keeps its index in every view. The unpaired rows of a buffer are dealt to each
view through its own random permutation, redrawn where two views would meet at the same
batch position: an unpaired row never meets its own counterpart. When pairs are rare (fewer
than half the rows), every step also carries a *pair batch* drawn from all the paired rows
(``min(n_pairs, batch_size // 4)`` rows), so that a handful of anchors steers every step.

Randomness of the streaming batches
-----------------------------------
The rows are cut into chunks of ``chunk_rows`` contiguous rows; each epoch shuffles the
chunks, fills the buffer with the next ``shuffle_rows // chunk_rows`` of them and shuffles
the buffer's rows. A batch therefore mixes rows of about ``shuffle_rows / chunk_rows``
random places of the data: data stored in a meaningful order (e.g. sorted by class) need a
buffer large enough to hold many chunks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["DeviceViews", "EpochBuffer", "Step", "StreamedViews", "free_device_bytes",
           "host_to_device", "plan_epoch"]


def host_to_device(tensor, device):
    """``tensor`` (on the CPU) on ``device``; to CUDA through pinned memory, asynchronously,
    so that the host does not wait for the GPU's queue to drain."""
    device = torch.device(device)
    if device.type != "cuda":
        return tensor.to(device)
    return tensor.pin_memory().to(device, non_blocking=True)


def _upload_split(arrays, device):
    """int64 arrays on ``device`` in one transfer (a step's own would wait for the GPU)."""
    if not arrays:
        return []
    joined = np.concatenate(arrays).astype(np.int64, copy=False)
    uploaded = host_to_device(torch.from_numpy(joined), device)
    return list(torch.split(uploaded, [len(a) for a in arrays]))


def _step_indices(steps, n_views, device):
    """Per step: each view's rows on ``device``, and the batch positions of the pairs."""
    rows = [_upload_split([step.rows[v] for step in steps], device) for v in range(n_views)]
    pairs = _upload_split([np.flatnonzero(step.paired) for step in steps], device)
    return [([r[i] for r in rows], pairs[i]) for i in range(len(steps))]


def free_device_bytes(device):
    """Free memory of an accelerator ``device``, or None for the CPU."""
    device = torch.device(device)
    if device.type != "cuda":
        return None
    free, _total = torch.cuda.mem_get_info(device)
    return int(free)


@dataclass
class Step:
    """One step: the global row of every batch position in each view."""

    rows: list  # one int64 array per view
    paired: np.ndarray  # bool, per batch position
    n_extra: int  # the trailing positions that are the pair batch
    n_rows: int | None = None  # rows of the whole step, when this is one process's share

    @property
    def epoch_rows(self):
        """The epoch's rows this step covers, over every process (the pair batch aside)."""
        if self.n_rows is not None:
            return self.n_rows
        return len(self.paired) - self.n_extra


@dataclass
class EpochBuffer:
    """The rows one buffer reads, those it keeps from the previous one, and its steps."""

    load: np.ndarray  # sorted global rows read from the sources
    keep: list  # per view: rows kept from the previous buffer (carried-over positions)
    steps: list


def _deal_unpaired(order, paired, n_views, rng):
    """Each view's rows at the positions of ``order``: pairs stay, unpaired rows are dealt."""
    per_view = [order]
    positions = np.flatnonzero(~paired)
    unpaired = order[positions]
    for _ in range(1, n_views):
        perm = rng.permutation(len(unpaired))
        if len(unpaired) > n_views:
            # No unpaired row may meet its counterpart: swap away every clash with an
            # earlier view (about one per view pair, so this ends at once).
            for _attempt in range(100):
                dealt = unpaired[perm]
                clash = np.zeros(len(perm), dtype=bool)
                for earlier in per_view:
                    clash |= dealt == earlier[positions]
                bad = np.flatnonzero(clash)
                if len(bad) == 0:
                    break
                partners = rng.integers(len(perm), size=len(bad))
                for a, b in zip(bad, partners):
                    perm[a], perm[b] = perm[b], perm[a]
        rows = order.copy()
        rows[positions] = unpaired[perm]
        per_view.append(rows)
    return per_view


def _groups(domain, rng, shuffle_rows, chunk_rows):
    """The rows of each buffer of an epoch (positions in ``domain``' order, then global),
    drawn one buffer at a time; the chunks' order is drawn at the first."""
    n = len(domain)
    if shuffle_rows is None or shuffle_rows >= n:
        yield domain
        return
    n_chunks = -(-n // chunk_rows)
    chunk_order = rng.permutation(n_chunks)
    per_buffer = max(1, shuffle_rows // chunk_rows)
    for g in range(0, n_chunks, per_buffer):
        chunks = np.sort(chunk_order[g:g + per_buffer])
        positions = np.concatenate(
            [np.arange(c * chunk_rows, min(n, (c + 1) * chunk_rows)) for c in chunks])
        yield domain[positions]


class EpochPlan:
    """The buffers and steps of one epoch, drawn one buffer at a time as they are read.

    Only the buffer being read holds per-row arrays, so planning costs memory in the size
    of the shuffle buffer, not of the data. The plan is read once: iterating it draws the
    epoch's randomness from its generator.

    Attributes
    ----------
    n_steps : int
        The steps of the epoch: every batch is full but the last.
    last_step_rows : int
        The rows of the last step (the pair batch aside).
    """

    def __init__(self, domain, pair_mask, n_views, batch_size, rng, *, shuffle_rows=None,
                 chunk_rows=512, pair_batch=False):
        self.domain = np.asarray(domain)
        self.pair_mask = pair_mask
        self.n_views, self.batch_size = n_views, batch_size
        self.rng = rng
        self.shuffle_rows, self.chunk_rows = shuffle_rows, chunk_rows
        self.pair_batch = pair_batch
        n = len(self.domain)
        self.n_steps = -(-n // batch_size)
        self.last_step_rows = n - (self.n_steps - 1) * batch_size if n else 0
        self._read = False

    def __iter__(self):
        if self._read:
            raise RuntimeError("an EpochPlan is read once; plan another epoch")
        self._read = True
        return self._buffers()

    def _buffers(self):
        rng, batch_size, n_views = self.rng, self.batch_size, self.n_views
        pair_index = np.flatnonzero(self.pair_mask) if self.pair_batch else None
        carry = [np.empty(0, dtype=np.int64) for _ in range(n_views)]
        carry_paired = np.empty(0, dtype=bool)
        groups = _groups(self.domain, rng, self.shuffle_rows, self.chunk_rows)
        rows = next(groups, None)
        while rows is not None:
            order = rows[rng.permutation(len(rows))]
            paired = self.pair_mask[order]
            per_view = _deal_unpaired(order, paired, n_views, rng)
            per_view = [np.concatenate([c, v]) for c, v in zip(carry, per_view)]
            keep = carry
            paired = np.concatenate([carry_paired, paired])
            following = next(groups, None)
            # Only the last buffer may end on a short batch: the others carry their remainder.
            end = len(paired) if following is None else (len(paired) // batch_size) * batch_size
            steps = []
            for start in range(0, end, batch_size):
                stop = min(start + batch_size, end)
                step_rows = [v[start:stop] for v in per_view]
                step_paired = paired[start:stop]
                n_extra = 0
                if self.pair_batch:
                    extra = rng.choice(pair_index,
                                       size=min(len(pair_index), max(1, batch_size // 4)),
                                       replace=False)
                    n_extra = len(extra)
                    step_rows = [np.concatenate([r, extra]) for r in step_rows]
                    step_paired = np.concatenate([step_paired, np.ones(n_extra, dtype=bool)])
                steps.append(Step(step_rows, step_paired, n_extra))
            carry = [v[end:] for v in per_view]
            carry_paired = paired[end:]
            yield EpochBuffer(np.sort(rows), keep, steps)
            rows = following


def plan_epoch(domain, pair_mask, n_views, batch_size, rng, *, shuffle_rows=None,
               chunk_rows=512, pair_batch=False):
    """The buffers and steps of one epoch, as an :class:`EpochPlan` read once.

    Parameters
    ----------
    domain : ndarray of int
        The global rows the epoch runs over (every row, or the pairs of a crosscoder).
    pair_mask : ndarray of bool of shape (n_samples,)
    n_views, batch_size : int
    rng : numpy.random.Generator
        Drawn from as the buffers are read.
    shuffle_rows : int or None
        Rows per buffer; None (or at least ``len(domain)``): one buffer of every row, a
        full shuffle.
    chunk_rows : int
        Contiguous rows the streaming buffer shuffles as one unit.
    pair_batch : bool
        Append a pair batch to every step.

    Returns
    -------
    EpochPlan
        An iterable of :class:`EpochBuffer`, with the epoch's ``n_steps``.
    """
    return EpochPlan(domain, pair_mask, n_views, batch_size, rng, shuffle_rows=shuffle_rows,
                     chunk_rows=chunk_rows, pair_batch=pair_batch)


class DeviceViews:
    """The whole data in device memory: a step indexes the tensors.

    :meth:`batches` yields ``(xs, step, pair_index)``: the batch of every view, the
    :class:`Step`, and the batch positions of the pairs as a tensor on the device. The
    indices of a whole buffer go to the device at once.
    """

    def __init__(self, tensors):
        self.tensors = list(tensors)
        self.device = self.tensors[0].device

    def rows(self, index):
        """Every view's rows ``index`` (the same rows in each view)."""
        index = torch.as_tensor(np.asarray(index, dtype=np.int64), device=self.device)
        return [x.index_select(0, index) for x in self.tensors]

    def batches(self, buffers):
        for buffer in buffers:
            indices = _step_indices(buffer.steps, len(self.tensors), self.device)
            for step, (rows, pair_index) in zip(buffer.steps, indices):
                yield [x.index_select(0, r) for x, r in zip(self.tensors, rows)], step, pair_index


class StreamedViews:
    """Row sources read into a shuffle buffer, one buffer at a time.

    Each view holds only the buffer's rows (and the few carried over from the previous
    buffer); the pair batches come from a cache of the paired rows. On CUDA, batches go
    through pinned host memory with asynchronous copies.
    """

    def __init__(self, sources, device, pair_index=None):
        self.sources = list(sources)
        self.device = torch.device(device)
        # Per view: one array reused by every buffer (refilled in place, grown if a buffer
        # is larger), the buffer's rows in it, the buffer's global rows sorted, and where
        # each sits in the buffer. A step's rows are found by binary search, so nothing
        # sized by the data is kept.
        self._store = [np.empty((0, s.shape[1]), dtype=np.float32) for s in self.sources]
        self._data = list(self._store)
        self._sorted_ids = [np.empty(0, dtype=np.int64) for _ in self.sources]
        self._positions = [np.empty(0, dtype=np.int64) for _ in self.sources]
        self._pair_ids = None
        if pair_index is not None and len(pair_index):
            self._pair_ids = np.asarray(pair_index, dtype=np.int64)  # sorted
            self._pairs = [s.take(self._pair_ids, np.float32) for s in self.sources]

    def _locate(self, view, rows):
        """Positions in the buffer of ``view``'s global ``rows`` (all resident)."""
        return self._positions[view][np.searchsorted(self._sorted_ids[view], rows)]

    def _fill(self, view, buffer):
        """Make ``buffer``'s rows (and the kept ones) resident for ``view``."""
        kept_ids, load = buffer.keep[view], buffer.load
        n_kept = len(kept_ids)
        n_rows = n_kept + len(load)
        kept = self._data[view][self._locate(view, kept_ids)] if n_kept else None
        if len(self._store[view]) < n_rows:
            self._store[view] = self._data[view] = None  # free the old before the new
            # Spare rows for the remainder the next buffer carries over (a larger one regrows).
            spare = n_rows // 16 + 1024
            self._store[view] = np.empty((n_rows + spare, self.sources[view].shape[1]),
                                         dtype=np.float32)
        store = self._store[view]
        if n_kept:
            store[:n_kept] = kept
        self.sources[view].take_into(load, store[n_kept:n_rows])
        self._data[view] = store[:n_rows]
        ids = np.concatenate([kept_ids, load]) if n_kept else load
        order = np.argsort(ids, kind="stable")
        self._sorted_ids[view], self._positions[view] = ids[order], order

    def _to_device(self, block):
        return host_to_device(torch.from_numpy(block), self.device)

    def _gather(self, view, step):
        rows = step.rows[view]
        main = rows[:len(rows) - step.n_extra]
        block = self._data[view][self._locate(view, main)]
        if step.n_extra:
            extra = self._pairs[view][np.searchsorted(self._pair_ids, rows[len(main):])]
            block = np.concatenate([block, extra])
        return self._to_device(block)

    def rows(self, index):
        """Every view's rows ``index`` (sorted, unique), read from the sources; the buffer
        is left as it is."""
        return [self._to_device(s.take(index, np.float32)) for s in self.sources]

    def batches(self, buffers):
        """``(xs, step, pair_index)`` of every step, as :meth:`DeviceViews.batches`."""
        for buffer in buffers:
            for view in range(len(self.sources)):
                self._fill(view, buffer)
            pairs = _upload_split([np.flatnonzero(step.paired) for step in buffer.steps],
                                  self.device)
            for step, pair_index in zip(buffer.steps, pairs):
                yield [self._gather(v, step) for v in range(len(self.sources))], step, pair_index
