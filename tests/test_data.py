"""Datasets: IDX parsing, clear errors for missing or corrupt files, built-ins' shapes."""
import gzip

import numpy as np
import pytest

from gp.config import DataConfig
from gp.data import idx
from gp.data.builtin import fashion_mnist, toy2d, digits
from gp.data.spec import hide_labels
from gp.errors import GpError


def write_idx(path, array: np.ndarray, truncate: int = 0, compress=False):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    raw = raw[: len(raw) - truncate]
    (gzip.open if compress else open)(path, "wb").write(raw)


def fake_mnist(root, n=5, truncate=0):
    write_idx(root / "train-images-idx3-ubyte", np.arange(n * 784).reshape(n, 28, 28) % 256, truncate)
    write_idx(root / "train-labels-idx1-ubyte.gz", np.arange(n) % 10, compress=True)


def test_idx_round_trip(tmp_path):
    fake_mnist(tmp_path)
    data = fashion_mnist(DataConfig(root=str(tmp_path)), "train")
    assert data.x.shape == (5, 1, 28, 28) and data.y.tolist() == [0, 1, 2, 3, 4]
    assert float(data.x.max()) == 1.0 and float(data.x.min()) == 0.0


def test_truncated_idx_file_is_a_clear_error(tmp_path):
    fake_mnist(tmp_path, truncate=100)
    with pytest.raises(GpError, match="truncated or corrupt .*reinstall"):
        fashion_mnist(DataConfig(root=str(tmp_path)), "train")


def test_not_an_idx_file(tmp_path):
    (tmp_path / "x").write_bytes(b"hello world")
    with pytest.raises(GpError, match="not an IDX file"):
        idx.read_idx(tmp_path / "x")


def test_missing_dataset_says_how_to_get_it(tmp_path):
    with pytest.raises(GpError, match="apt-get install dataset-fashion-mnist"):
        fashion_mnist(DataConfig(root=str(tmp_path)), "train")


def test_real_fashion_mnist_if_installed():
    if not idx.find(__import__("gp.data.builtin").data.builtin.FASHION_ROOT, "t10k-images-idx3-ubyte"):
        pytest.skip("dataset-fashion-mnist not installed")
    test = fashion_mnist(DataConfig(), "test")
    assert test.x.shape == (10000, 1, 28, 28) and sorted(test.y.unique().tolist()) == list(range(10))


def test_digits_and_toy2d():
    d = digits(DataConfig(name="digits"), "train")
    assert d.x.shape == (1500, 1, 8, 8) and 0 <= float(d.x.min()) and float(d.x.max()) <= 1
    t = toy2d(DataConfig(name="toy2d", kind="ring"), "train")
    assert t.x.shape[1:] == (2,) and t.spec.kind == "points"
    radius = t.x.norm(dim=1)
    assert abs(float(radius.mean()) - 2.0) < 0.05


def test_digits_read_without_scikit_learn_equal_its_loader():
    from sklearn.datasets import load_digits

    ref = load_digits()
    for split, rows in (("train", slice(0, 1500)), ("test", slice(1500, None))):
        d = digits(DataConfig(name="digits"), split)
        assert np.array_equal(d.x.squeeze(1).numpy() * 16, ref.images[rows].astype(np.float32))
        assert np.array_equal(d.y.numpy(), ref.target[rows])


def test_hide_labels_keeps_a_balanced_subset():
    d = hide_labels(digits(DataConfig(name="digits"), "train"), keep=100)
    kept = d.y[d.y >= 0]
    assert len(kept) == 100 and kept.bincount().tolist() == [10] * 10


def test_data_label_seed_draws_other_labels_and_the_eval_baseline_uses_the_same_ones():
    from gp.data.spec import load
    from gp.plugins import load_registry

    registry = load_registry()
    draws = [load(registry, DataConfig(name="digits", labelled=50, label_seed=s)) for s in (0, 0, 1)]
    kept = [set((d.y >= 0).nonzero().squeeze(1).tolist()) for d in draws]
    assert kept[0] == kept[1] and kept[0] != kept[2] and len(kept[2]) == 50  # seeded, and a new seed is a new draw
    assert (draws[2].y[draws[2].y >= 0].bincount() == 5).all()  # still balanced
    again = hide_labels(digits(DataConfig(name="digits"), "train"), 50, 1)  # what gp eval's labels-only baseline draws
    assert set((again.y >= 0).nonzero().squeeze(1).tolist()) == kept[2]
