"""The renderers of trp.report on fake run outputs, the paper's numbers, and runtime.latency."""
import json
import math

import pytest
import torch
from torch import nn

from trp.report import paper
from trp.report.common import fmt, mean_std, provenance_footer
from trp.report.fig2 import fig2
from trp.report.fig3 import fig3
from trp.report.table1 import table1
from trp.report.table4 import table4
from trp.report.theorem2 import check, theorem2
from trp.runtime import latency


def provenance(seed=0, dirty=False):
    return {"commit": "0123456789abcdef0123", "dirty": dirty, "device": "cpu-test", "seed": seed,
            "config_hash": f"cfg{seed}", "data_fingerprint": "data0", "model_sha256": f"{seed:064x}"}


def write_metrics(path, model, dense, decomposed=None, conv_speedup=None, seed=0):
    m = {"schema": "trp.run/1", "config": {"model": model, "seed": seed}, "accuracy": {"dense": dense},
         "provenance": provenance(seed)}
    if decomposed is not None:
        m["accuracy"].update(projected=decomposed, decomposed=decomposed)
        m["speedup"] = {"conv": conv_speedup, "whole": conv_speedup * 0.9}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(m))
    return str(path)


def rec(z, rank, full=8, disp=None, rank_before=None, sqrt_e=math.sqrt(0.05), layer="layer3.0.conv2"):
    r = {"projection": z, "step": 20 * (z - 1), "layer": layer, "rank_after": rank, "saves_macs": True,
         "full_rank": full, "sqrt_e": sqrt_e, "energy_ratios": [1.0 / rank] * rank}
    if disp is not None:
        r.update(rank_before=rank_before, displacement=disp, tail_ratio=disp / 2,
                 bound_holds=disp < sqrt_e, rank_rose=rank > rank_before)
    return r


def write_log(path, records):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return str(path)


def test_paper_table1():
    assert len(paper.TABLE1) == 16
    assert paper.table1("resnet56", "TRP1") == {"model": "resnet56", "method": "TRP1", "top1": 92.77, "speedup": 2.31}
    assert paper.table1("resnet20", "Jaderberg2014")["top1"] == 89.49
    assert all(m in paper.METHOD_LABELS for m in paper.METHODS)
    assert [r["cpu_ms"] for r in paper.TABLE4["rows"]] == [118.02, 64.75, 49.88]
    assert paper.FIG2["max_bound"] < paper.FIG2["sqrt_e"]


def test_mean_std_and_footer():
    assert mean_std([90.0]) == {"mean": 90.0, "std": 0.0, "n": 1}
    assert fmt(mean_std([90.0])) == "90.00 (n=1)"
    assert fmt(mean_std([90.0, 91.0])) == "90.50 ± 0.71 (n=2)"
    f = provenance_footer([{"provenance": provenance(0)}, {"provenance": provenance(1, dirty=True)}], "smoke")
    assert f["profile"] == "smoke" and f["seed"] == "0, 1" and f["inputs"] == "2"
    assert f["commit"] == "0123456789ab, 0123456789ab+dirty"
    assert f["checkpoints"].startswith("model=" + "0" * 16)


def test_table1(tmp_path):
    runs = {"resnet20/TRP1": [write_metrics(tmp_path / f"s{s}/metrics.json", "resnet20", 92.0, d, sp, seed=s)
                              for s, d, sp in ((0, 90.0, 2.0), (1, 91.0, 2.2))],
            "resnet20/baseline": [write_metrics(tmp_path / "b/metrics.json", "resnet20", 92.0)],
            "resnet20/TRP1-budget": [write_metrics(tmp_path / "x/metrics.json", "resnet20", 92.0, 89.0, 3.0)]}
    rows = table1(runs, "smoke", tmp_path / "out/table1")
    by = {(r["model"], r["method"]): r for r in rows}
    trp1 = by[("R-20", "TRP1")]
    assert trp1["our_top1"]["mean"] == pytest.approx(90.5) and trp1["paper_top1"] == 90.12
    assert trp1["d_top1"] == "+0.38" and trp1["d_speedup"] == "+0.13"
    assert by[("R-20", "baseline")]["our_speedup"] == 1.0 and by[("R-20", "baseline")]["d_top1"] == "+0.26"
    assert by[("R-56", "TRP1")]["our_top1"] is None and by[("R-56", "TRP1")]["paper_speedup"] == 2.31
    assert by[("R-20", "TRP1-budget")]["paper_top1"] is None and len(rows) == 17
    md, tex, csv = ((tmp_path / "out" / f"table1.{s}").read_text() for s in ("md", "tex", "csv"))
    assert "ours: top-1 (%)" in md and "paper: top-1 (%)" in md and "**Provenance.**" in md
    assert r"\toprule" in tex and r"\bottomrule" in tex and "% commit: 0123456789ab" in tex
    assert "ours: top-1 (%)_std" in csv and "# profile: smoke" in csv and "# seed: 0, 1" in csv


def test_theorem2(tmp_path):
    log = [rec(1, 8), rec(2, 6, disp=0.10, rank_before=8), rec(3, 7, disp=0.15, rank_before=6),  # violation
           rec(4, 8, disp=0.40, rank_before=7), rec(5, 8, disp=0.30, rank_before=8)]
    res = check(log)
    assert res["records"] == 4 and res["max_displacement"] == 0.40
    assert (res["held_rose"], res["held_not_rose"], res["failed_rose"], res["failed_not_rose"]) == (1, 1, 1, 1)
    assert [v["projection"] for v in res["violations"]] == [3] and "energy_ratios" not in res["violations"][0]
    out = theorem2({"a": [write_log(tmp_path / "a/ranklog.jsonl", log)],
                    "b": [write_log(tmp_path / "b/ranklog.jsonl", log[:3])]}, "smoke", tmp_path / "t2")
    assert out["overall"]["records"] == 6 and out["overall"]["held_rose"] == 2
    assert (tmp_path / "t2.md").exists() and len(json.loads((tmp_path / "t2.json").read_text())["runs"]) == 3


def test_fig2(tmp_path):
    disps = [None, 0.05, 0.12, 0.08, 0.03]
    ranks = [8, 6, 5, 5, 4]
    log = [rec(z, k, disp=d, rank_before=ranks[z - 2] if z > 1 else None) for z, (k, d) in enumerate(zip(ranks, disps), 1)]
    log += [rec(z, 3, layer="layer2.0.conv1") for z in (1, 2)]
    path = write_log(tmp_path / "run/ranklog.jsonl", log)
    write_metrics(tmp_path / "run/metrics.json", "resnet20", 92.0, 90.0, 2.0)
    s = fig2(path, "res3-1-2", 0.05, "smoke", tmp_path / "fig2")
    assert s["layer"] == "layer3.0.conv2" and s["ranks"] == ranks
    assert s["max_displacement"] == 0.12 and s["max_displacement_projection"] == 3 and s["bound_held_all"]
    assert s["sqrt_e"] == pytest.approx(0.2236, abs=1e-4)
    saved = json.loads((tmp_path / "fig2.json").read_text())
    assert saved["max_displacement"] == 0.12 and saved["provenance"]["config_hash"] == "cfg0"
    assert (tmp_path / "fig2.png").stat().st_size > 0 and (tmp_path / "fig2.pdf").exists()
    with pytest.raises(ValueError):
        fig2(path, "res1-1-1", 0.05, "smoke", tmp_path / "nope")


def test_fig3(tmp_path):
    pts = [("channel", "TRP", write_metrics(tmp_path / f"c{i}.json", "resnet20", 92.0, acc, sp))
           for i, (acc, sp) in enumerate(((89.0, 3.0), (90.0, 2.0)))]
    pts.append(("spatial", "Basic", write_metrics(tmp_path / "s.json", "resnet20", 92.0, 85.0, 2.5)))
    data = fig3(pts, "smoke", tmp_path / "fig3")
    assert [p["speedup"] for p in data["channel"]["TRP"]] == [2.0, 3.0] and len(data["spatial"]["Basic"]) == 1
    assert (tmp_path / "fig3.png").exists() and (tmp_path / "fig3.pdf").exists()


def test_latency_and_table4(tmp_path):
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
    rows = latency(model, (3, 8, 8), batch_sizes=(1, 2), min_run_time=0.05, threads=1)
    assert [r["batch_size"] for r in rows] == [1, 2] and all(r["median_s"] > 0 and r["measurements"] >= 1 for r in rows)
    assert rows[1]["median_ms_per_image"] == pytest.approx(1e3 * rows[1]["median_s"] / 2)
    assert rows[0]["threads"] == 1 and rows[0]["device"].startswith("CPU")
    assert torch.is_grad_enabled() and model[0].weight.requires_grad  # grad mode left as it was

    def row(ms):
        return {**rows[0], "median_ms_per_image": ms, "iqr_ms_per_image": ms / 10}

    doc = {"schema": "trp.runtime/1", "model": "resnet20", "provenance": provenance(),
           "variants": [{"label": "baseline", "conv_macs": 100, "mac_speedup": 1.0, "rows": [row(2.0)]},
                        {"label": "TRP2+Nu", "conv_macs": 40, "mac_speedup": 2.5, "rows": [row(1.0)]}]}
    path = tmp_path / "runtime.json"
    path.write_text(json.dumps(doc))
    out = table4([str(path)], "smoke", tmp_path / "table4")
    ours = [r for r in out if "section" not in r][:2]
    assert ours[1]["speedup"] == pytest.approx(2.0) and ours[1]["mac_speedup"] == 2.5
    paper_cpu = [r for r in out if r.get("device", "").startswith("CPU: Intel")]
    assert paper_cpu[2]["speedup"] == pytest.approx(118.02 / 49.88) and paper_cpu[2]["mac_speedup"] == 3.18
    assert "paper, Table 4" in (tmp_path / "table4.md").read_text()
