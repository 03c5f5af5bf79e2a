"""load_embeddings: a directory of per-view files."""

import importlib.util

import numpy as np
import pandas as pd
import pytest

from skcosae.datasets import load_embeddings


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    np.save(tmp_path / "b_vit.npy", rng.standard_normal((20, 4)).astype(np.float32))
    np.save(tmp_path / "a_dino.npy", rng.standard_normal((20, 3)).astype(np.float32))
    np.save(tmp_path / "labels.npy", np.arange(20) % 3)
    return tmp_path


def test_directory_views_sorted_and_memory_mapped(folder):
    Xs, y = load_embeddings(folder, labels="labels.npy")
    assert [X.shape for X in Xs] == [(20, 3), (20, 4)]  # a_dino before b_vit
    np.testing.assert_array_equal(Xs[0], np.load(folder / "a_dino.npy"))
    np.testing.assert_array_equal(y, np.arange(20) % 3)
    # float32 views of one dtype stay memory maps of the files, not copies.
    assert all(X.dtype == np.float32 for X in Xs)
    assert all(isinstance(X.base, np.memmap) or isinstance(X, np.memmap) for X in Xs)
    Xs, y = load_embeddings(folder, labels="labels.npy", mmap=False)
    assert not any(isinstance(X, np.memmap) or isinstance(X.base, np.memmap) for X in Xs)


def test_view_names_select_and_order(folder):
    Xs, y = load_embeddings(folder, view_names=["b_vit", "a_dino"])
    assert y is None
    assert [X.shape[1] for X in Xs] == [4, 3]
    with pytest.raises(ValueError, match=r"No file for view\(s\) \['clip'\].*a_dino"):
        load_embeddings(folder, view_names=["clip", "a_dino"], labels="labels.npy")


def test_npz_labels_array_list_of_files_and_frame(tmp_path):
    rng = np.random.default_rng(1)
    A, B = rng.standard_normal((6, 2)), rng.standard_normal((6, 5))
    np.savez(tmp_path / "text.npz", emb=A)
    np.save(tmp_path / "image.npy", B.astype(np.float16))
    Xs, y = load_embeddings([tmp_path / "text.npz", tmp_path / "image.npy"], labels=[1, 0] * 3)
    np.testing.assert_array_equal(Xs[0], A)
    assert Xs[1].dtype == np.float64  # mixed dtypes: converted once to float64
    np.testing.assert_allclose(Xs[1], B.astype(np.float16))
    assert y.tolist() == [1, 0] * 3
    frame, _ = load_embeddings(tmp_path, as_frame=True)
    assert list(dict.fromkeys(frame.columns.get_level_values(0))) == ["image", "text"]


@pytest.mark.skipif(
    importlib.util.find_spec("pyarrow") is None and importlib.util.find_spec("fastparquet") is None,
    reason="no parquet engine installed",
)
def test_parquet_view_keeps_its_column_names(tmp_path):
    pd.DataFrame({"f1": [1.0, 2.0], "f2": [3.0, 4.0]}).to_parquet(tmp_path / "p.parquet")
    np.save(tmp_path / "q.npy", np.ones((2, 1)))
    frame, _ = load_embeddings(tmp_path, as_frame=True)
    assert frame.columns.tolist() == [("p", "f1"), ("p", "f2"), ("q", "x0")]


def test_parquet_without_engine_says_what_to_install(tmp_path, monkeypatch):
    (tmp_path / "p.parquet").write_bytes(b"PAR1")
    np.save(tmp_path / "q.npy", np.ones((2, 1)))

    def no_engine(*args, **kwargs):
        raise ImportError("Unable to find a usable engine")

    monkeypatch.setattr(pd, "read_parquet", no_engine)
    with pytest.raises(ImportError, match="p.parquet needs a parquet engine.*pip install pyarrow"):
        load_embeddings(tmp_path)


def test_row_mismatch_names_the_files(tmp_path):
    np.save(tmp_path / "a.npy", np.ones((5, 2)))
    np.save(tmp_path / "b.npy", np.ones((6, 2)))
    with pytest.raises(ValueError, match="same number of rows; got a.npy: 5, b.npy: 6"):
        load_embeddings(tmp_path)


def test_unknown_extension_and_empty_directory(tmp_path):
    with pytest.raises(ValueError, match="holds no view files"):
        load_embeddings(tmp_path)
    (tmp_path / "README.md").write_text("ignored")
    (tmp_path / ".hidden").write_text("ignored")
    with pytest.raises(ValueError, match="holds no view files"):
        load_embeddings(tmp_path)
    np.save(tmp_path / "a.npy", np.ones((3, 2)))
    (tmp_path / "b.csv").write_text("1,2\n")
    with pytest.raises(ValueError,
                       match=r"b.csv: unknown extension '.csv'.*\.npy, \.npz, \.parquet"):
        load_embeddings(tmp_path)


@pytest.mark.parametrize(
    "setup, kwargs, match",
    [
        (lambda d: np.save(d / "y.npy", np.arange(4)), {}, r"y.npy holds an array of shape \(4,\)"),
        (lambda d: np.savez(d / "two.npz", a=np.ones((4, 1)), b=np.ones((4, 1))), {},
         "two.npz holds 2 arrays"),
        (lambda d: None, dict(labels=np.arange(5)), "labels has 5 labels for 4 rows"),
        (lambda d: None, dict(labels="missing.npy"), "labels file 'missing.npy' not found"),
        (lambda d: np.save(d / "c.npy", np.full((4, 2), np.nan)), {}, "View 'c'.*NaN"),
    ],
    ids=["1-D view", "npz with two arrays", "label count", "missing labels", "NaN"],
)
def test_bad_files_get_clear_errors(tmp_path, setup, kwargs, match):
    np.save(tmp_path / "a.npy", np.ones((4, 2)))
    np.save(tmp_path / "b.npy", np.ones((4, 3)))
    setup(tmp_path)
    with pytest.raises(ValueError, match=match):
        load_embeddings(tmp_path, **kwargs)


def test_one_view_and_not_a_directory(tmp_path):
    np.save(tmp_path / "a.npy", np.ones((4, 2)))
    with pytest.raises(ValueError, match="at least 2 views"):
        load_embeddings(tmp_path)
    with pytest.raises(ValueError, match="is not a directory"):
        load_embeddings(tmp_path / "a.npy")
