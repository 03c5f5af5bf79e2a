"""Data-parallel training: two processes (gloo on the CPU, nccl on 2 GPUs) train one model.

The workers are started as torchrun starts them (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``...
in the environment) and run what a user's script runs: ``CoupledSAE(...).fit(X)``.
"""

import os
import socket

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from skcosae import CoupledSAE
from skcosae.backend import DenseLinearAE, TrainingPlan, train_coupled
from skcosae.backend.data import EpochBuffer, Step, plan_epoch
from skcosae.backend.distributed import DataParallel
from skcosae.backend.plan import DEFAULTS
from tests._helpers import r2
from tests.test_cuda import TRANSLATION_FIT, _translation_data


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _linear_views(n=600, dims=(6, 9), latent=4, seed=0):
    rng = np.random.default_rng(seed)
    s = rng.normal(size=(n, latent))
    return [torch.as_tensor(s @ rng.normal(size=(latent, d)) + 0.05 * rng.normal(size=(n, d)),
                            dtype=torch.float32) for d in dims]


def _train_linear(batch_size, device="cpu"):
    """Per-view linear modules trained on rec + trans: no step depends on the batch split."""
    xs = [x.to(device) for x in _linear_views()]
    gen = torch.Generator().manual_seed(0)
    modules = [DenseLinearAE(6, 4, generator=gen).to(device),
               DenseLinearAE(9, 4, generator=gen).to(device)]
    settings = {**DEFAULTS, "max_epochs": 3, "batch_size": batch_size, "learning_rate": 1e-2}
    plan = TrainingPlan(views=xs, pair_mask=np.ones(600, bool), weights={"rec": 1, "trans": 1},
                        variances=[float(x.var(0, unbiased=False).sum()) for x in xs],
                        device=device, seed=0, **settings)
    train_coupled(modules, plan)
    return [{k: v.cpu() for k, v in m.state_dict().items()} for m in modules]


def _worker(rank, world_size, port, out_dir, device):
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    train, test = _translation_data()
    # The user's script, unchanged: the estimator joins the process group itself.
    sae = CoupledSAE(device=device, checkpoint_dir=os.path.join(out_dir, f"ckpt{rank}"),
                     **TRANSLATION_FIT).fit(train)
    torch.save({
        "device": sae.device_,
        "state": {k: v.cpu() for k, v in sae.model_.state_dict().items()},
        "history": sae.history_.drop(columns="seconds").to_numpy(),
        "r2": r2(test[1], sae.translate(test[0], source=0, target=1)),
        "linear": _train_linear(batch_size=100, device=sae.device_),
    }, os.path.join(out_dir, f"rank{rank}.pt"))


@pytest.fixture(scope="module", params=["cpu", "cuda"])
def two_ranks(request, tmp_path_factory):
    device = request.param
    if device == "cuda" and torch.cuda.device_count() < 2:
        pytest.skip("nccl needs 2 CUDA devices")
    out_dir = str(tmp_path_factory.mktemp(f"ranks_{device}"))
    mp.spawn(_worker, args=(2, _free_port(), out_dir, device), nprocs=2, join=True)
    runs = [torch.load(os.path.join(out_dir, f"rank{r}.pt"), weights_only=False)
            for r in range(2)]
    return device, out_dir, runs


def test_every_rank_ends_with_the_same_model(two_ranks):
    device, out_dir, (rank0, rank1) = two_ranks
    if device == "cuda":
        assert (rank0["device"], rank1["device"]) == ("cuda:0", "cuda:1")
    for name, value in rank0["state"].items():
        assert torch.equal(value, rank1["state"][name]), name
    np.testing.assert_array_equal(rank0["history"], rank1["history"])
    # Only rank 0 checkpoints.
    assert os.path.exists(os.path.join(out_dir, "ckpt0", "checkpoint.pt"))
    assert not os.path.exists(os.path.join(out_dir, "ckpt1"))


def test_two_ranks_train_as_well_as_one_process_on_the_same_global_batch(two_ranks):
    device, _, (rank0, _) = two_ranks
    train, test = _translation_data()
    single = CoupledSAE(device=device, **TRANSLATION_FIT).fit(train)
    alone = r2(test[1], single.translate(test[0], source=0, target=1))
    assert alone > 0.7
    assert abs(rank0["r2"] - alone) < 0.05, (rank0["r2"], alone)


def test_two_ranks_take_the_steps_of_one_process_not_two_independent_fits(two_ranks):
    # Linear modules make every step independent of how the batch is split: averaging the
    # two halves' gradients is the gradient of the whole batch.
    device, _, (rank0, _) = two_ranks
    whole_batch = _train_linear(batch_size=100)
    half_batch = _train_linear(batch_size=50)  # what a rank alone would do with its share
    tolerance = 1e-5 if device == "cpu" else 1e-3
    for module, same, other in zip(rank0["linear"], whole_batch, half_batch):
        for name, value in module.items():
            np.testing.assert_allclose(value, same[name], rtol=tolerance, atol=tolerance)
            assert float((value - other[name]).abs().max()) > 100 * tolerance


def test_shards_keep_pairs_and_cover_each_step():
    rng = np.random.default_rng(0)
    pair_mask = rng.random(300) < 0.1
    buffers = list(plan_epoch(np.arange(300), pair_mask, 2, 64, rng, pair_batch=True))
    shares = []
    for rank in range(3):
        parallel = object.__new__(DataParallel)
        parallel.rank, parallel.world_size = rank, 3
        shares.append(list(parallel.shard(buffers)))
    for s, step in enumerate(buffers[0].steps):
        parts = [share[0].steps[s] for share in shares]
        for part in parts:
            assert isinstance(part, Step) and part.n_rows == len(step.paired) - step.n_extra
            np.testing.assert_array_equal(part.rows[0][part.paired], part.rows[1][part.paired])
        for view in range(2):
            main = np.concatenate([p.rows[view][:len(p.paired) - p.n_extra] for p in parts])
            extra = np.concatenate([p.rows[view][len(p.paired) - p.n_extra:] for p in parts])
            n_main = len(step.paired) - step.n_extra
            np.testing.assert_array_equal(main, step.rows[view][:n_main])
            np.testing.assert_array_equal(extra, step.rows[view][n_main:])
    assert all(isinstance(b, EpochBuffer) for b in shares[0])


@pytest.mark.parametrize("n", [300, 257, 256])
def test_sharded_step_count_matches_the_shards(n):
    pair_mask = np.ones(n, dtype=bool)
    for world_size in (2, 3):
        parallel = object.__new__(DataParallel)
        parallel.rank, parallel.world_size = 0, world_size
        plan = plan_epoch(np.arange(n), pair_mask, 2, 64, np.random.default_rng(0))
        expected = parallel.n_steps(plan)
        assert expected == sum(len(b.steps) for b in parallel.shard(plan))
