"""A hostile CIFAR-10 archive runs nothing: only dicts, lists, bytes, str, ints and numpy arrays unpickle."""
import io
import os
import pickle
import re
import subprocess
import tarfile

import numpy as np
import pytest
from numpy._core.multiarray import _reconstruct

from trp.data import DataError, cifar10, load_archive, prepare

NAMES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
TARGET = "cifar-10-batches-py/data_batch_1"


class Reduce:
    """Pickles as a call of `func(*args)`, as a malicious archive would."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def batch(name, n=10, protocol=pickle.DEFAULT_PROTOCOL):
    """One legitimate synthetic batch pickle and its (data, labels)."""
    rng = np.random.default_rng(len(name))
    data, labels = rng.integers(0, 256, (n, 3072), dtype=np.uint8), [int(v) for v in rng.integers(0, 10, n)]
    raw = pickle.dumps({b"batch_label": name.encode(), b"labels": labels, b"data": data}, protocol=protocol)
    return raw, (data, labels)


def write_tar(path, members):
    """A tar.gz of `members`: {name: bytes} become regular files, {name: TarInfo} are added as given."""
    with tarfile.open(path, "w:gz") as tar:
        for name, body in members.items():
            if isinstance(body, tarfile.TarInfo):
                tar.addfile(body)
                continue
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return path


def archive_with(path, target_body, protocol=pickle.DEFAULT_PROTOCOL):
    """Legitimate batches, except data_batch_1 is `target_body` (bytes or a TarInfo)."""
    members = {f"cifar-10-batches-py/{n}": batch(n, protocol=protocol)[0] for n in NAMES}
    members[TARGET] = target_body
    return write_tar(path, members)


def payloads(pwned):
    """(id, pickle bytes, the global it names): each would create `pwned` (or load a file) if run."""
    cmd = f"touch {pwned}"
    return [
        ("os.system", Reduce(os.system, cmd), f"{os.system.__module__}.system"),
        ("eval", Reduce(eval, f"__import__('pathlib').Path({str(pwned)!r}).touch()"), "builtins.eval"),
        ("Popen", Reduce(subprocess.Popen, ["touch", str(pwned)]), "subprocess.Popen"),
        ("numpy.save", Reduce(np.save, str(pwned), [1]), "numpy.save"),
        ("numpy.load", Reduce(np.load, str(pwned)), "numpy.load"),
        ("inside batch", {b"data": np.zeros((1, 3072), np.uint8), b"labels": [0],
                          b"batch_label": Reduce(os.system, cmd)}, f"{os.system.__module__}.system"),
    ]


PAYLOAD_IDS = [p[0] for p in payloads("x")]


def hand_written_os_system(pwned):
    """Protocol-0 pickle naming `os.system` itself (pickle.dumps would write posix.system)."""
    return f"cos\nsystem\n(V{'touch ' + str(pwned)}\ntR.".encode()


def refusal(name):
    return re.escape(f"member {TARGET} tries to load {name}; refusing (the CIFAR-10 batches hold only dicts, "
                     "lists, bytes and numpy arrays)")


@pytest.mark.parametrize("which", PAYLOAD_IDS)
def test_payloads_are_live(tmp_path, which):
    """Control: plain pickle.loads runs each payload, so the tests below are not vacuous."""
    pwned = tmp_path / "PWNED.npy"
    _, obj, _ = next(p for p in payloads(pwned) if p[0] == which)
    if which == "numpy.load":
        pwned.touch()
    elif which == "Popen":
        pickle.loads(pickle.dumps(obj)).wait()
    else:
        pickle.loads(pickle.dumps(obj))
    assert pwned.exists()


@pytest.mark.parametrize("which", PAYLOAD_IDS)
def test_load_archive_refuses_globals_by_name(tmp_path, monkeypatch, which):
    monkeypatch.chdir(tmp_path)
    pwned = tmp_path / "PWNED.npy"
    _, obj, name = next(p for p in payloads(pwned) if p[0] == which)
    path = archive_with(tmp_path / "c.tar.gz", pickle.dumps(obj))
    with pytest.raises(DataError, match=f"c.tar.gz: {refusal(name)}"):
        load_archive(path)
    assert not pwned.exists()


def test_prepare_refuses_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pwned = tmp_path / "PWNED"
    path = archive_with(tmp_path / "c.tar.gz", hand_written_os_system(pwned))
    with pytest.raises(DataError, match=refusal("os.system")):
        prepare(path, tmp_path / "out.npz", tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.tar.gz"]


@pytest.mark.parametrize("obj, message", [
    (Reduce(_reconstruct, np.ndarray, (10**12,), b"b"), "_reconstruct called with arguments numpy never writes"),
    (Reduce(np.ndarray, (10**12,)), "not callable"),
])
def test_numpy_names_only_as_numpy_pickles_use_them(tmp_path, obj, message):
    """The allowed numpy globals cannot allocate memory the archive does not hold."""
    with pytest.raises(DataError, match=message):
        load_archive(archive_with(tmp_path / "c.tar.gz", pickle.dumps(obj, protocol=4)))


def link(kind, target="cifar-10-batches-py/test_batch"):
    info = tarfile.TarInfo(TARGET)
    info.type, info.linkname = kind, target
    return info


@pytest.mark.parametrize("info, kind", [
    (link(tarfile.SYMTYPE, "/etc/passwd"), "symbolic link"),
    (link(tarfile.LNKTYPE), "hard link"),
    (link(tarfile.CHRTYPE, ""), "character device"),
    (link(tarfile.FIFOTYPE, ""), "fifo"),
])
def test_non_regular_member_refused(tmp_path, info, kind):
    with pytest.raises(DataError, match=f"member {TARGET} is a {kind} entry, not a regular file; refusing"):
        load_archive(archive_with(tmp_path / "c.tar.gz", info))


def test_oversized_member_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(cifar10, "_MAX_MEMBER_BYTES", 20_000)
    with pytest.raises(DataError, match=rf"member {TARGET} is \d+ bytes, over the 20000 allowed"):
        load_archive(archive_with(tmp_path / "c.tar.gz", batch("data_batch_1")[0]))


def test_archive_unpacking_too_far_refused(tmp_path, monkeypatch):
    """The cap covers what tarfile itself reads in one go (here a 300 kB pax long-name header)."""
    monkeypatch.setattr(cifar10, "_MAX_ARCHIVE_BYTES", 250_000)
    members = {f"cifar-10-batches-py/{n}": batch(n)[0] for n in NAMES}
    load_archive(write_tar(tmp_path / "ok.tar.gz", members))
    with pytest.raises(DataError, match="c.tar.gz: unpacks to over 250000 bytes"):
        load_archive(write_tar(tmp_path / "c.tar.gz", {"x" * 300_000: b"", **members}))


def test_too_many_entries_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(cifar10, "_MAX_ENTRIES", 3)
    with pytest.raises(DataError, match="over 3 tar entries"):
        load_archive(archive_with(tmp_path / "c.tar.gz", batch("data_batch_1")[0]))


@pytest.mark.parametrize("protocol", [3, 4, 5])
def test_legitimate_archive_still_loads(tmp_path, protocol):
    """numpy arrays pickle via _reconstruct (protocols up to 4) or _frombuffer (5); both load.

    Protocols 0-2 are covered by the real archive (tests/test_data.py::test_real_archive_fingerprint):
    Python 3 writes bytes there via `_codecs.encode`, which is refused."""
    members = {f"cifar-10-batches-py/{n}": batch(n, protocol=protocol) for n in NAMES}
    path = write_tar(tmp_path / "c.tar.gz", {k: raw for k, (raw, _) in members.items()})
    a = load_archive(path)
    data, labels = members[TARGET][1]
    assert np.array_equal(a["train_x"][:10].reshape(10, -1), data) and a["train_y"][:10].tolist() == labels
    assert a["test_x"].shape == (10, 3, 32, 32) and a["train_y"].dtype == np.uint8
