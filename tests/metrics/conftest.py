"""Hand-made samples with known labels, shared with the evaluation tests."""

import pytest

from tests.evaluate.conftest import labelled_sample


@pytest.fixture(name="labelled_sample", scope="session")
def labelled_sample_fixture():
    return labelled_sample
