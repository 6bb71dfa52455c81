"""Fixtures of the evaluation tests: digits, a digits reference classifier, its features."""
import pytest
import torch

from gp.config import DataConfig


@pytest.fixture(scope="package", autouse=True)
def one_thread():
    """These tests use small tensors: one thread avoids spinning thread pools on a busy host."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def digits(registry):
    from gp.eval.reference import splits

    return splits(registry, DataConfig(name="digits"))


@pytest.fixture(scope="session")
def digits_classifier(digits, tmp_path_factory):
    """The default reference payload for digits, trained once per session (seconds of CPU)."""
    from gp.eval.classifier import ClassifierConfig, config_key, train_reference
    from gp.eval.reference import data_identity

    train, test = digits
    key = config_key(data_identity(DataConfig(name="digits")), ClassifierConfig())
    payload = train_reference(train, test, ClassifierConfig())
    payload["dataset"], payload["key"] = "digits", key
    return payload


@pytest.fixture(scope="session")
def feats(digits_classifier):
    """x (N, 1, 8, 8) -> penultimate features (N, 128) of the digits classifier."""
    from gp.eval.features import Extractor

    extractor = Extractor(digits_classifier)
    return lambda x: extractor(x)[0]


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Blur images (N, C, H, W) with a Gaussian of ``sigma`` pixels (scikit-image)."""
    from skimage.filters import gaussian

    if sigma == 0:
        return x
    out = gaussian(x.numpy(), sigma=(0, 0, sigma, sigma), mode="nearest", preserve_range=True)
    return torch.from_numpy(out).float()
