"""Progress of the long steps: the training bar counts the steps a run takes (max_steps included),
evaluation, decomposition, allocation and latency measurement say what they do, `trp latency` names
the batch size of each number, and `trp train --help` lists every config key with its default."""
import dataclasses
import json

import pytest
import torch
from torch import nn

from trp import progress
from trp.cli import main
from trp.config import TrainConfig
from trp.deploy import measure_networks
from trp.train import fit


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).mean((2, 3)))


class Bars:
    """Records every progress bar fit() and evaluate() open."""
    def __init__(self):
        self.opened = []

    def __call__(self, iterable, **kwargs):
        self.opened.append(kwargs)
        return iterable


def test_the_training_bar_counts_the_steps_max_steps_leaves(monkeypatch):
    bars = Bars()
    monkeypatch.setattr("trp.train.loop.tqdm", bars)
    batch = (torch.randn(4, 3, 8, 8), torch.randint(0, 4, (4,)))
    cfg = TrainConfig(method="baseline", epochs=164, max_steps=3, batch_size=4, channels_last=False)
    state = fit(Net(), cfg, [batch] * 10, [batch], torch.Generator().manual_seed(0), torch.device("cpu"), progress=True)
    assert state["step"] == 3
    train = [b for b in bars.opened if "total" in b]
    assert [(b["desc"], b["total"], b["disable"]) for b in train] == [("epoch 1/1", 3, False)]
    tests = [b for b in bars.opened if "total" not in b]
    assert [(b["desc"], b["disable"]) for b in tests] == [("epoch 1/1: test", False)]  # evaluation has a bar too


def test_a_phase_says_what_it_does_once_it_runs_long(monkeypatch, capsys):
    with progress.phase("quick"):
        pass
    assert capsys.readouterr().err == ""  # shorter than DELAY_S: quiet
    monkeypatch.setattr(progress, "DELAY_S", 0)
    with progress.phase("evaluating the dense network on 79 test batches"):
        pass
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "trp: evaluating the dense network on 79 test batches ..."
    assert err[1].startswith("trp: evaluating the dense network on 79 test batches: done in ")
    with pytest.raises(RuntimeError), progress.phase("failing"):
        raise RuntimeError
    assert capsys.readouterr().err.splitlines() == ["trp: failing ..."]  # no "done" for a phase that failed
    with progress.phase("off", enabled=False):
        pass
    assert capsys.readouterr().err == ""


def test_measure_says_which_network_it_evaluates(monkeypatch, capsys):
    from trp.stages.compress import measure

    monkeypatch.setattr(progress, "DELAY_S", 0)
    batch = (torch.randn(2, 3, 32, 32), torch.randint(0, 10, (2,)))
    from trp import models
    measure("resnet20", {"dense": models.build("resnet20").eval()}, [batch, batch], torch.device("cpu"), progress=True)
    assert "trp: evaluating the dense network on 2 test batches ..." in capsys.readouterr().err


def test_latency_measurement_says_what_it_times():
    told = []
    nets = {"baseline": nn.Sequential(nn.Conv2d(3, 4, 3, padding=1)), "other": nn.Sequential(nn.Conv2d(3, 4, 3, padding=1))}
    measure_networks(nets, (3, 8, 8), batch_sizes=(1, 2), runtimes=("eager",), memory_formats=("contiguous",),
                     rounds=2, min_run_time=0.01, warmup=0, progress=told.append)
    assert [t.split(":")[0] for t in told] == ["timing batch size 1", "timing batch size 2"]
    assert "2 network/runtime/format calls in 2 interleaved rounds" in told[0]


def test_latency_prints_the_batch_size_beside_each_number(monkeypatch, tmp_path, capsys):
    rows = [{"batch_size": 1, "median_ms_per_image": 1.2345}, {"batch_size": 128, "median_ms_per_image": 0.5}]
    monkeypatch.setattr("trp.stages.latency.latency_report",
                        lambda *a, **k: {"variants": [{"label": "baseline", "rows": rows}]})
    assert not main(["latency", "--checkpoint", "baseline=x.pt", "--out", str(tmp_path / "r.json")])
    assert capsys.readouterr().out.strip() == "baseline: batch size 1: 1.234 ms/image, batch size 128: 0.500 ms/image"


def test_train_help_lists_every_config_key_with_its_default(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    defaults = TrainConfig()
    for f in dataclasses.fields(TrainConfig):
        assert f"  {f.name} = {json.dumps(getattr(defaults, f.name))}" in out, f.name
    assert "energy threshold of the TSVD" in out  # the comment beside the field in trp.config
