"""Shared fixtures: an isolated GP_HOME per test and small in-memory datasets."""
import pytest
import torch

from gp.data.spec import Dataset
from gp.model import DataSpec


@pytest.fixture(autouse=True)
def gp_home(tmp_path, monkeypatch):
    """Every test gets its own MLflow store and Ray results folder."""
    monkeypatch.setenv("GP_HOME", str(tmp_path / "gp-home"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return tmp_path / "gp-home"


@pytest.fixture(scope="session")
def registry():
    from gp.plugins import load_registry

    return load_registry()


def tiny_data(kind: str, n: int = 32, shape=(1, 8, 8), classes: int = 10) -> Dataset:
    """Random data of a kind: images in [0, 1] or 2-D points, with labels."""
    g = torch.Generator().manual_seed(0)
    if kind == "image":
        x = torch.rand(n, *shape, generator=g)
        return Dataset(x, torch.arange(n) % classes, DataSpec(tuple(shape), classes, "image"))
    x = torch.randn(n, 2, generator=g)
    return Dataset(x, torch.zeros(n, dtype=torch.int64), DataSpec((2,), 0, "points"))
