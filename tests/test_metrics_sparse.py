"""InterVenchA on estimators whose ``transform`` returns scipy.sparse codes, and on float32
views: the same numbers as with dense codes, without a dense (n, n_concepts) matrix and
without float64 copies of the views.

The sparse-code contract (``CoupledSAE(sparse_output=True)``): ``transform`` returns CSR
float32 (n, n_concepts) matrices, ``inverse_transform(Z, view=i)`` takes CSR codes and
returns dense rows. The estimators below implement it by hand.
"""

import copy
import sys
import tracemalloc

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from skcosae import CoupledSAE
from skcosae.datasets import make_platonic
from skcosae.metrics import (
    ALL_METRICS,
    CONCEPT_METRICS,
    _concept,
    intervencha_report,
    make_intervencha_scorer,
)
from skcosae.metrics._concept import ConceptAblation, decode
from skcosae.metrics._evaluate import prepare
from skcosae.metrics._probes import class_mean_differences, contrast

SMALL_TASKS = dict(n_unlearning_tasks=3, n_tpp_subsets=2, n_scr_tasks=2)


class CodesAs:
    """A fitted CoupledSAE whose codes are float32, as CSR matrices (``sparse=True``) or
    dense arrays of the same values; CSR codes are decoded one row chunk at a time and the
    largest chunk handed to ``inverse_transform`` is recorded."""

    def __init__(self, sae, sparse, chunk=100):
        self.sae, self.sparse, self.chunk = sae, sparse, chunk
        self.n_views_, self.view_names_ = sae.n_views_, sae.view_names_
        self.view_sizes_, self.n_concepts_ = sae.view_sizes_, sae.n_concepts_
        self.dictionaries_ = sae.dictionaries_
        self.largest_decoded = 0

    def _encode(self, x, view):
        blocks = [np.asarray(self.sae.transform(x[a:a + self.chunk], view=view), np.float32)
                  for a in range(0, len(x), self.chunk)]
        return sp.vstack([sp.csr_matrix(b) for b in blocks], format="csr") if self.sparse \
            else np.concatenate(blocks)

    def transform(self, X, view=None):
        if view is None:
            return [self._encode(x, i) for i, x in enumerate(X)]
        return self._encode(X, view)

    def inverse_transform(self, Z, view=None):
        if not sp.issparse(Z):
            return self.sae.inverse_transform(Z, view=view)
        self.largest_decoded = max(self.largest_decoded, Z.shape[0])
        return np.concatenate([self.sae.inverse_transform(Z[a:a + self.chunk].toarray(),
                                                          view=view)
                               for a in range(0, Z.shape[0], self.chunk)])

    def translate(self, X, source, target):
        return self.sae.translate(X, source=source, target=target)


class TopKCodes:
    """Random float32 encoder with a top-k, decoder its transpose: codes built as CSR
    one row chunk at a time (``sparse=True``), or the same codes dense."""

    def __init__(self, widths, n_codes, k, sparse=True, seed=0):
        rng = np.random.default_rng(seed)
        self.enc = [rng.normal(size=(d, n_codes)).astype(np.float32) for d in widths]
        self.dictionaries_ = [E.T / np.linalg.norm(E.T, axis=1, keepdims=True)
                              for E in self.enc]
        self.k, self.sparse = k, sparse
        self.n_views_, self.view_names_ = len(widths), list(range(len(widths)))
        self.view_sizes_, self.n_concepts_ = list(widths), n_codes

    def transform(self, X, view=None):
        if view is None:
            return [self.transform(x, view=i) for i, x in enumerate(X)]
        blocks = []
        for a in range(0, len(X), 256):
            pre = np.asarray(X[a:a + 256]) @ self.enc[view]
            top = np.argpartition(-pre, self.k, axis=1)[:, :self.k]
            values = np.maximum(np.take_along_axis(pre, top, axis=1), 0)
            blocks.append(sp.csr_matrix(
                (values.ravel(), top.ravel(), np.arange(0, values.size + 1, self.k)),
                shape=pre.shape))
        codes = sp.vstack(blocks, format="csr")
        return codes if self.sparse else codes.toarray()

    def inverse_transform(self, Z, view=None):
        return np.asarray(Z @ self.dictionaries_[view])

    def translate(self, X, source, target):
        X = X[source] if isinstance(X, list) else X
        return self.inverse_transform(self.transform(X, view=source), view=target)


class LinearDecoder:
    """``inverse_transform(Z, view) = Z @ D`` (dense or sparse Z), recording the rows of
    every call."""

    def __init__(self, D):
        self.D, self.rows_seen = D, []

    def inverse_transform(self, Z, view=None):
        self.rows_seen.append(Z.shape[0])
        return np.asarray(Z @ self.D)


@pytest.fixture
def densified(monkeypatch):
    """Shapes of the sparse matrices that skcosae.metrics code turns dense."""
    shapes = []
    for cls in (sp.csr_matrix, sp.csc_matrix, sp.coo_matrix, sp.csr_array, sp.csc_array,
                sp.coo_array):
        def spy(self, *args, _original=cls.toarray, **kwargs):
            out = _original(self, *args, **kwargs)
            frame = sys._getframe(1)
            while frame.f_globals.get("__name__", "").startswith("scipy"):
                frame = frame.f_back  # todense and friends call toarray
            if frame.f_globals.get("__name__", "").startswith("skcosae.metrics"):
                shapes.append(out.shape)
            return out
        monkeypatch.setattr(cls, "toarray", spy)
    return shapes


@pytest.fixture(scope="module")
def fitted():
    Xs, y, _ = make_platonic(n_samples=700, n_views=2, n_classes=4, random_state=0)
    Xs = [x.astype(np.float32) for x in Xs]
    sae = CoupledSAE(n_concepts=48, k=4, max_epochs=15, random_state=0).fit(Xs)
    return Xs, y, sae


def test_sparse_codes_give_the_dense_report_without_densifying(fitted, densified,
                                                               monkeypatch):
    Xs, y, sae = fitted
    # Small decode chunks, so that the report's chunking is exercised on 48 concepts.
    monkeypatch.setattr(_concept, "DECODE_CHUNK_ENTRIES", 48 * 64)
    kw = dict(metrics=list(ALL_METRICS), k_probe=6, **SMALL_TASKS)
    dense = intervencha_report(CodesAs(sae, sparse=False), Xs, y, **kw)
    assert densified == []
    sparse_model = CodesAs(sae, sparse=True)
    sparse = intervencha_report(sparse_model, Xs, y, **kw)
    pd.testing.assert_frame_equal(sparse.frame, dense.frame, rtol=0, atol=1e-6)
    # The numbers compared are not all zero: every metric of the codes measured something.
    assert all(dense.frame.value[dense.frame.metric == m].max() > 0.05
               for m in CONCEPT_METRICS)
    # Only the k_probe chosen columns were made dense, and the decoder met row chunks.
    assert densified and all(cols <= 6 for _, cols in densified)
    assert 0 < sparse_model.largest_decoded <= 64


def test_scorers_take_sparse_codes(fitted):
    Xs, y, sae = fitted
    scorer = make_intervencha_scorer(["S_trans", "S_cc"], k_probe=6, **SMALL_TASKS)
    assert scorer(CodesAs(sae, sparse=True), Xs, y) == pytest.approx(
        scorer(CodesAs(sae, sparse=False), Xs, y), abs=1e-6)


def test_pandas_output_is_scored_like_arrays(fitted):
    Xs, y, sae = fitted
    kw = dict(metrics=["r2", "sparse_probing_concept", "tpp_concept"], k_probe=6,
              **SMALL_TASKS)
    expected = intervencha_report(sae, Xs, y, **kw).frame
    framed = copy.deepcopy(sae).set_output(transform="pandas")
    pd.testing.assert_frame_equal(intervencha_report(framed, Xs, y, **kw).frame, expected)


def test_report_peak_memory_stays_far_below_the_dense_codes():
    # Dense codes of one view would take 20000 x 4096 x 4 B = 328 MB (float32); the sparse
    # codes take about 1 MB and the views 2.6 MB each.
    n, n_codes = 20_000, 4096
    Xs, y, _ = make_platonic(n_samples=n, n_views=2, n_classes=4, view_dims=[32, 32],
                             random_state=0)
    Xs = [x.astype(np.float32) for x in Xs]
    model = TopKCodes([32, 32], n_codes, k=8)
    tracemalloc.start()
    try:
        report = intervencha_report(model, Xs, y, k_probe=4, **SMALL_TASKS)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert report.frame.value.notna().all()
    assert peak < 80e6, f"peak {peak / 1e6:.0f} MB"


def test_float32_and_memmap_views_are_not_copied(tmp_path):
    Xs, y, _ = make_platonic(n_samples=1500, n_views=2, n_classes=4, view_dims=[24, 32],
                             random_state=1)
    arrays = [x.astype(np.float32) for x in Xs]
    maps = []
    for i, x in enumerate(arrays):
        m = np.lib.format.open_memmap(tmp_path / f"view{i}.npy", mode="w+", dtype=np.float32,
                                      shape=x.shape)
        m[:] = x
        m.flush()
        maps.append(np.load(tmp_path / f"view{i}.npy", mmap_mode="r"))
    model = TopKCodes([24, 32], 256, k=6)
    metrics = ["r2", "sparse_probing_latent", "sparse_probing_concept"]
    for views in (arrays, maps):
        ctx = prepare(model, views, y, view_sizes=None, metrics=metrics)
        for v, x in zip(ctx.views, views):
            assert v.dtype == np.float32 and np.shares_memory(v, x)
    assert prepare(model, Xs, y, view_sizes=None, metrics=metrics).views[0].dtype == np.float64
    kw = dict(metrics=list(ALL_METRICS), k_probe=6, **SMALL_TASKS)
    pd.testing.assert_frame_equal(intervencha_report(model, maps, y, **kw).frame,
                                  intervencha_report(model, arrays, y, **kw).frame)


# ---------------------------------------------------------------- parts on CSR codes
def test_code_statistics_and_ablation_on_csr_equal_dense():
    rng = np.random.default_rng(3)
    Z = np.where(rng.random((80, 30)) < 0.15, rng.random((80, 30)), 0.0).astype(np.float32)
    Z_csr = sp.csr_matrix(Z)
    y = rng.integers(0, 3, 80)
    rows = np.arange(5, 80)
    np.testing.assert_allclose(class_mean_differences(Z_csr, y, rows, 3),
                               class_mean_differences(Z, y, rows, 3), rtol=1e-12)
    w = rng.normal(size=80)
    np.testing.assert_allclose(contrast(Z_csr, w), contrast(Z, w), rtol=1e-12)

    W = rng.normal(size=(30, 6))
    X = Z @ W + rng.normal(scale=0.1, size=(80, 6))
    decoder = LinearDecoder(W)
    for concepts in ([2, 7, 11], [], list(range(30))):
        ablate_dense = ConceptAblation(decoder, 0, X, Z, Z @ W)
        ablate_csr = ConceptAblation(decoder, 0, X, Z_csr, Z @ W)
        np.testing.assert_allclose(ablate_csr(concepts), ablate_dense(concepts), rtol=1e-12)
    np.testing.assert_allclose(ablate_csr.zero(), ablate_dense.zero(), rtol=1e-12)
    # The codes themselves are left as they were.
    assert (ablate_csr.Z != sp.csr_matrix(Z)).nnz == 0
    np.testing.assert_array_equal(ablate_dense.Z, Z_csr.toarray())


def test_decode_hands_sparse_codes_over_in_row_chunks(monkeypatch):
    rng = np.random.default_rng(4)
    Z = sp.random(1000, 50, density=0.1, format="csr", random_state=5, dtype=np.float32)
    D = rng.normal(size=(50, 7)).astype(np.float32)
    decoder = LinearDecoder(D)
    monkeypatch.setattr(_concept, "DECODE_CHUNK_ENTRIES", 50 * 300)
    out = decode(decoder, Z, 0)
    assert decoder.rows_seen == [300, 300, 300, 100]
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, Z @ D)  # row chunks change no number
