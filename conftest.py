import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _few_threads():
    # The test matrices are tiny: one thread avoids OpenMP spin-waits, which slowed a fit
    # 50-fold when the 2 CI cores were shared with other processes.
    torch.set_num_threads(1)
    yield
