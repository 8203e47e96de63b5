"""Shared fixtures: the real bundled annotation files are loaded (and validated) once per test session."""

from __future__ import annotations

import shutil

import pytest

from hieroaction.datasets import bundled_root, load_finediving, load_mtl_aqa


@pytest.fixture(scope="session")
def finediving():
    return load_finediving()


@pytest.fixture(scope="session")
def mtl_release():
    return load_mtl_aqa(bundled_root() / "MTL-AQA" / "release")


@pytest.fixture(scope="session")
def mtl_info():
    return load_mtl_aqa(bundled_root() / "MTL-AQA" / "info")


@pytest.fixture(scope="session")
def finediving_report(finediving):
    from hieroaction.datasets.validate import validate_samples

    return validate_samples(finediving.samples)


@pytest.fixture(scope="session")
def mtl_info_report(mtl_info):
    from hieroaction.datasets.validate import validate_samples

    return validate_samples(mtl_info.samples)


@pytest.fixture
def finediving_copy(tmp_path):
    """A writable copy of the real FineDiving annotation folder, for planting defects in the files themselves."""
    dst = tmp_path / "Annotations"
    shutil.copytree(bundled_root() / "FineDiving" / "Annotations", dst)
    return dst


@pytest.fixture
def mtl_info_copy(tmp_path):
    dst = tmp_path / "info"
    shutil.copytree(bundled_root() / "MTL-AQA" / "info", dst)
    return dst
