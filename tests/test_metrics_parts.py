"""InterVenchA's parts: post-processing, concept selection, probes, interventions.

Each part is checked against an independent computation (scikit-learn, scipy, pandas, or
the formula written out on all rows).
"""

import numpy as np
import pandas as pd
import pytest
from scipy.linalg import orth
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, r2_score

from skcosae.metrics._concept import ConceptAblation
from skcosae.metrics._latent import (
    LatentAblation,
    explained_variance,
    faithfulness,
    span_basis,
)
from skcosae.metrics._postprocess import (
    chance_level,
    clip01,
    combine,
    normalise,
    normalised_drop,
)
from skcosae.metrics._probes import (
    OneVsRestProbes,
    Scaler,
    balanced_accuracy,
    class_mean_differences,
    concepts_for_classes,
    select_probe_concepts,
)
from skcosae.metrics._tasks import draw_tasks, tpp_score, unlearning_score


# ---------------------------------------------------------------- post-processing
def test_normalise_maps_chance_to_zero_reference_to_one_and_clips():
    assert normalise(0.25, 0.25, 0.85) == 0.0
    assert normalise(0.85, 0.25, 0.85) == 1.0
    assert normalise(0.55, 0.25, 0.85) == pytest.approx(0.5)
    assert normalise(0.95, 0.25, 0.85) == 1.0  # above the reference: clipped
    assert normalise(0.10, 0.25, 0.85) == 0.0  # below chance: clipped
    # A reference barely above its floor carries no signal: the score is 0, not noise.
    assert normalise(0.28, 0.25, 0.27, min_gap=0.05) == 0.0
    assert normalise(0.28, 0.25, 0.27) == 1.0
    assert normalise(np.nan, 0.25, 0.85) == 0.0 and clip01(np.inf) == 0.0


def test_normalised_drop():
    assert normalised_drop(0.9, 0.0, 0.0) == 1.0
    assert normalised_drop(0.9, 0.45, 0.0) == pytest.approx(0.5)
    assert normalised_drop(0.9, 0.95, 0.0) == 0.0  # rose: no drop
    assert normalised_drop(0.8, 0.5, 0.5) == 1.0  # down to chance 0.5
    assert normalised_drop(0.52, 0.5, 0.5, min_gap=0.05) == 0.0


@pytest.mark.parametrize("u, f", [(1.0, 1.0), (0.0, 0.0), (1.0, 0.0), (0.3, 0.8)])
def test_combine_rules(u, f):
    assert combine(u, f) == pytest.approx(u * f)
    d2 = 1 - np.hypot(1 - u, 1 - f) / np.sqrt(2)
    assert combine(u, f, "distance") == pytest.approx(d2)
    assert combine(u, f, "distance", p=1) == pytest.approx(1 - ((1 - u) + (1 - f)) / 2)
    assert combine(u, f, "distance", p=np.inf) == pytest.approx(1 - max(1 - u, 1 - f))
    assert combine(u, f, "sum") == pytest.approx(max(u + f - 1, 0))
    with pytest.raises(ValueError, match="Unknown combine rule 'mean'"):
        combine(u, f, "mean")


def test_chance_level():
    y_train = np.array([0, 0, 0, 1, 2])
    y_test = np.array([0, 1, 1, 2])
    assert chance_level(y_train, y_test, 3) == 0.25  # majority class 0, a quarter of test
    assert chance_level(y_train, y_test, 3, "uniform") == pytest.approx(1 / 3)


# ---------------------------------------------------------------- selection and probes
def test_class_mean_differences_match_pandas():
    rng = np.random.default_rng(0)
    Z = rng.random((60, 5))
    y = rng.integers(0, 3, 60)
    rows = np.arange(10, 60)
    diffs = class_mean_differences(Z, y, rows, 3)
    frame = pd.DataFrame(Z[rows]).assign(y=y[rows])
    for c in range(3):
        expected = (frame[frame.y == c].drop(columns="y").mean()
                    - frame[frame.y != c].drop(columns="y").mean())
        np.testing.assert_allclose(diffs[c], expected.to_numpy())


def test_selection_rules():
    diffs = np.array([[9.0, 8.0, 7.0, 0.0, 0.0],
                      [0.0, 0.0, 0.0, -2.0, 1.0]])
    # Classes take turns, so class 1's concept (largest |difference|: a negative one) is in.
    assert select_probe_concepts(diffs, 2).tolist() == [0, 3]
    assert select_probe_concepts(diffs, 2, "max").tolist() == [0, 1]
    assert select_probe_concepts(diffs, 10).tolist() == [0, 3, 1, 4, 2]
    # Only concepts more active inside the class are "its" concepts to ablate.
    assert concepts_for_classes(diffs, [1], 3).tolist() == [4]
    assert concepts_for_classes(diffs, [0, 1], 1).tolist() == [0, 4]


def test_balanced_accuracy_and_one_vs_rest_probes_match_sklearn():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] > 0.3).astype(int) + (X[:, 1] > 0.8)
    probes = [LogisticRegression(class_weight="balanced").fit(X, y == c) for c in range(3)]
    ovr = OneVsRestProbes(probes)
    pred = ovr.predict(X)
    for c, probe in enumerate(probes):
        np.testing.assert_array_equal(pred[:, c], probe.predict(X))
        assert ovr.balanced_accuracies(X, y)[c] == pytest.approx(
            balanced_accuracy_score(y == c, probe.predict(X)))
    assert balanced_accuracy(pred[:, :1], (y == 0)[:, None])[0] == pytest.approx(
        balanced_accuracy_score(y == 0, pred[:, 0]))


def test_scaler_uses_training_statistics_only():
    train = np.array([[0.0, 1.0], [2.0, 1.0]])
    scale = Scaler(train)
    np.testing.assert_allclose(scale(np.array([[1.0, 1.0], [3.0, 5.0]])), [[0, 0], [2, 4]])
    np.testing.assert_allclose(Scaler(train, enabled=False)(train), train)


# ---------------------------------------------------------------- latent space
def test_explained_variance_is_sklearns_variance_weighted_r2_clipped():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(50, 3)) * [1.0, 5.0, 0.2]
    X_hat = X + rng.normal(scale=0.5, size=X.shape)
    assert explained_variance(X, X_hat) == pytest.approx(
        r2_score(X, X_hat, multioutput="variance_weighted"))
    assert explained_variance(X, X + 10.0) == 0.0  # worse than the mean: clipped


def test_span_basis_matches_scipy_orth():
    rng = np.random.default_rng(3)
    for shape in [(4, 12), (30, 12)]:
        atoms = rng.normal(size=shape)
        atoms[1] = 3 * atoms[0]  # a repeated direction must not add a column
        basis = span_basis(atoms)
        reference = orth(atoms.T)
        assert basis.shape == reference.shape
        np.testing.assert_allclose(basis @ basis.T, reference @ reference.T, atol=1e-10)
    assert span_basis(np.zeros((3, 5))).shape == (5, 0)


def test_latent_ablation_removes_the_atoms_span_around_the_mean():
    rng = np.random.default_rng(4)
    atoms = rng.normal(size=(6, 10))
    X = rng.normal(size=(40, 10)) + 5.0
    mean = X.mean(axis=0)
    ablate = LatentAblation(X, atoms, mean)
    out = ablate([1, 4])
    np.testing.assert_allclose((out - mean) @ atoms[[1, 4]].T, 0.0, atol=1e-10)
    # What is orthogonal to the ablated atoms is kept.
    Q = orth(atoms[[1, 4]].T)
    keep = np.eye(10) - Q @ Q.T
    np.testing.assert_allclose((out - mean) @ keep, (X - mean) @ keep, atol=1e-10)
    assert ablate([]) is X
    wide = LatentAblation(X, rng.normal(size=(20, 10)), mean)
    np.testing.assert_allclose(wide.zero(), np.broadcast_to(mean, X.shape), atol=1e-10)


def test_faithfulness_is_one_for_the_original_and_zero_for_the_zero_code():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] > 0).astype(int)
    probe = LogisticRegression().fit(X, y)
    scale = Scaler(X)
    X_zero = np.zeros_like(X)
    assert faithfulness(probe, scale, y, X, X, X_zero) == pytest.approx(1.0)
    assert faithfulness(probe, scale, y, X, X_zero, X_zero) == pytest.approx(0.0)
    half = faithfulness(probe, scale, y, X, 0.5 * X, X_zero)
    assert 0.0 < half < 1.0


# ---------------------------------------------------------------- concept space
class AffineDecoder:
    """inverse_transform(Z, view) = Z @ W + b, counting the rows it decodes."""

    def __init__(self, W, b):
        self.W, self.b, self.decoded_rows = W, b, 0

    def inverse_transform(self, Z, view=None):
        self.decoded_rows += len(Z)
        return Z @ self.W + self.b


def test_concept_ablation_keeps_the_error_and_decodes_only_touched_rows():
    rng = np.random.default_rng(6)
    W, b = rng.normal(size=(8, 5)), rng.normal(size=5)
    Z = np.where(rng.random((30, 8)) < 0.2, rng.random((30, 8)), 0.0)
    X = Z @ W + b + rng.normal(scale=0.1, size=(30, 5))  # the autoencoder's error
    est = AffineDecoder(W, b)
    ablate = ConceptAblation(est, 0, X, Z, Z @ W + b)
    est.decoded_rows = 0
    concepts = [2, 5]
    out = ablate(concepts)
    Z_abl = Z.copy()
    Z_abl[:, concepts] = 0.0
    np.testing.assert_allclose(out, (Z_abl @ W + b) + (X - (Z @ W + b)), atol=1e-12)
    assert est.decoded_rows == int((Z[:, concepts] != 0).any(axis=1).sum()) < len(Z)
    np.testing.assert_allclose(ablate.zero(), b + X - (Z @ W + b), atol=1e-12)


# ---------------------------------------------------------------- tasks
def test_unlearning_score_rewards_forgetting_one_class_only():
    y = np.repeat([0, 1, 2], 10)
    orig = y.copy()
    zero = np.zeros_like(y)  # all rows collapse to class 0
    forgot = np.where(y == 2, 0, y)  # class 2 forgotten, the others kept
    kw = dict(rule="product", p=2.0, min_gap=0.0)
    assert unlearning_score(orig, forgot, zero, y, [2], **kw) == pytest.approx(1.0)
    assert unlearning_score(orig, orig, zero, y, [2], **kw) == 0.0  # nothing forgotten
    assert unlearning_score(orig, zero, zero, y, [2], **kw) == 0.0  # everything broken
    half = np.where((y == 1) & (np.arange(30) % 2 == 0), 2, forgot)  # class 1 half hurt
    # u = (0.75 - 0.5) / (1 - 0.5) on the kept classes, f = 1.
    assert unlearning_score(orig, half, zero, y, [2], **kw) == pytest.approx(0.5)


def test_tpp_score():
    bacc = np.array([0.9, 0.9, 0.9, 0.5])  # the last probe is at chance: left out
    kw = dict(rule="product", p=2.0, min_gap=0.05)
    assert tpp_score(bacc, np.array([0.5, 0.9, 0.9, 0.5]), [0], **kw) == pytest.approx(1.0)
    assert tpp_score(bacc, np.array([0.5, 0.7, 0.9, 0.5]), [0], **kw) == pytest.approx(0.75)
    assert tpp_score(bacc, bacc, [0], **kw) == 0.0


def test_tasks_are_drawn_reproducibly():
    a = draw_tasks(6, np.random.default_rng(0), n_unlearning=10, n_tpp=3, tpp_size=None,
                   n_scr=2)
    b = draw_tasks(6, np.random.default_rng(0), n_unlearning=10, n_tpp=3, tpp_size=None,
                   n_scr=2)
    assert a.unlearning == b.unlearning and a.tpp == b.tpp and a.scr == b.scr
    assert sorted(c for [c] in a.unlearning) == list(range(6))  # at most every class
    assert all(len(s) == 3 for s in a.tpp)
    assert all(len(set(t)) == 4 for t in a.scr)
    assert draw_tasks(3, np.random.default_rng(0), n_unlearning=1, n_tpp=1, tpp_size=None,
                      n_scr=2).scr == []


def test_parameter_defaults_match_intervencha_reports_signature():
    # check_params fills missing parameters from DEFAULTS (the scorers rely on it); they
    # must be the defaults a direct call to intervencha_report gets.
    import inspect

    from skcosae.metrics import intervencha_report
    from skcosae.metrics._protocol import DEFAULTS

    signature = inspect.signature(intervencha_report).parameters
    expected = {name: p.default for name, p in signature.items()
                if name not in ("estimator", "X", "y")}
    assert DEFAULTS == expected
