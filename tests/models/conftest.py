"""Fixtures of the model tests."""
import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models: one torch thread is several times faster than two on a small shared
    machine, and does not fight other processes."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
