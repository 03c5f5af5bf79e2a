"""scikit-learn's estimator checks for the linear estimators.

As for CoupledSAE (tests/test_estimator_checks.py), the checks feed plain 2-D arrays, read
as two views with ``view_sizes=2`` (contiguous column blocks). ``reg=0.1`` keeps the views
whitenable on the checks' tiny, sometimes collinear, data.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skcosae.linear import CCA, LinearCoupledAE, MultiViewPCA, ReducedRankRegression

ESTIMATORS = [
    MultiViewPCA(n_components=1, view_sizes=2),
    CCA(n_components=1, reg=0.1, view_sizes=2),
    ReducedRankRegression(n_components=1, reg=0.1, view_sizes=2),
    LinearCoupledAE(n_components=1, reg=0.1, view_sizes=2),
    LinearCoupledAE(n_components=1, reg=0.1, view_sizes=2, solver="gradient", max_epochs=3,
                    random_state=0),
]


# scikit-learn special-cases estimators *named* "CCA" (its cross_decomposition family) and
# calls ``transform(X, y)``; the second argument of skcosae's transform is ``view``.
_NAMED_CCA = "sklearn calls CCA.transform(X, y) by class name; skcosae's 2nd argument is view"
CCA_EXPECTED = {
    "check_transformer_data_not_an_array": _NAMED_CCA,
    "check_transformer_general": _NAMED_CCA,
}


def expected_failed(estimator):
    return CCA_EXPECTED if type(estimator).__name__ == "CCA" else {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
