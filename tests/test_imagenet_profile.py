"""The imagenet profile (config/imagenet.yaml): it plans Tables 2 and 3 through CIFAR-10's stages (trp
train and trp finetune under torchrun, trp allocate and trp decompose of the pretrained weights) with
quoted paths, the basic methods at the conv MACs of the same model's and seed's TRP run and at the
paper's speedups, its schema refuses a bad key, and the ImageNet renderer puts synthetic records
beside the paper's numbers. Expected numbers are computed here from the records the test writes and
the paper's numbers typed here."""
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from trp.artifacts.records import write_record
from trp import profile as profiles
from trp.report.imagenet import imagenet_table, table_records
from trp.runs import RunTable

ROOT = Path(__file__).resolve().parents[1]


def imagenet_run_table(**settings) -> dict:
    """The run table document the workflow writes for config/imagenet.yaml (results/imagenet/runs.json)."""
    return RunTable({**profiles.load(ROOT / "config" / "imagenet.yaml"), **settings}).document()


def snakemake(*args):
    return subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=ROOT, capture_output=True, text=True)


def shell_commands(out, command="train"):
    """The planned `trp COMMAND` jobs (train, finetune: under torchrun)."""
    return [line.removeprefix("Shell command: ") for line in out.splitlines() if line.startswith("Shell command: ")
            and f" trp.cli {command} " in line or line.startswith(f"Shell command: trp {command} ")]


def test_imagenet_profile_plans_torchrun_jobs_with_quoted_paths(tmp_path):
    marker = tmp_path / "shell-ran"
    root = f"{tmp_path}/my imagenet/$(touch {marker})"
    weights = tmp_path / "my weights" / "resnet18-f37072fd.pth"
    weights.parent.mkdir()
    weights.write_bytes(b"")
    models = f'{{resnet18: {{weights: "{weights}", methods: [TRP1, TRP1+Nu, TRP2, TRP2+Nu]}}, ' \
             'resnet50: {weights: null, methods: [TRP1+Nu]}}'
    proc = snakemake("-n", "-p", "--configfile", "config/imagenet.yaml", "--config", f'data={{root: "{root}"}}',
                     f"models={models}")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    jobs = shell_commands(proc.stdout)
    assert len(jobs) == 5
    assert all(j.startswith("torchrun --standalone --nproc_per_node 4 -m trp.cli train ") for j in jobs)
    assert all(f" --profile config/imagenet.yaml --data {shlex.quote(root)} --workers 8 " in j
               and "--time-limit" not in j for j in jobs)  # no runtime resource here: no time limit
    r18 = [j for j in jobs if "model=\"resnet18\"" in j]
    assert len(r18) == 4 and all(f" --weights {shlex.quote(str(weights))} " in j for j in r18)
    r50 = [j for j in jobs if "model=\"resnet50\"" in j]
    assert len(r50) == 1 and "--weights" not in r50[0] and " lam=0.0003 " in r50[0] and "scheme=\"channel\"" in r50[0]
    assert sum(" lam=0.0003 " in j for j in r18) == 2 and sum(" lam=0.0 " in j for j in r18) == 2
    # the profile's train: and trp: settings (the paper's) in every job
    assert all(" epochs=10 lr=0.0001 'milestones=[]' batch_size=256 " in j for j in jobs)
    assert all(" e=0.005 m=20 " in j and "method=\"trp\"" in j for j in jobs)
    assert "trp render imagenet --model resnet18" in proc.stdout and "trp render imagenet --model resnet50" in proc.stdout
    assert not marker.exists()


def option(job, name):
    return re.search(rf" {name} (\S+)", job)[1]


def scheme(job):
    return re.search(r"'scheme=\"(\w+)\"'", job)[1]


def test_basic_methods_run_at_the_macs_of_the_same_trp_run_and_at_the_papers_speedups():
    """Two seeds. Every basic-method row the profile lists is an allocation (the energy rule) and a
    decomposition of the pretrained weights, then a torchrun fine-tuning of that TSVD (the profile's
    schedule); the allocation's budget is the metrics.json of the TRP row it is matched with, of the same
    model and seed (the very file the table reads for that TRP row), or the speedup of the paper's row for
    that model: 8 of each a seed."""
    proc = snakemake("-n", "-p", "--configfile", "config/imagenet.yaml", "--config", "seeds=[0,1]")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    jobs = {option(j, "--out"): j for j in shell_commands(proc.stdout)}
    allocations = {os.path.dirname(option(j, "--out")): j for j in shell_commands(proc.stdout, "allocate")}
    tsvd = {option(j, "--out"): j for j in shell_commands(proc.stdout, "decompose")}
    finetunes = {option(j, "--out"): j for j in shell_commands(proc.stdout, "finetune")}
    assert len(jobs) == 2 * 5 and len(allocations) == len(tsvd) == len(finetunes) == 2 * 8
    assert all(j.startswith("torchrun --standalone --nproc_per_node 4 -m trp.cli finetune ") and " lam=" not in j
               and " epochs=10 lr=0.0001 'milestones=[]' batch_size=256 " in j for j in finetunes.values())
    assert all("--method energy" in j and ("--budget-from" in j) != ("--target-speedup" in j)
               and "/hub/checkpoints/resnet" in option(j, "--checkpoint") for j in allocations.values())
    basic = {}  # a basic method's fine-tuning record's folder -> its allocation
    for out, j in finetunes.items():
        source = option(j, "--checkpoint")
        decompose = tsvd[os.path.dirname(source).replace("checkpoints/", "results/", 1)]
        assert option(decompose, "--checkpoint") == option(allocations[out.replace("/finetune/", "/allocate/")],
                                                           "--checkpoint")
        assert option(decompose, "--ranks") == out.replace("/finetune/", "/allocate/") + "/ranks.json"
        basic[out] = allocations[out.replace("/finetune/", "/allocate/")]
    for model, table, matched, at_paper in [
            ("resnet18", "table2", {"Zhang2016@TRP1": "TRP1", "Zhang2016@TRP1+Nu": "TRP1+Nu",
                                    "Jaderberg2014@TRP2": "TRP2", "Jaderberg2014@TRP2+Nu": "TRP2+Nu"},
             {"Zhang2016": ("channel", "1.41"), "Jaderberg2014": ("spatial", "2.0")}),
            ("resnet50", "table3", {"Zhang2016@TRP1+Nu": "TRP1+Nu"}, {"Zhang2016": ("channel", "1.5")})]:
        render = next(line for line in proc.stdout.splitlines() if f"trp render imagenet --model {model} " in line)
        assert " --run-table results/imagenet/runs.json " in render
        runs = table_records(imagenet_run_table(seeds=[0, 1]), model)  # method key -> each seed's record, as read
        assert set(runs) >= set(matched) | set(matched.values()) | set(at_paper)
        for key, trp in matched.items():
            for seed, path in enumerate(runs[key]):
                job = basic[os.path.dirname(path)]
                assert f"/{model}/" in path and path.endswith(f"/s{seed}/metrics.json")
                assert option(job, "--budget-from") == runs[trp][seed]  # that TRP row's run, same model and seed
                trp_job = jobs[os.path.dirname(runs[trp][seed])]
                assert "method=\"trp\"" in trp_job and scheme(trp_job) == option(job, "--scheme")
        for key, (form_scheme, speedup) in at_paper.items():
            for seed, path in enumerate(runs[key]):
                job = basic[os.path.dirname(path)]
                assert option(job, "--target-speedup") == speedup and option(job, "--scheme") == form_scheme
                assert f"/{model}/" in path and path.endswith(f"/s{seed}/metrics.json")


def test_a_basic_method_without_a_paper_row_asks_for_a_matched_key():
    proc = snakemake("-n", "--configfile", "config/imagenet.yaml", "--config",
                     "models={resnet50: {weights: null, methods: [Jaderberg2014]}}")
    assert proc.returncode != 0
    assert "the paper has no Jaderberg2014 row for resnet50" in proc.stdout + proc.stderr


@pytest.mark.parametrize("setting, message", [
    ("models={resnet18: {weights: null, methods: [TRP1], epochs: 3}}", "'epochs' was unexpected"),
    ("models={resnet18: {weights: null, methods: [TRP3]}}", "'TRP3' is not one of"),
    ("gpus=0", "0 is less than the minimum of 1"),
])
def test_imagenet_schema_refuses_a_bad_key(setting, message):
    proc = snakemake("-n", "--configfile", "config/imagenet.yaml", "--config", setting)
    assert proc.returncode != 0 and message in proc.stdout + proc.stderr


def record(path, model, decomposed, top5, speedup, pretrained=(69.0, 88.5), seed=0, published=(69.758, 89.078)):
    """A TRP run's training record (`trp train` on ImageNet): the pretrained, dense, projected and decomposed
    networks."""
    fields = {"config": {"model": model, "method": "trp", "scheme": "channel", "seed": seed, "epochs": 10},
              "accuracy": {"pretrained": pretrained[0], "dense": 68.0, "projected": decomposed, "decomposed": decomposed},
              "top5": {"pretrained": pretrained[1], "dense": 88.0, "projected": top5, "decomposed": top5},
              "cost": {"dense": {}, "decomposed": {}}, "speedup": {"conv": speedup, "whole": speedup * 0.9},
              "ranks": {}, "dense_layers": [], "layers": [],
              "weights": {"published": {"top1": published[0], "top5": published[1]} if published else None},
              "data": {}, "distributed": {}, "training": {"epochs": 10, "history": []},
              "provenance": {"commit": "0123456789abcdef", "seed": seed, "device": "cuda-test"}}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_record(path, "training", fields)
    return str(path)


def test_table2_beside_the_paper(tmp_path):
    runs = {"TRP1": [record(tmp_path / "a0.json", "resnet18", 65.0, 86.0, 1.9, seed=0),
                     record(tmp_path / "a1.json", "resnet18", 66.0, 87.0, 2.1, seed=1)],
            "TRP2+Nu": [record(tmp_path / "b.json", "resnet18", 64.0, 85.5, 3.0)]}
    rows = imagenet_table("resnet18", runs, "test", tmp_path / "table2")
    by = {r["method"]: r for r in rows}
    assert list(by) == ["baseline", "TRP1", "TRP1+Nu", "[Zhang et al., 2016] (data-driven, impl. of [Guo et al., 2018])",
                        "[Zhang et al., 2016]", "TRP2", "TRP2+Nu", "[Jaderberg et al., 2014]"]
    assert by["TRP1"]["our_top1"]["mean"] == pytest.approx(65.5) and by["TRP1"]["our_top1"]["n"] == 2
    assert by["TRP1"]["our_top1"]["std"] == pytest.approx(0.5 ** 0.5)
    assert by["TRP1"]["d_top1"] == f"{65.5 - 65.46:+.2f}" and by["TRP1"]["d_top5"] == f"{86.5 - 86.48:+.2f}"
    assert by["TRP1"]["our_speedup"]["mean"] == pytest.approx(2.0) and by["TRP1"]["paper_speedup"] == 1.81
    assert by["baseline"]["our_top1"]["mean"] == pytest.approx(69.0) and by["baseline"]["our_top1"]["n"] == 3
    assert by["baseline"]["d_top1"] == f"{69.0 - 69.10:+.2f}" and "69.76 / 89.08" in by["baseline"]["note"]
    assert by["TRP1+Nu"]["our_top1"] is None and by["TRP1+Nu"]["note"] == "not run: not in the profile"
    assert by["[Zhang et al., 2016]"]["our_top1"] is None and "not run" in by["[Zhang et al., 2016]"]["note"]
    assert by["[Jaderberg et al., 2014]"]["paper_top5"] == 83.72
    saved = json.loads((tmp_path / "table2.json").read_text())
    assert saved["TRP2+Nu"] == {"top1": 64.0, "top1_std": 0.0, "top5": 85.5, "top5_std": 0.0, "n": 1, "speedup": 3.0}
    md = (tmp_path / "table2.md").read_text()
    assert "Table 2" in md and "65.50 ± 0.71 (n=2)" in md and "Provenance" in md
    assert (tmp_path / "table2.tex").stat().st_size > 0 and (tmp_path / "table2.csv").stat().st_size > 0


def test_table3_one_run_beside_both_trp_rows(tmp_path):
    runs = {"TRP1+Nu": [record(tmp_path / "c.json", "resnet50", 73.0, 91.5, 2.0, pretrained=(76.1, 92.9), published=None)]}
    rows = imagenet_table("resnet50", runs, "test", tmp_path / "table3")
    trp = [r for r in rows if r["method"] == "TRP1+Nu"]
    assert [r["paper_speedup"] for r in trp] == [2.30, 1.80]
    assert [r["d_top1"] for r in trp] == [f"{73.0 - 72.69:+.2f}", f"{73.0 - 74.06:+.2f}"]
    assert all("does not state" in r["note"] for r in trp)
    assert rows[0]["d_top5"] == f"{92.9 - 92.70:+.2f}" and "no published accuracy" in rows[0]["note"]
    others = {r["method"]: r for r in rows[3:]}
    assert list(others) == ["[Zhang et al., 2016]", "[He et al., 2017]", "[Luo et al., 2017]", "[Luo et al., 2018]",
                            "[Zhou et al., 2019]"]
    assert all(r["our_top1"] is None and r["note"].startswith("not run") for r in others.values())
    assert others["[He et al., 2017]"]["paper_top1"] is None and others["[Zhou et al., 2019]"]["paper_top1"] == 71.50


def basic_record(path, model, before, finetuned, top5, speedup, seed=0):
    """A basic method's fine-tuning record (`trp finetune` on ImageNet): the TSVD network before
    ("decomposed") and after fine-tuning."""
    fields = {"config": {"model": model, "method": "baseline", "scheme": "channel", "seed": seed, "epochs": 10},
              "source": "decomposed.pt", "accuracy": {"decomposed": before, "finetuned": finetuned},
              "top5": {"decomposed": top5 - 5, "finetuned": top5}, "cost": {"dense": {}, "decomposed": {}},
              "speedup": {"conv": speedup, "whole": speedup * 0.9}, "ranks": {}, "scheme": "channel",
              "training": {"epochs": 10, "history": []}, "data": {}, "distributed": {},
              "provenance": {"commit": "0123456789abcdef", "seed": seed, "device": "cuda-test"}}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_record(path, "finetuning", fields)
    return str(path)


def test_table2_basic_rows_beside_the_papers(tmp_path):
    """A basic method's row reports its fine-tuned network: at the paper's speedup beside the
    paper's row, at a TRP run's conv MACs right after it (no paper numbers)."""
    runs = {"TRP1": [record(tmp_path / "t.json", "resnet18", 65.0, 86.0, 1.9)],
            "Zhang2016": [basic_record(tmp_path / "z.json", "resnet18", 20.0, 63.5, 85.0, 1.41)],
            "Zhang2016@TRP1": [basic_record(tmp_path / "zt.json", "resnet18", 15.0, 62.0, 84.0, 1.9)],
            "Jaderberg2014@TRP2+Nu": [basic_record(tmp_path / "jt.json", "resnet18", 10.0, 60.0, 83.0, 3.1)]}
    rows = imagenet_table("resnet18", runs, "test", tmp_path / "table2")
    assert [r["method"] for r in rows] == [
        "baseline", "TRP1", "TRP1+Nu", "[Zhang et al., 2016] (data-driven, impl. of [Guo et al., 2018])",
        "[Zhang et al., 2016]", "[Zhang et al., 2016] at TRP1's MACs", "TRP2", "TRP2+Nu", "[Jaderberg et al., 2014]",
        "[Jaderberg et al., 2014] at TRP2+Nu's MACs"]
    by = {r["method"]: r for r in rows}
    zhang, matched = by["[Zhang et al., 2016]"], by["[Zhang et al., 2016] at TRP1's MACs"]
    assert zhang["our_top1"]["mean"] == 63.5 and zhang["our_top5"]["mean"] == 85.0  # fine-tuned, not the TSVD's 20.0
    assert zhang["d_top1"] == f"{63.5 - 63.10:+.2f}" and zhang["d_top5"] == f"{85.0 - 84.44:+.2f}"
    assert "1.41x (the paper's speedup)" in zhang["note"] and "fine-tuned like TRP (10 epochs)" in zhang["note"]
    assert matched["our_top1"]["mean"] == 62.0 and matched["paper_top1"] is None and matched["d_top1"] is None
    assert "the conv MACs TRP1 reached (same seed)" in matched["note"]
    assert by["[Jaderberg et al., 2014]"]["our_top1"] is None and by["[Jaderberg et al., 2014]"]["paper_top1"] == 62.80
    assert "data-driven" in by["[Zhang et al., 2016] (data-driven, impl. of [Guo et al., 2018])"]["note"]
    assert by["baseline"]["our_top1"]["n"] == 1  # each TRP run (a training) evaluates the pretrained network
    assert json.loads((tmp_path / "table2.json").read_text())["Zhang2016@TRP1"]["top1"] == 62.0
    # a label and a record of different kinds are refused
    for label, path in [("TRP1", tmp_path / "z.json"), ("Zhang2016", tmp_path / "t.json")]:
        with pytest.raises(ValueError, match="not a (fine-tuning|training) record"):
            imagenet_table("resnet18", {label: [str(path)]}, "test", tmp_path / "bad")


def test_a_record_of_another_model_is_refused(tmp_path):
    with pytest.raises(ValueError, match="is not 'resnet50'"):
        imagenet_table("resnet50", {"TRP1+Nu": [record(tmp_path / "d.json", "resnet18", 65.0, 86.0, 2.0)]}, "t", tmp_path / "x")


def test_trp_render_imagenet_reads_the_run_table(tmp_path, capsys):
    """`trp render imagenet` takes the model's rows and each seed's record from the run table; a run table
    without the model's table is one line."""
    from trp.cli import main

    doc = imagenet_run_table(seeds=[0])
    trp1 = doc["tables"]["resnet18"]["TRP1"]
    trp1["records"] = {"0": record(tmp_path / "a0.json", "resnet18", 65.0, 86.0, 1.9)}
    doc["tables"] = {"resnet18": {"TRP1": trp1}}
    (tmp_path / "runs.json").write_text(json.dumps(doc))
    argv = ["render", "imagenet", "--run-table", str(tmp_path / "runs.json"), "--profile", "test"]
    assert main([*argv, "--model", "resnet18", "--out", str(tmp_path / "table2")]) == 0
    assert json.loads((tmp_path / "table2.json").read_text())["TRP1"]["top1"] == 65.0
    capsys.readouterr()
    assert main([*argv, "--model", "resnet50", "--out", str(tmp_path / "table3")]) == 2
    err = capsys.readouterr().err
    assert "the run table holds no table of 'resnet50' (it has resnet18)" in err and err.count("\n") == 1
