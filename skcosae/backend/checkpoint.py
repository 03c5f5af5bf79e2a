"""Crash-safe checkpoints of a training run: written atomically, read back to resume.

A checkpoint holds the model's and the optimiser's state, every random state of the loop,
the history and the count of epochs, and the configuration that wrote it. It is written to
a temporary file, flushed to disk and renamed over the previous one, so a process killed
mid-write leaves the last good checkpoint intact.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

__all__ = ["CHECKPOINT_FILE", "load_checkpoint", "save_checkpoint"]

CHECKPOINT_FILE = "checkpoint.pt"


def save_checkpoint(directory, state):
    """Write ``state`` (a dict of tensors and plain Python values) to ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / CHECKPOINT_FILE
    partial = directory / (CHECKPOINT_FILE + ".partial")
    with open(partial, "wb") as handle:
        torch.save(state, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, final)


def load_checkpoint(directory):
    """The checkpoint stored in ``directory`` (tensors on the CPU), or None if there is none."""
    path = Path(directory) / CHECKPOINT_FILE
    if not path.exists():
        return None
    # weights_only: a checkpoint is data, never code to run.
    return torch.load(path, map_location="cpu", weights_only=True)
