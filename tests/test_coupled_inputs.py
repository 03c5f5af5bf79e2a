"""CoupledSAE's surface: bad input, input forms, divergence, interrupts, pickling."""

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone

from skcosae import CoupledSAE, as_frame
from skcosae.coupled import TrainingStoppedWarning
from skcosae.datasets import make_platonic

SMALL = dict(n_concepts=16, k=2, losses=["rec", "trans", "cc"], max_epochs=2, random_state=0)


@pytest.fixture(scope="module")
def views():
    Xs, y, _ = make_platonic(n_samples=300, n_views=2, n_concepts=16, view_dims=[8, 12],
                             random_state=0)
    return Xs, y


@pytest.fixture(scope="module")
def fitted(views):
    return CoupledSAE(**SMALL).fit(views[0])


def _with(X, row, col, value):
    X = X.copy()
    X[row, col] = value
    return X


@pytest.mark.parametrize(
    "make_X, params, fit_kwargs, match",
    [
        (lambda a, b: [a, _with(b, 3, 2, np.nan)], {}, {}, "View 1 contains NaN"),
        (lambda a, b: [_with(a, 0, 0, np.inf), b], {}, {}, "View 0 contains NaN or infinity"),
        (lambda a, b: [a, b[:-5]], {}, {}, r"same number of rows.*view 0: 300, view 1: 295"),
        (lambda a, b: [a], {}, {}, "Got 1 view"),
        (lambda a, b: [a, b], {}, {"pair_mask": np.ones(10, bool)},
         r"pair_mask has shape \(10,\), but X has 300 rows"),
        (lambda a, b: [a, b], {}, {"pair_mask": np.ones(300)}, "boolean array.*dtype float64"),
        (lambda a, b: [a, b], {}, {"pair_mask": "half"},
         r"The 'pair_mask' parameter of CoupledSAE.fit must be an array-like, a float"),
        (lambda a, b: [a, b], {"losses": ["rec", "translation"]}, {}, "Unknown loss 'translation'"),
        (lambda a, b: [a, b], {"losses": {"rec": 1, "cc": -0.5}}, {},
         r"weight of loss 'cc' must be finite and >= 0"),
        (lambda a, b: [a, b], {"k": 40}, {}, "k=40 active concepts per row exceeds n_concepts=16"),
        (lambda a, b: pd.DataFrame(np.hstack([a, b])), {}, {}, "two column levels"),
        (lambda a, b: np.hstack([a, b]), {"view_sizes": [8, 10]}, {},
         r"view_sizes \[8, 10\] sum to 18 but X has 20 columns"),
        (lambda a, b: [a, b], {"architecture": "usae", "losses": ["rec", "cc"]}, {},
         r"architecture='usae' trains with \['rec', 'trans'\] only; remove \['cc'\]"),
        (lambda a, b: [a, b], {"n_concepts": 0}, {}, "n_concepts"),
        (lambda a, b: [a, b], {"device": "cuda:7" if not torch.cuda.is_available() else "tpu"},
         {}, "device="),
    ],
)
def test_bad_input_is_a_clear_error(views, make_X, params, fit_kwargs, match):
    a, b = views[0]
    with pytest.raises(ValueError, match=match):
        CoupledSAE(**{**SMALL, **params}).fit(make_X(a, b), **fit_kwargs)


def test_rescaled_data_gives_the_same_training_and_codes(views):
    a, b = views[0]
    params = {**SMALL, "losses": ["rec", "trans", "cc", "dist_trans", "dist_cc"]}
    est = CoupledSAE(**params).fit([a, b])
    scaled = CoupledSAE(**params).fit([1000 * a + 5, 0.01 * b - 3])
    columns = ["rec", "trans", "cc", "dist_trans", "dist_cc", "total"]
    np.testing.assert_allclose(scaled.history_[columns], est.history_[columns], rtol=1e-3)
    np.testing.assert_allclose(scaled.transform([1000 * a + 5, 0.01 * b - 3])[1],
                               est.transform([a, b])[1], rtol=1e-3, atol=1e-4)


def test_wrong_width_at_transform_names_the_view(views, fitted):
    a, b = views[0]
    with pytest.raises(ValueError, match="View 1 has 11 features.*fitted with 12"):
        fitted.transform([a, b[:, :11]])
    with pytest.raises(ValueError, match="View 0 has 12 features.*fitted with 8"):
        fitted.translate(b, source=0, target=1)
    with pytest.raises(ValueError, match="Unknown view 2"):
        fitted.translate(a, source=2, target=1)


def test_input_forms_give_the_same_codes_and_mirror_the_form(views, fitted):
    a, b = views[0]
    codes = fitted.transform([a, b])
    assert isinstance(codes, list) and codes[0].shape == (300, 16)
    assert isinstance(fitted.transform((a, b)), tuple)
    frame = as_frame([a, b], index=[f"r{i}" for i in range(300)])
    framed = fitted.transform(frame)
    assert framed.columns.tolist()[0] == (0, "concept0") and framed.index[0] == "r0"
    np.testing.assert_allclose(framed[1].to_numpy(), codes[1])
    stacked = CoupledSAE(**SMALL, view_sizes=[8, 12]).fit(np.hstack([a, b]))
    np.testing.assert_allclose(stacked.transform(np.hstack([a, b])), np.hstack(codes))
    np.testing.assert_allclose(fitted.transform(b, view=1), codes[1])
    recon = fitted.inverse_transform(framed)
    assert recon.columns.tolist()[:2] == [(0, "x0"), (0, "x1")]
    np.testing.assert_allclose(fitted.reconstruct([a, b])[1], recon[1].to_numpy(), atol=1e-6)


def test_set_output_pandas_and_feature_names(views, fitted):
    a, b = views[0]
    est = clone(fitted).set_output(transform="pandas").fit([a, b])
    out = est.transform([a, b])
    assert isinstance(out, pd.DataFrame) and out.shape == (300, 32)
    assert list(est.get_feature_names_out()[:2]) == ["concept0", "concept1"]
    single = est.transform(a, view=0)
    assert isinstance(single, pd.DataFrame) and list(single.columns) == list(
        est.get_feature_names_out())
    assert isinstance(clone(est).fit([a, b]).transform([a, b]), pd.DataFrame)  # clone keeps it
    assert isinstance(est.set_output(transform="default").transform([a, b]), list)
    with pytest.raises(ValueError, match="transform='polars'.*not supported"):
        est.set_output(transform="polars")


def test_set_params_sets_one_loss_weight():
    est = CoupledSAE(losses=["rec", "trans"]).set_params(losses__cc=0.25)
    assert est.losses == {"rec": 1.0, "trans": 1.0, "cc": 0.25}
    assert clone(est).losses == est.losses
    with pytest.raises(ValueError, match="Unknown loss 'ccc'"):
        est.set_params(losses__ccc=1)


def test_pickle_and_clone(views, fitted):
    a, b = views[0]
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.transform([a, b])[0], fitted.transform([a, b])[0])
    assert restored.device_ == "cpu"
    assert "model_" in fitted.__dict__  # pickling left the estimator itself intact
    fresh = clone(fitted)
    assert not hasattr(fresh, "model_") and fresh.get_params() == fitted.get_params()


def test_training_continues_after_pickling_as_it_would_have_without(views):
    a, b = views[0]
    kept = CoupledSAE(**SMALL, warm_start=True).fit([a, b])
    restored = pickle.loads(pickle.dumps(kept))
    kept.fit([a, b])
    restored.fit([a, b])  # Adam's moments travelled with the pickle
    restored.partial_fit([a, b])
    kept.partial_fit([a, b])
    assert restored.n_iter_ == kept.n_iter_ == 5
    for mine, theirs in zip(restored.dictionaries_, kept.dictionaries_):
        np.testing.assert_array_equal(mine, theirs)


def test_a_new_learning_rate_holds_for_the_next_partial_fit(views):
    a, b = views[0]
    est = CoupledSAE(**SMALL).partial_fit([a, b])
    before = est.dictionaries_[0]
    est.set_params(learning_rate=1e-12).partial_fit([a, b])
    assert np.abs(est.dictionaries_[0] - before).max() < 1e-6
    est.set_params(learning_rate=3e-3).partial_fit([a, b])
    assert np.abs(est.dictionaries_[0] - before).max() > 1e-3


def test_nan_loss_stops_training_and_restores_last_good_epoch(views, monkeypatch):
    a, b = views[0]
    from skcosae.backend import losses

    calls = {"n": 0}
    original = losses.translation_loss

    def poisoned(*args):
        calls["n"] += 1
        value = original(*args)
        return value * float("nan") if calls["n"] > 8 else value

    monkeypatch.setattr(losses, "translation_loss", poisoned)
    est = CoupledSAE(**{**SMALL, "max_epochs": 10, "batch_size": 100})
    with pytest.warns(TrainingStoppedWarning, match="diverged after 1 of 10"):
        est.fit([a, b])
    assert est.stop_reason_ == "diverged" and est.n_iter_ == 1
    assert all(np.isfinite(z).all() for z in est.transform([a, b]))
    monkeypatch.setattr(losses, "translation_loss", original)
    before = est.model_.state_dict()["units.0.W_dec.0"].clone()
    assert torch.isfinite(before).all()


def test_ctrl_c_leaves_a_usable_flagged_model(views, monkeypatch):
    a, b = views[0]
    import skcosae.backend.train as train

    real = train.batch_losses
    calls = {"n": 0}

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 7:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(train, "batch_losses", interrupted)
    est = CoupledSAE(**{**SMALL, "max_epochs": 10, "batch_size": 100})
    with pytest.warns(TrainingStoppedWarning, match="interrupted after 2 of 10"):
        est.fit([a, b])
    assert est.stop_reason_ == "interrupted" and est.n_iter_ == 2
    assert np.isfinite(est.translate(a, 0, 1)).all()


def test_warm_start_and_partial_fit_continue_training(views):
    a, b = views[0]
    est = CoupledSAE(**{**SMALL, "max_epochs": 3, "warm_start": True}).fit([a, b])
    first = est.history_["total"].iloc[-1]
    est.fit([a, b])
    assert est.n_iter_ == 6 and list(est.history_["epoch"]) == [1, 2, 3, 4, 5, 6]
    assert est.history_["total"].iloc[-1] < first
    online = CoupledSAE(**SMALL)
    for _ in range(3):
        online.partial_fit([a, b])
    assert online.n_iter_ == 3


def test_verbose_shows_progress(views, capsys):
    a, b = views[0]
    CoupledSAE(**{**SMALL, "verbose": 1}).fit([a, b])
    assert "CoupledSAE" in capsys.readouterr().err


def test_score_without_labels_is_mean_reconstruction_r2(views, fitted):
    a, b = views[0]
    recon = fitted.reconstruct([a, b])
    expected = np.mean([1 - ((x - r) ** 2).sum() / ((x - x.mean(0)) ** 2).sum()
                        for x, r in zip([a, b], recon)])
    assert fitted.score([a, b]) == pytest.approx(expected, rel=1e-6)


def test_grid_search_over_one_loss_weight(views):
    from sklearn.model_selection import GridSearchCV

    a, b = views[0]
    search = GridSearchCV(CoupledSAE(**SMALL), {"losses__cc": [0.0, 1.0]}, cv=2).fit(
        as_frame([a, b]))
    assert [p["losses__cc"] for p in search.cv_results_["params"]] == [0.0, 1.0]
    # losses_ holds the terms trained: a weight of 0 is no term at all.
    assert search.best_estimator_.losses_.get("cc", 0.0) == search.best_params_["losses__cc"]
