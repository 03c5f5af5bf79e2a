"""The linear estimators' surface, errors, pair handling, and agreement with scikit-learn."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.cross_decomposition import CCA as SkCCA
from sklearn.decomposition import PCA
from sklearn.model_selection import GridSearchCV

from skcosae import as_frame
from skcosae._compat import InvalidParameterError
from skcosae.linear import CCA, LinearCoupledAE, MultiViewPCA, ReducedRankRegression
from skcosae.linear._closed_forms import cca, maxvar_gcca, view_moments

from .test_linear_lemmas import cov, inv_sqrt, make_views

ALL = [
    MultiViewPCA(n_components=2),
    CCA(n_components=2),
    ReducedRankRegression(n_components=2),
    LinearCoupledAE(n_components=2),
]


@pytest.fixture(scope="module")
def views():
    # Well-conditioned: 3 strong shared signals, unit noise, moderate feature scales.
    return make_views(0, 5, 4, n=400, n_shared=3, spread=0.5)


# --------------------------------------------------------------------------- scikit-learn
def test_multiview_pca_matches_sklearn_pca(views):
    model = MultiViewPCA(n_components=3).fit(views)
    white = MultiViewPCA(n_components=3, whiten=True).fit(views)
    n = len(views[0])
    for i, X in enumerate(views):
        ref = PCA(n_components=3, svd_solver="full").fit(X)
        ours = model.transform(X, view=i)
        signs = np.sign(np.sum(ours * ref.transform(X), axis=0))
        np.testing.assert_allclose(ours * signs, ref.transform(X), atol=1e-8)
        # scikit-learn divides variances by n - 1, skcosae by n (the whitening constraint
        # W^T S W = I of the paper uses S = X^T X / n).
        np.testing.assert_allclose(model.explained_variance_[i] * n / (n - 1),
                                   ref.explained_variance_, rtol=1e-10)
        np.testing.assert_allclose(model.explained_variance_ratio_[i],
                                   ref.explained_variance_ratio_, rtol=1e-10)
        sk_white = PCA(n_components=3, whiten=True, svd_solver="full").fit(X).transform(X)
        np.testing.assert_allclose(np.abs(white.transform(X, view=i)) * np.sqrt((n - 1) / n),
                                   np.abs(sk_white), atol=1e-8)


def test_cca_matches_sklearn_cca(views):
    k = 3
    ours = CCA(n_components=k).fit(views)
    # scikit-learn's CCA is NIPALS, iterative: tight tolerance, many iterations.
    ref = SkCCA(n_components=k, scale=False, tol=1e-14, max_iter=100_000).fit(*views)
    x_scores, y_scores = ref.transform(*views)
    ref_rho = [np.corrcoef(x_scores[:, c], y_scores[:, c])[0, 1] for c in range(k)]
    np.testing.assert_allclose(ours.canonical_correlations_, ref_rho, atol=1e-6)
    Za, Zb = ours.transform(views)
    for c in range(k):
        assert abs(np.corrcoef(Za[:, c], x_scores[:, c])[0, 1]) == pytest.approx(1, abs=1e-6)
        assert abs(np.corrcoef(Zb[:, c], y_scores[:, c])[0, 1]) == pytest.approx(1, abs=1e-6)
        assert np.corrcoef(Za[:, c], Zb[:, c])[0, 1] == pytest.approx(
            ours.canonical_correlations_[c], abs=1e-10)


def test_lemma3_through_linear_coupled_ae_equals_cca_in_both_metrics(views):
    plain = CCA(n_components=2).fit(views)
    for metric in ("euclidean", "mahalanobis"):
        model = LinearCoupledAE(n_components=2, losses=["cc"], metric=metric).fit(views)
        assert model.solution_ == "CCA (Lemma 3)"
        for W, W_ref in zip(model.encoders_, plain.encoders_):
            np.testing.assert_allclose(W, W_ref, atol=1e-10)
        rho = plain.canonical_correlations_
        assert model.objective_["cc"] == pytest.approx(2 * (2 - rho.sum()) / 2, rel=1e-8)


# --------------------------------------------------------------------------- MAXVAR
def test_maxvar_reduces_to_cca_for_two_views(views):
    m = view_moments(views)
    Wa, Wb, rho = cca(m.covs[0], m.covs[1], m.cross[(0, 1)], 3)
    encoders, corr = maxvar_gcca(m, 3, ["a", "b"])
    np.testing.assert_allclose(corr, rho, atol=1e-10)
    np.testing.assert_allclose(encoders[0], Wa, atol=1e-8)
    np.testing.assert_allclose(encoders[1], Wb, atol=1e-8)


def test_cca_on_three_views_finds_the_shared_signal():
    rng = np.random.default_rng(1)
    shared = rng.normal(size=(500, 2))
    Xs = [shared @ rng.normal(size=(2, d)) + 0.2 * rng.normal(size=(500, d)) for d in (4, 3, 5)]
    model = CCA(n_components=3).fit(Xs)
    assert model.canonical_correlations_[:2].min() > 0.9  # two shared directions...
    assert model.canonical_correlations_[2] < 0.3  # ...and no third
    codes = model.transform(Xs)
    for Z in codes:
        np.testing.assert_allclose(Z.var(0), 1.0, rtol=1e-10)  # unit-variance columns
    for c in range(2):
        assert np.corrcoef(codes[0][:, c], codes[2][:, c])[0, 1] > 0.9


# --------------------------------------------------------------------------- pairs
def test_cca_cross_covariance_uses_only_paired_rows(views):
    mask = np.zeros(len(views[0]), dtype=bool)
    mask[::3] = True
    model = CCA(n_components=2).fit(views, pair_mask=mask)
    # Independent: auto-covariances from every row, cross-covariance from the pairs.
    Xa, Xb = (X - X.mean(0) for X in views)
    Ra, Rb = inv_sqrt(Xa.T @ Xa / len(Xa)), inv_sqrt(Xb.T @ Xb / len(Xb))
    M = Ra @ (Xa[mask].T @ Xb[mask] / mask.sum()) @ Rb
    np.testing.assert_allclose(model.canonical_correlations_,
                               np.linalg.svd(M, compute_uv=False)[:2], atol=1e-10)
    # Shuffling the unpaired rows of view b changes nothing: they are never used as pairs.
    shuffled = views[1].copy()
    rest = np.flatnonzero(~mask)
    shuffled[rest] = views[1][np.random.default_rng(0).permutation(rest)]
    other = CCA(n_components=2).fit([views[0], shuffled], pair_mask=mask)
    for W, W_other in zip(model.encoders_, other.encoders_):
        np.testing.assert_allclose(W, W_other, atol=1e-10)
    # ...whereas with every row paired they are.
    assert not np.allclose(CCA(n_components=2).fit([views[0], shuffled]).encoders_[0],
                           model.encoders_[0], atol=1e-3)


def test_float_pair_mask_is_drawn_with_random_state(views):
    a = CCA(n_components=2, pair_mask=0.25, random_state=0).fit(views)
    b = CCA(n_components=2, pair_mask=0.25, random_state=0).fit(views)
    assert a.pair_mask_.sum() == 100
    np.testing.assert_array_equal(a.pair_mask_, b.pair_mask_)
    np.testing.assert_allclose(a.encoders_[0], b.encoders_[0])


@pytest.mark.parametrize("model", ALL, ids=lambda m: type(m).__name__)
def test_a_bad_pair_mask_gets_one_message_in_the_constructor_and_in_fit(views, model):
    messages = []
    for fit in (lambda: clone(model).set_params(pair_mask=1.5).fit(views),
                lambda: clone(model).fit(views, pair_mask=1.5)):
        with pytest.raises(InvalidParameterError, match="'pair_mask' parameter") as error:
            fit()
        messages.append(str(error.value))
    assert messages[0] == messages[1]
    assert type(model).__name__ in messages[0] and "Got 1.5" in messages[0]


def test_no_pairs_is_an_error_where_pairs_are_needed(views):
    none = np.zeros(len(views[0]), dtype=bool)
    for model in (CCA(), ReducedRankRegression(), LinearCoupledAE(losses=["rec", "trans"])):
        with pytest.raises(ValueError, match="no row as paired"):
            model.fit(views, pair_mask=none)
    MultiViewPCA().fit(views, pair_mask=none)  # PCA needs no pairs
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LinearCoupledAE(losses=["rec"], metric="euclidean").fit(views, pair_mask=none)


# --------------------------------------------------------------------------- surface
@pytest.mark.parametrize("model", ALL, ids=lambda m: type(m).__name__)
def test_surface_mirrors_every_input_form(views, model):
    model = clone(model).fit(views)
    assert model.n_views_ == 2 and model.view_sizes_ == [5, 4] and model.n_concepts_ == 2
    assert [D.shape for D in model.dictionaries_] == [(2, 5), (2, 4)]
    codes = model.transform(views)
    assert isinstance(codes, list) and [Z.shape for Z in codes] == [(400, 2), (400, 2)]
    assert isinstance(model.transform(tuple(views)), tuple)
    np.testing.assert_allclose(model.transform(views[1], view=1), codes[1])
    # Frame in, frame out with (view, concept) columns; array + view_sizes in, array out.
    frame = as_frame(views, view_names=["img", "txt"])
    framed = clone(model).fit(frame)
    out = framed.transform(frame)
    assert isinstance(out, pd.DataFrame)
    assert out.columns.tolist()[:2] == [("img", "concept0"), ("img", "concept1")]
    np.testing.assert_allclose(out.to_numpy(), np.hstack(codes), atol=1e-12)
    stacked = clone(model).set_params(view_sizes=[5, 4]).fit(np.hstack(views))
    np.testing.assert_allclose(stacked.transform(np.hstack(views)), np.hstack(codes), atol=1e-12)
    # Decoding: inverse_transform inverts the form; translate and reconstruct compose.
    back = model.inverse_transform(codes)
    np.testing.assert_allclose(back[0], model.inverse_transform(codes[0], view=0))
    np.testing.assert_allclose(model.reconstruct(views)[1], back[1])
    t = framed.translate(frame["img"], source="img", target="txt")
    assert isinstance(t, pd.DataFrame) and t.shape == (400, 4)
    np.testing.assert_allclose(model.translate(views, 0, 1),
                               model.inverse_transform(codes[0], view=1), atol=1e-12)
    assert model.get_feature_names_out().tolist() == ["concept0", "concept1"]
    pandas_codes = clone(model).fit(views).set_output(transform="pandas").transform(views)
    assert isinstance(pandas_codes, pd.DataFrame)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(restored.transform(views)[0], codes[0])


def test_reconstruction_and_translation_quality(views):
    pca = MultiViewPCA(n_components=3).fit(views)
    lin = LinearCoupledAE(n_components=3).fit(views)
    assert pca.score(views) > 0.5
    # Coupled encoders translate; the uncoupled PCA pairing of concepts does not.
    r2 = lambda X, Y: 1 - ((X - Y) ** 2).sum() / ((X - X.mean(0)) ** 2).sum()  # noqa: E731
    assert r2(views[1], lin.translate(views[0], 0, 1)) > 0.3
    assert r2(views[1], lin.translate(views[0], 0, 1)) > r2(views[1], pca.translate(views[0], 0, 1))


# --------------------------------------------------------------------------- errors
def test_errors_name_the_problem(views):
    with pytest.raises(ValueError, match="n_components=5 exceeds the 4 feature"):
        CCA(n_components=5).fit(views)
    singular = [views[0], np.hstack([views[1], views[1][:, :1]])]
    with pytest.raises(ValueError, match="View 1: its covariance is singular.*reg > 0"):
        CCA().fit(singular)
    CCA(reg=0.01).fit(singular)  # shrinkage makes it whitenable
    with pytest.raises(ValueError, match="isotropic.*metric='mahalanobis'"):
        LinearCoupledAE(losses=["rec", "cc"], metric="euclidean").fit(views)
    with pytest.raises(ValueError, match="nothing is identified"):
        LinearCoupledAE(losses=["rec", "cycle"], metric="mahalanobis").fit(views)
    with pytest.raises(ValueError, match="'dist_trans' have no closed form"):
        LinearCoupledAE(losses=["rec", "trans", "dist_trans"]).fit(views)
    with pytest.raises(ValueError, match="trade off"):
        LinearCoupledAE(losses=["trans", "cycle"]).fit(views)
    with pytest.raises(ValueError, match="identifies no encoder"):
        LinearCoupledAE(losses=["dist_cc"]).fit(views)
    with pytest.raises(ValueError, match="exactly 2 views"):
        ReducedRankRegression().fit(views + [views[0]])
    with pytest.raises(ValueError, match="Unknown loss 'recon'"):
        LinearCoupledAE(losses=["recon"]).fit(views)
    with pytest.raises(ValueError, match="must be finite and >= 0"):
        LinearCoupledAE(losses={"rec": -1.0}).fit(views)
    with pytest.raises(ValueError, match="metric"):
        LinearCoupledAE(metric="cosine").fit(views)
    fitted = CCA().fit(views)
    with pytest.raises(ValueError, match="View 1 has 3 features.*fitted with 4"):
        fitted.transform([views[0], views[1][:, :3]])
    with pytest.raises(ValueError, match="Unknown view 'c'"):
        fitted.translate(views[0], source=0, target="c")
    with pytest.raises(ValueError, match="NaN or infinity"):
        CCA().fit([views[0], np.where(views[1] > 2, np.nan, views[1])])


def test_loss_weights_are_searchable(views):
    model = LinearCoupledAE(losses=["rec", "cc"]).set_params(losses__trans=2.0)
    assert model.losses == {"rec": 1.0, "cc": 1.0, "trans": 2.0}
    with pytest.raises(ValueError, match="weight of loss 'cc' must be a number; got 'abc'"):
        model.set_params(losses__cc="abc")
    assert model.losses == {"rec": 1.0, "cc": 1.0, "trans": 2.0}  # unchanged by the failure
    search = GridSearchCV(LinearCoupledAE(n_components=2),
                          {"losses": [["rec", "trans"], ["rec", "trans", "cc"]]}, cv=2)
    search.fit(as_frame(views))
    assert search.best_estimator_.solution_ == "CCA encoders, Lemma 6 decoders"


def test_dist_cc_closed_form_says_it_is_second_order(views):
    with pytest.warns(UserWarning, match="second order"):
        model = LinearCoupledAE(losses=["rec", "cc", "dist_cc"]).fit(views)
    assert model.pairing_identified_  # cc pairs the codes
    assert model.objective_["dist_cc"] >= 0


def test_objective_on_new_data_uses_the_fitted_metric(views):
    model = LinearCoupledAE(n_components=2, losses=["rec", "trans", "cc"]).fit(views)
    same = model.objective(views)
    assert same["total"] == pytest.approx(model.objective_["total"], rel=1e-12)
    held_out = make_views(99, 5, 4, n=400, n_shared=3, spread=0.5)
    assert model.objective(held_out)["total"] > 0
    # The Mahalanobis rec term of the self-readout is (d - k) / d per view when the fitted
    # covariance is the data's: checked on the training data.
    pure = LinearCoupledAE(n_components=2, losses={"rec": 1.0, "cc": 1.0}).fit(views)
    assert pure.objective_["rec"] == pytest.approx((5 - 2) / 5 + (4 - 2) / 4, rel=1e-10)
    np.testing.assert_allclose(pure.variances_, [5.0, 4.0], rtol=1e-10)
    for X, W in zip(views, pure.encoders_):
        np.testing.assert_allclose(W.T @ cov(X) @ W, np.eye(2), atol=1e-10)


def test_intervencha_alignment_of_coupled_vs_uncoupled_linear_models():
    """S_align (InterVenchA, through score(X, y)): CCA-coupled codes align, per-view PCA
    codes do not (Lemma 1: no coupling)."""
    from skcosae.datasets import make_platonic

    Xs, y, _ = make_platonic(n_samples=1000, n_views=2, random_state=0)
    coupled = LinearCoupledAE(n_components=8).fit(Xs).score(Xs, y)
    uncoupled = MultiViewPCA(n_components=8).fit(Xs).score(Xs, y)
    assert coupled > uncoupled + 0.1


def test_rrr_score_is_the_translation_r2(views):
    rrr = ReducedRankRegression(n_components=3).fit(views)
    r2 = [1 - ((views[t] - rrr.translate(views[s], s, t)) ** 2).sum()
          / ((views[t] - views[t].mean(0)) ** 2).sum() for s, t in ((0, 1), (1, 0))]
    assert rrr.score(views) == pytest.approx(np.mean(r2), rel=1e-12)
    # The best rank-3 linear translation beats the one read off CCA-coupled codes.
    coupled = LinearCoupledAE(n_components=3, losses=["cc"]).fit(views)
    assert rrr.score(views) >= np.mean(
        [1 - ((views[t] - coupled.translate(views[s], s, t)) ** 2).sum()
         / ((views[t] - views[t].mean(0)) ** 2).sum() for s, t in ((0, 1), (1, 0))])


def test_euclidean_pca_closed_form_needs_no_invertible_covariance():
    """More features than rows: per-view PCA still exists; whitening-based fits ask for reg."""
    rng = np.random.default_rng(0)
    Xs = [rng.normal(size=(20, 30)), rng.normal(size=(20, 25))]
    model = LinearCoupledAE(n_components=3, losses=["rec"], metric="euclidean").fit(Xs)
    for X, W in zip(Xs, model.encoders_):
        np.testing.assert_allclose(W.T @ cov(X) @ W, np.eye(3), atol=1e-10)
    with pytest.raises(ValueError, match="singular.*reg > 0"):
        CCA(n_components=3).fit(Xs)
    shrunk = CCA(n_components=3, reg=0.5).fit(Xs)
    Za, Zb = shrunk.transform(Xs)
    # With reg > 0, canonical_correlations_ are the variates' correlations on the data.
    np.testing.assert_allclose(
        shrunk.canonical_correlations_,
        [np.corrcoef(Za[:, c], Zb[:, c])[0, 1] for c in range(3)], atol=1e-10)
