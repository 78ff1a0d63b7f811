"""The Snakemake pipeline: every profile plans, the cpu profile plans the jobs of its budget table,
the basic methods run at the MACs of the same seed's TRP runs, the workflow is lint-clean, the paper
profile refuses to start without a GPU, and the smoke profile runs end to end (minutes), after which
Theorem 2 is checked over every rank log it wrote."""
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from conftest import ARCHIVE
from support import job_counts, plan

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def snakemake(*args, check=True, env=None):
    proc = subprocess.run([*SNAKEMAKE, *args], cwd=ROOT, capture_output=True, text=True,
                          env=None if env is None else {**os.environ, **env})
    if check and proc.returncode:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


@pytest.mark.parametrize("profile", ["paper", "paper_cpu", "cpu", "smoke", "imagenet"])
def test_dry_run(profile):
    out = plan("--configfile", f"config/{profile}.yaml")
    assert "rule all" in out and "This was a dry-run" in out


@pytest.mark.parametrize("stage", ["data", "cpu"])
def test_dvc_stage_command_is_a_snakemake_run_that_plans(stage):
    """`dvc repro STAGE` runs the stage's cmd with the virtualenv's snakemake first on the PATH (no
    activated virtualenv needed); dry-run it as written (a target after --configfile would be read
    as a second config file)."""
    cmd = shlex.split(yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"][stage]["cmd"])
    assert cmd[:2] == ["PATH=$PWD/.venv/bin:$PATH", "snakemake"]
    cmd = cmd[1:]
    out = snakemake(*cmd[1:], "-n").stdout
    assert "Job stats:" in out or "Nothing to be done" in out


def test_cpu_profile_plans_the_jobs_of_its_budget_table():
    """config/cpu.yaml's budget table: 2 baselines, 8 Table-1 TRP runs, 2 nuclear-norm runs, 4 Fig. 3
    runs at e = 0.05 and the rank-variation run; 20 allocations and decompositions (12 Table-1 basic
    points, 2 + 4 Fig. 3 ones, COBLA's sqp and milp); 28 fine-tunings (those 20, and 8 TRP runs)."""
    counts = job_counts("config/cpu.yaml")
    assert {k: counts[k] for k in ("train_baseline", "train_lowrank", "allocate", "decompose", "finetune", "latency")} == \
        {"train_baseline": 2, "train_lowrank": 8 + 2 + 4 + 1, "allocate": 20, "decompose": 20, "finetune": 28, "latency": 2}


def test_basic_methods_run_at_the_macs_of_the_same_seeds_trp_run_and_at_the_paper_speedups():
    out = plan("--configfile", "config/cpu.yaml")
    allocations = [line for line in out.splitlines() if "trp allocate" in line and "--method energy" in line]
    matched = [re.search(r"--checkpoint \S+/(\w[\w.-]*)/s(\d)/model\.pt .*--budget-from \S+/runs/resnet20/(\S+)/s(\d)/", a)
               for a in allocations if "--budget-from" in a]
    assert len(matched) == 8 + 2 + 4 and all(m[2] == m[4] for m in matched)  # a TRP run's MACs, of the same seed
    assert {m[3] for m in matched if m[1] == "baseline"} >= {"trp-channel-e0.02-lam0", "trp-channel-e0.02-lam0.0003",
                                                             "trp-spatial-e0.02-lam0", "trp-spatial-e0.02-lam0.0003"}
    paper_speedups = sorted(re.search(r"--target-speedup (\S+)", a)[1] for a in allocations if "--target-speedup" in a)
    assert paper_speedups == ["1.41", "1.41", "1.66", "1.66"]  # Table 1: Zhang et al. 1.41x, Jaderberg et al. 1.66x, 2 seeds
    finetunes = [line for line in out.splitlines() if "trp finetune" in line]
    assert len({re.search(r"--set (.*) seed=", f)[1] for f in finetunes}) == 1  # one fine-tuning schedule for all


@pytest.mark.parametrize("profile", ["smoke", "imagenet"])
def test_lint_clean(profile):
    proc = snakemake("--lint", "--configfile", f"config/{profile}.yaml")
    assert "Congratulations, your workflow is in a good condition" in proc.stdout + proc.stderr


def test_gpu_jobs_ask_for_cuda_and_a_gpu_slot_on_a_gpu_profile_only():
    """paper (require_gpu): every training, fine-tuning and decomposition asks for CUDA (a job that
    sees no GPU stops instead of running on the CPU) and runs under trp.gpu_slots with the profile's
    jobs_per_gpu; cpu: none does either."""
    out = snakemake("-n", "-p", "--configfile", "config/paper.yaml", "--config", "gpu={jobs_per_gpu: 3}").stdout
    jobs = [line for line in out.splitlines() if any(f"trp {c} " in line for c in ("train", "finetune", "decompose"))]
    assert {c for c in ("train", "finetune", "decompose") if any(f"trp {c} " in j for j in jobs)} == {"train", "finetune", "decompose"}
    assert all(" python -m trp.gpu_slots --per-gpu 3 -- trp " in j for j in jobs)
    assert all("'device=\"cuda\"'" in j or "--device=cuda" in j for j in jobs)
    assert all("gpu_slots" not in line for line in out.splitlines() if "trp allocate" in line)
    out = plan("--configfile", "config/cpu.yaml")
    assert "trp train" in out and "gpu_slots" not in out and "device" not in out


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present: the paper profile would start")
def test_paper_profile_stops_without_gpu():
    proc = snakemake("--cores", "1", "--configfile", "config/paper.yaml", check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "needs a GPU" in out and ".venv/bin/snakemake --cores all --configfile config/cpu.yaml" in out
    assert "config/paper_cpu.yaml" in out and "config/smoke.yaml" in out
    assert "Job stats" not in out  # the message comes while Snakemake plans, before any job table
    # the cpu profile's cost as measured by its published run (its budget table), not an estimate
    from trp.profile_cost import measured_cost
    cost = measured_cost(ROOT / "paper_tables/cpu/budget.csv", 2)
    assert cost and cost in out and "paper_tables/cpu/budget.md" in out


def refusal(*args) -> str:
    """What snakemake prints when it refuses to run (it fails, and prints to either stream)."""
    proc = snakemake(*args, check=False)
    assert proc.returncode != 0, proc.stdout[-3000:]
    return proc.stdout + proc.stderr


def profile_without(tmp_path, section, key):
    """config/smoke.yaml with one key removed, as its own file."""
    profile = yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())
    del profile[section][key]
    path = tmp_path / "incomplete.yaml"
    path.write_text(yaml.safe_dump(profile))
    return path


def test_bad_value_is_refused_and_a_valid_one_passes():
    out = refusal("-n", "--configfile", "config/smoke.yaml", "--config", "trp={e: 1.5, lam: 0.0003, m: 2}")
    assert "1.5 is greater than or equal to the maximum of 1" in out and "['trp']['e']" in out
    snakemake("-n", "--configfile", "config/smoke.yaml", "--config", "trp={e: 0.5, lam: 0.0003, m: 2}")


def test_any_value_the_schema_accepts_plans():
    """Run names are looked up, never parsed: lam 5.0e-5 (formatted 5e-05) and e 0.015 plan, and the
    planned trainings carry exactly those values."""
    out = snakemake("-n", "-p", "--configfile", "config/smoke.yaml", "--config", "trp={e: 0.015, lam: 5.0e-5, m: 2}").stdout
    trainings = [line for line in out.splitlines() if "trp train" in line]
    assert any("'method=\"nuclear\"'" in t and " lam=5e-05 " in t for t in trainings)
    assert any("'method=\"trp\"'" in t and " e=0.015 " in t and " lam=5e-05 " in t and " m=2 " in t for t in trainings)


def test_unknown_key_is_refused_before_any_job():
    train = "{epochs: 2, milestones: [1], lr: 0.1, batch_size: 64, precision: fp32, train_subset: 512, test_subset: 256, mommentum: 0.5}"
    out = refusal("-n", "--configfile", "config/smoke.yaml", "--config", f"train={train}")
    assert "'mommentum' was unexpected" in out and "['train']" in out
    out = refusal("-n", "--configfile", "config/smoke.yaml", "--config",
                  "finetune={epochs: 1, lr: 0.01, milestones: [1], train_subset: 256, epoch: 3}")
    assert "'epoch' was unexpected" in out and "['finetune']" in out


def test_missing_key_is_refused_not_taken_from_the_paper_profile(tmp_path):
    """config/paper.yaml has finetune.train_subset; a --configfile profile without it is refused."""
    out = refusal("-n", "--configfile", str(profile_without(tmp_path, "finetune", "train_subset")))
    assert "'train_subset' is a required property" in out and "['finetune']" in out


def test_archive_path_never_reaches_the_shell(tmp_path):
    """The data job reads the archive from TRP_CIFAR_ARCHIVE, so no path is pasted into its shell command."""
    archive = tmp_path / "my data" / "$(touch shell-ran).tar.gz"
    archive.parent.mkdir()
    archive.write_bytes(b"")  # it must exist: a missing archive stops the run before any job
    out = snakemake("-n", "-p", "-f", "data/prepared/cifar10.npz", "--configfile", "config/smoke.yaml",
                    "--config", f'data={{archive: "{archive}"}}').stdout
    shell = [line for line in out.splitlines() if line.startswith("Shell command:")]
    assert len(shell) == 1 and "trp prepare-data --out data/prepared/cifar10.npz " in shell[0]
    assert "shell-ran" not in shell[0]  # Snakemake's header may echo its own command line; the job's shell never has it
    assert not (ROOT / "shell-ran").exists() and not (tmp_path / "shell-ran").exists()


@pytest.fixture(scope="module")
def smoke_run():
    if not ARCHIVE.exists():
        pytest.skip(f"the local CIFAR-10 archive {ARCHIVE} is not here")
    for d in ("results/smoke", "checkpoints/smoke", "paper_tables/smoke"):
        shutil.rmtree(ROOT / d, ignore_errors=True)
    snakemake("--cores", "2", "--configfile", "config/smoke.yaml", env={"TRP_CIFAR_ARCHIVE": str(ARCHIVE)})
    return ROOT / "results" / "smoke", ROOT / "paper_tables" / "smoke"


def test_smoke_pipeline_outputs(smoke_run):
    results, tables = smoke_run
    for name in ("table1", "table4", "theorem2", "claims"):
        for ext in ("md", "tex", "csv"):
            assert (tables / f"{name}.{ext}").stat().st_size > 0
    for name in ("fig2", "fig3"):
        for ext in ("png", "pdf"):
            assert (tables / f"{name}.{ext}").stat().st_size > 0
    m = json.loads((results / "runs/resnet20/trp-channel-e0.1-lam0.0003/s0/metrics.json").read_text())
    assert m["ranks"] and m["speedup"]["conv"] > 1
    assert abs(m["accuracy"]["decomposed"] - m["accuracy"]["projected"]) < 1.0
    basic = json.loads((results / "finetune/resnet20/basic-channel-energy-x1.41/s0/metrics.json").read_text())
    assert set(basic["accuracy"]) >= {"decomposed", "finetuned"} and basic["speedup"]["conv"] >= 1.41
    table1 = json.loads((tables / "table1.json").read_text())["resnet20"]
    assert table1["Zhang2016"]["top1"] == basic["accuracy"]["finetuned"]
    assert table1["TRP1+Nu"]["top1"] == m["accuracy"]["decomposed"]
    assert {"Zhang2016@TRP1+Nu", "Jaderberg2014@TRP2", "TRP1+Nu+FT", "TRP2+FT"} <= set(table1)
    ft = json.loads((results / "finetune/resnet20/trp-channel-e0.1-lam0.0003-ft/s0/metrics.json").read_text())
    assert ft["accuracy"]["decomposed"] == pytest.approx(m["accuracy"]["decomposed"], abs=0.2)  # the TRP network itself
    assert table1["TRP1+Nu+FT"]["top1"] == ft["accuracy"]["finetuned"]
    matched = json.loads((results / "finetune/resnet20/basic-channel-energy-TRP1+Nu/s0/metrics.json").read_text())
    assert matched["speedup"]["conv"] >= m["speedup"]["conv"] * (1 - 1e-9)  # never more conv MACs than TRP1+Nu's
    prov = m["provenance"]
    assert prov["data_fingerprint"] == "d3b3f86e37e1ab1a787a88ca57c309dc4755a07c155bc447b366d5def135b26a"
    assert all(prov[k] for k in ("config_hash", "model_sha256", "decomposed_sha256", "versions", "device"))
    assert "Provenance" in (tables / "table1.md").read_text()


def test_theorem2_over_smoke_rank_logs(smoke_run):
    """Eq. (12)'s bound cannot be violated (a displacement below sqrt(e) leaves the tail energy below it)."""
    from trp.report.theorem2 import theorem2_results

    results, tables = smoke_run
    logs = sorted(results.glob("runs/**/ranklog.jsonl"))
    overall = theorem2_results({str(p): [str(p)] for p in logs})["overall"]
    assert overall["records"] > 100 and overall["assumption"]["tested"] == overall["records"]
    assert overall["bound"]["violations"] == [], overall["bound"]["violations"]
    assert (tables / "theorem2-failures.md").stat().st_size > 0


def test_budgeted_trp_meets_its_target(smoke_run):
    """Budgeted TRP asked for the conv-MAC speedup TRP1 reached: its decomposed network meets it."""
    results, tables = smoke_run
    trp1 = json.loads((results / "runs/resnet20/trp-channel-e0.1-lam0/s0/metrics.json").read_text())
    budgeted = json.loads((results / "runs/resnet20/trpbudget-channel-TRP1/s0/metrics.json").read_text())
    assert budgeted["config"]["target_speedup"] == pytest.approx(trp1["speedup"]["conv"])
    assert budgeted["speedup"]["conv"] >= trp1["speedup"]["conv"] * (1 - 1e-9)
    assert (tables / "cobla.md").stat().st_size > 0


def test_allocations_never_exceed_their_budget(smoke_run):
    results, _ = smoke_run
    allocations = sorted(results.glob("allocate/**/ranks.json"))
    assert allocations
    for path in allocations:
        a = json.loads(path.read_text())
        assert a["macs"] <= a["budget"]["macs"] + 1e-6, path


def test_snakemake_html_report(smoke_run, tmp_path):
    snakemake("--report", str(tmp_path / "report.html"), "--cores", "1", "--configfile", "config/smoke.yaml")
    html = (tmp_path / "report.html").read_text(errors="ignore")
    assert "fig2.png" in html and "table1.html" in html  # tables as HTML pages: shown, not only downloadable
    assert "Table 1 of the paper (CIFAR-10)" in html  # captions (workflow/report/)
