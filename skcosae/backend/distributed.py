"""Data-parallel training with ``torch.distributed``: several processes train one model.

Under ``torchrun --nproc_per_node=N script.py`` (or in a script that initialised a process
group itself), every process runs the same script on the same data, and ``fit`` trains one
model with all of them:

- :func:`join_process_group` initialises the process group from torchrun's environment
  (nccl on CUDA, gloo on the CPU), gives each process its own GPU (``cuda:LOCAL_RANK``), and
  hands every process rank 0's seed and pair mask, so that all of them plan the same
  epochs (:func:`~skcosae.backend.data.plan_epoch`);
- :class:`DataParallel` splits every step's rows between the processes (each takes one
  contiguous share of the batch, the same positions in every view, so pairs stay pairs),
  averages the gradients and the BatchTopK state (inference threshold, dead-concept
  counters) after every backward pass, and averages the logged losses, so that every
  process takes the same steps and ends with the same weights.

``batch_size`` is the batch of a step over all processes. BatchTopK keeps ``k`` active
concepts per row on average within each process's share, and the distributional terms
compare each share's rows: the only differences from one process training on the whole
batch.
"""

from __future__ import annotations

import atexit
import os

import numpy as np
import torch
import torch.distributed as dist

from .data import EpochBuffer, Step

__all__ = ["DataParallel", "is_main_process", "join_process_group", "launched_by_torchrun"]

_TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def launched_by_torchrun():
    """Whether this process is one of several that torchrun (or a launcher setting the same
    environment variables) started."""
    env = os.environ
    return all(name in env for name in _TORCHRUN_VARIABLES) and int(env["WORLD_SIZE"]) > 1


def _running():
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def is_main_process():
    """True in a single process, and in the process of rank 0 of a process group."""
    return not _running() or dist.get_rank() == 0


def _local_device(device):
    """A CUDA device without an index means this process's GPU."""
    device = torch.device(device)
    if device.type != "cuda" or device.index is not None:
        return str(device)
    if "LOCAL_RANK" in os.environ:
        return f"cuda:{int(os.environ['LOCAL_RANK'])}"
    return f"cuda:{torch.cuda.current_device()}"


def _destroy():
    if dist.is_initialized():
        dist.destroy_process_group()


def join_process_group(device, pair_mask, seed):
    """This process's device, and the pair mask and seed of rank 0.

    In a single process (no process group, not launched by torchrun with several
    processes), ``device``, ``pair_mask`` and ``seed`` come back unchanged. Under torchrun
    the process group is initialised here (and destroyed at exit) if the script has not
    done it.

    Parameters
    ----------
    device : str
        The resolved torch device; ``"cuda"`` becomes this process's GPU.
    pair_mask : ndarray of bool
    seed : int

    Returns
    -------
    device : str
    pair_mask : ndarray of bool
    seed : int
    """
    if not _running():
        if not (launched_by_torchrun() and dist.is_available()):
            return device, pair_mask, seed
        device = _local_device(device)
        on_cuda = torch.device(device).type == "cuda"
        if on_cuda:
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if on_cuda else "gloo")
        atexit.register(_destroy)
    device = _local_device(device)
    backend = str(dist.get_backend()).lower()
    if torch.device(device).type == "cpu" and "gloo" not in backend:
        raise ValueError(
            f"The process group's backend is {backend!r}, which cannot reduce CPU tensors; "
            "train on CUDA (device='cuda') or initialise the group with backend='gloo'."
        )
    shared = [pair_mask, seed]
    dist.broadcast_object_list(shared, src=0, device=torch.device(device))
    return device, np.asarray(shared[0], dtype=bool), int(shared[1])


class DataParallel:
    """This process's part in a data-parallel run (see the module's docstring).

    Parameters
    ----------
    device : str
        The device of this process's model.
    """

    def __init__(self, device):
        self.device = torch.device(device)
        self.rank = dist.get_rank()
        self.world_size = dist.get_world_size()

    @classmethod
    def current(cls, device):
        """The run this process belongs to, or None when it trains alone."""
        return cls(device) if _running() else None

    def n_steps(self, epoch):
        """The steps this process runs of ``epoch`` (an :class:`EpochPlan`): a last step
        of fewer rows than processes is left out."""
        return epoch.n_steps - int(0 < epoch.last_step_rows < self.world_size)

    def shard(self, buffers):
        """The same buffers, one at a time, with this process's share of every step.

        A step's rows are cut into ``world_size`` contiguous shares (its pair batch too);
        a step of fewer rows than processes is left out by all of them.
        """
        for buffer in buffers:
            steps = []
            for step in buffer.steps:
                n_main = len(step.paired) - step.n_extra
                if n_main < self.world_size:
                    continue
                main = np.array_split(np.arange(n_main), self.world_size)[self.rank]
                extra = np.array_split(np.arange(n_main, len(step.paired)),
                                       self.world_size)[self.rank]
                take = np.concatenate([main, extra])
                steps.append(Step([rows[take] for rows in step.rows], step.paired[take],
                                  len(extra), n_rows=n_main))
            yield EpochBuffer(buffer.load, buffer.keep, steps)

    def broadcast_object(self, value):
        """Rank 0's ``value`` (any picklable object) on every process."""
        box = [value]
        dist.broadcast_object_list(box, src=0, device=self.device)
        return box[0]

    @torch.no_grad()
    def broadcast_module(self, model):
        """Rank 0's weights and buffers in ``model`` on every process."""
        for tensor in model.state_dict().values():
            dist.broadcast(tensor, src=0)

    @torch.no_grad()
    def average_gradients(self, model):
        """Average the gradients and the BatchTopK state of ``model`` over the processes.

        One all-reduce carries every gradient, each inference threshold (averaged: the
        moving average is linear in the batch cuts, so this equals averaging every cut) and
        which concepts fired (a concept that fired in any process restarts its count). A
        parameter without a gradient here has none in any process (which parameters get
        one depends only on the architecture and on the view drawn, the same everywhere).
        """
        grads = [p.grad for p in model.parameters() if p.requires_grad and p.grad is not None]
        units = [m for m in model.modules()
                 if hasattr(m, "threshold") and hasattr(m, "steps_since_fired")]
        parts = [g.reshape(-1).float() for g in grads]
        parts += [u.threshold.reshape(1).float() for u in units]
        parts += [(u.steps_since_fired == 0).float() for u in units]
        if not parts:
            return
        flat = torch.cat(parts)
        dist.all_reduce(flat)
        flat.div_(self.world_size)
        offset = 0
        for g in grads:
            g.copy_(flat[offset:offset + g.numel()].view_as(g))
            offset += g.numel()
        for u in units:
            u.threshold.copy_(flat[offset].view_as(u.threshold))
            offset += 1
        for u in units:
            fired = flat[offset:offset + u.steps_since_fired.numel()] > 0
            u.steps_since_fired.masked_fill_(fired, 0)
            offset += u.steps_since_fired.numel()

    @torch.no_grad()
    def mean(self, values):
        """The mean over the processes of a dict of scalars (tensors or floats)."""
        names = sorted(values)
        if not names:
            return {}
        stacked = torch.stack([
            torch.as_tensor(values[name], dtype=torch.float64).to(self.device)
            if not torch.is_tensor(values[name]) else values[name].detach().double()
            for name in names])
        dist.all_reduce(stacked)
        stacked.div_(self.world_size)
        return dict(zip(names, stacked.unbind()))
