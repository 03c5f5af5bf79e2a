import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _few_threads():
    # CI has 2 cores; more torch threads than cores only adds contention.
    torch.set_num_threads(2)
    yield
