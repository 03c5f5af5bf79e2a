"""scikit-learn's estimator checks.

The checks feed plain 2-D arrays, which are not multi-view data. With ``view_sizes=2`` a
2-D array is read as two views (its columns split into two contiguous blocks), and then
CoupledSAE passes every check. Without ``view_sizes`` a 2-D array is refused on purpose
(it would silently be one view); that configuration is not run here. The array-API check
is skipped by scikit-learn itself unless SCIPY_ARRAY_API is set: CoupledSAE computes in
torch, not through the array API.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skcosae import CoupledSAE

EXPECTED_FAILED_CHECKS = {}


@parametrize_with_checks(
    [CoupledSAE(n_concepts=4, k=1, losses=["rec", "trans"], view_sizes=2, max_epochs=2,
                batch_size=64, random_state=0)],
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
