"""The input layer answers alike whatever the form, and says where a problem was found."""

import warnings

import numpy as np
import pandas as pd
import pytest

from skcosae import CoupledSAE
from skcosae.coupled import TrainingStoppedWarning
from skcosae.datasets import make_platonic
from skcosae.linear import CCA

SMALL = dict(n_concepts=16, k=2, losses=["rec", "trans"], max_epochs=2, random_state=0)


@pytest.fixture(scope="module")
def views():
    Xs, _, _ = make_platonic(n_samples=300, n_views=2, n_concepts=8, random_state=0)
    return Xs


def test_a_flat_frame_with_view_sizes_is_taken_like_the_array(views):
    widths = [X.shape[1] for X in views]
    flat = pd.DataFrame(np.hstack(views), index=np.arange(300) + 7,
                        columns=[f"f{j}" for j in range(sum(widths))])
    from_frame = CoupledSAE(**SMALL, view_sizes=widths).fit(flat)
    from_array = CoupledSAE(**SMALL, view_sizes=widths).fit(np.hstack(views))
    codes = from_frame.transform(flat)
    assert isinstance(codes, pd.DataFrame) and list(codes.index[:2]) == [7, 8]
    np.testing.assert_allclose(codes.to_numpy(), from_array.transform(np.hstack(views)))
    assert from_frame.feature_names_per_view_[1][0] == f"f{widths[0]}"
    linear = CCA(n_components=2, reg=0.1, view_sizes=widths).fit(flat)
    assert isinstance(linear.transform(flat), pd.DataFrame)


@pytest.mark.parametrize("Estimator, params", [(CoupledSAE, SMALL),
                                               (CCA, {"n_components": 2, "reg": 0.1})])
def test_a_list_of_frames_comes_back_as_a_list_of_frames(views, Estimator, params):
    frames = [pd.DataFrame(X, index=np.arange(300) + 100) for X in views]
    est = Estimator(**params).fit(frames)
    codes = est.transform(frames)
    assert isinstance(codes, list) and all(isinstance(z, pd.DataFrame) for z in codes)
    assert list(codes[1].index[:2]) == [100, 101]
    assert list(codes[0].columns[:2]) == list(est.get_feature_names_out()[:2])
    back = est.inverse_transform(codes)
    assert all(isinstance(x, pd.DataFrame) for x in back)
    assert isinstance(est.translate(frames[0], 0, 1), pd.DataFrame)


@pytest.mark.parametrize("Estimator, params", [(CoupledSAE, SMALL),
                                               (CCA, {"n_components": 2, "reg": 0.1})])
def test_nan_errors_say_whether_they_were_found_at_fit_or_transform(views, Estimator, params):
    bad = views[0].copy()
    bad[5, 0] = np.nan
    with pytest.raises(ValueError, match="View 0 contains NaN.*before fitting"):
        Estimator(**params).fit([bad, views[1]])
    est = Estimator(**params).fit(views)
    with pytest.raises(ValueError, match="View 0 contains NaN.*before calling transform"):
        est.transform([bad, views[1]])


def test_unknown_names_get_a_suggestion(views):
    est = CoupledSAE(**SMALL, view_names=["vit", "dino"]).fit(views)
    with pytest.raises(ValueError, match="Unknown view 'dinov'; Did you mean 'dino'"):
        est.translate(views[0], source="vit", target="dinov")
    with pytest.raises(ValueError, match="Unknown loss 'tran'; Did you mean 'trans'"):
        CoupledSAE(losses=["rec", "tran"]).fit(views)
    with pytest.raises(ValueError, match="Did you mean 'cc'"):
        CoupledSAE().set_params(losses__ccc=1.0)


def test_a_zero_weight_is_no_loss_everywhere(views):
    from skcosae.coupled import make_baseline

    usae = make_baseline("usae", **{k: v for k, v in SMALL.items() if k != "losses"})
    usae.set_params(losses__cc=0).fit(views)  # cc of weight 0 is no cc: usae accepts it
    assert "cc" not in usae.losses_
    with pytest.raises(ValueError, match="The weight of loss 'cc' must be a number"):
        CoupledSAE().set_params(losses__cc="abc")  # at once, not at fit


def test_the_constructor_and_fit_reject_a_bad_pair_mask_alike(views):
    with pytest.raises(ValueError) as constructor:
        CoupledSAE(**SMALL, pair_mask=1.5).fit(views)
    with pytest.raises(ValueError) as at_fit:
        CoupledSAE(**SMALL).fit(views, pair_mask=1.5)
    tail = "must be an array-like, a float in the range (0.0, 1.0] or None. Got 1.5 instead."
    assert str(constructor.value).endswith(tail) and str(at_fit.value).endswith(tail)


def test_a_stopped_training_warning_points_at_the_callers_line(views, monkeypatch):
    from skcosae.backend import losses

    original = losses.reconstruction_loss
    monkeypatch.setattr(losses, "reconstruction_loss",
                        lambda *args: original(*args) * float("nan"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        CoupledSAE(**SMALL).fit(views)
    stopped = [w for w in caught if issubclass(w.category, TrainingStoppedWarning)]
    assert len(stopped) == 1 and stopped[0].filename == __file__


def test_a_fit_with_too_few_steps_warns_at_the_callers_line(views):
    from skcosae.coupled import UndertrainedWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = CoupledSAE(**SMALL).fit(views)
    short = [w for w in caught if issubclass(w.category, UndertrainedWarning)]
    assert len(short) >= 1 and short[0].filename == __file__
    assert "fewer than 300" in str(short[0].message) and est.n_steps_ == 4
    est.set_params(warm_start=True, max_epochs=1).fit(views)
    assert est.n_steps_ == 6  # counted over every call
