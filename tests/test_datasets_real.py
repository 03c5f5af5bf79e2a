"""The real multi-view data sets shipped in skcosae/datasets/data/."""

import socket

import numpy as np
import pandas as pd
import pytest
from sklearn.cross_decomposition import CCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skcosae._views import check_views
from skcosae.datasets import load_bbc_news, load_mfeat

LOADERS = {
    load_mfeat: dict(n=2000, classes=10, views={"fou": 76, "fac": 216, "kar": 64, "pix": 240,
                                                "zer": 47, "mor": 6}),
    load_bbc_news: dict(n=2225, classes=5, views={"minilm_l6": 384, "minilm_l3": 384,
                                                  "tfidf_lsa": 128}),
}


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a socket fails the test: loaders must work offline."""

    def refuse(*args, **kwargs):
        raise AssertionError("a loader tried to use the network")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.parametrize("loader", LOADERS, ids=lambda f: f.__name__)
def test_loader_shapes_labels_and_metadata(loader, no_network):
    want = LOADERS[loader]
    bunch = loader()
    assert bunch.view_names == list(want["views"])
    assert bunch.view_sizes == list(want["views"].values())
    assert [X.shape for X in bunch.data] == [(want["n"], d) for d in want["views"].values()]
    assert all(X.dtype == np.float64 and np.isfinite(X).all() for X in bunch.data)
    assert bunch.target.shape == (want["n"],)
    assert sorted(set(bunch.target.tolist())) == list(range(want["classes"]))
    assert len(bunch.target_names) == want["classes"]
    for key in ("DESCR", "source", "license", "citation"):
        assert isinstance(bunch[key], str) and bunch[key]
    assert set(bunch.view_descriptions) == set(want["views"])
    # The views are distinct representations, not copies.
    assert not np.allclose(bunch.data[0][:, :5], bunch.data[1][:, :5])


def test_mfeat_is_balanced_and_in_uci_order():
    y = load_mfeat().target
    np.testing.assert_array_equal(y, np.repeat(np.arange(10), 200))
    assert "CC BY 4.0" in load_mfeat().license


def test_bbc_doc_ids_and_license_terms():
    bunch = load_bbc_news()
    assert len(bunch.doc_ids) == 2225 and len(set(bunch.doc_ids)) == 2225
    topics = [d.split("/")[0] for d in bunch.doc_ids]
    assert [bunch.target_names[t] for t in bunch.target] == topics
    assert "non-commercial" in bunch.license
    # all-MiniLM-L6-v2 embeddings are unit norm (float16 storage rounds slightly).
    np.testing.assert_allclose(np.linalg.norm(bunch.data[0], axis=1), 1.0, atol=2e-3)


@pytest.mark.parametrize("loader", LOADERS, ids=lambda f: f.__name__)
def test_selection_return_X_y_and_frame(loader):
    names = list(LOADERS[loader]["views"])
    Xs, y = loader(views=[names[2], 0], return_X_y=True)
    full = loader()
    np.testing.assert_array_equal(Xs[0], full.data[2])
    np.testing.assert_array_equal(Xs[1], full.data[0])
    frame, y2 = loader(views=[names[2], 0], as_frame=True, return_X_y=True)
    assert isinstance(frame, pd.DataFrame) and isinstance(y2, pd.Series)
    mv = check_views(frame)
    assert mv.view_names == [names[2], names[0]]
    np.testing.assert_array_equal(mv.views[1], Xs[1])
    np.testing.assert_array_equal(y2.to_numpy(), y)


@pytest.mark.parametrize("loader", LOADERS, ids=lambda f: f.__name__)
def test_view_selection_errors_name_the_views(loader):
    with pytest.raises(ValueError, match="Unknown view 'nope'"):
        loader(views=["nope", 0])
    with pytest.raises(ValueError, match="at least 2 views"):
        loader(views=[0])
    with pytest.raises(ValueError, match="twice"):
        loader(views=[0, 0])
    with pytest.raises(ValueError, match="list of at least 2"):
        loader(views="pix")


@pytest.mark.parametrize(
    "loader, view_a, view_b, min_acc",
    [(load_mfeat, "fac", "pix", 0.9), (load_bbc_news, "minilm_l6", "minilm_l3", 0.9)],
    ids=["mfeat", "bbc_news"],
)
def test_views_predict_labels_and_share_structure(loader, view_a, view_b, min_acc):
    """Each view carries the labels, and two views are paired: their canonical
    correlation on held-out rows is far above that of rows paired at random."""
    Xs, y = loader(views=[view_a, view_b], return_X_y=True)
    tr, te = train_test_split(np.arange(len(y)), test_size=0.3, stratify=y, random_state=0)
    for X in Xs:
        probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))
        assert probe.fit(X[tr], y[tr]).score(X[te], y[te]) > min_acc

    def first_canonical_corr(A, B):
        A = StandardScaler().fit(A[tr]).transform(A)
        B = StandardScaler().fit(B[tr]).transform(B)
        cca = CCA(n_components=1, max_iter=1000).fit(A[tr], B[tr])
        u, v = cca.transform(A[te], B[te])
        return abs(np.corrcoef(u[:, 0], v[:, 0])[0, 1])

    A, B = Xs
    shuffled = B[np.random.default_rng(0).permutation(len(B))]
    paired = first_canonical_corr(A, B)
    assert paired > 0.8
    assert paired > first_canonical_corr(A, shuffled) + 0.5
