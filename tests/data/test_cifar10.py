"""The cifar10 dataset on small files in CIFAR-10's python format (nothing is downloaded)."""
import os
import pickle
import tarfile

import numpy as np
import pytest
import torch

from gp.config import DataConfig, check_data_options
from gp.data.spec import load
from gp.errors import GpError
from tests.data.folders import cifar_folder


def config(registry, root) -> DataConfig:
    return check_data_options(DataConfig(name="cifar10", root=str(root)), registry)


def test_batches_become_uint8_images_in_rgb_planes(registry, tmp_path):
    made = cifar_folder(tmp_path, n=20)
    train, test = load(registry, config(registry, tmp_path), "train"), load(registry, config(registry, tmp_path), "test")
    assert train.x.shape == (100, 3, 32, 32) and test.x.shape == (20, 3, 32, 32)
    assert train.x.dtype == torch.uint8 and train.spec.shape == (3, 32, 32) and train.spec.num_classes == 10
    data, labels = made["data_batch_2"]
    assert np.array_equal(train.x[20].numpy().reshape(3, 1024)[0], data[0, :1024])  # red plane first
    assert np.array_equal(train.x[20, 2].numpy().reshape(-1), data[0, 2048:])  # then green, blue
    assert train.y[20:40].tolist() == labels.tolist() and test.y.tolist() == made["test_batch"][1].tolist()


def test_the_folder_above_and_the_unextracted_archive_work_too(registry, tmp_path):
    cifar_folder(tmp_path / "above" / "cifar-10-batches-py", n=4)
    assert len(load(registry, config(registry, tmp_path / "above"), "train")) == 20
    src = tmp_path / "src" / "cifar-10-batches-py"
    cifar_folder(src, n=4)
    (tmp_path / "tgz").mkdir()
    with tarfile.open(tmp_path / "tgz" / "cifar-10-python.tar.gz", "w:gz") as tar:
        tar.add(src, arcname="cifar-10-batches-py")
    got = load(registry, config(registry, tmp_path / "tgz"), "test")
    assert got.x.shape == (4, 3, 32, 32) and got.x.dtype == torch.uint8


def test_missing_files_are_one_line_naming_what_is_expected(registry, tmp_path):
    with pytest.raises(GpError, match=r"no CIFAR-10 files under .*data_batch_1 \.\.\. data_batch_5 and test_batch") as err:
        load(registry, config(registry, tmp_path), "train")
    assert "\n" not in str(err.value)
    cifar_folder(tmp_path, n=2)
    os.remove(tmp_path / "data_batch_4")
    with pytest.raises(GpError, match="data_batch_4 not found; data.root needs data_batch_1"):
        load(registry, config(registry, tmp_path), "train")
    assert len(load(registry, config(registry, tmp_path), "test")) == 2
    with pytest.raises(GpError, match="dataset cifar10 needs data.root=DIR"):
        load(registry, check_data_options(DataConfig(name="cifar10"), registry), "train")


class Exploit:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_a_batch_file_that_would_run_code_is_refused(registry, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cifar_folder(tmp_path, n=2)
    (tmp_path / "test_batch").write_bytes(pickle.dumps({b"data": Exploit(), b"labels": [0]}, protocol=2))
    with pytest.raises(GpError, match=r"test_batch is not a CIFAR-10 python batch \(UnpicklingError: refusing posix.system"):
        load(registry, config(registry, tmp_path), "test")
    assert not (tmp_path / "pwned").exists()
