"""CIFAR-10 archive reading, content verification, and the tensor loader."""
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ARCHIVE
from torch.utils._python_dispatch import TorchDispatchMode

from trp.data import (KEYS, MEAN, OFFICIAL_SHA256, STD, DataError, TensorLoader, fingerprint, load_archive,
                      load_prepared, prepare, random_crop_flip, verify, write_prepared)

REAL_ARCHIVE = ARCHIVE  # $TRP_CIFAR_ARCHIVE, else the archive beside the checkout (conftest)
NAMES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


def make_archive(path, n=10, skip=(), bad_labels=False):
    """A tiny CIFAR-10 python-version tar.gz with n images per batch; returns the batches."""
    rng = np.random.default_rng(0)
    batches = {}
    with tarfile.open(path, "w:gz") as tar:
        for name in NAMES:
            data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
            labels = [int(v) for v in rng.integers(0, 10, n)]
            if bad_labels:
                labels[0] = 10
            batches[name] = (data, labels)
            if name in skip:
                continue
            raw = pickle.dumps({b"batch_label": name.encode(), b"labels": labels, b"data": data})
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return batches


def test_load_archive(tmp_path):
    batches = make_archive(tmp_path / "c.tar.gz")
    a = load_archive(tmp_path / "c.tar.gz")
    assert a["train_x"].shape == (50, 3, 32, 32) and a["train_x"].dtype == np.uint8
    assert a["test_x"].shape == (10, 3, 32, 32) and a["train_y"].dtype == np.uint8
    assert np.array_equal(a["train_x"][10:20].reshape(10, -1), batches["data_batch_2"][0])
    assert a["test_y"].tolist() == batches["test_batch"][1]


def test_truncated_archive_raises_and_is_kept(tmp_path):
    p = tmp_path / "c.tar.gz"
    make_archive(p, n=200)
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    with pytest.raises(DataError, match="c.tar.gz"):
        load_archive(p)
    assert p.exists()


def test_not_gzip_raises(tmp_path):
    p = tmp_path / "c.tar.gz"
    p.write_bytes(b"not an archive" * 100)
    with pytest.raises(DataError, match="corrupt"):
        load_archive(p)


def test_missing_member_raises(tmp_path):
    make_archive(tmp_path / "c.tar.gz", skip=("data_batch_3",))
    with pytest.raises(DataError, match="data_batch_3"):
        load_archive(tmp_path / "c.tar.gz")


def test_bad_labels_raise(tmp_path):
    make_archive(tmp_path / "c.tar.gz", bad_labels=True)
    with pytest.raises(DataError, match="labels outside"):
        load_archive(tmp_path / "c.tar.gz")


def test_verify_rejects_fake_content(tmp_path):
    make_archive(tmp_path / "c.tar.gz")
    a = load_archive(tmp_path / "c.tar.gz")
    fp = fingerprint(a)
    assert set(fp) == set(OFFICIAL_SHA256) | {"data_fingerprint"}
    with pytest.raises(DataError, match="train_x, train_y, test_x, test_y"):
        verify(a)


def test_prepare_missing_archive_tells_how(tmp_path):
    with pytest.raises(DataError, match="TRP_CIFAR_ARCHIVE"):
        prepare(tmp_path / "nope.tar.gz", tmp_path / "out.npz", tmp_path)
    assert not (tmp_path / "out.npz").exists()


def test_prepare_rejects_fake_without_writing(tmp_path):
    make_archive(tmp_path / "c.tar.gz")
    with pytest.raises(DataError):
        prepare(tmp_path / "c.tar.gz", tmp_path / "out.npz", tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.tar.gz"]


def fake_arrays(n=20):
    """Synthetic prepared arrays: n train and n test images with labels 0..9."""
    rng = np.random.default_rng(0)
    return {"train_x": rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8),
            "train_y": (np.arange(n) % 10).astype(np.uint8),
            "test_x": rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8),
            "test_y": (np.arange(n) % 10).astype(np.uint8)}


def test_write_prepared_round_trip_and_same_bytes(tmp_path):
    arrays = fake_arrays()
    fp = write_prepared(arrays, tmp_path / "a.npz")
    write_prepared(arrays, tmp_path / "b.npz")
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    loaded, data_fp = load_prepared(tmp_path / "a.npz", allow_unofficial=True)
    assert data_fp == fp["data_fingerprint"] == fingerprint(arrays)["data_fingerprint"]
    assert all(np.array_equal(loaded[k], arrays[k]) and loaded[k].dtype == np.uint8 for k in KEYS)


def test_unofficial_content_refused_by_default(tmp_path):
    write_prepared(fake_arrays(), tmp_path / "a.npz")
    with pytest.raises(DataError, match=r"a.npz: not the official CIFAR-10 content \(train_x, train_y, test_x, "
                                        r"test_y differ from the release\)"):
        load_prepared(tmp_path / "a.npz")


def test_edited_content_refused_against_its_record(tmp_path):
    """All training labels set to 0 and re-saved with the old record: refused even for synthetic data."""
    write_prepared(fake_arrays(), tmp_path / "a.npz")
    with np.load(tmp_path / "a.npz") as f:
        entries = {k: f[k] for k in f.files}
    entries["train_y"][:] = 0
    np.savez(tmp_path / "a.npz", **entries)
    with pytest.raises(DataError, match=r"a.npz: content does not match its recorded fingerprint "
                                        r"\(train_y differs\); re-run `trp prepare-data`"):
        load_prepared(tmp_path / "a.npz", allow_unofficial=True)


def test_doctored_record_refused(tmp_path):
    """A record whose data_fingerprint is not the one of its own per-array digests."""
    arrays = fake_arrays()
    record = [f"{k}={v}" for k, v in fingerprint(arrays).items()]
    record[-1] = "data_fingerprint=" + "0" * 64
    np.savez(tmp_path / "a.npz", **arrays, fingerprint=np.array(record))
    with pytest.raises(DataError, match=r"recorded fingerprint \(data_fingerprint differs\)"):
        load_prepared(tmp_path / "a.npz", allow_unofficial=True)


def test_edited_content_with_updated_record_is_not_official(tmp_path):
    arrays = fake_arrays()
    arrays["train_y"][:] = 0
    write_prepared(arrays, tmp_path / "a.npz")
    load_prepared(tmp_path / "a.npz", allow_unofficial=True)
    with pytest.raises(DataError, match="not the official CIFAR-10 content"):
        load_prepared(tmp_path / "a.npz")


def test_file_without_record_checked_against_official(tmp_path):
    arrays = fake_arrays()
    np.savez(tmp_path / "old.npz", **arrays)
    with pytest.raises(DataError, match="old.npz: not the official CIFAR-10 content"):
        load_prepared(tmp_path / "old.npz")
    _, data_fp = load_prepared(tmp_path / "old.npz", allow_unofficial=True)
    assert data_fp == fingerprint(arrays)["data_fingerprint"]


def test_unreadable_record_refused(tmp_path):
    np.savez(tmp_path / "a.npz", **fake_arrays(), fingerprint=np.array(["train_x=abc"]))
    with pytest.raises(DataError, match="unreadable fingerprint record"):
        load_prepared(tmp_path / "a.npz", allow_unofficial=True)


@pytest.mark.parametrize("key, value, message", [
    ("train_x", lambda a: a["train_x"].astype(np.float32), r"train_x is \(20, 3, 32, 32\) float32, expected"),
    ("test_x", lambda a: a["test_x"][:, :, :16], r"test_x is \(20, 3, 16, 32\) uint8, expected \(N, 3, 32, 32\)"),
    ("train_y", lambda a: a["train_y"].astype(np.int64), r"train_y is \(20,\) int64, expected \(20,\) uint8"),
    ("test_y", lambda a: a["test_y"][:-1], r"test_y is \(19,\) uint8, expected \(20,\) uint8 to match test_x"),
    ("train_y", lambda a: a["train_y"] + 1, r"train_y has labels outside 0..9 \(max 10\)"),
])
def test_bad_arrays_refused(tmp_path, key, value, message):
    arrays = fake_arrays()
    arrays[key] = value(arrays)
    np.savez(tmp_path / "a.npz", **arrays)
    with pytest.raises(DataError, match=message):
        load_prepared(tmp_path / "a.npz", allow_unofficial=True)
    with pytest.raises(DataError, match=message):
        write_prepared(arrays, tmp_path / "b.npz")
    assert not (tmp_path / "b.npz").exists()


@pytest.mark.parametrize("keep", [0.0, 0.1, 0.5, 0.9, 0.999])
def test_truncated_prepared_file_is_a_data_error(tmp_path, keep):
    p = tmp_path / "a.npz"
    write_prepared(fake_arrays(), p)
    p.write_bytes(p.read_bytes()[:int(p.stat().st_size * keep)])
    with pytest.raises(DataError, match=r"a.npz: cannot read prepared CIFAR-10 arrays .*re-run `trp prepare-data`"):
        load_prepared(p, allow_unofficial=True)


def test_missing_prepared_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="nope.npz: cannot read"):
        load_prepared(tmp_path / "nope.npz")


def test_random_crop_flip_matches_per_image():
    g = torch.Generator().manual_seed(1)
    padded = torch.randint(0, 256, (16, 3, 40, 40), dtype=torch.uint8, generator=g)
    dy, dx = torch.randint(0, 9, (2, 16), generator=g)
    flip = torch.randint(0, 2, (16,), generator=g).bool()
    out = random_crop_flip(padded, dy, dx, flip)
    for i in range(16):
        ref = padded[i, :, dy[i]:dy[i] + 32, dx[i]:dx[i] + 32]
        assert torch.equal(out[i], ref.flip(-1) if flip[i] else ref)


def toy(n=100):
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g), torch.arange(n)


def test_train_loader_shapes_and_permutation():
    x, y = toy()
    loader = TensorLoader(x, y, 32, train=True, generator=torch.Generator().manual_seed(0))
    assert len(loader) == 4
    for _ in range(2):
        batches = list(loader)
        assert [len(b[1]) for b in batches] == [32, 32, 32, 4]
        assert all(b[0].dtype == torch.float32 and b[0].shape[1:] == (3, 32, 32) for b in batches)
        assert all(b[1].dtype == torch.int64 for b in batches)
        seen = torch.cat([b[1] for b in batches])
        assert sorted(seen.tolist()) == list(range(100))
    dropped = TensorLoader(x, y, 32, train=True, drop_last=True, generator=torch.Generator())
    assert len(dropped) == 3 and len(list(dropped)) == 3


def test_train_loader_crops_come_from_padded_images():
    x, y = toy(20)
    loader = TensorLoader(x, y, 20, train=True, generator=torch.Generator().manual_seed(3))
    xb, yb = next(iter(loader))
    raw = xb * torch.tensor(STD).view(1, 3, 1, 1) + torch.tensor(MEAN).view(1, 3, 1, 1)
    raw = (raw * 255).round().to(torch.uint8)
    padded = torch.nn.functional.pad(x, (4, 4, 4, 4))
    for img, lab in zip(raw, yb):
        crops = padded[lab].unfold(1, 32, 1).unfold(2, 32, 1).permute(1, 2, 0, 3, 4).reshape(81, 3, 32, 32)
        crops = torch.cat([crops, crops.flip(-1)])
        assert (crops == img).flatten(1).all(1).any()


def test_eval_loader_deterministic_and_unaugmented():
    x, y = toy()
    loader = TensorLoader(x.numpy(), y.numpy(), 30, train=False)
    a, b = list(loader), list(loader)
    assert all(torch.equal(p[0], q[0]) for p, q in zip(a, b))
    xs = torch.cat([p[0] for p in a])
    expect = (x.float() / 255 - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
    assert torch.allclose(xs, expect, atol=1e-5)
    assert torch.equal(torch.cat([p[1] for p in a]), y)


def test_same_seed_same_batches_and_resume():
    x, y = toy()
    gen = [torch.Generator().manual_seed(7) for _ in range(2)]
    a, b = (list(TensorLoader(x, y, 32, train=True, generator=g)) for g in gen)
    assert all(torch.equal(p[0], q[0]) and torch.equal(p[1], q[1]) for p, q in zip(a, b))
    g = torch.Generator().manual_seed(7)
    loader = TensorLoader(x, y, 32, train=True, generator=g)
    list(loader)
    state = g.get_state()
    second = list(loader)
    g2 = torch.Generator()
    g2.set_state(state)
    resumed = list(TensorLoader(x, y, 32, train=True, generator=g2))
    assert all(torch.equal(p[0], q[0]) for p, q in zip(second, resumed))


def test_batches_are_those_drawn_batch_by_batch():
    """Each epoch permutes the images, then draws each batch's crop offsets and flips in turn, from
    the one CPU generator: the batches, and the generator's state after each epoch, are exactly
    those of drawing batch by batch."""
    x, y = toy()
    loader = TensorLoader(x, y, 32, train=True, generator=torch.Generator().manual_seed(5))
    g = torch.Generator().manual_seed(5)
    padded = torch.nn.functional.pad(x, (4,) * 4)
    for _ in range(2):
        batches = list(loader)
        order = torch.randperm(100, generator=g)
        for i, (xb, yb) in enumerate(batches):
            idx = order[32 * i:32 * (i + 1)]
            dy, dx = torch.randint(0, 9, (2, len(idx)), generator=g)
            flip = torch.randint(0, 2, (len(idx),), generator=g).bool()
            assert torch.equal(xb, loader._normalise(random_crop_flip(padded[idx], dy, dx, flip))) and torch.equal(yb, y[idx])
        assert torch.equal(loader.generator.get_state(), g.get_state())


class DeviceCopies(TorchDispatchMode):
    """Counts copies from one device to another."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func is torch.ops.aten._to_copy.default and out.device != args[0].device:
            self.count += 1
        return out


def test_a_training_epoch_copies_to_the_device_once():
    """The epoch's random draws travel to the device in one copy, not three per batch (the meta
    device stands in for a GPU)."""
    x, y = toy()
    loader = TensorLoader(x, y, 32, train=True, device="meta", generator=torch.Generator().manual_seed(0))
    with DeviceCopies() as copies:
        batches = list(loader)
    assert len(batches) == 4 and all(xb.is_meta and yb.is_meta for xb, yb in batches) and copies.count == 1


@pytest.mark.skipif(not REAL_ARCHIVE.is_file(), reason="real CIFAR-10 archive not present")
def test_real_archive_fingerprint(tmp_path):
    fp = prepare(REAL_ARCHIVE, tmp_path / "cifar10.npz", tmp_path)
    assert all(fp[k] == v for k, v in OFFICIAL_SHA256.items())
    a, data_fp = load_prepared(tmp_path / "cifar10.npz")
    assert data_fp == fp["data_fingerprint"]
    assert a["train_x"].shape == (50000, 3, 32, 32) and a["test_y"].shape == (10000,)
    assert np.bincount(a["train_y"]).tolist() == [5000] * 10
