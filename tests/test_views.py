"""The input layer: every form in, the same views out, and errors that name the problem."""

import numpy as np
import pandas as pd
import pytest

from skcosae import as_frame
from skcosae._views import (
    check_single_view,
    check_views,
    resolve_pair_mask,
    resolve_view,
    split_columns,
)

rng = np.random.default_rng(0)
XA = rng.normal(size=(7, 3))
XB = rng.normal(size=(7, 5))


def test_the_three_forms_give_the_same_views():
    from_list = check_views([XA, XB])
    from_frame = check_views(as_frame([XA, XB]))
    from_array = check_views(np.hstack([XA, XB]), view_sizes=[3, 5])
    for mv in (from_list, from_frame, from_array):
        assert mv.n_views == 2 and mv.n_samples == 7
        np.testing.assert_array_equal(mv.views[0], XA)
        np.testing.assert_array_equal(mv.views[1], XB)
        assert mv.view_sizes == [3, 5]
    assert (from_list.form, from_frame.form, from_array.form) == ("list", "frame", "array")


def test_outputs_mirror_the_input_form():
    codes = [np.ones((7, 2)), np.zeros((7, 2))]
    names = ["concept0", "concept1"]
    assert isinstance(check_views([XA, XB]).mirror(codes, names), list)
    assert isinstance(check_views((XA, XB)).mirror(codes, names), tuple)
    assert check_views(np.hstack([XA, XB]), view_sizes=2).mirror(codes, names).shape == (7, 4)
    frame = as_frame([XA, XB], view_names=["vit", "dino"], index=list("abcdefg"))
    out = check_views(frame).mirror(codes, names)
    assert isinstance(out, pd.DataFrame)
    assert list(out.index) == list("abcdefg")
    assert out.columns.tolist() == [
        ("vit", "concept0"), ("vit", "concept1"), ("dino", "concept0"), ("dino", "concept1")
    ]
    np.testing.assert_array_equal(out["dino"].to_numpy(), codes[1])


def test_frame_keeps_view_and_feature_names():
    frame = as_frame([XA, XB], view_names=["a", "b"],
                     feature_names=[["p", "q", "r"], list("stuvw")])
    mv = check_views(frame)
    assert mv.view_names == ["a", "b"]
    assert mv.feature_names[0] == ["p", "q", "r"]


def test_int_view_sizes_splits_evenly():
    assert split_columns(7, 2) == [4, 3]
    assert split_columns(6, 3) == [2, 2, 2]


@pytest.mark.parametrize(
    "X, kwargs, match",
    [
        ([XA], {}, "at least 2 views"),
        ([XA, XB[:5]], {}, r"same number of rows.*view 0: 7, view 1: 5"),
        ([XA, np.where(XB > 1, np.nan, XB)], {}, "View 1 contains NaN"),
        ([XA, np.where(XB > 1, np.inf, XB)], {}, "View 1 contains NaN or infinity"),
        (pd.DataFrame(XA), {}, "two column levels"),
        (np.hstack([XA, XB]), {"view_sizes": [3, 4]}, r"sum to 7 but X has 8 columns"),
        (np.hstack([XA, XB]), {}, "without view_sizes"),
        ([XA, XB], {"expected_widths": [3, 4]}, "View 1 has 5 features.*fitted with 4"),
        ([XA, XB[:, 0]], {}, "View 1 must be a 2-D array"),
        ([XA, XB], {"view_names": ["a", "a"]}, "unique"),
    ],
)
def test_bad_input_names_the_problem(X, kwargs, match):
    with pytest.raises(ValueError, match=match):
        check_views(X, **kwargs)


def test_single_view_checks_width():
    arr, index = check_single_view(XA, view_name="a", n_features=3)
    assert arr.shape == (7, 3) and index is None
    with pytest.raises(ValueError, match="View 'a' has 3 features.*fitted with 4"):
        check_single_view(XA, view_name="a", n_features=4)


def test_resolve_view_by_name_and_position():
    assert resolve_view("b", ["a", "b"]) == 1
    assert resolve_view(-1, ["a", "b"]) == 1
    assert resolve_view(1, [0, 1]) == 1
    with pytest.raises(ValueError, match="Unknown view 'c'"):
        resolve_view("c", ["a", "b"])


def test_pair_mask_forms():
    assert resolve_pair_mask(None, 5).all()
    mask = resolve_pair_mask(0.2, 1000, random_state=0)
    assert mask.dtype == bool and mask.sum() == 200
    np.testing.assert_array_equal(mask, resolve_pair_mask(0.2, 1000, random_state=0))
    assert resolve_pair_mask(1e-6, 1000, random_state=0).sum() == 1
    given = np.arange(6) % 2 == 0
    np.testing.assert_array_equal(resolve_pair_mask(given, 6), given)


@pytest.mark.parametrize(
    "mask, match",
    [
        (0.0, r"in \(0, 1\]"),
        (1.5, r"in \(0, 1\]"),
        (np.ones(4, dtype=bool), r"shape \(4,\), but X has 6 rows"),
        (np.ones(6), "dtype float64"),
        ("all", "pair_mask must be None"),
        (True, "pair_mask must be None"),
    ],
)
def test_bad_pair_mask(mask, match):
    with pytest.raises(ValueError, match=match):
        resolve_pair_mask(mask, 6)


@pytest.mark.parametrize("on_disk", [False, True])
def test_a_lazy_view_reads_its_columns_of_chosen_rows(tmp_path, on_disk):
    from skcosae._views import LazyView

    X = np.arange(120, dtype=np.float64).reshape(20, 6)
    if on_disk:
        np.save(tmp_path / "x.npy", X)
        X = np.load(tmp_path / "x.npy", mmap_mode="r")
    view = LazyView(X, "b", columns=slice(2, 5))
    rows = np.array([0, 1, 2, 7, 8, 19])  # two contiguous runs and a lone row
    expected = np.asarray(X)[rows, 2:5]
    np.testing.assert_array_equal(view.take(rows), expected)
    out = np.zeros((len(rows), 3), dtype=np.float32)
    assert view.take_into(rows, out) is out
    np.testing.assert_array_equal(out, expected.astype(np.float32))
    np.testing.assert_array_equal(view.rows(3, 6), np.asarray(X)[3:6, 2:5])
