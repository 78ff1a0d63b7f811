"""The Snakemake pipeline: every profile plans, the workflow is lint-clean, the paper profile
refuses to start without a GPU, and the smoke profile runs end to end (minutes), after which
Theorem 2 is checked over every rank log it wrote."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
ARCHIVE = ROOT.parent / "shared" / "data" / "cifar-10-python.tar.gz"


def snakemake(*args, check=True):
    proc = subprocess.run([*SNAKEMAKE, *args], cwd=ROOT, capture_output=True, text=True)
    if check and proc.returncode:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


@pytest.mark.parametrize("profile", ["paper", "cpu", "smoke"])
def test_dry_run(profile):
    out = snakemake("-n", "--configfile", f"config/{profile}.yaml").stdout
    assert "rule all" in out or "Nothing to be done" in out


def test_lint_clean():
    proc = snakemake("--lint", "--configfile", "config/smoke.yaml")
    assert "Congratulations, your workflow is in a good condition" in proc.stdout + proc.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present: the paper profile would start")
def test_paper_profile_stops_without_gpu():
    proc = snakemake("--cores", "1", "--configfile", "config/paper.yaml", check=False)
    assert proc.returncode != 0
    assert "config/cpu.yaml" in proc.stdout + proc.stderr and "config/smoke.yaml" in proc.stdout + proc.stderr


def test_bad_profile_is_refused():
    proc = snakemake("-n", "--configfile", "config/smoke.yaml", "--config", "trp={e: 1.5, lam: 0.0003, m: 2}",
                     check=False)
    assert proc.returncode != 0 and "1.5" in proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def smoke_run():
    if not ARCHIVE.exists():
        pytest.skip(f"the local CIFAR-10 archive {ARCHIVE} is not here")
    for d in ("results/smoke", "checkpoints/smoke", "paper_tables/smoke"):
        shutil.rmtree(ROOT / d, ignore_errors=True)
    snakemake("--cores", "2", "--configfile", "config/smoke.yaml")
    return ROOT / "results" / "smoke", ROOT / "paper_tables" / "smoke"


def test_smoke_pipeline_outputs(smoke_run):
    results, tables = smoke_run
    for name in ("table1", "table4", "theorem2"):
        for ext in ("md", "tex", "csv"):
            assert (tables / f"{name}.{ext}").stat().st_size > 0
    for name in ("fig2", "fig3"):
        for ext in ("png", "pdf"):
            assert (tables / f"{name}.{ext}").stat().st_size > 0
    m = json.loads((results / "runs/resnet20/trp-channel-e0.1-lam0.0003/s0/metrics.json").read_text())
    assert m["ranks"] and m["speedup"]["conv"] > 1
    assert abs(m["accuracy"]["decomposed"] - m["accuracy"]["projected"]) < 1.0
    prov = m["provenance"]
    assert prov["data_fingerprint"] == "d3b3f86e37e1ab1a787a88ca57c309dc4755a07c155bc447b366d5def135b26a"
    assert all(prov[k] for k in ("config_hash", "model_sha256", "decomposed_sha256", "versions", "device"))
    assert "Provenance" in (tables / "table1.md").read_text()


def test_theorem2_over_smoke_rank_logs(smoke_run):
    from trp.report.theorem2 import check

    results, _ = smoke_run
    logs = sorted(results.glob("runs/**/ranklog.jsonl"))
    records = [json.loads(line) for p in logs for line in p.read_text().splitlines()]
    summary = check(records)
    assert summary["records"] > 100
    assert summary["violations"] == [], summary["violations"]


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
    allocations = sorted(results.glob("cobla/**/ranks.json"))
    assert allocations
    for path in allocations:
        a = json.loads(path.read_text())
        assert a["macs"] <= a["budget"]["macs"] + 1e-6, path


def test_snakemake_html_report(smoke_run, tmp_path):
    snakemake("--report", str(tmp_path / "report.html"), "--cores", "1", "--configfile", "config/smoke.yaml")
    html = (tmp_path / "report.html").read_text(errors="ignore")
    assert "fig2.png" in html and "table1.md" in html
