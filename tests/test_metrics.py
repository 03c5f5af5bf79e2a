"""InterVenchA: known answers with hand-built estimators, scorers, GridSearchCV."""

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, KFold

from skcosae import CoupledSAE, as_frame
from skcosae.datasets import make_platonic
from skcosae.metrics import (
    intervencha_report,
    intervencha_score,
    make_intervencha_scorer,
)


class LinearConceptEstimator:
    """Views are ``x_i = s @ A_i``; codes are ``s`` with a per-view permutation of columns.

    With identity permutations it is a perfect estimator; with different permutations it
    translates perfectly (through the true concepts) but its codes disagree across views.
    """

    def __init__(self, atoms, permutations):
        self.atoms = atoms
        self.perms = permutations
        self.inverse = [np.argsort(p) for p in permutations]
        self.n_views_ = len(atoms)
        self.view_names_ = list(range(self.n_views_))
        self.view_sizes_ = [A.shape[1] for A in atoms]
        self.dictionaries_ = [A[p] for A, p in zip(atoms, permutations)]

    def _concepts(self, X, i):
        return np.linalg.lstsq(self.atoms[i].T, X.T, rcond=None)[0].T

    def transform(self, X, view=None):
        if view is None:
            return [self.transform(x, view=i) for i, x in enumerate(X)]
        return self._concepts(X, view)[:, self.perms[view]]

    def inverse_transform(self, Z, view=None):
        return Z[:, self.inverse[view]] @ self.atoms[view]

    def translate(self, X, source, target):
        X = X[source] if isinstance(X, list) else X
        return self._concepts(X, source) @ self.atoms[target]


class RandomDictionaryEstimator(LinearConceptEstimator):
    """Codes from a random encoder, decoded by a random dictionary: knows nothing."""

    def __init__(self, widths, m, seed=0):
        rng = np.random.default_rng(seed)
        self.enc = [rng.normal(size=(d, m)) for d in widths]
        super().__init__([rng.normal(size=(m, d)) for d in widths],
                         [np.arange(m)] * len(widths))

    def transform(self, X, view=None):
        if view is None:
            return [self.transform(x, view=i) for i, x in enumerate(X)]
        return np.maximum(X @ self.enc[view], 0)

    def translate(self, X, source, target):
        X = X[source] if isinstance(X, list) else X
        return self.inverse_transform(self.transform(X, view=source), view=target)


@pytest.fixture(scope="module")
def linear_data():
    Xs, y, truth = make_platonic(n_samples=1500, n_views=2, n_concepts=24, n_active=3,
                                 idiosyncrasy=0.0, noise=(0.0, 0.0), linear=True,
                                 view_dims=[40, 48], random_state=0)
    return Xs, y, truth


def test_perfect_estimator_scores_one(linear_data):
    Xs, y, truth = linear_data
    perfect = LinearConceptEstimator(truth.atoms, [np.arange(24)] * 2)
    report = intervencha_report(perfect, Xs, y)
    for metric in ("r2", "faithfulness"):
        np.testing.assert_allclose(report.matrix(metric).to_numpy(), 1.0, atol=1e-6)
    assert report["S_cycle"] == pytest.approx(1.0, abs=1e-6)
    # Identical codes across views: the probe's accuracy transfers unchanged; only the
    # normalisation (each target view's original-probe accuracy) differs between columns.
    sp = report.matrix("sparse_probing_concept").to_numpy()
    np.testing.assert_allclose(sp[:, 0], sp[0, 0], atol=1e-9)
    np.testing.assert_allclose(sp[:, 1], sp[1, 1], atol=1e-9)
    assert report["S_cc"] > 0.3


def test_random_dictionary_scores_near_zero(linear_data):
    Xs, y, _ = linear_data
    report = intervencha_report(RandomDictionaryEstimator([40, 48], 24), Xs, y)
    assert report.matrix("r2").to_numpy().max() < 0.05
    assert report.matrix("faithfulness").to_numpy().max() < 0.2
    assert report["S_trans"] < 0.15 and report["S_align"] < 0.15


def test_permuted_concepts_translate_but_are_not_consistent(linear_data):
    Xs, y, truth = linear_data
    rng = np.random.default_rng(1)
    permuted = LinearConceptEstimator(truth.atoms, [np.arange(24), rng.permutation(24)])
    report = intervencha_report(permuted, Xs, y)
    off = report.frame[report.frame.source != report.frame.target]
    assert off[off.metric == "r2"].value.min() > 0.999
    assert report["S_trans"] > 0.6
    assert report["S_cc"] < 0.1
    aligned = intervencha_report(LinearConceptEstimator(truth.atoms, [np.arange(24)] * 2),
                                 Xs, y)
    assert aligned["S_cc"] > report["S_cc"] + 0.25


def test_chance_level_probes_map_to_zero(linear_data):
    Xs, _, truth = linear_data
    y = np.random.default_rng(0).integers(0, 4, size=Xs[0].shape[0])  # labels unrelated to X
    report = intervencha_report(LinearConceptEstimator(truth.atoms, [np.arange(24)] * 2), Xs, y)
    for metric in ("sparse_probing_concept", "sparse_probing_latent"):
        assert report.matrix(metric).to_numpy().max() < 0.2
    for metric in ("unlearning", "tpp"):
        assert report.matrix(metric).to_numpy().max() < 0.2


def test_report_frame_repr_and_errors(linear_data):
    Xs, y, truth = linear_data
    est = LinearConceptEstimator(truth.atoms, [np.arange(24)] * 2)
    report = intervencha_report(est, Xs, y)
    frame = report.to_frame()
    assert list(frame.columns) == ["metric", "source", "target", "value"]
    assert frame.value.between(0, 1).all()
    assert "S_align" in repr(report) and "sparse_probing_concept" in repr(report)
    assert report.matrix("r2").shape == (2, 2)
    with pytest.raises(ValueError, match="one label per row"):
        intervencha_report(est, Xs, y[:-1])
    with pytest.raises(ValueError, match="Unknown metrics"):
        intervencha_report(est, Xs, y, metrics=["r3"])
    with pytest.raises(ValueError, match="Unknown InterVenchA score 'S_foo'"):
        make_intervencha_scorer("S_foo")
    assert intervencha_score(est, Xs, y, aggregate="S_trans") == pytest.approx(
        report["S_trans"])


def test_plot_draws_one_heatmap_per_metric(linear_data):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    Xs, y, truth = linear_data
    report = intervencha_report(LinearConceptEstimator(truth.atoms, [np.arange(24)] * 2), Xs, y)
    fig = report.plot()
    assert len(fig.axes) == len(report.metrics)


def test_grid_search_picks_concept_consistency_when_scoring_s_cc():
    Xs, y, _ = make_platonic(n_samples=2400, n_views=2, n_concepts=32, n_active=3,
                             idiosyncrasy=0.05, linear=True, random_state=0)
    frame = as_frame(Xs, view_names=["a", "b"])
    mask = np.random.default_rng(0).random(len(y)) < 0.5
    base = CoupledSAE(n_concepts=64, k=3, max_epochs=20, batch_size=128, random_state=0)
    # cc is scaled per code variance (about 1 per concept): a weight of 10 makes it count
    # next to rec + trans, which sum over every feature of both views.
    grid = {"losses": [["rec", "trans"], {"rec": 1, "trans": 1, "cc": 10}],
            "learning_rate": [3e-3]}
    search = GridSearchCV(base, grid, cv=KFold(2, shuffle=True, random_state=0), n_jobs=2,
                          scoring={"S_trans": make_intervencha_scorer("S_trans"),
                                   "S_cc": make_intervencha_scorer("S_cc")},
                          refit="S_cc")
    search.fit(frame, y, pair_mask=mask)
    assert "cc" in search.best_params_["losses"]
    scores = search.cv_results_["mean_test_S_cc"]
    assert scores.max() > scores.min() + 0.05
    assert search.best_estimator_.score(frame, y) > 0.3  # S_align of the refitted model
