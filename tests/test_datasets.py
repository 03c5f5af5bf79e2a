"""make_platonic (docs/datasets.rst) and the ground-truth recovery scores."""

import numpy as np
import pandas as pd
import pytest
from sklearn.decomposition import MiniBatchDictionaryLearning
from sklearn.linear_model import LogisticRegression, Ridge

from skcosae import as_frame
from skcosae._views import check_views
from skcosae.datasets import atom_recovery_score, concept_recovery_score, make_platonic


def _translation_r2(Xs, n_train=1500, shuffle=False):
    """Held-out R^2 of a linear map from view 0 to view 1 (rows shuffled on request)."""
    A, B = Xs[0], Xs[1]
    if shuffle:
        B = B[np.random.default_rng(0).permutation(len(B))]
    return Ridge(alpha=1e-3).fit(A[:n_train], B[:n_train]).score(A[n_train:], B[n_train:])


# ----------------------------------------------------------------------------- make_platonic
def test_shapes_labels_and_sparse_concepts():
    Xs, y, truth = make_platonic(n_samples=300, n_views=3, n_concepts=40, n_active=5,
                                 view_dims=[10, 20, 30], n_classes=4, random_state=0)
    assert [X.shape for X in Xs] == [(300, 10), (300, 20), (300, 30)]
    assert y.shape == (300,) and set(y.tolist()) == {0, 1, 2, 3}
    S = truth.concepts
    assert S.shape == (300, 40) and (S >= 0).all()
    assert ((S > 0).sum(1) == 5).all()
    # Kept entries are the largest |z| of their row, so none is near zero.
    assert S[S > 0].min() > 0.3
    # Labels: the group of concepts with the largest total activation.
    sums = np.stack([S[:, g].sum(1) for g in truth.groups], axis=1)
    np.testing.assert_array_equal(y, sums.argmax(1))
    for V in truth.view_concepts:
        assert V.shape == S.shape
        assert not ((V > 0) & (S == 0)).any()  # a view never sees a concept that is off


def test_no_idiosyncrasy_no_noise_gives_identical_view_concepts():
    _, _, truth = make_platonic(n_samples=200, idiosyncrasy=0.0, noise=(0.0, 0.0), random_state=1)
    for V in truth.view_concepts:
        np.testing.assert_array_equal(V, truth.concepts)


def test_idiosyncrasy_is_the_drop_rate_of_each_view():
    _, _, truth = make_platonic(n_samples=4000, n_views=2, idiosyncrasy=[0.0, 0.3],
                                noise=(0.0, 0.0), random_state=0)
    active = truth.concepts > 0
    dropped = [((V == 0) & active).sum() / active.sum() for V in truth.view_concepts]
    assert dropped[0] == 0
    assert abs(dropped[1] - 0.3) < 0.02


def test_noise_level_is_drawn_in_range():
    _, _, truth = make_platonic(n_samples=3000, idiosyncrasy=0.0, noise=(0.2, 0.3), random_state=0)
    for sigma, V in zip(truth.params["noise_std"], truth.view_concepts):
        assert 0.2 <= sigma <= 0.3
        kept = V > 0
        residual = (V - truth.concepts)[kept]
        # Clipping at 0 trims only the few entries pushed below zero.
        assert abs(residual.std() - sigma) < 0.03


def test_linear_views_are_concepts_times_unit_atoms():
    Xs, _, truth = make_platonic(n_samples=100, linear=True, random_state=0)
    for X, V, A in zip(Xs, truth.view_concepts, truth.atoms):
        np.testing.assert_allclose(np.linalg.norm(A, axis=1), 1.0)
        np.testing.assert_allclose(X, V @ A)


def test_nonlinear_views_follow_the_documented_maps():
    Xs, _, truth = make_platonic(n_samples=100, depth=3, hidden=20, n_private=3, random_state=0)
    assert truth.atoms is None
    for X, V, P, layers in zip(Xs, truth.view_concepts, truth.private_concepts, truth.view_maps):
        assert [W.shape[1] for W in layers[:-1]] == [20, 20]
        H = np.hstack([V, P])
        for W in layers[:-1]:
            H = np.maximum(H @ W, 0)
        np.testing.assert_allclose(X, H @ layers[-1])


def test_random_state_reproduces_and_differs():
    a = make_platonic(n_samples=50, random_state=3)
    b = make_platonic(n_samples=50, random_state=3)
    c = make_platonic(n_samples=50, random_state=4)
    np.testing.assert_array_equal(a[0][1], b[0][1])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.allclose(a[0][1], c[0][1])


def test_as_frame_goes_through_the_input_layer():
    Xs, y, _ = make_platonic(n_samples=30, view_dims=[3, 4], random_state=0)
    frame, y2, _ = make_platonic(n_samples=30, view_dims=[3, 4], view_names=["a", "b"],
                                 as_frame=True, random_state=0)
    assert isinstance(frame, pd.DataFrame) and frame.columns.nlevels == 2
    mv = check_views(frame)
    assert mv.view_names == ["a", "b"]
    for got, want in zip(mv.views, Xs):
        np.testing.assert_array_equal(got, want)
    pd.testing.assert_frame_equal(frame, as_frame(Xs, view_names=["a", "b"]))
    np.testing.assert_array_equal(y, y2)


def test_labels_are_readable_from_each_view():
    Xs, y, _ = make_platonic(n_samples=2000, n_classes=8, random_state=0)
    for X in Xs:
        acc = LogisticRegression(max_iter=2000).fit(X[:1500], y[:1500]).score(X[1500:], y[1500:])
        assert acc > 3 / 8  # chance is 1/8


def test_views_share_information_that_idiosyncrasy_removes():
    linear = make_platonic(n_samples=2000, linear=True, random_state=0)[0]
    assert _translation_r2(linear) > 0.8
    assert _translation_r2(linear, shuffle=True) < 0.02
    shared = _translation_r2(make_platonic(n_samples=2000, idiosyncrasy=0.0, random_state=0)[0])
    blind = _translation_r2(make_platonic(n_samples=2000, idiosyncrasy=0.5, random_state=0)[0])
    private = _translation_r2(make_platonic(n_samples=2000, idiosyncrasy=0.0, n_private=32,
                                            random_state=0)[0])
    assert shared > blind + 0.2
    assert shared > private + 0.1


def test_private_concepts_rate():
    _, _, truth = make_platonic(n_samples=4000, n_concepts=64, n_active=8, n_private=10,
                                random_state=0)
    for P in truth.private_concepts:
        assert P.shape == (4000, 10)
        assert abs((P > 0).mean() - 8 / 64) < 0.02


def test_default_concepts_are_the_exchangeable_draw_bit_for_bit():
    """With both exponents 0 the generator draws exactly as the top-K generator always did."""
    n, m, k = 400, 32, 3
    Xs, y, truth = make_platonic(n_samples=n, n_concepts=m, n_active=k, n_classes=4,
                                 linear=True, random_state=7)
    rng = np.random.RandomState(7)
    latent = rng.standard_normal((n, m))
    keep = np.abs(latent) >= np.sort(np.abs(latent), axis=1)[:, [-k]]
    np.testing.assert_array_equal(truth.concepts, np.where(keep, np.abs(latent), 0.0))
    for X, V, A in zip(Xs, truth.view_concepts, truth.atoms):
        np.testing.assert_array_equal(X, V @ A)
    explicit = make_platonic(n_samples=n, n_concepts=m, n_active=k, n_classes=4, linear=True,
                             frequency_exponent=0.0, magnitude_exponent=0, random_state=7)
    for got, want in zip(explicit[0], Xs):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(truth.frequencies, np.full(m, k / m))
    np.testing.assert_array_equal(truth.magnitude_scales, np.ones(m))


def test_power_law_frequencies_and_magnitudes_follow_the_law():
    n, m, k, a, b = 40_000, 64, 4, 1.0, 0.5
    _, _, truth = make_platonic(n_samples=n, n_concepts=m, n_active=k, frequency_exponent=a,
                                magnitude_exponent=b, random_state=0)
    S = truth.concepts
    # Concepts' ranks are a permutation: sorting by frequency recovers r = 1..M.
    order = np.argsort(-truth.frequencies)
    ranks = np.arange(1, m + 1)
    want = k * ranks ** -a / (ranks ** -a).sum()
    np.testing.assert_allclose(truth.frequencies[order], want)
    np.testing.assert_allclose(truth.magnitude_scales[order], ranks ** -b)
    observed = (S > 0).mean(0)[order]
    # Every empirical frequency within 5 binomial standard errors of its law ...
    assert np.all(np.abs(observed - want) < 5 * np.sqrt(want * (1 - want) / n))
    # ... and the log-log slope of frequency against rank is -a.
    slope = np.polyfit(np.log(ranks), np.log(observed), 1)[0]
    assert abs(slope + a) < 0.05
    assert abs((S > 0).sum(1).mean() - k) < 0.05
    # Active values are |N(0, 1)| scaled by r^-b: their mean is r^-b sqrt(2 / pi).
    means = np.array([S[S[:, c] > 0, c].mean() for c in order[:8]])
    np.testing.assert_allclose(means, ranks[:8] ** -b * np.sqrt(2 / np.pi), rtol=0.05)
    # The frequent concepts are spread over the class groups, not all in group 0.
    assert len({np.searchsorted([g[0] for g in truth.groups], c, side="right")
                for c in order[:8]}) > 2


def test_power_law_concepts_are_distinguishable_by_their_laws():
    """Exchangeable concepts share one law; power-law ones each have their own."""
    def law_gap(**kwargs):
        _, _, truth = make_platonic(n_samples=20_000, n_concepts=16, n_active=3,
                                    n_classes=4, random_state=0, **kwargs)
        freq = (truth.concepts > 0).mean(0)
        return np.sort(freq)[-1] / np.sort(freq)[0]

    assert law_gap() < 1.2
    assert law_gap(frequency_exponent=1.0) > 10


def test_power_law_frequency_is_capped_at_one():
    _, _, truth = make_platonic(n_samples=500, n_concepts=8, n_active=6,
                                frequency_exponent=2.0, n_classes=2, random_state=0)
    assert truth.frequencies.max() == 1.0
    assert (truth.concepts[:, np.argmax(truth.frequencies)] > 0).all()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_views=1), "n_views"),
        (dict(n_samples=0), "n_samples"),
        (dict(n_active=10, n_concepts=5), "n_active=10 exceeds n_concepts=5"),
        (dict(n_classes=10, n_concepts=5, n_active=2), "n_classes=10 exceeds n_concepts=5"),
        (dict(view_dims=[8, 8, 8]), "view_dims has 3 widths for n_views=2"),
        (dict(view_dims=[8, 0]), r"view_dims\[1\]"),
        (dict(idiosyncrasy=1.0), "idiosyncrasy"),
        (dict(idiosyncrasy=[0.1, 0.1, 0.1]), "idiosyncrasy must be a float or a list of 2"),
        (dict(noise=(0.5, 0.1)), "noise must be a range"),
        (dict(noise=(0.1,)), "noise must be a pair"),
        (dict(view_names=["a"]), "view_names has 1 names for n_views=2"),
        (dict(depth=1), "depth"),
        (dict(frequency_exponent=-1.0), "frequency_exponent"),
        (dict(magnitude_exponent=-0.5), "magnitude_exponent"),
    ],
)
def test_bad_parameters_name_the_problem(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_platonic(**{"n_samples": 10, **kwargs})


# ----------------------------------------------------------------------------- recovery scores
def test_truth_scores_one_and_matching_inverts_the_permutation():
    _, _, truth = make_platonic(n_samples=500, random_state=0)
    S = truth.concepts
    perm = np.random.default_rng(0).permutation(S.shape[1])
    codes = 3.0 * S[:, perm] + 1.0
    score, matching = concept_recovery_score(codes, S, return_matching=True)
    assert score == pytest.approx(1.0)
    assert all(perm[matching[c]] == c for c in range(S.shape[1]))


def test_random_codes_score_far_below_truth():
    Xs, _, truth = make_platonic(n_samples=2000, random_state=0)
    rng = np.random.default_rng(0)
    projected = np.maximum(Xs[0] @ rng.standard_normal((Xs[0].shape[1], 64)), 0)
    sparse = np.where(rng.random((2000, 64)) < 4 / 64, rng.exponential(size=(2000, 64)), 0)
    assert concept_recovery_score(truth.concepts, truth.concepts) == pytest.approx(1.0)
    assert concept_recovery_score(projected, truth.concepts) < 0.45
    assert concept_recovery_score(sparse, truth.concepts) < 0.15


def test_constant_columns_count_as_zero_and_missing_codes_too():
    S = np.random.default_rng(0).exponential(size=(100, 4))
    codes = np.hstack([S[:, :2], np.zeros((100, 1)), np.full((100, 1), 7.0)])
    score = concept_recovery_score(codes, S)
    assert np.isfinite(score) and score == pytest.approx(0.5)
    assert concept_recovery_score(S[:, :1], S) == pytest.approx(0.25)
    # A concept that never fires cannot be recovered, and does not make the score NaN.
    S[:, 3] = 0
    assert concept_recovery_score(S, S) == pytest.approx(0.75)


def test_atom_recovery_truth_random_and_learnt():
    Xs, _, truth = make_platonic(n_samples=2000, linear=True, random_state=0)
    A = truth.atoms[0]
    rng = np.random.default_rng(0)
    flipped = -2.0 * A[rng.permutation(len(A))]
    assert atom_recovery_score(flipped, A) == pytest.approx(1.0)
    random_score = atom_recovery_score(rng.standard_normal(A.shape), A)
    assert random_score < 0.4
    # A learnt sparse dictionary recovers atoms and concepts far better than chance.
    dl = MiniBatchDictionaryLearning(n_components=64, alpha=0.1, batch_size=256, max_iter=20,
                                     fit_algorithm="cd", positive_code=True,
                                     transform_algorithm="lasso_cd", transform_alpha=0.05,
                                     random_state=0).fit(Xs[0])
    assert atom_recovery_score(dl.components_, A) > random_score + 0.3
    assert concept_recovery_score(dl.transform(Xs[0]), truth.concepts) > 0.6


def test_recovery_scores_reject_mismatched_shapes():
    with pytest.raises(ValueError, match="same rows"):
        concept_recovery_score(np.ones((5, 2)), np.ones((6, 2)))
    with pytest.raises(ValueError, match="2-D"):
        concept_recovery_score(np.ones(5), np.ones((5, 2)))
    with pytest.raises(ValueError, match="share n_features"):
        atom_recovery_score(np.ones((3, 4)), np.ones((3, 5)))
    with pytest.raises(ValueError, match="NaN or infinity"):
        concept_recovery_score(np.full((5, 2), np.nan), np.ones((5, 2)))
