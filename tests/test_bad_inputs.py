"""Bad inputs and faults, as a careful user and a hostile file would try them, each with the class
of its outcome: a refusal is one line on stderr and exit 2, and every file that was there is still
there, byte for byte; what a user may legitimately do again still works."""
import gzip
import io
import shutil
import tarfile
import time

import pytest

from trp.artifacts import PREPARED, ArtifactError, RankLog, RunDirectory
from trp.artifacts.outputs import purpose_of
from trp.cli import main
from trp.data import cifar10
from trp.stages.train import EXIT_RESUMABLE

TINY = ["method=trp", "e=0.1", "m=2", "train_subset=256", "test_subset=100", "batch_size=64", "device=cpu"]
FAST_TIMING = ["--batch-sizes", "1", "--min-run-time", "0.01", "--rounds", "1", "--memory-formats", "contiguous"]
ALLOCATE = ["allocate", "--checkpoint", "{run}/model.pt", "--scheme", "channel", "--method", "energy",
            "--target-speedup", "2"]
THEOREM2 = ["render", "theorem2", "--ranklog", "a={run}/ranklog.jsonl", "--profile", "cpu"]


def train(npz, out, *extra, epochs=1):
    return main(["train", "--no-progress", "--set", *TINY, f"epochs={epochs}", "--data", str(npz), "--out", str(out),
                 *extra])


@pytest.fixture(scope="module")
def finished(cifar_npz, tmp_path_factory):
    """A finished tiny TRP run: metrics.json, model.pt, decomposed.pt, last.pt, rank logs."""
    run = tmp_path_factory.mktemp("finished") / "trp1"
    assert train(cifar_npz, run) == 0
    return run


@pytest.fixture(scope="module")
def stopped(cifar_npz, tmp_path_factory):
    """A 2-epoch run that --time-limit stopped after epoch 1: last.pt, ranklog.partial.jsonl."""
    run = tmp_path_factory.mktemp("stopped") / "trp1"
    assert train(cifar_npz, run, "--time-limit", "1e-6", epochs=2) == EXIT_RESUMABLE
    return run


def copy(run, tmp_path):
    return shutil.copytree(run, tmp_path / "trp1")


def files(directory) -> dict:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def run_cli(argv) -> int:
    try:
        return main(argv)
    except SystemExit as e:  # argparse
        return e.code


def refusal(capsys, code) -> str:
    """The one line of a refusal (exit 2)."""
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    return err


def fill(argv, **paths):
    return [arg.format(**{k: str(v) for k, v in paths.items()}) for arg in argv]


# Single-file outputs: never over a file trp did not write for the same purpose (without --overwrite),
# never over the command's own input (with it or not); run directories: --overwrite never deletes an input.
OVER_A_FINISHED_RUN = [
    ("allocate over a run record", ALLOCATE + ["--out", "{run}/metrics.json"], "is not an allocation"),
    ("latency over a run record", ["latency", "--checkpoint", "baseline={run}/model.pt", *FAST_TIMING,
                                   "--out", "{run}/metrics.json"], "is not a runtime JSON"),
    ("render over a run record", THEOREM2 + ["--out", "{run}/metrics"], "is not a rendering"),
    ("allocate over its input", ALLOCATE + ["--out", "{run}/model.pt"], "is an input"),
    ("allocate over its input, --overwrite", ALLOCATE + ["--out", "{run}/model.pt", "--overwrite"], "is an input"),
    ("latency over its input", ["latency", "--checkpoint", "baseline={run}/model.pt", *FAST_TIMING,
                                "--out", "{run}/model.pt"], "is an input"),
    ("latency over its input, --overwrite", ["latency", "--checkpoint", "baseline={run}/model.pt", *FAST_TIMING,
                                             "--out", "{run}/model.pt", "--overwrite"], "is an input"),
    ("prepare-data over a checkpoint", ["prepare-data", "--archive", "{archive}", "--out", "{run}/model.pt"],
     "is not prepared data"),
    ("prepare-data over its archive, --overwrite", ["prepare-data", "--archive", "{run}/model.pt", "--out",
                                                    "{run}/model.pt", "--overwrite"], "is an input"),
    ("render over its input, --overwrite", THEOREM2 + ["--ranklog", "b={run}/log.json", "--out", "{run}/log",
                                                       "--overwrite"], "log.json is an input"),
    ("decompose --overwrite over the training it reads", ["decompose", "--checkpoint", "{run}/model.pt", "--scheme",
                                                          "channel", "--data", "{npz}", "--out", "{run}", "--overwrite"],
     "model.pt is an input"),
    ("finetune --overwrite over the network it reads", ["finetune", "--checkpoint", "{run}/decomposed.pt", "--set",
                                                        "epochs=1", "train_subset=64", "device=cpu", "--data", "{npz}",
                                                        "--out", "{run}", "--overwrite", "--no-progress"],
     "decomposed.pt is an input"),
    ("train --overwrite over the record it takes its budget from", ["train", "--budget-from", "{run}/metrics.json",
                                                                    "--set", *TINY, "--data", "{npz}", "--out", "{run}",
                                                                    "--overwrite", "--no-progress"],
     "metrics.json is an input"),
]


@pytest.mark.parametrize("argv, says", [case[1:] for case in OVER_A_FINISHED_RUN],
                         ids=[case[0] for case in OVER_A_FINISHED_RUN])
def test_an_output_never_replaces_another_file_or_an_input(finished, cifar_npz, tmp_path, capsys, argv, says):
    run = copy(finished, tmp_path)
    shutil.copy(run / "ranklog.jsonl", run / "log.json")  # a rank log named like a rendering's JSON
    (tmp_path / "archive.tar.gz").write_bytes(b"not read")
    before = files(run)
    code = run_cli(fill(argv, run=run, npz=cifar_npz, archive=tmp_path / "archive.tar.gz"))
    assert says in refusal(capsys, code)
    assert files(run) == before


@pytest.mark.parametrize("argv", [ALLOCATE + ["--out", "{out}/ranks.json"], THEOREM2 + ["--out", "{out}/theorem2"]],
                         ids=["allocate", "render"])
def test_a_command_replaces_what_it_wrote_itself(finished, tmp_path, argv):
    argv = fill(argv, run=finished, out=tmp_path)
    assert run_cli(argv) == 0
    first = files(tmp_path)
    assert run_cli(argv) == 0
    assert files(tmp_path).keys() == first.keys()


def test_render_overwrite_replaces_another_file_but_not_its_input(finished, tmp_path, capsys):
    run = copy(finished, tmp_path)
    log = (run / "ranklog.jsonl").read_bytes()
    assert run_cli(fill(THEOREM2 + ["--out", "{run}/metrics", "--overwrite"], run=run)) == 0
    assert purpose_of(run / "metrics.json") == "trp.render" and (run / "ranklog.jsonl").read_bytes() == log


def test_a_table_json_of_numbers_is_replaced_as_part_of_its_rendering(finished, tmp_path):
    argv = ["render", "table1", "--runs", f"resnet20/TRP1={finished}/metrics.json", "--profile", "cpu",
            "--out", str(tmp_path / "table1")]
    assert run_cli(argv) == 0 and purpose_of(tmp_path / "table1.json") is None  # numbers only, for dvc metrics
    assert run_cli(argv) == 0


def test_prepared_data_is_recognised(cifar_npz):
    assert purpose_of(cifar_npz) == PREPARED


# Resuming loses nothing: the state of a stopped run is found, or the resume is refused naming it.

def test_a_resume_with_checkpoints_added_keeps_the_stopped_run(stopped, cifar_npz, tmp_path, capsys):
    run = copy(stopped, tmp_path)
    before = files(run)
    code = train(cifar_npz, run, "--checkpoints", str(tmp_path / "ck"), "--time-limit", "1e-6", epochs=2)
    line = refusal(capsys, code)
    assert str(run) in line and "last.pt" in line and "ranklog.partial.jsonl" in line
    assert files(run) == before and not (tmp_path / "ck" / "last.pt").exists()


def test_a_damaged_rank_log_line_is_refused_by_number(stopped, cifar_npz, tmp_path, capsys):
    run = copy(stopped, tmp_path)
    log = run / "ranklog.partial.jsonl"
    lines = log.read_text().splitlines(keepends=True)
    log.write_text("".join(lines[:2] + ["garbage\n"] + lines[3:]))
    before = files(run)
    assert "line 3 is not a rank-log record" in refusal(capsys, train(cifar_npz, run, epochs=2))
    assert files(run) == before


def test_a_time_limit_shorter_than_an_epoch_still_progresses(stopped, cifar_npz, tmp_path):
    run = copy(stopped, tmp_path)
    assert train(cifar_npz, run, "--time-limit", "1e-6", epochs=2) == 0  # trains epoch 2 and finishes
    assert (run / "metrics.json").exists()


RANK_LOGS = [  # (partial log, resume step): lines kept, or the line refused
    ('{"step": 0}\n{"step": 2}\n{"step": 4, "la', 4, [0, 2]),  # a killed write: the last line is dropped
    ('{"step": 0}\ngarbage\n{"step": 2}\n', 4, "line 2"),
    ('{"step": 0}\n{"step": 2}\ngarbage\n', 4, "line 3"),  # complete (newline), so not a killed write
    ('{"step": 0}\n[1, 2]\n{"step": 2}\n', 4, "line 2"),
    ('{"step": 0}\n{"layer": "a"}\n', 4, "line 2"),
    ('{"step": 0}\n\n{"step": 2}\n', 4, "line 2"),
    ('{"step": 0}\n{"step": "2"}\n', 4, "line 2"),
]


@pytest.mark.parametrize("text, step, outcome", RANK_LOGS)
def test_rank_log_resume(tmp_path, text, step, outcome):
    log = RankLog(tmp_path / "ranklog.partial.jsonl")
    log.path.write_text(text)
    if isinstance(outcome, str):
        with pytest.raises(ArtifactError, match=outcome):
            log.start(step)
        assert log.path.read_text() == text
    else:
        log.start(step)
        assert [int(ln.split()[-1].rstrip("}")) for ln in log.path.read_text().splitlines()] == outcome


def test_only_trps_own_temporaries_are_removed(tmp_path):
    mine = [tmp_path / ".notes.tmp", tmp_path / ".metrics.json.backup.tmp", tmp_path / "metrics.json.tmp"]
    for p in mine:
        p.write_text("the user's")
    stale = tmp_path / ".metrics.json.k3j4h5g6.trp.tmp"  # left by a killed atomic write of metrics.json
    stale.write_text("half")
    with RunDirectory("train", {}, tmp_path):
        pass
    assert not stale.exists() and all(p.read_text() == "the user's" for p in mine)


# Bounded work on hostile files.

def crafted_archive(path, declared: int):
    """A gzipped tar header alone (about 100 bytes) declaring an unwanted member of `declared` bytes."""
    info = tarfile.TarInfo("cifar-10-batches-py/padding")
    info.size = declared
    path.write_bytes(gzip.compress(info.tobuf(format=tarfile.GNU_FORMAT)))
    return path


def test_an_archive_declaring_a_huge_unwanted_member_is_refused_at_once(tmp_path, capsys):
    archive = crafted_archive(tmp_path / "c.tar.gz", 2**40)
    assert archive.stat().st_size < 200
    t0 = time.monotonic()
    code = main(["prepare-data", "--archive", str(archive), "--out", str(tmp_path / "c.npz")])
    assert time.monotonic() - t0 < 5  # skipping 2^40 declared bytes took hours
    assert "member cifar-10-batches-py/padding is 1099511627776 bytes" in refusal(capsys, code)
    assert not (tmp_path / "c.npz").exists()


def test_members_declaring_too_much_in_all_are_refused(tmp_path, monkeypatch, capsys):
    members = {f"cifar-10-batches-py/padding{i}": b"x" * 40_000 for i in range(4)}
    with tarfile.open(tmp_path / "c.tar.gz", "w:gz") as tar:
        for name, body in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    monkeypatch.setattr(cifar10, "_MAX_ARCHIVE_BYTES", 100_000)
    code = main(["prepare-data", "--archive", str(tmp_path / "c.tar.gz"), "--out", str(tmp_path / "c.npz")])
    assert "its members declare over 100000 bytes" in refusal(capsys, code)


# trp render: every user error is one line, and nothing is written.

RECORD = '{"projection": 1, "step": 0, "layer": "layer1.0.conv1", "rank_after": 14, "full_rank": 16, "sqrt_e": 0.3}\n'
INPUTS = {"log.jsonl": RECORD * 3, "garbage.jsonl": RECORD + "garbage\n" + RECORD, "half.jsonl": RECORD + RECORD[:30],
          "list.json": "[1, 2]\n", "metrics.json": '{"schema": "trp.run/1", "accuracy": {"dense": 10.0}, '
                          '"config": {"model": "resnet20", "epochs": 1}}\n',
          "runtime.json": '{"schema": "trp.runtime/2", "model": "resnet20", "variants": []}\n'}
RENDER_ERRORS = [
    (["theorem2", "--ranklog", "a={d}/garbage.jsonl"], "garbage.jsonl: line 2 is not a rank log record"),
    (["theorem2", "--ranklog", "a={d}/half.jsonl"], "half.jsonl: line 2 is not a rank log record"),
    (["theorem2", "--ranklog", "a={d}/missing.jsonl"], "missing.jsonl: rank log not found"),
    (["theorem2", "--ranklog", "a={d}/list.json"], "list.json: line 1 is not a rank log record"),
    (["table1", "--runs", "resnet20/TRP1={d}/list.json"], "list.json: not a run record"),
    (["table1", "--runs", "resnet20/TRP1={d}/runtime.json"], "runtime.json: not a run record"),
    (["table1", "--runs", "resnet20={d}/metrics.json"], "is not of the form model/method"),
    (["table4", "--runtime", "{d}/metrics.json"], "metrics.json: not a runtime JSON"),
    (["fig2", "--rankvar", "{d}/log.jsonl", "--layer", "nosuch", "--e", "0.09"], "no records of layer 'nosuch'"),
    (["fig2", "--rankvar", "{d}/log.jsonl", "--layer", "res1-1-1", "--e", "0.09"], "log_spectrum=true"),
    (["fig3", "--points", "channel/Nope/x={d}/metrics.json"], "bad point label"),
    (["cobla", "--runs", "resnet20/x2/sqp={d}/metrics.json", "--allocation", "resnet20/x2/sqp={d}/list.json"],
     "list.json: not an allocation"),
    (["budget", "--results", "{d}"], "no benchmark files under"),
]


@pytest.mark.parametrize("argv, says", RENDER_ERRORS, ids=[f"{a[0]}: {s}" for a, s in RENDER_ERRORS])
def test_render_user_errors_are_one_line(tmp_path, capsys, argv, says):
    for name, text in INPUTS.items():
        (tmp_path / name).write_text(text)
    code = run_cli(["render", *fill(argv, d=tmp_path), "--profile", "cpu", "--out", str(tmp_path / "out" / "r")])
    assert says in refusal(capsys, code)
    assert not (tmp_path / "out").exists()


def test_render_to_an_impossible_place_is_one_line(tmp_path, capsys):
    (tmp_path / "log.jsonl").write_text(RECORD)
    (tmp_path / "file").write_text("")
    code = run_cli(["render", "theorem2", "--ranklog", f"a={tmp_path}/log.jsonl", "--profile", "cpu",
                    "--out", str(tmp_path / "file" / "r")])
    assert "cannot write" in refusal(capsys, code)


def test_a_resume_without_its_checkpoints_directory_is_refused_naming_it(tmp_path, capsys):
    out, ck = tmp_path / "run", tmp_path / "ck"
    with RunDirectory("train", {}, out, ck) as run:
        (run.checkpoints / "last.pt").write_bytes(b"state")
    before = files(tmp_path)
    with pytest.raises(ArtifactError, match=f"checkpoints are in {ck} .last.pt.; to resume it give --checkpoints {ck}"):
        with RunDirectory("train", {}, out):
            pass
    assert files(tmp_path) == before
