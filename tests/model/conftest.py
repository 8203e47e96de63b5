import pytest


@pytest.fixture(autouse=True)
def _one_torch_thread(one_torch_thread):
    """Every test here runs a model: one torch thread (tests/conftest.py says why)."""
