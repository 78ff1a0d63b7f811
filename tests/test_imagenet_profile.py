"""The imagenet profile (config/imagenet.yaml): it plans the torchrun jobs of Tables 2 and 3 with
quoted paths, its schema refuses a bad key, and the ImageNet renderer puts synthetic records beside
the paper's numbers. Expected numbers are computed here from the records the test writes and the
paper's numbers typed here."""
import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from trp.report.imagenet import imagenet_table

ROOT = Path(__file__).resolve().parents[1]


def snakemake(*args):
    return subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=ROOT, capture_output=True, text=True)


def shell_commands(out):
    return [line.removeprefix("Shell command: ") for line in out.splitlines() if line.startswith("Shell command: torchrun")]


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
    assert len(jobs) == 5 and all(j.startswith("torchrun --standalone --nproc_per_node 4 -m trp.cli imagenet ") for j in jobs)
    assert all(f" --data {shlex.quote(root)} " in j and " --workers 8 " in j for j in jobs)
    r18 = [j for j in jobs if "model=\"resnet18\"" in j]
    assert len(r18) == 4 and all(f" --weights {shlex.quote(str(weights))} " in j for j in r18)
    r50 = [j for j in jobs if "model=\"resnet50\"" in j]
    assert len(r50) == 1 and "--weights" not in r50[0] and " --nu " in r50[0] and "scheme=\"channel\"" in r50[0]
    assert sum(" --nu " in j for j in r18) == 2
    assert "trp render imagenet --model resnet18" in proc.stdout and "trp render imagenet --model resnet50" in proc.stdout
    assert not marker.exists()


@pytest.mark.parametrize("setting, message", [
    ("models={resnet18: {weights: null, methods: [TRP1], epochs: 3}}", "'epochs' was unexpected"),
    ("models={resnet18: {weights: null, methods: [TRP3]}}", "'TRP3' is not one of"),
    ("gpus=0", "0 is less than the minimum of 1"),
])
def test_imagenet_schema_refuses_a_bad_key(setting, message):
    proc = snakemake("-n", "--configfile", "config/imagenet.yaml", "--config", setting)
    assert proc.returncode != 0 and message in proc.stdout + proc.stderr


def record(path, model, decomposed, top5, speedup, pretrained=(69.0, 88.5), seed=0, published=(69.758, 89.078)):
    m = {"config": {"model": model, "seed": seed, "epochs": 10},
         "accuracy": {"pretrained": pretrained[0], "dense": 68.0, "projected": decomposed, "decomposed": decomposed},
         "top5": {"pretrained": pretrained[1], "dense": 88.0, "projected": top5, "decomposed": top5},
         "speedup": {"conv": speedup, "whole": speedup * 0.9},
         "baseline": {"torchvision": {"top1": published[0], "top5": published[1]} if published else None},
         "provenance": {"commit": "0123456789abcdef", "seed": seed, "device": "cuda-test"}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(m))
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


def test_a_record_of_another_model_is_refused(tmp_path):
    with pytest.raises(ValueError, match="is not 'resnet50'"):
        imagenet_table("resnet50", {"TRP1+Nu": [record(tmp_path / "d.json", "resnet18", 65.0, 86.0, 2.0)]}, "t", tmp_path / "x")
