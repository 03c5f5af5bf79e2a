"""Out of core: streamed views, sparse codes, checkpoints that survive a kill."""

import os
import signal
import subprocess
import sys
import textwrap
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from skcosae import CoupledSAE
from skcosae.backend.checkpoint import load_checkpoint
from skcosae.datasets import make_platonic

from ._helpers import r2

SMALL = dict(n_concepts=32, k=3, losses={"rec": 1, "trans": 1, "cc": 0.5, "dist_trans": 0.5},
             max_epochs=3, batch_size=64, random_state=0)


@pytest.fixture(scope="module")
def data():
    Xs, _, _ = make_platonic(n_samples=1200, n_views=2, n_concepts=24, n_active=3,
                             idiosyncrasy=0.05, random_state=3)
    return [X.astype(np.float32) for X in Xs]


@pytest.fixture(scope="module")
def memmaps(data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("views")
    paths = []
    for i, X in enumerate(data):
        np.save(folder / f"view{i}.npy", X)
        paths.append(folder / f"view{i}.npy")
    return [np.load(p, mmap_mode="r") for p in paths]


def _weights(est):
    return {k: v.detach().cpu().numpy().copy() for k, v in est.model_.state_dict().items()}


def test_streaming_path_equals_the_in_memory_path_when_the_buffer_holds_every_row(data):
    in_memory = CoupledSAE(**SMALL, streaming=False).fit(data)
    streamed = CoupledSAE(**SMALL, streaming=True, shuffle_buffer=len(data[0])).fit(data)
    a, b = _weights(in_memory), _weights(streamed)
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-5, atol=1e-6, err_msg=name)
    np.testing.assert_allclose(in_memory.history_["total"], streamed.history_["total"],
                               rtol=1e-5)


def test_memmaps_stream_and_learn_like_arrays(data, memmaps):
    est = CoupledSAE(**{**SMALL, "max_epochs": 10}, shuffle_buffer=300).fit(memmaps)
    baseline = CoupledSAE(**{**SMALL, "max_epochs": 10, "losses": ["rec"]}).fit(data)
    # A small buffer (4 chunks of the data) still learns to translate, far beyond a model
    # trained without any coupling.
    assert r2(data[1], est.translate(memmaps[0], 0, 1)) > 0.5
    assert r2(data[1], est.translate(data[0], 0, 1)) > r2(data[1], baseline.translate(
        data[0], 0, 1)) + 0.3
    codes = est.transform(memmaps)
    assert all(z.dtype == np.float32 for z in codes)
    np.testing.assert_array_equal(codes[0], est.transform(data)[0])


def test_file_views_are_read_a_chunk_ahead_with_the_same_results(data, memmaps, tmp_path,
                                                                  monkeypatch):
    est = CoupledSAE(**SMALL).fit(data)
    dense = est.transform(data)
    translated = est.translate(data[0], 0, 1)
    # 12 chunks of 100 rows: the reader thread reads each while the model encodes the last.
    monkeypatch.setattr(CoupledSAE, "_chunk_rows", lambda self: 100)
    for got, expected in zip(est.transform(memmaps), dense):
        np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(est.translate(memmaps[0], 0, 1), translated)
    est.set_params(sparse_output=True)
    for got, expected in zip(est.transform(memmaps), dense):
        np.testing.assert_array_equal(got.toarray(), expected)
    bad = data[1].copy()
    bad[1050, 3] = np.inf
    np.save(tmp_path / "bad.npy", bad)
    with pytest.raises(ValueError, match=r"rows 1000-1099 \(first bad row: 1050\).*transform"):
        est.transform([memmaps[0], np.load(tmp_path / "bad.npy", mmap_mode="r")])


def test_h5py_datasets_are_views(data, tmp_path):
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "views.h5", "w") as f:
        for i, X in enumerate(data):
            f.create_dataset(f"v{i}", data=X, chunks=(100, X.shape[1]))
    with h5py.File(tmp_path / "views.h5", "r") as f:
        views = [f["v0"], f["v1"]]
        est = CoupledSAE(**SMALL, streaming=True, shuffle_buffer=len(data[0])).fit(views)
        reference = CoupledSAE(**SMALL, streaming=True, shuffle_buffer=len(data[0])).fit(data)
        np.testing.assert_allclose(est.transform(views)[1], reference.transform(data)[1],
                                   rtol=1e-5, atol=1e-6)


def test_a_view_split_by_view_sizes_streams_from_one_memmap(data, tmp_path):
    np.save(tmp_path / "both.npy", np.hstack(data))
    both = np.load(tmp_path / "both.npy", mmap_mode="r")
    widths = [X.shape[1] for X in data]
    est = CoupledSAE(**SMALL, view_sizes=widths, streaming=True,
                     shuffle_buffer=len(data[0])).fit(both)
    reference = CoupledSAE(**SMALL, streaming=True, shuffle_buffer=len(data[0])).fit(data)
    np.testing.assert_allclose(est.transform(both), np.hstack(reference.transform(data)),
                               rtol=1e-5, atol=1e-6)


def test_sparse_codes_equal_the_dense_ones_and_decode_alike(data):
    dense = CoupledSAE(**SMALL).fit(data)
    sparse = CoupledSAE(**SMALL, sparse_output=True).fit(data)
    Z, Zs = dense.transform(data), sparse.transform(data)
    for z, zs in zip(Z, Zs):
        assert sp.isspmatrix_csr(zs) and zs.dtype == np.float32
        np.testing.assert_allclose(zs.toarray(), z, rtol=1e-6, atol=1e-7)
        assert zs.nnz == np.count_nonzero(z)
    for got, expected in zip(sparse.inverse_transform(Zs), dense.inverse_transform(Z)):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(sparse.inverse_transform(Zs[1], view=1),
                               dense.inverse_transform(Z[1], view=1), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(sparse.translate(data[0], 0, 1), dense.translate(data[0], 0, 1),
                               rtol=1e-5, atol=1e-5)
    single = sparse.transform(data[0], view=0)
    assert sp.isspmatrix_csr(single)


def test_sparse_codes_are_assembled_in_place_as_chunks_grow_denser():
    from skcosae.coupled import _CsrRows

    rng = np.random.default_rng(0)
    # The first chunk is the sparsest, so the capacity sized from it must grow twice.
    chunks = [sp.random(r, 50, density=d, format="csr", dtype=np.float32, random_state=rng)
              for r, d in [(30, 0.02), (40, 0.2), (30, 0.6)]]
    out = _CsrRows(100, 50)
    for chunk in chunks:
        out.append(chunk.indptr.astype(np.int64), chunk.indices.astype(np.int64), chunk.data)
    got = out.matrix()
    expected = sp.vstack(chunks, format="csr")
    assert got.dtype == np.float32 and got.indices.dtype == np.int32
    assert got.nnz == expected.nnz and len(got.data) == expected.nnz  # no spare capacity
    np.testing.assert_array_equal(got.toarray(), expected.toarray())
    assert _CsrRows(0, 50).matrix().shape == (0, 50)


def test_inference_keeps_the_input_float_dtype(data):
    est = CoupledSAE(**SMALL).fit(data)
    assert est.__sklearn_tags__().transformer_tags.preserves_dtype == ["float64", "float32"]
    for dtype in (np.float32, np.float64):
        views = [X.astype(dtype) for X in data]
        assert all(z.dtype == dtype for z in est.transform(views))
        assert est.translate(views[0], 0, 1).dtype == dtype
        assert all(x.dtype == dtype for x in est.reconstruct(views))


def _peaks(folder, n, d=256):
    """numpy's peak memory of a fit and of a transform on memmaps of n rows (tracemalloc)."""
    rng = np.random.default_rng(0)
    for i in range(2):
        np.save(folder / f"v{i}.npy", rng.normal(size=(n, d)).astype(np.float32))
    views = [np.load(folder / f"v{i}.npy", mmap_mode="r") for i in range(2)]
    est = CoupledSAE(n_concepts=64, k=4, losses=["rec", "trans"], max_epochs=1,
                     batch_size=256, shuffle_buffer=2048, sparse_output=True, random_state=0)
    tracemalloc.start()
    try:
        est.fit(views)
        _, fit_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        codes = est.transform(views)
        _, transform_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return fit_peak, transform_peak - sum(z.data.nbytes + z.indices.nbytes for z in codes)


def test_fit_and_transform_memory_does_not_grow_with_the_rows(tmp_path, monkeypatch):
    # Chunks of 2,000 rows: both sizes read many full chunks (one ahead of the model), so
    # their constant working memory is the same.
    monkeypatch.setattr(CoupledSAE, "_chunk_rows", lambda self: 2000)
    for name in ("warm-up", "small", "large"):
        (tmp_path / name).mkdir()
    _peaks(tmp_path / "warm-up", 4_000)  # one-time allocations (lazy imports, caches)
    small = _peaks(tmp_path / "small", 20_000)
    large = _peaks(tmp_path / "large", 80_000)
    added = 2 * 60_000 * 256 * 4  # 123 MB more data on disk
    # No view is copied whole: 4x the rows add a few index arrays, not the data.
    assert large[0] - small[0] < 0.1 * added, (small, large)
    assert large[1] - small[1] < 0.1 * added, (small, large)


def test_nan_in_a_streamed_view_names_the_view_and_rows_before_training(data, tmp_path):
    bad = data[1].copy()
    bad[1000, 3] = np.nan
    np.save(tmp_path / "bad.npy", bad)
    view = np.load(tmp_path / "bad.npy", mmap_mode="r")
    est = CoupledSAE(**SMALL).fit(data)
    before = _weights(est)
    with pytest.raises(ValueError, match=r"View 1 contains NaN or infinity in 1 row\(s\) of "
                                         r"rows 0-1199 \(first bad row: 1000\).*before fitting"):
        est.fit([data[0], view])
    # The failed fit left the fitted model as it was.
    after = _weights(est)
    assert all(np.array_equal(before[k], after[k]) for k in before)
    with pytest.raises(ValueError, match=r"first bad row: 1000\).*before calling transform"):
        est.transform([data[0], view])


def test_an_error_mid_fit_leaves_a_warm_started_model_unchanged(data, monkeypatch):
    import skcosae.backend.train as train

    est = CoupledSAE(**SMALL, warm_start=True).fit(data)
    before, n_iter = _weights(est), est.n_iter_

    def out_of_memory(*args, **kwargs):
        raise MemoryError("simulated")

    monkeypatch.setattr(train, "batch_losses", out_of_memory)
    with pytest.raises(MemoryError):
        est.fit(data)
    after = _weights(est)
    assert est.n_iter_ == n_iter and all(np.array_equal(before[k], after[k]) for k in before)


def test_verbose_shows_a_bar_over_rows(data, capsys):
    CoupledSAE(**{**SMALL, "max_epochs": 1}, verbose=1).fit(data)
    err = capsys.readouterr().err
    assert "CoupledSAE" in err and "row" in err


# --------------------------------------------------------------------------- checkpoints
_SCRIPT = textwrap.dedent("""
    import sys, time
    import numpy as np
    import torch
    torch.set_num_threads(1)
    import skcosae.backend.train as train
    from skcosae import CoupledSAE

    folder, pause = sys.argv[1], float(sys.argv[2])
    real = train.save_checkpoint

    def slow(*args, **kwargs):  # time for the test to kill the process between epochs
        real(*args, **kwargs)
        time.sleep(pause)

    train.save_checkpoint = slow
    views = [np.load(f"{folder}/view{i}.npy", mmap_mode="r") for i in range(2)]
    est = CoupledSAE(n_concepts=32, k=3, losses=["rec", "trans", "dist_cc"], max_epochs=6,
                     batch_size=64, shuffle_buffer=400, checkpoint_dir=f"{folder}/run",
                     random_state=0).fit(views)
    np.save(f"{folder}/codes.npy", est.transform(views)[0])
    np.save(f"{folder}/history.npy", est.history_[["epoch", "total"]].to_numpy())
    print(est.n_iter_, est.stop_reason_)
""")


def _run(folder, pause, env):
    return subprocess.Popen([sys.executable, "-c", _SCRIPT, str(folder), str(pause)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_killed_fit_resumes_to_the_uninterrupted_model(data, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1]),
                                          os.environ.get("PYTHONPATH", "")])}
    runs = {}
    for name in ("killed", "whole"):
        folder = tmp_path / name
        folder.mkdir()
        for i, X in enumerate(data):
            np.save(folder / f"view{i}.npy", X)
        runs[name] = folder
    whole = _run(runs["whole"], 0.0, env)
    killed = _run(runs["killed"], 60.0, env)
    deadline = time.time() + 240
    while time.time() < deadline:  # kill it once its second epoch is on disk
        state = load_checkpoint(runs["killed"] / "run")
        if state is not None and state["epochs"] >= 2:
            break
        assert killed.poll() is None, killed.communicate()
        time.sleep(0.2)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert load_checkpoint(runs["killed"] / "run")["epochs"] == 2
    resumed = _run(runs["killed"], 0.0, env)
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert out.split() == ["6", "completed"]
    out, err = whole.communicate(timeout=300)
    assert whole.returncode == 0, err
    history = np.load(runs["killed"] / "history.npy")
    np.testing.assert_array_equal(history[:, 0], np.arange(1, 7))  # every epoch counted
    np.testing.assert_allclose(history, np.load(runs["whole"] / "history.npy"), rtol=1e-5)
    np.testing.assert_allclose(np.load(runs["killed"] / "codes.npy"),
                               np.load(runs["whole"] / "codes.npy"), rtol=1e-5, atol=1e-5)


def test_a_finished_checkpoint_is_loaded_not_retrained(data, tmp_path):
    first = CoupledSAE(**SMALL, checkpoint_dir=tmp_path).fit(data)
    again = CoupledSAE(**SMALL, checkpoint_dir=tmp_path).fit(data)
    assert again.n_iter_ == 3 and len(again.history_) == 3
    np.testing.assert_array_equal(again.transform(data)[0], first.transform(data)[0])
    # A run that ended with its max_epochs goes on under a larger one: the learning rate
    # returns to its peak and decays again before the new cap.
    longer = CoupledSAE(**{**SMALL, "max_epochs": 5}, checkpoint_dir=tmp_path).fit(data)
    assert longer.n_iter_ == 5 and list(longer.history_["epoch"]) == [1, 2, 3, 4, 5]
    rates = longer.history_["learning_rate"].to_numpy()
    assert rates[3] > rates[2] and rates[4] < rates[3]


def test_a_run_without_random_state_resumes_with_its_own_draws(data, tmp_path, monkeypatch):
    # random_state=None: the pairs (a fraction), the validation rows and the batches are
    # drawn from numpy's global state, which differs when the run is started again.
    import skcosae.backend.train as train

    params = dict(SMALL, random_state=None, pair_mask=0.5, early_stopping=True,
                  max_epochs=4, batch_size=16, n_iter_no_change=10)  # a check every 2 epochs
    np.random.seed(0)
    whole = CoupledSAE(**params, checkpoint_dir=tmp_path / "whole").fit(data)

    save = train.save_checkpoint

    def interrupt_after_two(path, state):
        save(path, state)
        if state["epochs"] == 2:
            raise KeyboardInterrupt

    np.random.seed(0)
    monkeypatch.setattr(train, "save_checkpoint", interrupt_after_two)
    with pytest.warns(UserWarning, match="interrupted after 2 of 4"):
        CoupledSAE(**params, checkpoint_dir=tmp_path / "cut").fit(data)
    monkeypatch.setattr(train, "save_checkpoint", save)
    np.random.seed(1)
    resumed = CoupledSAE(**params, checkpoint_dir=tmp_path / "cut").fit(data)
    assert resumed.n_iter_ == 4
    np.testing.assert_array_equal(resumed.pair_mask_, whole.pair_mask_)
    np.testing.assert_allclose(resumed.history_["validation"], whole.history_["validation"],
                               rtol=1e-5)
    for name, value in _weights(whole).items():
        np.testing.assert_allclose(_weights(resumed)[name], value, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("change, named", [
    ({"n_concepts": 48}, "n_concepts"),
    ({"losses": ["rec", "trans"]}, "losses"),
    ({"pair_mask": 0.5}, r"pairs \(pair_mask\)"),
])
def test_a_checkpoint_of_another_configuration_is_refused(data, tmp_path, change, named):
    CoupledSAE(**SMALL, checkpoint_dir=tmp_path).fit(data)
    written = (tmp_path / "checkpoint.pt").read_bytes()
    with pytest.raises(ValueError, match=f"another configuration or other data: .*{named}"):
        CoupledSAE(**{**SMALL, **change}, checkpoint_dir=tmp_path).fit(data)
    assert (tmp_path / "checkpoint.pt").read_bytes() == written  # never overwritten


def test_a_checkpoint_of_other_data_is_refused(data, tmp_path):
    CoupledSAE(**SMALL, checkpoint_dir=tmp_path).fit(data)
    with pytest.raises(ValueError, match="view means"):
        CoupledSAE(**SMALL, checkpoint_dir=tmp_path).fit([data[0], 2 * data[1] + 1])
    with pytest.raises(ValueError, match="n_samples"):
        CoupledSAE(**SMALL, checkpoint_dir=tmp_path).fit([X[:1000] for X in data])


def test_the_backend_defaults_are_the_estimators():
    import inspect

    from skcosae.backend import DEFAULTS

    signature = inspect.signature(CoupledSAE)
    assert {name: signature.parameters[name].default for name in DEFAULTS} == DEFAULTS


def test_the_report_on_sparse_codes_equals_the_report_on_dense_codes(data):
    import copy

    from skcosae.datasets import make_platonic
    from skcosae.metrics import intervencha_report

    Xs, y, _ = make_platonic(n_samples=600, n_views=2, n_concepts=24, n_active=3,
                             idiosyncrasy=0.05, random_state=3)
    Xs = [X.astype(np.float32) for X in Xs]
    dense = CoupledSAE(**SMALL).fit(Xs)
    sparse = copy.deepcopy(dense).set_params(sparse_output=True)
    assert sp.issparse(sparse.transform(Xs)[0])
    a = intervencha_report(dense, Xs, y, random_state=0).frame
    b = intervencha_report(sparse, Xs, y, random_state=0).frame
    np.testing.assert_allclose(a["value"].to_numpy(), b["value"].to_numpy(), atol=1e-5)
    assert (a["value"].abs() > 0).any()


def test_concept_recovery_takes_sparse_codes():
    from skcosae.datasets import concept_recovery_score

    rng = np.random.default_rng(0)
    S = rng.exponential(size=(400, 5))
    Z = np.where(rng.random((400, 30)) < 0.1, rng.exponential(size=(400, 30)), 0.0)
    Z[:, 3] = S[:, 0] * (S[:, 0] > 1)  # one code follows a concept
    Z[:, 7] = 0.0  # a dead code
    dense, matched = concept_recovery_score(Z, S, return_matching=True)
    sparse, matched_sparse = concept_recovery_score(sp.csr_matrix(Z), S, return_matching=True)
    assert sparse == pytest.approx(dense, abs=1e-12) and matched == matched_sparse
    assert matched[0] == 3
