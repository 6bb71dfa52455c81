"""The imagefolder dataset on image folders the tests make: labels, splits, sizes, the
uint8 cache and its invalidation, unreadable files and one-line errors."""
import os

import numpy as np
import pytest
import torch
from PIL import Image

from gp.config import DataConfig, check_data_options, parse, validate
from gp.data import imagefolder as F
from gp.data.spec import load
from gp.errors import GpError
from tests.data.folders import corrupt, populate, write

COUNTS = {"cat": 70, "dog": 60, "owl": 50, "": 20}  # 200 images; 20 loose in the folder itself


@pytest.fixture
def labelled(tmp_path):
    root = tmp_path / "pets"
    populate(root, COUNTS)
    return root, corrupt(root)


def config(registry, root, **options) -> DataConfig:
    return check_data_options(DataConfig(name="imagefolder", root=str(root), **options), registry)


def test_labels_come_from_first_level_folders_and_splits_cover_every_readable_image(registry, labelled, capsys):
    root, _ = labelled
    cfg = config(registry, root)
    train, test = load(registry, cfg, "train"), load(registry, cfg, "test")
    assert train.spec.shape == (3, 32, 32) and train.spec.num_classes == 3 and train.spec.kind == "image"
    assert train.x.dtype == test.x.dtype == torch.uint8 and train.x.shape[1:] == (3, 32, 32)
    assert len(train) + len(test) == 200  # every readable image, once
    assert 17 <= len(test) <= 20  # data.test_fraction=0.1 of the 203 files, less the unreadable ones among them
    counts = torch.bincount(torch.cat([train.y, test.y]) + 1, minlength=4).tolist()  # -1, cat, dog, owl
    assert counts == [20, 70, 60, 50]  # deeper/ subfolders count for their first-level class


def test_the_held_out_split_is_fixed_and_disjoint(registry, labelled):
    root, _ = labelled
    cfg = config(registry, root)
    a, b = load(registry, cfg, "test"), load(registry, cfg, "test")
    assert torch.equal(a.x, b.x)
    train = load(registry, cfg, "train")
    flat = lambda d: {bytes(img.numpy()) for img in d.x}  # noqa: E731
    assert flat(a).isdisjoint(flat(train))


def test_size_and_grey_channels(registry, labelled):
    root, _ = labelled
    data = load(registry, config(registry, root, size=16, channels=1), "train")
    assert data.x.shape[1:] == (1, 16, 16) and data.spec.shape == (1, 16, 16)


def test_images_are_centre_cropped_then_resized(registry, tmp_path):
    wide = np.zeros((20, 100, 3), np.uint8)  # red, green, blue; the centre square (columns 40-60) is green
    wide[:, :30] = (255, 0, 0)
    wide[:, 30:70] = (0, 200, 0)
    wide[:, 70:] = (0, 0, 255)
    for i in range(3):
        write(tmp_path / "f" / f"{i}.png", Image.fromarray(wide))
    data = load(registry, config(registry, tmp_path / "f", size=8), "train")
    assert data.spec.num_classes == 0 and (data.y == -1).all()  # no subfolders: unlabelled
    assert data.x[0, 1].min() == 200 and data.x[0, 0].max() == 0 and data.x[0, 2].max() == 0  # the green middle only


def test_a_test_subfolder_is_the_held_out_split(registry, tmp_path):
    root = tmp_path / "split"
    populate(root / "train", {"a": 10, "b": 12})
    populate(root / "test", {"b": 3, "a": 4}, seed=1)
    populate(root, {"": 5}, seed=2)  # beside train/ and test/: not used
    cfg = config(registry, root)
    train, test = load(registry, cfg, "train"), load(registry, cfg, "test")
    assert len(train) == 22 and len(test) == 7 and train.spec.num_classes == 2
    assert sorted(test.y.tolist()) == [0] * 4 + [1] * 3 and torch.bincount(train.y).tolist() == [10, 12]


def test_a_test_subfolder_without_train_takes_the_rest(registry, tmp_path):
    root = tmp_path / "rest"
    populate(root, {"a": 6, "b": 4})
    populate(root / "test", {"a": 2}, seed=1)
    cfg = config(registry, root)
    train, test = load(registry, cfg, "train"), load(registry, cfg, "test")
    assert len(train) == 10 and test.y.tolist() == [0, 0] and train.spec.num_classes == 2


def test_unreadable_files_are_skipped_and_named_in_one_warning_line(registry, labelled, capsys):
    root, bad = labelled
    load(registry, config(registry, root), "train")
    lines = [l for l in capsys.readouterr().err.splitlines() if "warning" in l]
    assert len(lines) == 1 and "skipped 3 unreadable image files" in lines[0]
    assert all(name in lines[0] for name in bad)


def test_the_second_load_reads_the_cache_and_a_changed_folder_is_decoded_again(registry, labelled, gp_home, monkeypatch):
    root, _ = labelled
    cfg = config(registry, root)
    first = load(registry, cfg, "train")
    caches = list((gp_home / "cache" / "imagefolder").glob("*.npz"))
    assert len(caches) == 1
    calls, decode = [], F.decode
    monkeypatch.setattr(F, "decode", lambda *a: calls.append(a))  # decoding now would be visible
    again = load(registry, cfg, "train")
    assert calls == [] and torch.equal(again.x, first.x) and torch.equal(again.y, first.y)
    changed = root / "dog" / "img001.jpg"
    os.utime(changed, ns=(changed.stat().st_atime_ns, changed.stat().st_mtime_ns + 10**9))
    populate(root, {"owl": 1}, seed=9)  # owl/img000.png rewritten: new bytes, new time
    monkeypatch.setattr(F, "decode", counting(decode, calls))
    load(registry, cfg, "train")
    assert len(calls) == 203  # every file again (3 unreadable)
    assert [p.name for p in (gp_home / "cache" / "imagefolder").glob("*.npz")] != [caches[0].name]
    assert len(list((gp_home / "cache" / "imagefolder").glob("*.npz"))) == 1  # the old one removed


def counting(fn, calls):
    def wrapped(*args):
        calls.append(args)
        return fn(*args)
    return wrapped


def test_another_size_is_another_cache(registry, labelled, gp_home):
    root, _ = labelled
    assert load(registry, config(registry, root, size=8), "train").x.shape[-1] == 8
    assert load(registry, config(registry, root, size=12), "train").x.shape[-1] == 12


def test_a_large_folder_shows_a_progress_bar_while_decoding(registry, labelled, capsys, monkeypatch):
    root, _ = labelled
    monkeypatch.setattr(F, "BAR_FROM", 100)
    load(registry, config(registry, root), "train")
    assert f"gp: decoding {root}" in capsys.readouterr().err


@pytest.mark.parametrize("make, message", [
    (lambda p: p.mkdir(), "no PNG, JPEG or WebP images under"),
    (lambda p: (p.mkdir(), (p / "x.txt").write_text("hi")), "no PNG, JPEG or WebP images under"),
    (lambda p: (p.mkdir(), (p / "a.png").write_text("no"), (p / "b.jpg").write_bytes(b"")),
     "none of the 2 image files under .* could be read"),
    (lambda p: None, "no folder .*; fix data.root"),
])
def test_an_empty_or_unreadable_folder_is_one_line(registry, tmp_path, make, message):
    root = tmp_path / "data"
    make(root)
    with pytest.raises(GpError, match=message) as err:
        load(registry, config(registry, root), "train")
    assert "\n" not in str(err.value)


def test_options_are_checked_before_anything_loads(registry, tmp_path):
    job, _ = validate(parse(["plugin=dcgan", "data=imagefolder", f"data.root={tmp_path}", "data.size=64"]), registry)
    assert (job.data.size, job.data.channels, job.data.test_fraction) == (64, 3, 0.1)
    with pytest.raises(GpError, match="data.channels"):
        validate(parse(["plugin=dcgan", "data=imagefolder", "data.channels=2"]), registry)
    with pytest.raises(GpError, match="dataset imagefolder does not take 'data.kind'"):
        validate(parse(["plugin=dcgan", "data=imagefolder", "data.kind=ring"]), registry)
    with pytest.raises(GpError, match="needs data.root=DIR"):
        load(registry, check_data_options(DataConfig(name="imagefolder"), registry), "train")


def test_photos_are_turned_upright_and_hidden_files_are_not_read(registry, tmp_path, capsys):
    a = np.zeros((40, 40, 3), np.uint8)
    a[:20] = (255, 0, 0)  # stored: red on top, blue below
    a[20:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: to be shown turned 90 degrees clockwise
    root = tmp_path / "photos"
    root.mkdir()
    Image.fromarray(a).save(root / "turned.jpg", exif=exif, quality=95)
    (root / "._turned.jpg").write_bytes(b"macOS resource fork")
    (root / ".cache").mkdir()
    (root / ".cache" / "thumb.png").write_text("not an image")
    x = load(registry, config(registry, root, size=8), "train").x  # the only image: train has it, test none
    assert x.shape == (1, 3, 8, 8)
    red = x[0, 0].float()
    assert red[:, -2:].min() > 200 and red[:, :2].max() < 50  # shown upright: red on the right
    assert "warning" not in capsys.readouterr().err  # the hidden files were not even tried
