import os
from pathlib import Path

import pytest
import torch


def pytest_collection_modifyitems(items):
    """The tests of the smoke pipeline first: it runs for minutes, and the workers (pytest-xdist, one
    file each at a time) then share out every other file while it runs."""
    items.sort(key=lambda item: "smoke_run" not in item.fixturenames)


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    """Tests use tiny tensors: one intra-op thread is faster, and immune to OpenMP spin-waiting
    when the machine is busy."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# The local CIFAR-10 archive: $TRP_CIFAR_ARCHIVE (as .ci/run sets it), else the one beside the checkout.
ARCHIVE = Path(os.environ.get("TRP_CIFAR_ARCHIVE")
               or Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar-10-python.tar.gz").resolve()


@pytest.fixture(scope="session")
def cifar_npz(tmp_path_factory):
    """The real CIFAR-10, prepared once per test session (the stages accept only verified data)."""
    if not ARCHIVE.exists():
        pytest.skip(f"the local CIFAR-10 archive {ARCHIVE} is not here")
    from trp.data import prepare

    out = tmp_path_factory.mktemp("data") / "cifar10.npz"
    prepare(ARCHIVE, out, out.parent)
    return out
