"""Profiles run anywhere: every profile downloads CIFAR-10 unless a local archive is given
(TRP_CIFAR_ARCHIVE or --config data='{archive: PATH}'), a missing archive stops the run in one line
before any job, the archive's path is no parameter of any published result, and each profile's
Table 1 is a flat metrics file for `dvc metrics show`."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from trp import profile as profiles
from trp.artifacts import ArtifactError
from trp.profile_cost import measured_cost
from trp.report.table1_metrics import flat_metrics, write_metrics

ROOT = Path(__file__).resolve().parents[1]
CIFAR_PROFILES = ["paper", "paper_cpu", "cpu", "smoke"]


@pytest.mark.parametrize("name", CIFAR_PROFILES)
def test_every_profile_downloads_unless_an_archive_is_given(name):
    assert profiles.load(ROOT / "config" / f"{name}.yaml")["data"]["archive"] is None


def dry_run(workdir, *args, env=None):
    """`snakemake -n` of the smoke profile in an empty working directory (no prepared data there)."""
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-n", "-s", str(ROOT / "Snakefile"), "-d", str(workdir),
                           "--configfile", str(ROOT / "config/smoke.yaml"), *args],
                          capture_output=True, text=True, env={**os.environ, **(env or {})})
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.parametrize("how", ["config", "env"])
def test_a_missing_archive_is_one_line_before_any_job(tmp_path, how):
    missing = tmp_path / "nowhere" / "cifar-10-python.tar.gz"
    args = ["--config", f"data={{archive: {missing}}}"] if how == "config" else []
    code, out = dry_run(tmp_path / "run", *args, env={"TRP_CIFAR_ARCHIVE": str(missing)} if how == "env" else None)
    assert code != 0 and "Job stats" not in out
    lines = [line for line in out.splitlines() if "CIFAR-10 archive" in line]
    assert len(lines) == 1 and f"{missing} does not exist" in lines[0]
    assert ("data.archive" if how == "config" else "TRP_CIFAR_ARCHIVE") in lines[0]


def prepare_data(workdir, *args, env=None) -> str:
    """Runs the smoke profile's data rule in an empty working directory; returns its log."""
    subprocess.run([sys.executable, "-m", "snakemake", "data/prepared/cifar10.npz", "--cores", "1", "-s",
                    str(ROOT / "Snakefile"), "-d", str(workdir), "--configfile", str(ROOT / "config/smoke.yaml"), *args],
                   capture_output=True, text=True, env={**os.environ, **(env or {})})
    return (workdir / "data/prepared/prepare_data.log").read_text()


def test_the_archive_reaches_the_data_job_and_the_config_wins(tmp_path):
    """The job reads the archive the run was given (not a copy of it: two files that are not archives
    here, so that the job stops at once and names the one it read)."""
    env_archive, config_archive = tmp_path / "env.tar.gz", tmp_path / "config.tar.gz"
    env_archive.write_bytes(b"not an archive")
    config_archive.write_bytes(b"not an archive")
    log = prepare_data(tmp_path / "a", env={"TRP_CIFAR_ARCHIVE": str(env_archive)})
    assert str(env_archive) in log and "Traceback" not in log
    log = prepare_data(tmp_path / "b", "--config", f"data={{archive: {config_archive}}}",
                       env={"TRP_CIFAR_ARCHIVE": str(env_archive)})
    assert str(config_archive) in log and str(env_archive) not in log


def test_the_archive_path_is_no_parameter_of_a_result():
    """Where the archive lies changes no output: neither the data rule's params nor the profile's
    DVC parameters hold it (so moving or dropping the archive marks nothing out of date)."""
    data_rule = (ROOT / "workflow/rules/data.smk").read_text()
    assert "params:" not in data_rule.split("rule prepare_data:")[1]
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    for name in ("cpu", "paper"):
        (params,) = stages[name]["params"]
        (keys,) = params.values()
        assert set(keys) == set(profiles.load(ROOT / "config" / f"{name}.yaml")) - {"data"}


def test_dvc_metrics_are_the_flat_table1_files():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    metrics = [next(iter(m)) for stage in stages.values() for m in stage.get("metrics", [])]
    assert metrics == ["results/cpu/table1_metrics.json"]
    assert all(stage["cmd"].startswith('PATH="$PWD/.venv/bin:$PATH" ') for stage in stages.values())


def test_table1_metrics_one_value_per_row_and_column(tmp_path):
    table = {"resnet20": {"baseline": {"top1": 91.5, "top1_std": 0.1, "speedup": 1.0, "speedup_std": 0.0, "n": 3},
                          "TRP1": {"top1": 90.0, "top1_std": 0.2, "speedup": 2.0, "speedup_std": 0.1, "n": 3}}}
    assert flat_metrics(table) == {"resnet20/baseline/top1": 91.5, "resnet20/baseline/speedup": 1.0,
                                   "resnet20/TRP1/top1": 90.0, "resnet20/TRP1/speedup": 2.0}
    with pytest.raises(ArtifactError, match="TRP1 has no number 'speedup'"):
        flat_metrics({"resnet20": {"TRP1": {"top1": 90.0}}})


def test_the_published_cpu_metrics_are_its_table1_flattened(tmp_path):
    out = tmp_path / "m.json"
    write_metrics(ROOT / "paper_tables/cpu/table1.json", out)
    published = json.loads((ROOT / "results/cpu/table1_metrics.json").read_text())
    assert published == json.loads(out.read_text()) and len(published) == 2 * 15


def test_measured_cost_reads_the_budget_tables_total(tmp_path):
    budget = tmp_path / "budget.csv"
    budget.write_text("stage,finished on,jobs,job-hours (wall),CPU-hours\ntrain,cpu,3,2.5,2.0\n"
                      "total,all,4,3.0,2.4\n# commit: abc\n")
    assert measured_cost(budget, 2) == "3.0 job-hours over 4 jobs, about 1.5 hours with 2 jobs at a time"
    assert measured_cost(tmp_path / "missing.csv", 2) is None
    budget.write_text("stage,jobs\ntrain,3\n")
    assert measured_cost(budget, 2) is None


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="a GPU is present: the paper profile would start")
def test_a_gpu_profile_with_named_targets_stops_before_any_job(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "snakemake", "results/paper/runs.json", "--cores", "1", "-s",
                           str(ROOT / "Snakefile"), "-d", str(tmp_path), "--configfile", str(ROOT / "config/paper.yaml")],
                          capture_output=True, text=True)
    assert proc.returncode != 0 and "needs a GPU" in proc.stdout + proc.stderr
    assert not (tmp_path / "results/paper/runs.json").exists()
