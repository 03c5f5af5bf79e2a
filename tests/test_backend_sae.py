"""The per-view autoencoders of the torch backend."""

import numpy as np
import pytest
import torch

from skcosae.backend import BatchTopKSAE, CoupledModel, DenseLinearAE, batch_top_k


def _batch(n=64, d=10, seed=0):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed))


def test_batch_top_k_keeps_k_per_row_on_average_over_the_batch():
    acts = torch.relu(_batch(32, 50))
    codes, cut = batch_top_k(acts, k=3)
    assert int((codes > 0).sum()) == 3 * 32
    kept = acts[codes > 0]
    assert float(cut) == pytest.approx(float(kept.min()))
    assert float(acts[(codes == 0) & (acts > 0)].max()) < float(cut)  # nothing larger dropped
    # Rows are not forced to k each: the budget is shared by the batch.
    assert len(set((codes > 0).sum(1).tolist())) > 1


def test_batch_top_k_keeps_every_positive_when_there_are_fewer_than_k_b():
    acts = torch.zeros(4, 6)
    acts[0, 1], acts[2, 3] = 0.5, 2.0
    codes, cut = batch_top_k(acts, k=2)
    assert torch.equal(codes, acts) and float(cut) == 0.5


def _trained_sae(steps=20):
    sae = BatchTopKSAE(10, 24, 3, generator=torch.Generator().manual_seed(0))
    opt = torch.optim.Adam(sae.parameters(), lr=1e-2)
    for step in range(steps):
        x = _batch(64, 10, seed=step)
        loss = ((sae.decode(sae.encode(x, training=True)) - x) ** 2).sum(1).mean()
        opt.zero_grad()
        loss.backward()
        sae.remove_parallel_gradient()
        opt.step()
        sae.normalise_decoder()
    return sae


def test_threshold_is_a_buffer_that_travels_with_the_state_dict():
    sae = _trained_sae()
    assert "threshold" in dict(sae.named_buffers()) and "threshold" in sae.state_dict()
    assert torch.isfinite(sae.threshold) and sae.threshold > 0
    fresh = BatchTopKSAE(10, 24, 3)
    assert torch.isnan(fresh.threshold)  # not estimated yet: per-row top-k at inference
    assert torch.equal((fresh.encode(_batch(5, 10)) > 0).sum(1), torch.full((5,), 3))
    fresh.load_state_dict(sae.state_dict())
    x = _batch(40, 10, seed=99)
    assert torch.equal(fresh.encode(x), sae.encode(x))
    # Inference keeps exactly the activations above the threshold, row by row.
    pre = torch.relu((x - sae.b_dec[0]) @ sae.W_enc[0].T + sae.b_enc)
    assert torch.equal(sae.encode(x) > 0, pre > sae.threshold)


def test_decoder_atoms_stay_unit_norm_and_lose_the_parallel_gradient():
    sae = _trained_sae()
    torch.testing.assert_close(sae.dictionary.norm(dim=0), torch.ones(24))
    x = _batch()
    ((sae.decode(sae.encode(x, training=True)) - x) ** 2).sum().backward()
    assert sae.W_dec[0].grad.abs().max() > 0
    sae.remove_parallel_gradient()
    parallel = (sae.W_dec[0].grad * sae.W_dec[0]).sum(0)
    assert parallel.abs().max() < 1e-4 * sae.W_dec[0].grad.abs().max()


def test_dead_concepts_are_tracked_and_only_they_get_the_aux_gradient():
    # 16 rows x k=1 keep 16 activations: most of the 64 concepts cannot fire.
    sae = BatchTopKSAE(10, 64, 1, generator=torch.Generator().manual_seed(0))
    x = _batch(16, 10)
    sae.init_decoder_bias([x])
    torch.testing.assert_close(sae.b_dec[0].detach(), x.mean(0))
    for _ in range(3):
        z = sae.encode(x, training=True)  # same batch: the same concepts fire each time
    fired = (z > 0).any(0)
    assert 0 < int(fired.sum()) <= 16
    assert torch.equal(sae.steps_since_fired == 0, fired)
    assert torch.equal(sae.steps_since_fired[~fired], torch.full((int((~fired).sum()),), 3))
    assert not sae.dead_mask(dead_steps=3)[fired].any() and sae.dead_mask(3)[~fired].all()
    nothing_dead = sae.aux_loss(x, z, variance=1.0, dead_steps=10)
    assert float(nothing_dead.detach()) == 0.0
    aux = sae.aux_loss(x, z, variance=1.0, dead_steps=3)
    assert float(aux.detach()) > 0
    aux.backward()
    live_rows = sae.W_enc[0].grad[fired]
    assert live_rows.abs().max() == 0 and sae.W_enc[0].grad[~fired].abs().max() > 0


def test_dense_linear_ae_is_linear_without_bias_or_sparsity():
    ae = DenseLinearAE(6, 4, generator=torch.Generator().manual_seed(0))
    x, y = _batch(8, 6, 1), _batch(8, 6, 2)
    torch.testing.assert_close(ae.encode(2 * x - y), 2 * ae.encode(x) - ae.encode(y))
    assert (ae.encode(x) != 0).all()
    torch.testing.assert_close(ae.decode(torch.zeros(3, 4)), torch.zeros(3, 6))
    assert not list(ae.buffers())


def test_coupled_model_normalises_each_view_and_rejects_unknown_architectures():
    rng = np.random.default_rng(0)
    xs = [torch.as_tensor(rng.normal(3, 5, size=(200, d)), dtype=torch.float32) for d in (4, 7)]
    model = CoupledModel([4, 7], 16, 2, seed=0)
    model.init_from_data(xs)
    for view, x in enumerate(xs):
        centred = model._normalise(x, view)
        assert float(centred.mean(0).abs().max()) < 1e-4
        assert float(centred.var(0, unbiased=False).mean()) == pytest.approx(1.0, rel=1e-4)
    with pytest.raises(ValueError, match="Unknown architecture 'mlp'"):
        CoupledModel([4, 7], 16, 2, architecture="mlp")


def test_sparse_code_product_matches_the_dense_product_and_its_gradients():
    from skcosae.backend.sae import sparse_code_product

    gen = torch.Generator().manual_seed(0)
    z = torch.relu(torch.randn(40, 64, generator=gen, dtype=torch.float64))
    z = z * (z > 1.2)  # about 1 entry in 9 active, like a top-k code
    W = torch.randn(12, 64, generator=gen, dtype=torch.float64)
    target = torch.randn(40, 12, generator=gen, dtype=torch.float64)

    z_sparse, W_sparse = z.clone().requires_grad_(), W.clone().requires_grad_()
    z_dense, W_dense = z.clone().requires_grad_(), W.clone().requires_grad_()
    ((sparse_code_product(z_sparse, W_sparse) - target) ** 2).sum().backward()
    ((z_dense @ W_dense.T - target) ** 2).sum().backward()

    # float64 products of 64 terms: agreement to rounding error
    np.testing.assert_allclose(sparse_code_product(z, W), z @ W.T, atol=1e-12)
    np.testing.assert_allclose(W_sparse.grad, W_dense.grad, atol=1e-12)
    active = z != 0
    np.testing.assert_allclose(z_sparse.grad[active], z_dense.grad[active], atol=1e-12)
    # Inactive entries get no gradient (the top-k mask would discard it anyway)...
    assert torch.all(z_sparse.grad[~active] == 0)
    # ...so through a top-k code every parameter's gradient is the dense one.
    assert sparse_code_product(torch.zeros(0, 64, dtype=torch.float64), W).shape == (0, 12)


def test_cpu_training_step_with_sparse_products_equals_the_dense_step(monkeypatch):
    import skcosae.backend.sae as sae_module

    x0 = torch.randn(256, 32, generator=torch.Generator().manual_seed(1))
    grads = {}
    for label, max_density in (("sparse", 1.0), ("dense", 0.0)):
        monkeypatch.setattr(sae_module, "SPARSE_CODES_MAX_DENSITY", max_density)
        sae = BatchTopKSAE(32, 128, 4, generator=torch.Generator().manual_seed(2))
        sae.init_decoder_bias([x0])
        # The input needs a gradient too when it is itself decoded (the cycle term).
        x = x0.clone().requires_grad_()
        z = sae.encode(x, training=True)
        assert int((z != 0).sum()) == 4 * 256
        ((x0 - sae.decode(z)) ** 2).sum(1).mean().backward()
        grads[label] = {name: p.grad.clone() for name, p in sae.named_parameters()}
        grads[label]["input"] = x.grad.clone()
    for name, grad in grads["dense"].items():
        # float32, sums of at most 256 rows: 1e-5 relative is rounding, not a wrong gradient
        np.testing.assert_allclose(grads["sparse"][name], grad, rtol=1e-5, atol=1e-6,
                                   err_msg=name)


@pytest.mark.parametrize("threshold", [float("nan"), 0.3, -1.0])
def test_sparse_inference_codes_hold_exactly_the_dense_codes_entries(threshold):
    # Unset threshold: each row's top k; a positive one: entries above it; <= 0: the ReLU.
    sae = BatchTopKSAE(10, 24, 3, generator=torch.Generator().manual_seed(0))
    sae.threshold.fill_(threshold)
    x = _batch(50, 10, seed=3)
    with torch.no_grad():
        dense = sae.encode(x)
        sparse = sae.encode(x, sparse=True)
    assert sparse.layout == torch.sparse_csr
    np.testing.assert_array_equal(sparse.to_dense().numpy(), dense.numpy())
    assert sparse.values().numel() == int((dense != 0).sum()) > 0
    cols = sparse.col_indices().numpy()
    crow = sparse.crow_indices().numpy()
    assert all(np.all(np.diff(cols[a:b]) > 0) for a, b in zip(crow[:-1], crow[1:]))
