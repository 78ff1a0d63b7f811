"""trp.runs: the run table is a library object built from a profile alone (no Snakemake), names the
runs the published cpu profile made, and refuses a profile whose names would collide."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from trp import profile, runs

ROOT = Path(__file__).resolve().parents[1]


def table(name: str, **changes) -> runs.RunTable:
    return runs.RunTable({**profile.load(ROOT / f"config/{name}.yaml"), **changes})


def test_every_table1_record_of_the_cpu_profile_is_a_published_record():
    records = table("cpu").table_records()["resnet20"]
    assert records["Zhang2016@TRP1"]["run"] == "basic-channel-energy-TRP1"
    assert records["TRP2+Nu+FT"]["records"]["1"] == "results/cpu/finetune/resnet20/trp-spatial-e0.02-lam0.0003-ft/s1/metrics.json"
    paths = [p for row in records.values() for p in row["records"].values()]
    assert len(paths) == 15 * 2 and all((ROOT / p).is_file() for p in paths)


def test_runs_are_typed_and_budgets_name_runs():
    t = table("cpu")
    basic = t.runs[t.tables["resnet20"]["Jaderberg2014@TRP2+Nu"]]
    assert isinstance(basic, runs.Decomposition) and basic.source == t.baseline
    assert runs.budget(basic) == t.trp_runs["TRP2+Nu"] and isinstance(t.runs[runs.budget(basic)], runs.Training)
    assert runs.projects_by_energy(t.runs[t.trp_runs["TRP1"]]) and runs.projects_by_energy(t.runs[t.rankvar])
    assert not runs.projects_by_energy(t.runs[t.nuclear_run("channel")]) and runs.is_baseline(t.runs[t.baseline])
    assert t.seeds_of("resnet20", t.rankvar) == [0]


def test_a_name_standing_for_two_runs_is_refused():
    t = table("smoke")
    with pytest.raises(runs.RunTableError, match="would stand for both"):
        t.add("baseline", runs.Training({"method": "trp"}))


def test_order_sets_priorities_by_step():
    t = table("paper_cpu")
    assert t.priorities[("baseline", 0)] == t.priorities[("trp-spatial-e0.02-lam0.0003", 0)] == 5
    assert t.priorities[("basic-spatial-energy-TRP2+Nu", 1)] == 1 and ("rankvar", 0) not in t.priorities
    with pytest.raises(runs.RunTableError, match="no Table-1 row 'TRP3'"):
        table("smoke", order=[{"seeds": [0], "rows": ["TRP3"]}])


def test_the_module_prints_the_run_table_as_json_and_refuses_a_missing_profile(tmp_path):
    out = subprocess.run([sys.executable, "-m", "trp.runs", "config/smoke.yaml"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0 and json.loads(out.stdout)["tables"]["resnet20"]["baseline"]["run"] == "baseline"
    bad = subprocess.run([sys.executable, "-m", "trp.runs", str(tmp_path / "none.yaml")], capture_output=True, text=True)
    assert bad.returncode == 1 and len(bad.stderr.strip().splitlines()) == 1 and "trp.runs:" in bad.stderr


def test_the_imagenet_table_names_its_runs_as_cifar_does():
    """Tables 2 and 3 from the same run table: TRP runs named by scheme, e and lambda, the basic methods
    as the energy rule's TSVD of the pretrained network at a TRP run's conv MACs or at the paper's speedup."""
    t = table("imagenet")
    r18, r50 = t.tables["resnet18"], t.tables["resnet50"]
    assert r18["TRP1+Nu"] == r50["TRP1+Nu"] == "trp-channel-e0.005-lam0.0003"
    assert r18["TRP2"] == "trp-spatial-e0.005-lam0"
    assert t.runs[r18["TRP2+Nu"]] == runs.Training(runs.trp_settings("spatial", 0.005, 20, 3e-4))
    assert (r18["Zhang2016"], r18["Jaderberg2014"], r50["Zhang2016"]) == \
        ("basic-channel-energy-x1.41", "basic-spatial-energy-x2", "basic-channel-energy-x1.5")
    matched = t.runs[r18["Jaderberg2014@TRP2+Nu"]]
    assert r18["Jaderberg2014@TRP2+Nu"] == "basic-spatial-energy-TRP2+Nu" and matched.scheme == "spatial"
    assert matched.source == t.baseline == "pretrained" and isinstance(t.runs[t.baseline], runs.Pretrained)
    assert runs.budget(matched) == r18["TRP2+Nu"]
    assert list(r50) == ["TRP1+Nu", "Zhang2016", "Zhang2016@TRP1+Nu"]
    assert t.record("resnet50", r50["TRP1+Nu"], 0) == \
        "results/imagenet/runs/resnet50/trp-channel-e0.005-lam0.0003/s0/metrics.json"
    assert t.table_records()["resnet18"]["Zhang2016@TRP1"]["run"] == "basic-channel-energy-TRP1"
    assert t.record("resnet18", r18["Zhang2016@TRP1"], 0) == \
        "results/imagenet/finetune/resnet18/basic-channel-energy-TRP1/s0/metrics.json"  # as CIFAR-10's fine-tunings


def test_an_imagenet_basic_method_without_a_paper_row_asks_for_a_matched_key():
    with pytest.raises(runs.RunTableError, match="no Jaderberg2014 row for resnet50.*Jaderberg2014@TRP2 or "):
        table("imagenet", models={"resnet50": {"weights": None, "methods": ["Jaderberg2014"]}})
