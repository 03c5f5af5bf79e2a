"""fetch_wordnet_glosses: the shipped slice, a build in a data home, and get_data_home."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression, Ridge

from skcosae.datasets import fetch_wordnet_glosses, get_data_home

from .test_datasets_real import no_network  # noqa: F401 (a fixture: fails on any socket)


@pytest.fixture(scope="module")
def sample():
    return fetch_wordnet_glosses(sample=True)


def write_build(folder, bunch, views, n_rows):
    """A build laid out as scripts/build_wordnet_glosses.py writes it."""
    folder.mkdir(parents=True)
    for name in views:
        X = bunch.data[bunch.view_names.index(name)][:n_rows]
        np.save(folder / f"{name}.npy", X.astype(np.float16))
    np.savez_compressed(folder / "meta.npz", synset_ids=np.array(bunch.synset_ids[:n_rows]),
                        texts=np.array(bunch.texts[:n_rows]), target=bunch.target[:n_rows],
                        target_names=np.array(bunch.target_names))
    (folder / "manifest.json").write_text(json.dumps({"n_rows": n_rows, "views": views}))


@pytest.mark.usefixtures("no_network")
def test_sample_is_shipped_and_loads_offline():
    bunch = fetch_wordnet_glosses(sample=True)
    assert bunch.view_names == ["minilm_l6", "glove_50"]
    assert [X.shape for X in bunch.data] == [(2000, 384), (2000, 50)]
    assert all(X.dtype == np.float32 and np.isfinite(X).all() for X in bunch.data)
    assert bunch.n_rows == 2000 and bunch.n_synsets == 117_659
    assert len(bunch.target_names) == 45 and bunch.target.max() < 45
    for key in ("DESCR", "source", "license", "citation"):
        assert isinstance(bunch[key], str) and bunch[key]
    assert "Princeton" in bunch.license and "Princeton" in bunch.DESCR
    path = Path(__file__).parents[1] / "skcosae" / "datasets" / "data"
    assert (path / "wordnet_glosses_sample.npz").stat().st_size < 2_000_000


def test_rows_are_synsets_whose_ids_texts_and_labels_agree(sample):
    assert len(set(sample.synset_ids)) == 2000
    # The part of speech in the synset id matches the lexicographer file of the label
    # (adjective satellites "s" live in the adjective files).
    pos = {"noun": {"n"}, "verb": {"v"}, "adj": {"a", "s"}, "adv": {"r"}}
    for sid, t in zip(sample.synset_ids, sample.target):
        assert sid[-1] in pos[sample.target_names[t].split(".")[0]]
    # Every text is "lemmas: gloss".
    assert all(": " in text for text in sample.texts)
    # all-MiniLM-L6-v2 embeddings are unit norm (float16 storage rounds slightly).
    np.testing.assert_allclose(np.linalg.norm(sample.data[0], axis=1), 1.0, atol=2e-3)


def test_views_carry_the_labels_and_are_paired(sample):
    """Each encoder reads the lexicographer file, and the two views are row-paired: a ridge
    map from one to the other predicts held-out rows, and no longer does once rows are
    shuffled."""
    A, B = sample.data
    y = sample.target
    for X in (A, B):
        acc = LogisticRegression(max_iter=2000).fit(X[:1500], y[:1500]).score(X[1500:], y[1500:])
        assert acc > 2 * np.bincount(y).max() / len(y)  # twice the majority class
    paired = Ridge(alpha=1.0).fit(A[:1500], B[:1500]).score(A[1500:], B[1500:])
    shuffled = B[np.random.default_rng(0).permutation(2000)]
    unpaired = Ridge(alpha=1.0).fit(A[:1500], shuffled[:1500]).score(A[1500:], shuffled[1500:])
    assert paired > 0.3 and unpaired < 0.05


@pytest.mark.usefixtures("no_network")
def test_a_build_in_the_data_home_is_loaded(sample, tmp_path, monkeypatch):
    write_build(tmp_path / "home" / "wordnet_glosses", sample, ["minilm_l6", "glove_50"], 300)
    bunch = fetch_wordnet_glosses(tmp_path / "home")
    assert bunch.n_rows == 300 and [X.shape for X in bunch.data] == [(300, 384), (300, 50)]
    np.testing.assert_allclose(bunch.data[1], sample.data[1][:300], rtol=1e-3, atol=1e-3)
    assert bunch.synset_ids == sample.synset_ids[:300]
    # SKCOSAE_DATA is the default data home; views can be chosen and reordered.
    monkeypatch.setenv("SKCOSAE_DATA", str(tmp_path / "home"))
    Xs, _ = fetch_wordnet_glosses(views=["glove_50", "minilm_l6"], return_X_y=True,
                                  dtype="float64")
    assert [X.shape for X in Xs] == [(300, 50), (300, 384)] and Xs[0].dtype == np.float64
    frame, target = fetch_wordnet_glosses(as_frame=True, return_X_y=True)
    assert isinstance(frame, pd.DataFrame) and isinstance(target, pd.Series)
    assert frame.columns.get_level_values(0).unique().tolist() == ["minilm_l6", "glove_50"]


def test_missing_build_and_missing_views_say_what_to_do(sample, tmp_path):
    with pytest.raises(FileNotFoundError, match="build_wordnet_glosses.py.*sample=True"):
        fetch_wordnet_glosses(tmp_path / "empty")
    write_build(tmp_path / "wordnet_glosses", sample, ["minilm_l6", "glove_50"], 50)
    with pytest.raises(ValueError, match=r"no view \['e5_small'\].*minilm_l6"):
        fetch_wordnet_glosses(tmp_path, views=["minilm_l6", "e5_small"])
    with pytest.raises(ValueError, match=r"slice has no view \['e5_small'\]"):
        fetch_wordnet_glosses(sample=True, views=["e5_small", "glove_50"])
    with pytest.raises(ValueError, match="Unknown view 'bert'"):
        fetch_wordnet_glosses(sample=True, views=["bert", "glove_50"])
    with pytest.raises(ValueError, match="dtype"):
        fetch_wordnet_glosses(sample=True, dtype="float16")


def test_data_home_precedence(monkeypatch, tmp_path):
    monkeypatch.delenv("SKCOSAE_DATA", raising=False)
    assert get_data_home() == Path.home() / ".cache" / "skcosae"
    monkeypatch.setenv("SKCOSAE_DATA", str(tmp_path / "env"))
    assert get_data_home() == tmp_path / "env"
    assert get_data_home(tmp_path / "arg") == tmp_path / "arg"
    assert get_data_home("~/x") == Path.home() / "x"
