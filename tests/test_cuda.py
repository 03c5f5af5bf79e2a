"""The accelerator path: the "gather" kernel, training precision, and CUDA-only checks.

The gather kernel is what CUDA runs; forced onto the CPU here, it must give the results of
the CPU's own kernel and of dense products. The tests marked ``cuda`` need a GPU and are
skipped without one (``benchmarks/cuda_check.sh`` runs them on a GPU machine).
"""

import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import skcosae.backend.sae as sae_module
from skcosae import CoupledSAE
from skcosae.backend import BatchTopKSAE, CoupledModel, batch_losses
from skcosae.backend.train import _sampled_concept_distance
from skcosae.datasets import make_platonic
from tests._helpers import r2

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.fixture
def gather_on_cpu(monkeypatch):
    """The CPU computes as CUDA does: fixed-size selection and gather products."""
    monkeypatch.setitem(sae_module.CODE_KERNELS, "cpu", "gather")


def _one_step(x0, *, dead_every=3):
    """Codes, state and every gradient of one training step (rec + AuxK) of a fresh SAE."""
    sae = BatchTopKSAE(32, 512, 2, generator=torch.Generator().manual_seed(2))
    sae.init_decoder_bias([x0])
    sae.steps_since_fired.fill_(5)
    sae.steps_since_fired[::dead_every] = 0  # two concepts in three are dead
    # The input needs a gradient too when it is itself decoded (the cycle term).
    x = x0.clone().requires_grad_()
    z = sae.encode(x, training=True)
    aux = sae.aux_loss(x, z, variance=1.0, dead_steps=3)
    (((x0 - sae.decode(z)) ** 2).sum(1).mean() + aux).backward()
    out = {name: p.grad.clone() for name, p in sae.named_parameters()}
    out.update(codes=z.detach(), aux=aux.detach(), input=x.grad.clone(),
               threshold=sae.threshold.clone(), steps=sae.steps_since_fired.clone())
    return out


@pytest.mark.parametrize("dead_every", [3, 1])
def test_gather_kernel_step_equals_the_cpu_kernel_and_dense_products(monkeypatch, dead_every):
    x0 = torch.randn(128, 32, generator=torch.Generator().manual_seed(1))
    results = {}
    for label, kernel, max_density in (("csr", "csr", 1.0), ("dense", "csr", 0.0),
                                       ("gather", "gather", 1.0)):
        monkeypatch.setitem(sae_module.CODE_KERNELS, "cpu", kernel)
        monkeypatch.setattr(sae_module, "SPARSE_CODES_MAX_DENSITY", max_density)
        results[label] = _one_step(x0, dead_every=dead_every)
    gathered = results["gather"]
    assert int((gathered["codes"] != 0).sum()) == 2 * 128
    if dead_every == 1:  # nothing dead: no AuxK term
        assert float(gathered["aux"]) == 0.0
    else:
        assert float(gathered["aux"]) > 0
    for reference in ("csr", "dense"):
        for name, value in results[reference].items():
            # float32, sums of at most 128 rows: 1e-5 relative is rounding
            np.testing.assert_allclose(gathered[name], value, rtol=1e-5, atol=1e-6,
                                       err_msg=f"{name} against {reference}")


def test_gather_selection_keeps_only_positive_entries_when_they_are_few(gather_on_cpu):
    sae = BatchTopKSAE(3, 6, 2, generator=torch.Generator().manual_seed(0))
    pre = torch.full((4, 6), -1.0)
    pre[0, 1], pre[2, 3] = 0.5, 2.0  # 2 positive entries where k * B = 8 are wanted
    codes = sae._sparsify(pre.clone(), training=True)
    assert torch.equal(codes, torch.relu(pre)) and float(sae.threshold) == 0.5
    fired = torch.zeros(6, dtype=torch.bool)
    fired[[1, 3]] = True
    assert torch.equal(sae.steps_since_fired == 0, fired)


def test_sampled_concept_distance_without_device_reads_is_dist_cc(gather_on_cpu):
    gen = torch.Generator().manual_seed(0)
    z_a, z_b = torch.zeros(50, 40), torch.zeros(50, 40)
    axes = [3, 7, 11, 30, 31]  # fewer active axes than drawn: every one is used
    z_a[:, axes] = torch.relu(torch.randn(50, 5, generator=gen))
    z_b[:, axes] = torch.relu(torch.randn(50, 5, generator=gen) + 0.5)
    from skcosae.backend.losses import distributional_concept_loss

    expected = distributional_concept_loss(z_a, z_b)
    drawn = _sampled_concept_distance(z_a, z_b, 8, torch.Generator().manual_seed(1))
    assert float(expected) > 0
    torch.testing.assert_close(drawn, expected)
    empty = torch.zeros(50, 40, requires_grad=True)
    nothing = _sampled_concept_distance(empty, empty, 8, gen)
    assert float(nothing.detach()) == 0.0 and nothing.requires_grad


def _fit(Xs, **params):
    settings = {"n_concepts": 64, "k": 4, "losses": ["rec", "trans", "cc"], "pair_mask": 0.5,
                "max_epochs": 2, "batch_size": 128, "random_state": 0}
    return CoupledSAE(**{**settings, **params}).fit(Xs)


@pytest.mark.parametrize("architecture", ["cosae", "crosscoder"])
def test_gather_kernel_trains_the_weights_of_the_cpu_kernel(monkeypatch, architecture):
    Xs, _, _ = make_platonic(n_samples=800, n_views=2, random_state=0)
    losses = ["rec"] if architecture == "crosscoder" else ["rec", "trans", "cc"]
    cpu = _fit(Xs, architecture=architecture, losses=losses)
    monkeypatch.setitem(sae_module.CODE_KERNELS, "cpu", "gather")
    gathered = _fit(Xs, architecture=architecture, losses=losses)
    for name, value in cpu.model_.state_dict().items():
        # Two epochs of steps from the same batches: rounding only (float32)
        np.testing.assert_allclose(gathered.model_.state_dict()[name], value, rtol=1e-3,
                                   atol=1e-4, err_msg=name)


def _translation_data():
    """Two views of a few shared concepts that a small model learns to translate."""
    Xs, _, _ = make_platonic(n_samples=2000, n_views=2, n_concepts=16, n_active=3,
                             idiosyncrasy=0.05, linear=True, view_dims=[16, 24],
                             random_state=0)
    return [x[:1600] for x in Xs], [x[1600:] for x in Xs]


TRANSLATION_FIT = {"n_concepts": 32, "k": 3, "losses": ["rec", "trans"], "max_epochs": 10,
                   "batch_size": 128, "learning_rate": 1e-2, "random_state": 0}


def test_bf16_precision_trains_a_float32_model_as_good_as_float32():
    train, test = _translation_data()
    scores = {}
    for precision in ("float32", "bf16"):
        sae = CoupledSAE(precision=precision, **TRANSLATION_FIT).fit(train)
        assert all(p.dtype == torch.float32 for p in sae.model_.parameters())
        assert sae.transform(test)[0].dtype == np.float64  # float64 input: float64 codes
        scores[precision] = r2(test[1], sae.translate(test[0], source=0, target=1))
    assert scores["float32"] > 0.7
    assert abs(scores["bf16"] - scores["float32"]) < 0.05, scores


def test_precision_is_checked_against_the_device():
    Xs, _, _ = make_platonic(n_samples=100, n_views=2, random_state=0)
    with pytest.raises(ValueError, match="precision='tf32' needs a CUDA device"):
        CoupledSAE(n_concepts=8, k=2, precision="tf32", device="cpu").fit(Xs)
    with pytest.raises(ValueError, match="precision"):
        CoupledSAE(n_concepts=8, k=2, precision="fp8").fit(Xs)


# ----------------------------------------------------------------------------- CUDA only
@cuda
def test_cuda_gather_kernel_equals_dense_products_on_the_gpu(monkeypatch):
    x0 = torch.randn(512, 64, generator=torch.Generator().manual_seed(1)).cuda()
    results = {}
    for label, max_density in (("gather", 1.0), ("dense", 0.0)):
        monkeypatch.setattr(sae_module, "SPARSE_CODES_MAX_DENSITY", max_density)
        sae = BatchTopKSAE(64, 1024, 8, generator=torch.Generator().manual_seed(2)).cuda()
        sae.init_decoder_bias([x0])
        z = sae.encode(x0, training=True)
        ((x0 - sae.decode(z)) ** 2).sum(1).mean().backward()
        results[label] = {"codes": z.detach(), **{n: p.grad.clone()
                                                 for n, p in sae.named_parameters()}}
    for name, value in results["dense"].items():
        torch.testing.assert_close(results["gather"][name], value, rtol=1e-4, atol=1e-5)


@cuda
@pytest.mark.parametrize("precision", ["float32", "bf16"])
def test_cuda_training_steps_never_wait_for_the_gpu(precision):
    from skcosae.backend.data import DeviceViews, plan_epoch
    from skcosae.backend.plan import DEFAULTS, TrainingPlan
    from skcosae.backend.train import _autocast, _new_optimizer

    rng = np.random.default_rng(0)
    xs = [torch.as_tensor(rng.normal(size=(4096, d)), dtype=torch.float32).cuda()
          for d in (32, 48)]
    pair_mask = rng.random(4096) < 0.5
    model = CoupledModel([32, 48], 512, 8, seed=0).cuda()
    model.init_from_data(xs)
    weights = {"rec": 1, "trans": 1, "cc": 1, "dist_trans": 1, "dist_cc": 1}
    plan = TrainingPlan(views=xs, pair_mask=pair_mask, weights=weights, variances=[1.0, 1.0],
                        device="cuda", seed=0, precision=precision, **DEFAULTS)
    optimizer = _new_optimizer(model, plan)
    generator = torch.Generator().manual_seed(0)

    def steps(n_steps):
        buffers = plan_epoch(np.arange(4096), pair_mask, 2, 256, rng)
        for i, (batch, step, pair_index) in enumerate(DeviceViews(xs).batches(buffers)):
            if i == n_steps:
                break
            with _autocast(precision, "cuda"):
                terms = batch_losses(model, batch, step.paired, weights, variances=[1.0, 1.0],
                                     n_slices=8, generator=generator, training=True,
                                     aux_weight=1 / 32, dead_steps=2, pair_index=pair_index)
                total = sum(terms.values())
            optimizer.zero_grad(set_to_none=True)
            total.backward()
            model.after_backward()
            optimizer.step()
            model.after_step()
        return total

    steps(3)  # warm-up: allocator, lazily initialised kernels
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        total = steps(6)  # dead concepts by now (dead_steps=2): AuxK runs too
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert np.isfinite(float(total))


@cuda
def test_cuda_fit_pickles_and_encodes_the_same_on_a_cpu_only_process(tmp_path):
    Xs, _, _ = make_platonic(n_samples=1000, n_views=2, random_state=0)
    sae = CoupledSAE(n_concepts=64, k=4, max_epochs=2, device="cuda", random_state=0).fit(Xs)
    assert sae.device_.startswith("cuda")
    codes = sae.transform(Xs)
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(sae))
    np.save(tmp_path / "view0.npy", Xs[0])
    np.save(tmp_path / "view1.npy", Xs[1])
    script = textwrap.dedent(f"""
        import pickle, numpy as np, torch
        assert not torch.cuda.is_available()
        sae = pickle.loads(open({str(tmp_path / "model.pkl")!r}, "rb").read())
        views = [np.load({str(tmp_path / "view0.npy")!r}), np.load({str(tmp_path / "view1.npy")!r})]
        codes = sae.transform(views)
        np.save({str(tmp_path / "cpu_codes.npy")!r}, np.stack(codes))
        sae.partial_fit(views)  # the fused CUDA Adam's state continues on the CPU
        assert sae.n_iter_ == 3
        print(sae.device_)
    """)
    import skcosae

    root = os.path.dirname(os.path.dirname(os.path.abspath(skcosae.__file__)))
    path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": path}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "cpu"
    cpu_codes = np.load(tmp_path / "cpu_codes.npy")
    # The same weights on another device: the same active concepts, values to rounding.
    for view in range(2):
        agree = np.mean((cpu_codes[view] != 0) == (codes[view] != 0))
        assert agree > 0.999
        np.testing.assert_allclose(cpu_codes[view], codes[view], rtol=1e-3, atol=1e-3)


@cuda
@pytest.mark.parametrize("precision", ["tf32", "bf16"])
def test_cuda_precisions_train_as_well_as_float32(precision):
    train, test = _translation_data()
    scores = {}
    for p in ("float32", precision):
        sae = CoupledSAE(device="cuda", precision=p, **TRANSLATION_FIT).fit(train)
        scores[p] = r2(test[1], sae.translate(test[0], source=0, target=1))
    assert scores["float32"] > 0.7
    assert abs(scores[precision] - scores["float32"]) < 0.05, scores
