"""Run directories and training runs end to end through `trp`: a run resumes only itself, another
run's outputs are never replaced without --overwrite, one process per directory, a crash leaves
nothing half-written behind, a diverging run stops, and --time-limit resumes to the same result."""
import fcntl
import json
import os

import pytest
import torch

from trp.artifacts import RankLog
from trp.cli import EXIT_DIVERGED, main
from trp.stages.train import EXIT_RESUMABLE

TINY = ["method=trp", "epochs=2", "milestones=[1]", "train_subset=64", "test_subset=100", "batch_size=32", "m=2",
        "e=0.1", "lam=3e-4", "device=cpu"]


def train(npz, out, *extra, sets=()):
    return main(["train", "--no-progress", "--set", *TINY, *sets, "--data", str(npz), "--out", str(out), *extra])


def weights(path):
    return torch.load(path, weights_only=True)["state_dict"]


def test_same_run_resumes_other_config_is_refused(cifar_npz, tmp_path, capsys):
    out = tmp_path / "run"
    assert train(cifar_npz, out) == 0
    done = json.loads((out / "metrics.json").read_text())
    assert train(cifar_npz, out) == 0  # the same run: resumed from last.pt, nothing retrained
    first = (out / "metrics.json").read_text()
    assert json.loads(first)["accuracy"] == done["accuracy"]
    capsys.readouterr()
    assert train(cifar_npz, out, sets=["lr=0.05"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "config.lr: 0.1 -> 0.05" in err and "--overwrite" in err
    assert (out / "metrics.json").read_text() == first  # untouched
    assert train(cifar_npz, out, "--overwrite", sets=["lr=0.05"]) == 0
    assert json.loads((out / "metrics.json").read_text())["config"]["lr"] == 0.05


def test_decompose_does_not_replace_a_training_run(cifar_npz, tmp_path, capsys):
    out = tmp_path / "run"
    assert train(cifar_npz, out, sets=["epochs=1"]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    code = main(["decompose", "--checkpoint", str(out / "model.pt"), "--scheme", "channel", "--data", str(cifar_npz),
                 "--out", str(out)])
    assert code == 2 and "holds a `trp train` run" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before


def test_a_second_process_is_locked_out(cifar_npz, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    fd = os.open(out / ".lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another trp process holds the directory
    try:
        assert train(cifar_npz, out) == 2
        assert "another trp process is writing to" in capsys.readouterr().err
        assert not (out / "metrics.json").exists()
    finally:
        os.close(fd)


def test_rank_log_drops_a_half_written_line_and_replayed_steps(tmp_path):
    log = RankLog(tmp_path / "ranklog.jsonl")
    log.start(None)
    for step in (0, 2, 4):
        log({"step": step, "layer": "a"})
    with open(log.path, "a") as f:
        f.write('{"step": 6, "lay')  # killed mid-write
    log.start(4)
    assert [json.loads(ln)["step"] for ln in log.path.read_text().splitlines()] == [0, 2]


def test_stale_temporaries_are_removed_and_outputs_are_strict_json(cifar_npz, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    stale = out / ".metrics.json.abc123.trp.tmp"
    stale.write_text("half")
    assert train(cifar_npz, out, sets=["epochs=1"]) == 0
    assert not stale.exists()

    def refuse(name):
        raise ValueError(name)

    json.loads((out / "metrics.json").read_text(), parse_constant=refuse)
    for line in (out / "ranklog.jsonl").read_text().splitlines():
        json.loads(line, parse_constant=refuse)


@pytest.mark.parametrize("method", ["trp", "baseline"])
def test_a_diverging_run_stops_and_keeps_the_last_good_checkpoint(cifar_npz, tmp_path, capsys, method):
    out = tmp_path / "run"
    sets = ["lr=1e6", f"method={method}"] + (["lam=0"] if method == "baseline" else [])
    code = train(cifar_npz, out, sets=sets)
    err = capsys.readouterr().err
    assert code == EXIT_DIVERGED and "non-finite" in err and "step" in err and err.count("\n") == 1
    assert not (out / "model.pt").exists() and not (out / "metrics.json").exists()
    if (out / "last.pt").exists():  # an epoch that ended well is kept, with finite weights
        state = torch.load(out / "last.pt", weights_only=True)
        assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())


def test_time_limit_stops_with_a_checkpoint_and_resumes_to_the_same_result(cifar_npz, tmp_path, capsys):
    ref, cut = tmp_path / "ref", tmp_path / "cut"
    assert train(cifar_npz, ref) == 0
    assert train(cifar_npz, cut, "--time-limit", "1e-6") == EXIT_RESUMABLE  # stops after epoch 1
    assert "time limit" in capsys.readouterr().err
    assert (cut / "last.pt").exists() and not (cut / "model.pt").exists()
    # the declared outputs appear only when the run finishes: a workflow manager that removes an interrupted
    # job's outputs before rerunning it (Snakemake does) removes nothing the resumed run needs
    assert not (cut / "ranklog.jsonl").exists() and (cut / "ranklog.partial.jsonl").stat().st_size > 0
    assert train(cifar_npz, cut) == 0
    for name in ("model.pt", "decomposed.pt"):
        a, b = weights(ref / name), weights(cut / name)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert (ref / "ranklog.jsonl").read_text() == (cut / "ranklog.jsonl").read_text() != ""


def test_a_resume_whose_earlier_rank_log_is_lost_is_refused(cifar_npz, tmp_path, capsys):
    out = tmp_path / "run"
    assert train(cifar_npz, out, "--time-limit", "1e-6") == EXIT_RESUMABLE
    capsys.readouterr()
    (out / "ranklog.partial.jsonl").unlink()
    assert train(cifar_npz, out) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "rank log before step" in err[0] and "--overwrite" in err[0]
    assert not (out / "metrics.json").exists()
