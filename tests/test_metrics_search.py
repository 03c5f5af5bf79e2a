"""InterVenchA scorers inside scikit-learn's model selection (GridSearchCV, cross_validate)."""

import numpy as np
import pytest
from sklearn.base import BaseEstimator
from sklearn.model_selection import GridSearchCV, KFold, cross_validate

from skcosae import CoupledSAE, as_frame
from skcosae._views import check_views, resolve_pair_mask
from skcosae.datasets import make_platonic
from skcosae.metrics import make_intervencha_scorer


class LinearSlots(BaseEstimator):
    """A scikit-learn estimator that knows the views' true linear atoms (``atoms``).

    ``permute=False``: every view writes concept ``g`` in code ``g`` (aligned).
    ``permute=True``: view ``v`` writes it in code ``v * n + g``; translation stays exact,
    concept consistency is lost. ``fit`` checks that ``pair_mask`` matches its rows.
    """

    def __init__(self, atoms=None, permute=False):
        self.atoms = atoms
        self.permute = permute

    def fit(self, X, y=None, pair_mask=None):
        mv = check_views(X)
        self.pair_mask_ = resolve_pair_mask(pair_mask, mv.n_samples)
        self.n_views_ = mv.n_views
        self.view_names_ = mv.view_names
        self.view_sizes_ = mv.view_sizes
        n = self.atoms[0].shape[0]
        self.slots_ = [v * n * self.permute + np.arange(n) for v in range(mv.n_views)]
        self.n_concepts_ = n * (mv.n_views if self.permute else 1)
        self.dictionaries_ = []
        for A in self.atoms:
            D = np.zeros((self.n_concepts_, A.shape[1]))
            for s in self.slots_:
                D[s] = A
            self.dictionaries_.append(D)
        return self

    def transform(self, X, view=None):
        if view is None:
            mv = check_views(X, expected_widths=self.view_sizes_)
            return [self.transform(x, view=i) for i, x in enumerate(mv.views)]
        Z = np.zeros((len(X), self.n_concepts_))
        Z[:, self.slots_[view]] = np.asarray(X) @ np.linalg.pinv(self.atoms[view])
        return Z

    def inverse_transform(self, Z, view=None):
        return np.asarray(Z) @ self.dictionaries_[view]

    def translate(self, X, source, target):
        return self.inverse_transform(self.transform(X, view=source), view=target)


@pytest.fixture(scope="module")
def linear_frame():
    Xs, y, truth = make_platonic(n_samples=900, n_views=2, n_concepts=16, n_active=3,
                                 n_classes=4, idiosyncrasy=0.0, noise=(0.0, 0.0), linear=True,
                                 view_dims=[40, 48], random_state=0)
    return as_frame(Xs, view_names=["img", "txt"]), y, truth


def test_multimetric_search_refits_on_s_align_with_frame_and_pair_mask(linear_frame):
    frame, y, truth = linear_frame
    mask = np.random.default_rng(0).random(len(y)) < 0.3
    search = GridSearchCV(
        LinearSlots(atoms=truth.atoms), {"permute": [True, False]},
        scoring=make_intervencha_scorer(["S_trans", "S_cc", "S_align"]), refit="S_align",
        cv=KFold(3, shuffle=True, random_state=0), n_jobs=2)
    search.fit(frame, y, pair_mask=mask)
    results = search.cv_results_
    assert search.best_params_ == {"permute": False}
    # Both translate exactly; only the aligned one has consistent concepts.
    np.testing.assert_allclose(results["mean_test_S_trans"][0],
                               results["mean_test_S_trans"][1], atol=1e-9)
    assert results["mean_test_S_cc"][1] > results["mean_test_S_cc"][0] + 0.4
    np.testing.assert_array_equal(search.best_estimator_.pair_mask_, mask)


def test_dict_of_scorers_in_cross_validate(linear_frame):
    frame, y, truth = linear_frame
    scoring = {name: make_intervencha_scorer(name) for name in ("S_trans", "S_cc")}
    scores = cross_validate(LinearSlots(atoms=truth.atoms, permute=True), frame, y,
                            scoring=scoring, cv=2)
    assert (scores["test_S_trans"] > 0.5).all() and (scores["test_S_cc"] < 0.05).all()


def test_grid_search_over_losses_picks_concept_consistency_when_scoring_s_cc():
    Xs, y, _ = make_platonic(n_samples=2000, n_views=2, n_concepts=16, n_active=3,
                             n_classes=4, idiosyncrasy=0.0, linear=True, random_state=0)
    frame = as_frame(Xs, view_names=["a", "b"])
    mask = np.random.default_rng(0).random(len(y)) < 0.5
    base = CoupledSAE(n_concepts=128, k=3, max_epochs=20, batch_size=64, random_state=0)
    # Two loss sets, and one weight of the cc term searched through losses__cc.
    grid = [{"losses": [["rec", "trans"], ["rec", "trans", "cc"]]},
            {"losses": [["rec", "trans", "cc"]], "losses__cc": [3.0]}]
    scoring = {name: make_intervencha_scorer(name) for name in ("S_trans", "S_cc", "S_align")}
    search = GridSearchCV(base, grid, scoring=scoring, refit="S_cc",
                          cv=KFold(2, shuffle=True, random_state=0), n_jobs=2)
    search.fit(frame, y, pair_mask=mask)
    assert search.best_estimator_.losses_.get("cc", 0) > 0
    s_cc = search.cv_results_["mean_test_S_cc"]
    assert s_cc[0] < min(s_cc[1:]) - 0.05  # rec + trans alone: translation, not consistency
    # Translation is learnt either way.
    assert search.cv_results_["mean_test_S_trans"].min() > 0.4
    assert 0 <= search.best_estimator_.score(frame, y) <= 1  # S_align of the refitted model
