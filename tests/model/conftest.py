import pytest


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """One intra-op thread: on the shared 2-core CI machine spinning OpenMP threads make tiny models 10x slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """One tiny preset per test session (building it takes ~1 s)."""
    from hieroaction.model.presets import build_offline_model

    return build_offline_model("tiny", tmp_path_factory.mktemp("models") / "tiny")
