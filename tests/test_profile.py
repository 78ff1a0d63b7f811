"""A profile that `extends` another inherits its settings and states only what differs; the paper_cpu
profile runs the paper's schedule from config/paper.yaml, and its `order` sets the jobs' priorities."""
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from support import plan

from trp import profile as profiles

ROOT = Path(__file__).resolve().parents[1]


def write(folder: Path, name: str, settings: dict) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path


def test_mappings_merge_and_other_values_replace(tmp_path):
    write(tmp_path, "base", {"train": {"epochs": 164, "lr": 0.1}, "seeds": [0, 1, 2], "models": ["a", "b"]})
    own = write(tmp_path, "own", {"extends": "base", "train": {"compile": True}, "seeds": [0]})
    assert profiles.load(own) == {"train": {"epochs": 164, "lr": 0.1, "compile": True}, "seeds": [0], "models": ["a", "b"]}


def test_a_chain_resolves_and_a_loop_or_missing_base_is_refused(tmp_path):
    write(tmp_path, "a", {"x": 1, "y": 1})
    write(tmp_path, "b", {"extends": "a", "y": 2})
    assert profiles.load(write(tmp_path, "c", {"extends": "b", "z": 3})) == {"x": 1, "y": 2, "z": 3}
    write(tmp_path, "p", {"extends": "q"})
    with pytest.raises(profiles.ProfileError, match="loop: q -> p -> q"):
        profiles.load(write(tmp_path, "q", {"extends": "p"}))
    with pytest.raises(profiles.ProfileError, match="no profile"):
        profiles.load(write(tmp_path, "d", {"extends": "nowhere"}))
    with pytest.raises(profiles.ProfileError, match="must name a profile"):
        profiles.load(write(tmp_path, "e", {"extends": "../a"}))


def test_paper_cpu_runs_the_papers_schedule_from_one_source():
    paper = profiles.load(ROOT / "config/paper.yaml")
    cpu = profiles.load(ROOT / "config/paper_cpu.yaml")
    for block in ("trp", "finetune", "rank_variation", "runtime"):
        assert cpu[block] == paper[block]
    assert {k: v for k, v in cpu["train"].items() if k != "compile"} == paper["train"]
    assert cpu["train"]["epochs"] == 164 and cpu["train"]["milestones"] == [82, 122] and cpu["train"]["precision"] == "fp32"
    assert (cpu["profile"], cpu["require_gpu"], cpu["models"]) == ("paper_cpu", False, ["resnet20"])


def job_priorities(out: str) -> dict:
    """(rule, run, seed) -> priority, from a dry run's job listing."""
    found = {}
    for block in re.split(r"^\[.*\]$", out, flags=re.M):  # each job's block follows a [timestamp] line
        rule = re.search(r"^(?:localrule|rule) (\w+):", block, re.M)
        wildcards = re.search(r"run=([^,\s]+), seed=(\d+)", block)
        priority = re.search(r"priority: (\d+)", block)
        if rule and wildcards:
            found[(rule.group(1), wildcards.group(1), int(wildcards.group(2)))] = int(priority.group(1)) if priority else 0
    return found


def test_order_starts_the_central_rows_first():
    found = job_priorities(plan("--configfile", "config/paper_cpu.yaml"))
    assert found[("train_baseline", "baseline", 0)] == found[("train_lowrank", "trp-spatial-e0.02-lam0.0003", 0)]
    trainings = [found[("train_baseline", "baseline", 0)], found[("train_lowrank", "trp-channel-e0.02-lam0.0003", 0)],
                 found[("train_lowrank", "trp-channel-e0.02-lam0", 0)], found[("train_baseline", "baseline", 1)],
                 found[("train_lowrank", "trp-channel-e0.02-lam0.0003", 1)]]
    assert trainings == sorted(trainings, reverse=True) and len(set(trainings)) == 5
    jaderberg = [found[(rule, "basic-spatial-energy-TRP2+Nu", 0)] for rule in ("allocate", "decompose", "finetune")]
    assert len(set(jaderberg)) == 1 and found[("train_lowrank", "trp-channel-e0.02-lam0", 0)] < jaderberg[0] < trainings[1]
    assert found[("train_lowrank", "rankvar", 0)] == 0


def test_an_unknown_row_in_order_is_refused_in_one_line():
    proc = subprocess.run([str(Path(sys.executable).parent / "snakemake"), "-n", "--configfile", "config/smoke.yaml",
                           "--config", "order=[{seeds: [0], rows: [TRP3]}]"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode != 0 and "no Table-1 row 'TRP3'" in proc.stdout + proc.stderr
