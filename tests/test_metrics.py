"""InterVenchA: known answers with hand-built estimators, the report, the scorers.

The estimators here implement the estimator surface of DEVELOPERS.md by hand on data whose
views are exact linear images of known sparse concepts, so each metric's answer is known.
"""

import sys

import numpy as np
import pandas as pd
import pytest

from skcosae import as_frame
from skcosae._compat import InvalidParameterError
from skcosae.datasets import make_platonic
from skcosae.metrics import (
    CONCEPT_METRICS,
    LATENT_METRICS,
    intervencha_report,
    intervencha_score,
    make_intervencha_scorer,
)

N_TRUE = 24
PROBE_METRICS = ("faithfulness", "sparse_probing_latent", "unlearning_latent", "tpp_latent",
                 "sparse_probing_concept", "unlearning_concept", "tpp_concept")


class SlotEstimator:
    """Views are ``x_v = s @ A_v`` exactly; view ``v`` writes concept ``g`` in code slot
    ``slots[v][g]``, and every slot a view uses decodes to ``A_j[g]`` in every view ``j``.

    Same slots in every view: the perfect estimator. Different slots: it still translates
    perfectly (``D_j(E_i(x_i)) = x_j``: the decoders hold each atom twice, so they are not
    injective) but concept ``g`` has a different index in each view: no concept consistency.
    """

    def __init__(self, atoms, slots, n_codes):
        self.atoms = [np.asarray(A, dtype=float) for A in atoms]
        self.slots = [np.asarray(s) for s in slots]
        self.n_views_ = len(atoms)
        self.view_names_ = list(range(self.n_views_))
        self.view_sizes_ = [A.shape[1] for A in self.atoms]
        self.n_concepts_ = n_codes
        self._pinv = [np.linalg.pinv(A) for A in self.atoms]
        self._decoders = []
        for A in self.atoms:
            D = np.zeros((n_codes, A.shape[1]))
            for s in self.slots:
                D[s] = A
            self._decoders.append(D)
        self.dictionaries_ = list(self._decoders)

    def transform(self, X, view=None):
        if view is None:
            return [self.transform(x, view=i) for i, x in enumerate(X)]
        Z = np.zeros((np.shape(X)[0], self.n_concepts_))
        Z[:, self.slots[view]] = np.asarray(X) @ self._pinv[view]
        return Z

    def inverse_transform(self, Z, view=None):
        return np.asarray(Z) @ self._decoders[view]

    def translate(self, X, source, target):
        X = X[source] if isinstance(X, list) else X
        return self.inverse_transform(self.transform(X, view=source), view=target)


class RandomEstimator(SlotEstimator):
    """A random ReLU encoder and a random dictionary per view: it knows nothing."""

    def __init__(self, widths, n_codes, seed=0):
        rng = np.random.default_rng(seed)
        self.enc = [rng.normal(size=(d, n_codes)) / np.sqrt(d) for d in widths]
        self.n_views_ = len(widths)
        self.view_names_ = list(range(len(widths)))
        self.view_sizes_ = list(widths)
        self.n_concepts_ = n_codes
        self._decoders = [rng.normal(size=(n_codes, d)) / np.sqrt(d) for d in widths]
        self.dictionaries_ = list(self._decoders)

    def transform(self, X, view=None):
        if view is None:
            return [self.transform(x, view=i) for i, x in enumerate(X)]
        return np.maximum(np.asarray(X) @ self.enc[view], 0.0)


class SharedCodeEstimator(SlotEstimator):
    """Encodes only from every view at once (like a shared-code crosscoder)."""

    def transform(self, X, view=None):
        if view is not None:
            raise ValueError("this estimator encodes from all views at once")
        shared = np.mean([np.asarray(x) @ p for x, p in zip(X, self._pinv)], axis=0)
        return [shared.copy() for _ in X]

    def translate(self, X, source, target):
        if not isinstance(X, list):
            raise ValueError("this estimator needs every view to encode")
        return self.inverse_transform(self.transform(X)[source], view=target)


@pytest.fixture(scope="module")
def data():
    Xs, y, truth = make_platonic(n_samples=1200, n_views=2, n_concepts=N_TRUE, n_active=3,
                                 n_classes=4, idiosyncrasy=0.0, noise=(0.0, 0.0), linear=True,
                                 view_dims=[64, 80], random_state=0)
    return Xs, y, truth


@pytest.fixture(scope="module")
def perfect(data):
    return SlotEstimator(data[2].atoms, [np.arange(N_TRUE)] * 2, N_TRUE)


@pytest.fixture(scope="module")
def permuted(data):
    # View 0 writes concept g in slot g, view 1 in slot N_TRUE + g.
    return SlotEstimator(data[2].atoms, [np.arange(N_TRUE), N_TRUE + np.arange(N_TRUE)],
                         2 * N_TRUE)


@pytest.fixture(scope="module")
def perfect_report(data, perfect):
    Xs, y, _ = data
    return intervencha_report(perfect, Xs, y)


def test_perfect_estimator_reconstructs_translates_and_cycles_exactly(perfect_report):
    for metric in ("r2", "faithfulness"):
        np.testing.assert_allclose(perfect_report.matrix(metric).to_numpy(), 1.0, atol=1e-9)
    assert perfect_report["S_cycle"] == pytest.approx(1.0, abs=1e-9)
    # Identical codes in both views: a concept probe scores the same whichever view it was
    # trained on, so each column of the matrix is constant.
    sp = perfect_report.matrix("sparse_probing_concept").to_numpy()
    np.testing.assert_allclose(sp, sp[[1, 0]], atol=1e-12)
    assert perfect_report["S_trans"] > 0.6 and perfect_report["S_cc"] > 0.6


def test_random_dictionary_scores_near_zero(data):
    Xs, y, _ = data
    report = intervencha_report(RandomEstimator([64, 80], N_TRUE), Xs, y)
    for metric in ("r2", "faithfulness", "cycle_r2"):
        assert np.nanmax(report.matrix(metric).to_numpy()) < 0.05, metric
    assert report["S_trans"] < 0.1 and report["S_cc"] < 0.1 and report["S_align"] < 0.1


def test_perfect_translation_with_permuted_concepts_has_no_concept_consistency(
        data, permuted, perfect_report):
    Xs, y, _ = data
    report = intervencha_report(permuted, Xs, y)
    off = report.frame[report.frame.source != report.frame.target]
    assert off.value[off.metric == "r2"].min() > 1 - 1e-9
    # The latent metrics see the same atoms as for the perfect estimator ...
    assert report["S_trans"] == pytest.approx(perfect_report["S_trans"], abs=1e-9)
    assert report["S_trans"] > 0.6
    # ... the codes of a concept sit at different indices in the two views.
    assert report["S_cc"] < 0.05
    assert perfect_report["S_cc"] > report["S_cc"] + 0.5
    # Each view alone is as good as the perfect estimator's.
    diag = report.frame[report.frame.source == report.frame.target]
    ref = perfect_report.frame[perfect_report.frame.source == perfect_report.frame.target]
    np.testing.assert_allclose(diag.value.to_numpy(), ref.value.to_numpy(), atol=1e-9)


def test_labels_at_chance_give_zero_probe_scores(data, perfect):
    Xs, _, _ = data
    y = np.random.default_rng(0).integers(0, 4, size=Xs[0].shape[0])
    with pytest.warns(UserWarning, match="no signal"):
        report = intervencha_report(perfect, Xs, y)
    for metric in PROBE_METRICS:
        assert report.matrix(metric).to_numpy().max() == 0.0, metric
    # Label-free metrics are untouched.
    np.testing.assert_allclose(report.matrix("r2").to_numpy(), 1.0, atol=1e-9)


def test_ablation_threshold_gates_unlearning_and_tpp(data, perfect, perfect_report):
    Xs, y, _ = data
    for space in ("latent", "concept"):
        assert perfect_report.matrix(f"unlearning_{space}").to_numpy().min() > 0.3
    strict = intervencha_report(perfect, Xs, y, ablation_threshold=1.0)
    for space in ("latent", "concept"):
        probe = strict.matrix(f"sparse_probing_{space}").to_numpy()
        for metric in (f"unlearning_{space}", f"tpp_{space}"):
            values = strict.matrix(metric).to_numpy()
            assert (values[probe < 1.0] == 0).all()


def test_concept_ablation_forgets_the_right_class(data, perfect_report):
    # Zeroing the concepts of one class in a perfect code removes that class and keeps the
    # others: unlearning close to 1 on the diagonal and across views.
    assert perfect_report.matrix("unlearning_concept").to_numpy().min() > 0.8


def test_input_forms_give_the_same_report(data, perfect, perfect_report):
    Xs, y, _ = data
    from_frame = intervencha_report(perfect, as_frame(Xs), pd.Series(y))
    from_array = intervencha_report(perfect, np.hstack(Xs), y)
    for other in (from_frame, from_array):
        np.testing.assert_allclose(other.frame.value.to_numpy(),
                                   perfect_report.frame.value.to_numpy(), atol=1e-12)
    # String labels are classes like any other.
    named = intervencha_report(perfect, Xs, np.array(["cat", "dog", "eel", "fox"])[y])
    np.testing.assert_allclose(named.frame.value.to_numpy(),
                               perfect_report.frame.value.to_numpy(), atol=1e-12)


def test_report_is_deterministic_and_parallel_probes_agree(data, permuted):
    Xs, y, _ = data
    a = intervencha_report(permuted, Xs, y, random_state=3)
    b = intervencha_report(permuted, Xs, y, random_state=3, n_jobs=2)
    pd.testing.assert_frame_equal(a.frame, b.frame)
    c = intervencha_report(permuted, Xs, y, random_state=4)
    assert not np.allclose(a.frame.value, c.frame.value)


def test_cross_fitting_scores_every_row_once(data, perfect, perfect_report):
    Xs, y, _ = data
    report = intervencha_report(perfect, Xs, y, cv=3)
    assert report.params["n_splits"] == 3
    np.testing.assert_allclose(report.matrix("r2").to_numpy(), 1.0, atol=1e-9)
    # Same estimator, other probe rows: close to the single split's numbers.
    assert report["S_align"] == pytest.approx(perfect_report["S_align"], abs=0.1)


def test_selected_metrics_only_and_their_aggregates(data, perfect):
    Xs, y, _ = data
    report = intervencha_report(perfect, Xs, y, metrics=["r2", "unlearning_concept"])
    assert report.metrics == ["r2", "unlearning_concept"]
    assert report["S_trans"] == pytest.approx(1.0)
    assert report["S_cc"] == pytest.approx(report.matrix("unlearning_concept").to_numpy()
                                           [~np.eye(2, dtype=bool)].mean())
    assert np.isnan(report["S_cycle"])
    with pytest.raises(ValueError, match="S_cycle|none of the metrics"):
        intervencha_score(perfect, Xs, y, aggregate="S_cc", metrics=["r2"])


def attribute_data(n=1600, seed=0, dims=(48, 56)):
    """Classes ``2a + b`` of two independent binary attributes, each carried by its own
    concepts (``a``: 0-3, ``b``: 4-7), plus two unrelated active concepts (8-15) per row."""
    rng = np.random.default_rng(seed)
    a, b = rng.random(n) < 0.5, rng.random(n) < 0.5
    s = np.zeros((n, 16))
    rows = np.arange(n)
    s[rows[a], rng.integers(0, 4, a.sum())] = 1 + rng.random(a.sum())
    s[rows[b], 4 + rng.integers(0, 4, b.sum())] = 1 + rng.random(b.sum())
    for _ in range(2):
        s[rows, 8 + rng.integers(0, 8, n)] += 1 + rng.random(n)
    atoms = [rng.normal(size=(16, d)) for d in dims]
    atoms = [A / np.linalg.norm(A, axis=1, keepdims=True) for A in atoms]
    return [s @ A for A in atoms], 2 * a + b, atoms


def test_scr_removes_a_spurious_attribute_only_through_consistent_concepts(perfect_report):
    assert not any(m.startswith("scr") for m in perfect_report.metrics)  # off by default
    Xs, y, atoms = attribute_data()
    kw = dict(metrics=["scr_latent", "scr_concept"], scr_classes=[(0, 1, 2, 3)], k_ablate=4)
    aligned = intervencha_report(SlotEstimator(atoms, [np.arange(16)] * 2, 16), Xs, y, **kw)
    assert aligned.params["tasks"]["scr"] == [(0, 1, 2, 3)]
    # Ablating b's concepts helps the probe biased towards b, in every pair of views.
    assert aligned.frame.value.min() > 0.2
    permuted = SlotEstimator(atoms, [np.arange(16), 16 + np.arange(16)], 32)
    report = intervencha_report(permuted, Xs, y, **kw)
    scr = report.matrix("scr_concept").to_numpy()
    assert scr[0, 1] == 0.0 and scr[1, 0] == 0.0
    np.testing.assert_allclose(np.diag(scr), np.diag(aligned.matrix("scr_concept")))
    np.testing.assert_allclose(report.matrix("scr_latent"), aligned.matrix("scr_latent"))


def test_scr_needs_four_classes(data, perfect):
    Xs, y, _ = data
    with pytest.raises(ValueError, match="SCR needs at least 4 classes"):
        intervencha_report(perfect, Xs, y % 3, metrics=["scr_concept"])
    with pytest.raises(ValueError, match="4 distinct labels"):
        intervencha_report(perfect, Xs, y, metrics=["scr_concept"], scr_classes=[(0, 1, 2)])


def test_shared_code_estimator_has_no_cycle(data):
    Xs, y, truth = data
    shared = SharedCodeEstimator(truth.atoms, [np.arange(N_TRUE)] * 2, N_TRUE)
    with pytest.warns(UserWarning, match="cycle_r2 is undefined"):
        report = intervencha_report(shared, Xs, y, metrics=["r2", "cycle_r2"])
    assert np.isnan(report["S_cycle"])
    assert report["S_trans"] == pytest.approx(1.0)
    with pytest.warns(UserWarning):
        assert np.isnan(intervencha_score(shared, Xs, y, aggregate="S_cycle"))


def test_report_frame_matrix_and_repr(perfect_report):
    frame = perfect_report.to_frame()
    assert list(frame.columns) == ["metric", "source", "target", "value", "raw", "mark"]
    assert len(frame) == 8 * 4 + 2  # 8 metrics x 4 ordered pairs, and 2 cycles
    assert frame.value.between(0, 1).all()
    frame.loc[0, "value"] = -1.0  # a copy
    assert perfect_report.frame.value.min() >= 0
    assert perfect_report.matrix("r2").shape == (2, 2)
    text = repr(perfect_report)
    assert "S_align=" in text and "unlearning_concept:" in text and "cycle_r2:" in text
    assert set(perfect_report.timings) >= {"encode", "probes", "r2", "tpp_concept"}
    with pytest.raises(ValueError, match="Unknown metric 'r3'"):
        perfect_report.matrix("r3")
    with pytest.raises(KeyError, match="not an aggregate"):
        perfect_report["S_foo"]


def test_plot_draws_one_heatmap_per_metric(perfect_report):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = perfect_report.plot(["r2", "sparse_probing_concept"])
    assert [ax.get_title() for ax in fig.axes[:2]] == ["r2", "sparse_probing_concept"]
    plt.close(fig)

    # Many metrics wrap onto rows of ncols; the empty grid cells are removed.
    fig = perfect_report.plot(ncols=4)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == perfect_report.metrics
    assert len(fig.axes) == len(perfect_report.metrics) + 1  # + the colour bar
    plt.close(fig)
    with pytest.raises(ValueError, match="ncols"):
        perfect_report.plot(ncols=0)


def test_plot_without_matplotlib_says_how_to_install(perfect_report, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install skcosae\[plot\]"):
        perfect_report.plot()


def test_bad_input_names_the_problem(data, perfect):
    Xs, y, _ = data
    with pytest.raises(ValueError, match="one label per row"):
        intervencha_report(perfect, Xs, y[:-1])
    with pytest.raises(ValueError, match="single class"):
        intervencha_report(perfect, Xs, np.zeros(len(y)))
    lonely = y.copy()
    lonely[0] = 7
    with pytest.raises(ValueError, match=r"Classes \[7\] of y have a single row"):
        intervencha_report(perfect, Xs, lonely)
    with pytest.raises(ValueError, match="View 1 has 79 features"):
        intervencha_report(perfect, [Xs[0], Xs[1][:, :-1]], y)
    with pytest.raises(ValueError, match=r"Unknown metrics \['r3'\]"):
        intervencha_report(perfect, Xs, y, metrics=["r3"])
    with pytest.raises(InvalidParameterError, match="'k_probe' parameter"):
        intervencha_report(perfect, Xs, y, k_probe=0)
    with pytest.raises(InvalidParameterError, match="'combine' parameter"):
        intervencha_report(perfect, Xs, y, combine="mean")
    with pytest.raises(InvalidParameterError, match="'estimator' parameter"):
        intervencha_report(object(), Xs, y)
    with pytest.raises(ValueError, match="leaves no class out"):
        intervencha_report(perfect, Xs, y, tpp_subset_size=4)


def test_latent_metrics_need_dictionaries(data, perfect):
    Xs, y, truth = data
    est = SlotEstimator(truth.atoms, [np.arange(N_TRUE)] * 2, N_TRUE)
    del est.dictionaries_
    with pytest.raises(ValueError, match="latent-space metrics need SlotEstimator.dictionaries_"):
        intervencha_report(est, Xs, y)
    report = intervencha_report(est, Xs, y, metrics=["r2", "sparse_probing_concept"])
    assert report["S_trans"] == pytest.approx(1.0)


def test_scorers_match_the_report(data, permuted):
    Xs, y, _ = data
    report = intervencha_report(permuted, Xs, y)
    scorer = make_intervencha_scorer("S_trans")
    assert scorer.kwargs["metrics"] == [m for m in LATENT_METRICS if not m.startswith("scr")]
    assert scorer(permuted, Xs, y) == pytest.approx(report["S_trans"])
    assert intervencha_score(permuted, Xs, y) == pytest.approx(report["S_align"])
    multi = make_intervencha_scorer(["S_cc", "r2", "unlearning_concept"])
    scores = multi(permuted, Xs, y)
    assert scores["S_cc"] == pytest.approx(report["S_cc"])
    assert scores["r2"] == pytest.approx(1.0)  # a metric scores its transfer (off-diagonal)
    assert scores["unlearning_concept"] == pytest.approx(0.0)
    assert set(multi.kwargs["metrics"]) == {m for m in CONCEPT_METRICS
                                            if not m.startswith("scr")} | {"r2"}
    with pytest.raises(ValueError, match="need the class labels y"):
        scorer(permuted, Xs, None)


def test_scorer_checks_its_arguments_when_built():
    with pytest.raises(ValueError, match="Unknown InterVenchA score 'S_foo'"):
        make_intervencha_scorer("S_foo")
    with pytest.raises(InvalidParameterError, match="'test_size' parameter"):
        make_intervencha_scorer("S_cc", test_size=2.5)
    with pytest.raises(TypeError, match=r"unexpected parameter\(s\) \['k_prob'\]"):
        make_intervencha_scorer("S_cc", k_prob=3)
    assert repr(make_intervencha_scorer("S_cc")) == "make_intervencha_scorer('S_cc')"


def test_linear_estimators_are_scored_through_the_same_surface():
    from skcosae import linear

    Xs, y, _ = make_platonic(n_samples=1200, n_views=2, n_concepts=16, n_active=3,
                             n_classes=4, noise=(0.05, 0.1), random_state=0)
    # The nonlinear maps leave the views' covariances rank-deficient: shrink for CCA.
    cca = intervencha_report(linear.CCA(n_components=8, reg=0.01).fit(Xs), Xs, y)
    pca = intervencha_report(linear.MultiViewPCA(n_components=8).fit(Xs), Xs, y)
    # Dense codes: CCA's components agree across views, each view's PCA axes do not.
    assert cca["S_cc"] > pca["S_cc"] + 0.2
    assert cca["S_trans"] > pca["S_trans"] + 0.2
