"""The command line: every user error is one line `trp <command>: error: ...` with exit status 2,
before any work where the input allows; untrusted files run no code."""
import json
import os
import subprocess
import sys
import tarfile

import pytest
import torch

from trp.cli import main
from trp.config import ConfigError, TrainConfig, load_config


def run(argv):
    """(exit status, stderr lines) of `trp ARGV`, argparse's own exits included."""
    try:
        return main(argv), None
    except SystemExit as e:
        return e.code, None


def one_line_error(capsys, argv, *needles):
    code, _ = run(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith(f"trp {argv[0]}: error: ") and "Traceback" not in err, err
    for n in needles:
        assert n in err, err
    return err


@pytest.fixture(scope="module")
def trained(cifar_npz, tmp_path_factory):
    out = tmp_path_factory.mktemp("trained")
    assert main(["train", "--no-progress", "--set", "epochs=1", "milestones=[1]", "train_subset=32", "test_subset=50",
                 "batch_size=32", "m=1", "e=0.1", "device=cpu", "--data", str(cifar_npz), "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize("override, message", [
    ("e=1.5", "e must lie in (0, 1)"),
    ("e=0", "e must lie in (0, 1)"),
    ("lam=-1e-4", "lam (nuclear weight) must be >= 0"),
    ("model=vgg16", "unknown model 'vgg16'"),
    ("scheme=tucker", "unknown scheme 'tucker'"),
    ("method=prune", "unknown method 'prune'"),
    ("m=0", "m (projection period) must be an integer >= 1"),
    ("learning_rate=0.1", "unknown config keys ['learning_rate']"),
    ("gamma=-1", "gamma"),
    ("lr=null", "lr"),
    ("lr=nan", "lr"),
    ("milestones=5", "milestones"),
    ("test_subset=-5", "test_subset"),
    ("layers=[layer9.0.conv1]", "layer9.0.conv1"),
])
def test_bad_config_is_refused_before_work(tmp_path, capsys, override, message):
    one_line_error(capsys, ["train", "--set", override, "--data", str(tmp_path / "missing.npz"),
                            "--out", str(tmp_path / "run")], message)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("argv, message", [
    (["train", "--target-speedup", "0"], "--target-speedup"),
    (["train", "--target-speedup", "nan"], "--target-speedup"),
    (["train", "--time-limit", "-1"], "--time-limit"),
    (["evaluate", "--checkpoint", "x.pt", "--test-subset", "0"], "--test-subset"),
    (["decompose", "--checkpoint", "x.pt", "--scheme", "channel", "--test-subset", "-5"], "--test-subset"),
    (["decompose", "--checkpoint", "x.pt", "--scheme", "channel", "--e", "1.5"], "--e"),
    (["allocate", "--checkpoint", "x.pt", "--scheme", "channel", "--target-speedup", "nan"], "--target-speedup"),
    (["latency", "--checkpoint", "baseline=x.pt", "--batch-sizes", "0"], "--batch-sizes"),
    (["latency", "--checkpoint", "x.pt"], "LABEL=PATH"),
    (["render", "table9"], "table9"),
])
def test_bad_arguments_are_one_line(tmp_path, capsys, argv, message):
    argv = argv + (["--data", str(tmp_path / "d.npz")] if argv[0] in ("train", "evaluate", "decompose") else [])
    argv = argv + (["--out", str(tmp_path / "o")] if argv[0] in ("train", "decompose", "allocate", "latency") else [])
    one_line_error(capsys, argv, message)
    assert not (tmp_path / "o").exists()


def test_missing_data_is_a_clear_error(tmp_path, capsys):
    one_line_error(capsys, ["train", "--set", "epochs=1", "--data", str(tmp_path / "missing.npz"),
                            "--out", str(tmp_path / "r")], "missing.npz")


class Evil:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return os.system, (f"touch {self.path}",)


def test_crafted_truncated_and_wrong_kind_checkpoints(cifar_npz, trained, tmp_path, capsys):
    pwned = tmp_path / "PWNED"
    evil = tmp_path / "evil.pt"
    torch.save({"arch": "resnet20", "state_dict": {}, "x": Evil(pwned)}, evil)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes((trained / "model.pt").read_bytes()[:5000])
    data = ["--data", str(cifar_npz)]
    for ckpt in (evil, truncated):
        one_line_error(capsys, ["evaluate", "--checkpoint", str(ckpt), *data], str(ckpt))
    assert not pwned.exists()
    one_line_error(capsys, ["decompose", "--checkpoint", str(trained / "decomposed.pt"), "--scheme", "channel",
                            *data, "--out", str(tmp_path / "d")], "decomposed network", "model.pt")
    one_line_error(capsys, ["finetune", "--checkpoint", str(trained / "model.pt"), *data, "--out", str(tmp_path / "f")],
                   "dense network", "decomposed.pt")
    one_line_error(capsys, ["train", "--set", "epochs=1", *data, "--out", str(trained), "--checkpoints",
                            str(tmp_path / "c")], "holds")


def test_infeasible_budget_and_directory_as_file_are_one_line(trained, tmp_path, capsys):
    allocate = ["allocate", "--checkpoint", str(trained / "model.pt"), "--scheme", "channel", "--method", "milp"]
    one_line_error(capsys, allocate + ["--target-speedup", "500", "--out", str(tmp_path / "a.json")], "infeasible")
    one_line_error(capsys, allocate + ["--target-speedup", "2", "--out", str(tmp_path)], "is a directory")


@pytest.mark.parametrize("ranks, message", [
    ({"res1-1-1": 2.5}, "integer"),
    ({"layer1.0.conv1": 17}, "from 1 to 16"),
    ({"layer1.0.conv1": 0}, "from 1 to 16"),
    ({"layer9.0.conv1": 2}, "not a decomposable conv"),
    ({"conv1": 2}, "not a decomposable conv"),
    ([1, 2], "\"ranks\" mapping"),
])
def test_bad_ranks_files(cifar_npz, trained, tmp_path, capsys, ranks, message):
    path = tmp_path / "ranks.json"
    path.write_text(json.dumps({"ranks": ranks}))
    one_line_error(capsys, ["decompose", "--checkpoint", str(trained / "model.pt"), "--scheme", "channel", "--ranks",
                            str(path), "--data", str(cifar_npz), "--out", str(tmp_path / "d")], message)


def test_paper_layer_names_work_in_a_ranks_file(cifar_npz, trained, tmp_path):
    path = tmp_path / "ranks.json"
    path.write_text(json.dumps({"ranks": {"res1-1-1": 4, "layer3.0.conv2": 8}}))
    assert main(["decompose", "--checkpoint", str(trained / "model.pt"), "--scheme", "channel", "--ranks", str(path),
                 "--test-subset", "20", "--data", str(cifar_npz), "--out", str(tmp_path / "d")]) == 0
    assert json.loads((tmp_path / "d" / "metrics.json").read_text())["ranks"] == {"layer1.0.conv1": 4,
                                                                                 "layer3.0.conv2": 8}


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_read_only_output_is_refused_before_work(cifar_npz, tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o555)
    one_line_error(capsys, ["train", "--set", "epochs=1", "--data", str(cifar_npz), "--out", str(ro / "run")],
                   "cannot write")


def test_malicious_archive_runs_no_code(tmp_path, capsys):
    import io
    import pickle

    pwned = tmp_path / "PWNED"
    payload = pickle.dumps(Evil(pwned))
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    one_line_error(capsys, ["prepare-data", "--archive", str(archive), "--out", str(tmp_path / "c.npz")], "system")
    assert not pwned.exists() and not (tmp_path / "c.npz").exists()


def test_yaml_config_file_and_overrides(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("model: resnet56\nlam: 3e-4\nscheme: spatial\n")
    cfg = load_config(path, ["e=0.05", "layers=[res3-1-2]"])
    assert (cfg.model, cfg.lam, cfg.scheme, cfg.e, cfg.layers) == ("resnet56", 3e-4, "spatial", 0.05, ["res3-1-2"])
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")


def test_paper_defaults():
    cfg = TrainConfig()
    assert (cfg.e, cfg.m, cfg.epochs, cfg.milestones, cfg.lr, cfg.momentum, cfg.weight_decay, cfg.batch_size) == \
        (0.02, 20, 164, [82, 122], 0.1, 0.9, 1e-4, 128)
    assert (cfg.counter, cfg.nuclear_cadence, cfg.rank_rule) == ("global", "every_step", "energy")


def test_the_command_line_starts_without_the_allocator():
    """`trp` starts once per pipeline job: importing the command line loads neither trp.cobla nor scipy
    (about a second at each start); a command that allocates imports them itself."""
    code = "import sys, trp.cli; print(sorted(m for m in ('trp.cobla', 'scipy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
