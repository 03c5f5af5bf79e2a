"""n_threads sets torch's CPU threads for the call only."""

import numpy as np
import pytest
import torch

from skcosae import CoupledSAE
from skcosae.datasets import make_platonic


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("n_threads, expected", [(None, 1), (1, 1), (2, 2)])
def test_n_threads_holds_during_fit_and_transform_only(two_threads, monkeypatch, n_threads,
                                                       expected):
    import skcosae.backend.train as train

    Xs, _, _ = make_platonic(n_samples=200, n_views=2, n_concepts=8, random_state=0)
    seen = []
    real = train.batch_losses

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(train, "batch_losses", spy)
    est = CoupledSAE(n_concepts=8, k=2, losses=["rec"], max_epochs=1, n_threads=n_threads,
                     random_state=0).fit(Xs)
    assert set(seen) == {expected}
    assert torch.get_num_threads() == 2  # the caller's setting is back
    est.transform(Xs)
    assert torch.get_num_threads() == 2


def test_n_threads_is_validated():
    Xs, _, _ = make_platonic(n_samples=50, n_views=2, random_state=0)
    with pytest.raises(ValueError, match="'n_threads' parameter"):
        CoupledSAE(n_threads=-2).fit([np.asarray(X) for X in Xs])
