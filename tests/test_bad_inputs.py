"""Bad inputs and faults, as a careful user and a hostile file would try them, each with the class
of its outcome: a refusal is one line on stderr and exit 2, and every file that was there is still
there, byte for byte; what a user may legitimately do again still works."""
import gzip
import io
import json
import pickle
import re
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from copy import deepcopy
from pathlib import Path

import numpy as np
import pytest
import torch

from trp.artifacts import PREPARED, ArtifactError, RankLog, RunDirectory
from trp.artifacts.outputs import purpose_of
from trp.cli import main
from trp.data import cifar10
from trp.stages.train import EXIT_RESUMABLE

TINY = ["method=trp", "e=0.1", "m=2", "train_subset=128", "test_subset=50", "batch_size=64", "device=cpu"]
FAST_TIMING = ["--batch-sizes", "1", "--min-run-time", "0.01", "--rounds", "1", "--memory-formats", "contiguous"]
ALLOCATE = ["allocate", "--checkpoint", "{run}/model.pt", "--scheme", "channel", "--method", "energy",
            "--target-speedup", "2"]
THEOREM2 = ["render", "theorem2", "--run-table", "{table}", "--profile", "cpu"]


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


def run_table(path, rank_logs=(), record=None, cobla=None, allocation=None) -> Path:
    """A run table of resnet20 at `path` (as the workflow writes runs.json) naming Theorem 2's rank
    logs, Table 1's TRP1 record and a COBLA row's record and allocation."""
    doc = {"profile": "cpu", "tables": {"resnet20": {"TRP1": {"run": "r", "records": {"0": str(record)}}}
                                        if record else {}},
           "ablation": {"model": "resnet20", "points": []},
           "rank_logs": [{"model": "resnet20", "run": "r", "seed": 0, "rank_log": str(log)} for log in rank_logs],
           "cobla": {"model": "resnet20", "seed": 0, "rows": [
               {"budget": "x2", "method": "sqp", "run": "r", "record": str(cobla),
                "allocation": allocation and str(allocation)}] if cobla else []}}
    Path(path).write_text(json.dumps(doc))
    return Path(path)


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
    ("render over a log its run table names, --overwrite", THEOREM2 + ["--out", "{run}/log", "--overwrite"],
     "log.json is an input"),
    ("decompose --overwrite over the training it reads", ["decompose", "--checkpoint", "{run}/model.pt", "--scheme",
                                                          "channel", "--data", "{npz}", "--out", "{run}",
                                                          "--overwrite"], "model.pt is an input"),
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
    table = run_table(tmp_path / "runs.json", [run / "ranklog.jsonl", run / "log.json"])
    (tmp_path / "archive.tar.gz").write_bytes(b"not read")
    before = files(run)
    code = run_cli(fill(argv, run=run, npz=cifar_npz, archive=tmp_path / "archive.tar.gz", table=table))
    assert says in refusal(capsys, code)
    assert files(run) == before


@pytest.mark.parametrize("argv", [ALLOCATE + ["--out", "{out}/ranks.json"], THEOREM2 + ["--out", "{out}/theorem2"]],
                         ids=["allocate", "render"])
def test_a_command_replaces_what_it_wrote_itself(finished, tmp_path, argv):
    table = run_table(tmp_path / "runs.json", [finished / "ranklog.jsonl"])
    argv = fill(argv, run=finished, out=tmp_path, table=table)
    assert run_cli(argv) == 0
    first = files(tmp_path)
    assert run_cli(argv) == 0
    assert files(tmp_path).keys() == first.keys()


def test_render_overwrite_replaces_another_file_but_not_its_input(finished, tmp_path, capsys):
    run = copy(finished, tmp_path)
    log = (run / "ranklog.jsonl").read_bytes()
    table = run_table(tmp_path / "runs.json", [run / "ranklog.jsonl"])
    assert run_cli(fill(THEOREM2 + ["--out", "{run}/metrics", "--overwrite"], run=run, table=table)) == 0
    assert purpose_of(run / "metrics.json") == "trp.render" and (run / "ranklog.jsonl").read_bytes() == log


def test_a_table_json_of_numbers_is_replaced_as_part_of_its_rendering(finished, tmp_path):
    table = run_table(tmp_path / "runs.json", record=finished / "metrics.json")
    argv = ["render", "table1", "--run-table", str(table), "--profile", "cpu", "--out", str(tmp_path / "table1")]
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
    ('{"step": 0, "projection": 1}\n' * 2 + '{"step": 2, "projection": 2}\n', 4,  # a line of projection 2 lost
     "projection 2 has 1 of the 2 records of a projection"),
]


def test_a_lone_projection_short_of_its_layers_records_is_refused(stopped, cifar_npz, tmp_path, capsys):
    """One projection logged, and one of its layers' records lost: nothing to compare it with but the layers."""
    run = copy(stopped, tmp_path)
    log = run / "ranklog.partial.jsonl"
    lines = log.read_text().splitlines(keepends=True)
    first = [ln for ln in lines if json.loads(ln)["projection"] == 1]
    log.write_text("".join(first[:-1]))  # the run stopped after projection 1 only in this copy's log
    before = files(run)
    line = refusal(capsys, train(cifar_npz, run, epochs=2))
    assert f"projection 1 has {len(first) - 1} of the {len(first)} records of a projection" in line
    assert files(run) == before


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


def test_a_resume_from_a_rank_log_that_ends_early_is_refused(tmp_path):
    log = RankLog(tmp_path / "ranklog.partial.jsonl")
    log.path.write_text('{"step": 0, "projection": 1}\n{"step": 2, "projection": 2}\n')
    log.start(4)
    with pytest.raises(ArtifactError, match="the rank log ends at projection 2, but the resumed run continues from "
                                            "projection 4, so the records between are lost"):
        log({"step": 6, "projection": 4})  # the last.pt of projection 3: its records are not in the log
    log.start(4)
    log({"step": 4, "projection": 3})
    log({"step": 6, "projection": 4})
    assert len(log.path.read_text().splitlines()) == 4


def test_a_resume_from_an_emptied_rank_log_is_refused(stopped, cifar_npz, tmp_path, capsys):
    run = copy(stopped, tmp_path)
    (run / "ranklog.partial.jsonl").write_text("")  # e.g. a file system that lost what was appended to it
    before = files(run)
    line = refusal(capsys, train(cifar_npz, run, epochs=2))
    assert "the rank log holds no projection, but the resumed run continues from projection 2" in line
    assert files(run) == before


def test_only_trps_own_temporaries_are_removed(tmp_path):
    mine = [tmp_path / ".notes.tmp", tmp_path / ".metrics.json.backup.tmp", tmp_path / "metrics.json.tmp"]
    for p in mine:
        p.write_text("the user's")
    stale = tmp_path / ".metrics.json.k3j4h5g6.trp.tmp"  # left by a killed atomic write of metrics.json
    stale.write_text("half")
    with RunDirectory("train", {}, tmp_path):
        pass
    assert not stale.exists() and all(p.read_text() == "the user's" for p in mine)


WRITER = """import os, signal, sys
from trp.artifacts import atomic_open
with atomic_open(sys.argv[1]) as f:
    f.write(b"theirs")
    f.flush()
    print(flush=True)
    if sys.argv[2] == "killed":
        os.kill(os.getpid(), signal.SIGKILL)
    sys.stdin.readline()
"""


def writer(path, fate: str) -> subprocess.Popen:
    """Another process in the middle of an atomic write of `path` (its temporary written): `killed`
    there with SIGKILL, or `live` until a line on its stdin lets it finish."""
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(path), fate], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    process.stdout.readline()
    return process


def test_a_write_removes_the_temporaries_of_its_outputs_killed_writes_only(tmp_path, capsys):
    (tmp_path / "log.jsonl").write_text(RECORD)
    table = run_table(tmp_path / "runs.json", [tmp_path / "log.jsonl"])
    out = tmp_path / "r.md"
    killed = writer(out, "killed")
    assert killed.wait() == -9
    stale = list(tmp_path.glob(".r.md.*.trp.tmp"))
    live = writer(out, "live")
    theirs = set(tmp_path.glob(".r.md.*.trp.tmp")) - set(stale)
    kept = [tmp_path / ".r.md.tmp", tmp_path / ".r.md.backup.tmp",  # a user's, and a dead writer's of another host
            tmp_path / f".r.md.{killed.pid}@elsewhere.k3j4h5g6.trp.tmp"]
    for p in kept:
        p.write_text("kept")
    code = run_cli(["render", "theorem2", "--run-table", str(table), "--profile", "cpu", "--out", str(tmp_path / "r")])
    assert code == 0 and len(stale) == 1 and len(theirs) == 1
    assert not stale[0].exists() and all(p.read_text() == "kept" for p in kept)
    assert all(p.exists() for p in theirs) and purpose_of(out) == "trp.render"
    live.communicate("\n")
    assert live.returncode == 0 and out.read_text() == "theirs"  # the two writes of r.md at once both completed


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


def npy_header(shape) -> bytes:
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, {"descr": "|u1", "fortran_order": False, "shape": shape})
    return out.getvalue()


def test_a_prepared_file_declaring_huge_arrays_is_refused_before_reading(tmp_path, capsys):
    """Array headers alone (under 1 kB) declaring 3 TB of images: numpy allocates what a header
    declares before reading what follows (a MemoryError traceback, or the machine's memory)."""
    shapes = {"train_x": (10**9, 3, 32, 32), "train_y": (10**9,), "test_x": (10, 3, 32, 32), "test_y": (10,)}
    with zipfile.ZipFile(tmp_path / "c.npz", "w") as z:
        for name, shape in shapes.items():
            z.writestr(f"{name}.npy", npy_header(shape))
    code = main(["train", "--no-progress", "--set", *TINY, "--data", str(tmp_path / "c.npz"), "--out",
                 str(tmp_path / "run")])
    assert "c.npz: its arrays declare 3073000030730 bytes, over the 1073741824" in refusal(capsys, code)


# trp render: every user error is one line, and nothing is written.

BASELINE_RECORD = Path(__file__).resolve().parents[1] / "results/cpu/runs/resnet20/baseline/s0/metrics.json"
RUNTIME = '{"schema": "trp.runtime/2", "model": "resnet20", "provenance": {"commit": null, "device": "cpu"}, '
RECORD = '{"projection": 1, "step": 0, "layer": "layer1.0.conv1", "rank_after": 14, "full_rank": 16, "sqrt_e": 0.3}\n'
INPUTS = {"log.jsonl": RECORD * 3, "garbage.jsonl": RECORD + "garbage\n" + RECORD, "half.jsonl": RECORD + RECORD[:30],
          "typed.jsonl": RECORD + RECORD.replace('"rank_after": 14', '"rank_after": "14"'),
          "list.json": "[1, 2]\n", "metrics.json": BASELINE_RECORD.read_text(),
          "runtime.json": RUNTIME + '"variants": []}\n',
          "negative.json": RUNTIME + '"variants": [{"label": "baseline", "rows": [{"batch_size": 1, '
                                     '"median_ms_per_image": -0.5}]}]}\n',
          "norows.json": RUNTIME + '"variants": [{"label": "baseline"}]}\n'}
RUN_TABLES = {  # <name>.runs.json: the files of INPUTS each names
    "garbage": {"rank_logs": ["garbage.jsonl"]}, "half": {"rank_logs": ["half.jsonl"]},
    "missing": {"rank_logs": ["missing.jsonl"]}, "listlog": {"rank_logs": ["list.json"]},
    "typed": {"rank_logs": ["typed.jsonl"]},
    "list": {"record": "list.json"}, "runtime": {"record": "runtime.json"},
    "dense": {"cobla": "metrics.json"}, "allocation": {"cobla": "metrics.json", "allocation": "list.json"},
}
RENDER_ERRORS = [
    (["theorem2", "--run-table", "{d}/garbage.runs.json"], "garbage.jsonl: line 2 is not a rank log record"),
    (["theorem2", "--run-table", "{d}/half.runs.json"], "half.jsonl: line 2 is not a rank log record"),
    (["theorem2", "--run-table", "{d}/missing.runs.json"], "missing.jsonl: rank log not found"),
    (["theorem2", "--run-table", "{d}/listlog.runs.json"], "list.json: line 1 is not a rank log record"),
    (["theorem2", "--run-table", "{d}/typed.runs.json"], "typed.jsonl: line 2 is not a rank log record (rank_after "
                                                         "'14' is not an integer)"),
    (["table1", "--run-table", "{d}/list.runs.json"], "list.json: not a run record"),
    (["table1", "--run-table", "{d}/runtime.runs.json"], "runtime.json: not a run record"),
    (["table1", "--run-table", "{d}/list.json"], "list.json: not a run table"),
    (["table1", "--run-table", "{d}/nosuch.runs.json"], "nosuch.runs.json: run table not found"),
    (["table4", "--runtime", "{d}/metrics.json"], "metrics.json: not a runtime JSON"),
    (["fig2", "--rankvar", "{d}/log.jsonl", "--layer", "nosuch", "--e", "0.09"], "no records of layer 'nosuch'"),
    (["fig2", "--rankvar", "{d}/log.jsonl", "--layer", "res1-1-1", "--e", "0.09"], "log_spectrum=true"),
    (["cobla", "--run-table", "{d}/allocation.runs.json"], "list.json: not an allocation"),
    (["cobla", "--run-table", "{d}/dense.runs.json"], "metrics.json: the record of a dense network"),
    (["cobla", "--run-table", "{d}/dense.runs.json", "--runtime", "{d}/negative.json"],
     "variant 'baseline' has a row without a batch size and a time per image > 0"),
    (["table4", "--runtime", "{d}/norows.json"], "variant 1 is not a label with rows of timings"),
    (["table4", "--runtime", "{d}/runtime.json"], "a runtime JSON without variants"),
]


@pytest.mark.parametrize("argv, says", RENDER_ERRORS, ids=[f"{a[0]}: {s}" for a, s in RENDER_ERRORS])
def test_render_user_errors_are_one_line(tmp_path, capsys, argv, says):
    for name, text in INPUTS.items():
        (tmp_path / name).write_text(text)
    for name, names in RUN_TABLES.items():
        paths = {key: [tmp_path / n for n in value] if key == "rank_logs" else tmp_path / value
                 for key, value in names.items()}
        run_table(tmp_path / f"{name}.runs.json", **paths)
    code = run_cli(["render", *fill(argv, d=tmp_path), "--profile", "cpu", "--out", str(tmp_path / "out" / "r")])
    assert says in refusal(capsys, code)
    assert not (tmp_path / "out").exists()


def test_render_to_an_impossible_place_is_one_line(tmp_path, capsys):
    (tmp_path / "log.jsonl").write_text(RECORD)
    (tmp_path / "file").write_text("")
    table = run_table(tmp_path / "runs.json", [tmp_path / "log.jsonl"])
    code = run_cli(["render", "theorem2", "--run-table", str(table), "--profile", "cpu",
                    "--out", str(tmp_path / "file" / "r")])
    assert "cannot write" in refusal(capsys, code)


@pytest.fixture(scope="module")
def cpu_run_table():
    """The cpu profile's run table as the workflow writes results/cpu/runs.json."""
    from trp import profile
    from trp.runs import RunTable

    return RunTable(profile.load(Path(__file__).resolve().parents[1] / "config" / "cpu.yaml")).document()


GONE = object()  # the key taken out of the run table
MALFORMED_RUN_TABLES = [  # (renderer, the keys to a part of the cpu profile's run table, its new value, the refusal)
    ("cobla", ["cobla", "rows"], "x", "'cobla.rows' is a string, not a list"),
    ("cobla", ["cobla", "rows", 0], {"budget": "x2"}, "no 'cobla.rows[0].method'"),
    ("cobla", ["cobla", "rows", 1, "record"], GONE, "no 'cobla.rows[1].record'"),
    ("cobla", ["cobla", "rows", 0, "allocation"], 3, "'cobla.rows[0].allocation' is an integer, not a string or null"),
    ("cobla", ["cobla", "seed"], "0", "'cobla.seed' is a string, not an integer"),
    ("cobla", ["cobla", "model"], GONE, "no 'cobla.model'"),
    ("table1", ["tables"], [], "'tables' is a list, not an object"),
    ("table1", ["tables", "resnet20"], "x", "'tables.resnet20' is a string, not an object"),
    ("table1", ["tables", "resnet20", "baseline", "records"], ["a.json"],
     "'tables.resnet20.baseline.records' is a list, not an object"),
    ("table1", ["tables", "resnet20", "baseline", "records", "0"], None,
     "'tables.resnet20.baseline.records.0' is null, not a string"),
    ("table1", ["tables", "resnet20", "baseline", "pending"], "seed 1: training",
     "'tables.resnet20.baseline.pending' is a string, not a list"),
    ("fig3", ["ablation", "points", 0, "scheme"], 1, "'ablation.points[0].scheme' is an integer, not a string"),
    ("fig3", ["ablation", "points"], GONE, "no 'ablation.points'"),
    ("theorem2", ["rank_logs"], {}, "'rank_logs' is an object, not a list"),
    ("theorem2", ["rank_logs", 0, "seed"], True, "'rank_logs[0].seed' is true or false, not an integer"),
    ("theorem2", ["rank_logs", 0, "rank_log"], GONE, "no 'rank_logs[0].rank_log'"),
    ("claims", ["config"], "cpu", "'config' is a string, not an object"),
    ("budget", ["profile"], 1, "'profile' is an integer, not a string"),
]


@pytest.mark.parametrize("renderer, keys, value, says", MALFORMED_RUN_TABLES,
                         ids=[f"{case[0]}: {case[-1]}" for case in MALFORMED_RUN_TABLES])
def test_a_malformed_run_table_is_refused_naming_its_key(cpu_run_table, tmp_path, capsys, renderer, keys, value, says):
    doc = deepcopy(cpu_run_table)
    part = doc
    for key in keys[:-1]:
        part = part[key]
    if value is GONE:
        del part[keys[-1]]
    else:
        part[keys[-1]] = value
    table = tmp_path / "runs.json"
    table.write_text(json.dumps(doc))
    code = run_cli(["render", renderer, "--run-table", str(table), "--profile", "cpu",
                    "--out", str(tmp_path / "out" / "r")])
    assert f"trp render: error: {table}: not a run table ({says};" in refusal(capsys, code)
    assert not (tmp_path / "out").exists()


def test_a_resume_without_its_checkpoints_directory_is_refused_naming_it(tmp_path, capsys):
    out, ck = tmp_path / "run", tmp_path / "ck"
    with RunDirectory("train", {}, out, ck) as run:
        (run.checkpoints / "last.pt").write_bytes(b"state")
    before = files(tmp_path)
    with pytest.raises(ArtifactError, match=f"checkpoints are in {ck} .last.pt.; to resume it give --checkpoints {ck}"):
        with RunDirectory("train", {}, out):
            pass
    assert files(tmp_path) == before


# Numbers are counted for the network as it runs: MACs at the size of the dataset's images.

def test_macs_are_counted_at_the_datasets_input_size(cifar_npz, tmp_path):
    from trp import models
    from trp.artifacts import read_record
    from trp.lowrank import model_cost

    out = tmp_path / "r18"
    assert main(["train", "--no-progress", "--set", "model=resnet18", "method=baseline", "train_subset=16",
                 "test_subset=16", "batch_size=16", "epochs=1", "device=cpu", "--data", str(cifar_npz),
                 "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    at_32 = model_cost(models.build("resnet18"), (3, 32, 32))
    assert metrics["cost"]["dense"]["conv_macs"] == at_32["conv_macs"]  # not ResNet-18's 224 x 224 count
    assert read_record(out / "model.pt")["input_size"] == [3, 32, 32]


@pytest.mark.parametrize("size", [[1, 32, 32], [3, 32, 16], [3, 8, 8]])
def test_a_checkpoint_declaring_images_its_network_cannot_take_is_refused(finished, tmp_path, capsys, size):
    """Counted at such a size, MACs are a traceback (one channel) or a wrong budget (a crop no run uses)."""
    rec = torch.load(finished / "model.pt", weights_only=True)
    rec["input_size"] = size
    torch.save(rec, tmp_path / "model.pt")
    code = run_cli(fill(ALLOCATE, run=tmp_path) + ["--out", str(tmp_path / "ranks.json")])
    assert f"model.pt: malformed input_size {size} (expected [3, S, S], S from 32 to 2048" in refusal(capsys, code)
    assert not (tmp_path / "ranks.json").exists()


# A diverged network (NaN weights) is refused before any evaluation, decomposition or timing.

@pytest.fixture(scope="module")
def diverged(finished, tmp_path_factory):
    run = shutil.copytree(finished, tmp_path_factory.mktemp("diverged") / "trp1")
    for name in ("model.pt", "decomposed.pt"):
        rec = torch.load(run / name, weights_only=True)
        rec["state_dict"]["conv1.weight"][0, 0, 0, 0] = float("nan")
        torch.save(rec, run / name)
    return run


NAN_NETWORK = [
    ("evaluate", ["evaluate", "--checkpoint", "{run}/model.pt", "--data", "{npz}"]),
    ("decompose", ["decompose", "--checkpoint", "{run}/model.pt", "--scheme", "channel", "--data", "{npz}",
                   "--out", "{tmp}/out"]),
    ("allocate", ALLOCATE + ["--out", "{tmp}/out/ranks.json"]),
    ("latency", ["latency", "--checkpoint", "baseline={run}/model.pt", "x={run}/decomposed.pt", *FAST_TIMING,
                 "--out", "{tmp}/out/latency.json"]),
    ("finetune", ["finetune", "--checkpoint", "{run}/decomposed.pt", "--set", "epochs=1", "train_subset=64",
                  "device=cpu", "--data", "{npz}", "--out", "{tmp}/out", "--no-progress"]),
]


@pytest.mark.parametrize("argv", [case[1] for case in NAN_NETWORK], ids=[case[0] for case in NAN_NETWORK])
def test_a_network_with_nan_weights_is_refused(diverged, cifar_npz, tmp_path, capsys, argv):
    before = files(diverged)
    code = run_cli(fill(argv, run=diverged, npz=cifar_npz, tmp=tmp_path))
    assert "non-finite weights (NaN or inf) in conv1.weight" in refusal(capsys, code)
    assert files(diverged) == before and not (tmp_path / "out").exists()


@pytest.mark.parametrize("lr", ["1e39", "1e300"])
def test_an_lr_beyond_the_float_range_is_divergence(cifar_npz, tmp_path, capsys, lr):
    code = main(["train", "--no-progress", "--set", "method=baseline", f"lr={lr}", "train_subset=16", "test_subset=16",
                 "batch_size=16", "epochs=1", "device=cpu", "--data", str(cifar_npz), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 3 and err.count("\n") == 1 and "non-finite update at step 0" in err, err
    assert not (tmp_path / "run" / "model.pt").exists()


# Command lines and input files refused in one line, every file left as it was.

def ranks_json(**ranks):
    return json.dumps({"ranks": ranks})


LATENCY_LAYER = {"full_rank": 16, "break_even": 8, "dense_s": 1e-4, "ranks": [4, 8], "rank_s": [5e-5, 8e-5]}


def latency_table(**layer):
    from trp.lowrank import find_sites
    from trp import models

    sites = find_sites(models.build("resnet20"), (3, 32, 32), "channel", exclude=("conv1",))
    layers = {s.name: {**LATENCY_LAYER, "full_rank": s.full_rank, "break_even": s.break_even} for s in sites}
    layers["layer1.0.conv1"].update(layer)
    return json.dumps({"schema": "trp.layer_latency/1", "model": "resnet20", "scheme": "channel", "layers": layers})


INPUT_FILES = {
    "twice.json": ranks_json(**{"layer1.0.conv1": 4, "res1-1-1": 5}),
    "negative.json": latency_table(dense_s=-1e-4),
    "odd.json": latency_table(rank_s=[5e-5]),
    "string.json": latency_table(ranks="4, 8"),
    "list.json": json.dumps({"schema": "trp.layer_latency/1", "model": "resnet20", "scheme": "channel",
                             "layers": {"layer1.0.conv1": [1, 2]}}),
    "dupkey.json": '{"ranks": {"layer1.0.conv1": 4, "layer1.0.conv1": 5}}',
}
TABLE = ALLOCATE[:-2] + ["--latency-speedup", "1.5", "--out", "{tmp}/ranks.json", "--latency-table"]
FINETUNE = ["finetune", "--checkpoint", "{run}/decomposed.pt", "--data", "{npz}", "--out", "{tmp}/ft", "--no-progress"]
TRAIN = ["train", "--set", *TINY, "--data", "{npz}", "--out", "{tmp}/t", "--no-progress"]
CLI_ERRORS = [
    (["decompose", "--checkpoint", "{run}/model.pt", "--scheme", "channel", "--e", "1", "--data", "{npz}",
      "--out", "{tmp}/d"], "argument --e: must be finite and in (0, 1), got 1"),
    (TRAIN + ["--target-speedup", "2", "--budget-from", "{run}/metrics.json"],
     "argument --budget-from: not allowed with argument --target-speedup"),
    (TRAIN + ["--budget-from", "{tmp}/twice.json"], "twice.json: not a run record (metrics.json of trp train / "
                                                    "decompose / finetune) (it names no kind of record)"),
    (TRAIN + ["--target-speedup", "2", "--set", "target_speedup=3"], "--target-speedup and the config key "
                                                                     "target_speedup both set the budget"),
    (["decompose", "--checkpoint", "{run}/model.pt", "--scheme", "channel", "--ranks", "{tmp}/twice.json",
      "--data", "{npz}", "--out", "{tmp}/d"], "layer layer1.0.conv1 is given twice (as 'layer1.0.conv1' and "
                                              "'res1-1-1')"),
    (["decompose", "--checkpoint", "{run}/model.pt", "--scheme", "channel", "--ranks", "{tmp}/dupkey.json",
      "--data", "{npz}", "--out", "{tmp}/d"], "key 'layer1.0.conv1' given twice"),
    (FINETUNE + ["--set", "method=trp", "lam=0.1", "model=resnet56", "target_speedup=2"],
     "would ignore lam, method, model, target_speedup"),
    (["latency", "--checkpoint", "baseline={run}/decomposed.pt", *FAST_TIMING, "--out", "{tmp}/l.json"],
     "decomposed.pt is a decomposed network; this command needs one written by `trp train` (model.pt)"),
    (["latency", "--checkpoint", "baseline={run}/model.pt", "x={run}/model.pt", *FAST_TIMING, "--out", "{tmp}/l.json"],
     "model.pt is a dense network; this command needs one written by `trp train` or `trp decompose`"),
    (TABLE + ["{tmp}/negative.json"], "malformed latency table: layer layer1.0.conv1 has dense_s -0.0001"),
    (TABLE + ["{tmp}/odd.json"], "layer layer1.0.conv1 has rank_s [5e-05], expected 2 times"),
    (TABLE + ["{tmp}/string.json"], "layer layer1.0.conv1 has ranks '4, 8', expected increasing"),
    (TABLE + ["{tmp}/list.json"], "layer layer1.0.conv1 is not a JSON object"),
]


@pytest.mark.parametrize("argv, says", CLI_ERRORS, ids=[s[:40] for _, s in CLI_ERRORS])
def test_command_line_and_file_errors_are_one_line(finished, cifar_npz, tmp_path, capsys, argv, says):
    for name, text in INPUT_FILES.items():
        (tmp_path / name).write_text(text)
    before, inputs = files(finished), files(tmp_path)
    code = run_cli(fill(argv, run=finished, npz=cifar_npz, tmp=tmp_path))
    assert says in refusal(capsys, code)
    assert files(finished) == before and files(tmp_path) == inputs


# Pipeline profiles: what JSON Schema lets through is refused before any job.

@pytest.fixture(scope="module")
def smoke_profile():
    import yaml

    from trp import profile

    root = Path(__file__).resolve().parents[1]
    schema = yaml.safe_load((root / "workflow" / "schemas" / "config.schema.yaml").read_text())
    return profile.load(root / "config" / "smoke.yaml"), schema


PROFILE_VALUES = [
    (("trp", "lam"), float("nan"), "trp.lam: nan is not a finite number"),
    (("train", "lr"), float("inf"), "train.lr: inf is not a finite number"),
    (("train", "epochs"), 2.0, "train.epochs: 2.0 is not an integer"),
    (("train", "batch_size"), 64.0, "train.batch_size: 64.0 is not an integer"),
    (("trp", "m"), 2.0, "trp.m: 2.0 is not an integer"),
    (("rank_variation", "layer"), "nosuchlayer", "rank_variation.layer: 'nosuchlayer' is not a conv of resnet20"),
    (("train", "milestones"), [2, 1], "train.milestones: [2, 1] is not increasing"),  # TrainConfig refuses it in a job
    (("finetune", "milestones"), [1, 1], "finetune.milestones: [1, 1] is not increasing"),
]


@pytest.mark.parametrize("key, value, says", PROFILE_VALUES, ids=[s.split(":")[0] for *_, s in PROFILE_VALUES])
def test_profile_values_that_would_fail_in_a_job_are_refused(smoke_profile, key, value, says):
    from trp.profile import ProfileError, check

    config, schema = deepcopy(smoke_profile)
    check(config, schema)
    config[key[0]][key[1]] = value
    with pytest.raises(ProfileError, match=re.escape(says)):
        check(config, schema)


def test_a_profile_key_given_twice_is_refused_and_1e_4_is_a_number(smoke_profile, tmp_path):
    from trp.profile import ProfileError, check, numbers, read_yaml

    (tmp_path / "p.yaml").write_text("train:\n  lr: 0.1\n  epochs: 2\n  lr: 0.2\n")
    with pytest.raises(ProfileError, match="line 4: key 'lr' is given twice"):
        read_yaml(tmp_path / "p.yaml")
    (tmp_path / "p.yaml").write_text("trp: {e: 0.1, lam: 1e-4, m: 2}\n")
    config, schema = deepcopy(smoke_profile)
    config["trp"] = numbers(read_yaml(tmp_path / "p.yaml"))["trp"]
    assert config["trp"]["lam"] == 1e-4
    check(config, schema)


# python -m trp.gpu_slots

def test_gpu_slots_bad_uses_are_one_line(tmp_path, capsys, monkeypatch):
    from trp import gpu_slots

    (tmp_path / "file").write_text("")
    for argv, says in [(["--gpus", "-1", "--", "true"], "--gpus must be >= 0"),
                       (["--gpus", "0", "--", str(tmp_path / "no-such-command")], "cannot run"),
                       (["--gpus", "1", "--lock-dir", str(tmp_path / "file" / "locks"), "--", "true"],
                        "cannot use the lock directory")]:
        assert says in refusal(capsys, run_cli_of(gpu_slots.main, argv))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "MIG-GPU-5c89/1/0")  # a MIG id in the older form
    code = gpu_slots.main(["--lock-dir", str(tmp_path / "locks"), "--", sys.executable, "-c",
                           "import os, sys; sys.exit(os.environ['CUDA_VISIBLE_DEVICES'] != 'MIG-GPU-5c89/1/0')"])
    assert code == 0 and len(list((tmp_path / "locks").iterdir())) == 1


def test_gpu_slots_passes_a_stop_signal_on_to_its_command(tmp_path, monkeypatch):
    """A job manager that stops the job (SIGTERM to this process) stops the command, which ran on,
    on a GPU whose slot the stopped process had freed."""
    import signal

    from trp import gpu_slots

    received = []

    def record(signum, _):  # the signal as this process gets it if it is not passed on
        received.append(signum)

    previous = signal.signal(signal.SIGTERM, record)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    stop_the_job = "import os, signal, time; os.kill(os.getppid(), signal.SIGTERM); time.sleep(60)"
    try:
        code = gpu_slots.main(["--lock-dir", str(tmp_path), "--", sys.executable, "-c", stop_the_job])
        after = signal.getsignal(signal.SIGTERM)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert code == 128 + signal.SIGTERM and not received and after is record


def run_cli_of(entry, argv) -> int:
    try:
        return entry(argv)
    except SystemExit as e:
        return e.code


# Resumes, ImageNet settings, the machine: one line each.

def test_another_networks_last_pt_is_refused(stopped, cifar_npz, tmp_path, capsys):
    from trp import models

    run = copy(stopped, tmp_path)
    state = torch.load(run / "last.pt", weights_only=True)
    state["model"] = models.build("resnet56").state_dict()  # a ResNet-56 run's last.pt in a ResNet-20 run
    torch.save(state, run / "last.pt")
    before = files(run)
    line = refusal(capsys, train(cifar_npz, run, epochs=2))
    assert "last.pt: the training state of another network, not of this run's resnet20" in line
    assert files(run) == before


IMAGENET_PROFILE = Path(__file__).resolve().parents[1] / "config" / "imagenet.yaml"


def test_an_image_size_no_checkpoint_may_declare_is_refused(tmp_path, capsys):
    """Its checkpoints would declare an input_size every command that reads them refuses."""
    code = run_cli(["train", "--profile", str(IMAGENET_PROFILE), "--data", str(tmp_path), "--image-size", "4096",
                    "--out", str(tmp_path / "run")])
    assert "argument --image-size: must be finite and in [32, 2048], got 4096" in refusal(capsys, code)


def test_imagenet_batch_norm_needs_two_values_a_channel(tmp_path, capsys):
    code = main(["train", "--profile", str(IMAGENET_PROFILE), "--data", str(tmp_path), "--image-size", "32", "--set",
                 "batch_size=1", "device=cpu", "--out", str(tmp_path / "run"), "--no-progress"])
    assert "leaves batch norm one value per channel" in refusal(capsys, code)
    assert not (tmp_path / "run").exists()


def batch(rng, n):
    return {b"batch_label": b"synthetic", b"labels": [int(v) for v in rng.integers(0, 10, n)],
            b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8)}


def repacked_archive(path, protocol):
    """A tiny archive laid out as the official one, its batches pickled with `protocol` (2: Python 3's
    protocol-2 pickles rebuild bytes through _codecs.encode)."""
    rng = np.random.default_rng(0)
    with tarfile.open(path, "w:gz") as tar:
        for name in [*(f"cifar-10-batches-py/data_batch_{i}" for i in range(1, 6)), "cifar-10-batches-py/test_batch"]:
            body = pickle.dumps(batch(rng, 2), protocol=protocol)
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return path


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_a_repacked_archive_is_read_whatever_its_pickle_protocol(tmp_path, protocol):
    arrays = cifar10.load_archive(repacked_archive(tmp_path / "c.tar.gz", protocol))
    assert arrays["train_x"].shape == (10, 3, 32, 32) and arrays["test_y"].shape == (2,)


def test_no_network_in_prepare_data_is_one_line(tmp_path, capsys, monkeypatch):
    import urllib.error
    import urllib.request

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.delenv("TRP_CIFAR_ARCHIVE", raising=False)  # a local archive named there is read instead of downloading

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    code = main(["prepare-data", "--out", str(tmp_path / "c.npz"), "--download-dir", str(tmp_path / "raw")])
    assert "cannot download https://www.cs.toronto.edu" in refusal(capsys, code)
    assert not (tmp_path / "c.npz").exists()


def full_disk_at(monkeypatch, name):
    """os.fsync fails with ENOSPC on files whose name contains `name` (a disk that filled up)."""
    import errno
    import os

    real = os.fsync

    def fsync(fd):
        if name in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)


def test_a_full_disk_in_prepare_data_is_one_line(tmp_path, capsys, monkeypatch):
    archive = repacked_archive(tmp_path / "c.tar.gz", 2)
    monkeypatch.setattr(cifar10, "verify", cifar10.fingerprint)  # the synthetic content passes as official
    full_disk_at(monkeypatch, "c.npz")
    code = main(["prepare-data", "--archive", str(archive), "--out", str(tmp_path / "c.npz")])
    assert "No space left on device writing" in refusal(capsys, code)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.tar.gz"]  # no half-written file


def test_a_full_disk_in_train_is_one_line(cifar_npz, tmp_path, capsys, monkeypatch):
    full_disk_at(monkeypatch, "last.pt")
    code = main(["train", "--no-progress", "--set", "method=baseline", "train_subset=16", "test_subset=16",
                 "batch_size=16", "epochs=1", "device=cpu", "--data", str(cifar_npz), "--out", str(tmp_path / "run")])
    assert f"No space left on device writing {tmp_path / 'run' / 'last.pt'}" in refusal(capsys, code)
    assert not any("last.pt" in p.name for p in (tmp_path / "run").iterdir())
