"""The renderers of trp.report on synthetic run records. Expected numbers are computed here from the
inputs the test writes and from the paper's numbers typed here, not read from trp.report.paper."""
import json
import math

import pytest
import torch
from torch import nn

from trp.report import paper
from trp.report.claims import claims
from trp.report.cobla import cobla_table
from trp.report.common import fmt, mean_std, provenance_footer
from trp.report.fig2 import fig2
from trp.report.fig3 import fig3
from trp.report.table1 import table1
from trp.report.table4 import table4
from trp.report.theorem2 import check, theorem2
from trp.timing import latency


def provenance(seed=0, dirty=False):
    return {"commit": "0123456789abcdef0123", "dirty": dirty, "device": "cpu-test", "seed": seed,
            "config_hash": f"cfg{seed}", "data_fingerprint": "data0", "model_sha256": f"{seed:064x}"}


def write_metrics(path, accuracy, conv_speedup=None, model="resnet20", seed=0, conv_macs=1e6):
    """A metrics.json with the given accuracy block ({"dense": ..} or {"decomposed": .., "finetuned": ..})."""
    m = {"config": {"model": model, "seed": seed}, "accuracy": accuracy, "provenance": provenance(seed),
         "cost": {"decomposed": {"conv_macs": conv_macs, "conv_params": 2e3}}}
    if conv_speedup is not None:
        m["speedup"] = {"conv": conv_speedup, "whole": conv_speedup * 0.9}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(m))
    return str(path)


def trp_metrics(path, dense, projected, decomposed, conv_speedup, seed=0, model="resnet20"):
    return write_metrics(path, {"dense": dense, "projected": projected, "decomposed": decomposed}, conv_speedup, model, seed)


def finetuned_metrics(path, before, after, conv_speedup, seed=0):
    return write_metrics(path, {"decomposed": before, "finetuned": after}, conv_speedup, seed=seed)


def rec(z, rank, full=8, disp=None, rank_before=None, sqrt_e=math.sqrt(0.05), layer="layer3.0.conv2"):
    r = {"projection": z, "step": 20 * (z - 1), "layer": layer, "rank_after": rank, "saves_macs": True,
         "full_rank": full, "sqrt_e": sqrt_e, "energy_ratios": [1.0 / rank] * rank}
    if disp is not None:
        r.update(rank_before=rank_before, displacement=disp, tail_ratio=disp / 2)
    return r


def write_log(path, records):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return str(path)


def runtime_doc(path, model, ms_by_label, mac_speedups, batch_sizes=(1,)):
    """A runtime JSON (trp.timing schema) with the given ms/image per variant label."""
    rows = lambda ms: [{"batch_size": b, "median_s": ms * b / 1e3, "median_ms_per_image": ms, "iqr_ms_per_image": ms / 10,
                        "device": "CPU test", "threads": 1} for b in batch_sizes]
    doc = {"schema": "trp.runtime/1", "model": model, "provenance": provenance(),
           "variants": [{"label": k, "mac_speedup": mac_speedups[k], "rows": rows(ms)} for k, ms in ms_by_label.items()]}
    path.write_text(json.dumps(doc))
    return str(path)


def test_paper_numbers():
    assert len(paper.TABLE1) == 16
    assert paper.table1("resnet56", "TRP1") == {"model": "resnet56", "method": "TRP1", "top1": 92.77, "speedup": 2.31}
    assert paper.table1("resnet20", "Jaderberg2014")["top1"] == 89.49
    assert paper.table1("resnet20", "budgeted_trp") is None
    assert paper.method_label("Zhang2016") == "[Zhang et al., 2016]" and paper.method_label("x") == "x"
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


def table1_inputs(tmp_path):
    """Two TRP1 seeds, a baseline, a fine-tuned Zhang2016 run and a run the paper has no row for."""
    trp1 = [(90.0, 2.0), (91.0, 2.2)]  # (decomposed top-1, conv speedup) per seed
    return {"resnet20/TRP1": [trp_metrics(tmp_path / f"trp1/s{s}/metrics.json", 92.0, d + 0.1, d, sp, seed=s)
                              for s, (d, sp) in enumerate(trp1)],
            "resnet20/baseline": [write_metrics(tmp_path / "base/metrics.json", {"dense": 92.0})],
            "resnet20/Zhang2016": [finetuned_metrics(tmp_path / "zhang/metrics.json", 70.0, 88.5, 1.5)],
            "resnet20/budgeted_trp": [trp_metrics(tmp_path / "x/metrics.json", 92.0, 89.0, 89.0, 3.0)]}


def test_table1(tmp_path):
    rows = table1(table1_inputs(tmp_path), "smoke", tmp_path / "out/table1")
    by = {(r["model"], r["method"]): r for r in rows}
    trp1 = by[("R-20", "TRP1")]
    std = math.sqrt(((90.0 - 90.5) ** 2 + (91.0 - 90.5) ** 2) / (2 - 1))
    assert trp1["our_top1"] == {"mean": pytest.approx(90.5), "std": pytest.approx(std), "n": 2}
    assert trp1["paper_top1"] == 90.12 and trp1["d_top1"] == f"{90.5 - 90.12:+.2f}"
    assert trp1["d_speedup"] == f"{2.1 - 1.97:+.2f}"
    zhang = by[("R-20", "[Zhang et al., 2016]")]  # fine-tuned: the accuracy after fine-tuning, not before
    assert zhang["our_top1"]["mean"] == 88.5 and zhang["d_top1"] == f"{88.5 - 88.13:+.2f}"
    assert by[("R-20", "baseline")]["our_speedup"] == 1.0 and by[("R-20", "baseline")]["d_top1"] == f"{92.0 - 91.74:+.2f}"
    assert by[("R-56", "TRP1")]["our_top1"] is None and by[("R-56", "TRP1")]["paper_speedup"] == 2.31
    assert by[("R-20", "budgeted TRP")]["paper_top1"] is None and len(rows) == 16 + 1
    md, tex, csv = ((tmp_path / "out" / f"table1.{s}").read_text() for s in ("md", "tex", "csv"))
    assert "ours: top-1 (%)" in md and "paper: top-1 (%)" in md and "**Provenance.**" in md
    assert "90.50 ± 0.71 (n=2)" in md and "[Zhang et al., 2016]" in md
    assert r"\toprule" in tex and r"\bottomrule" in tex and "% commit: 0123456789ab" in tex
    assert "ours: top-1 (%)_std" in csv and "# profile: smoke" in csv and "# seed: 0, 1" in csv


def test_table1_json_is_dvc_metrics(tmp_path):
    """table1.json: model -> method key -> numbers only (what `dvc metrics show` prints per row)."""
    table1(table1_inputs(tmp_path), "smoke", tmp_path / "table1")
    metrics = json.loads((tmp_path / "table1.json").read_text())
    assert set(metrics) == {"resnet20"}
    assert set(metrics["resnet20"]) == {"TRP1", "baseline", "Zhang2016", "budgeted_trp"}
    trp1 = metrics["resnet20"]["TRP1"]
    assert trp1 == {"top1": pytest.approx(90.5), "top1_std": pytest.approx(math.sqrt(0.5)),
                    "speedup": pytest.approx(2.1), "speedup_std": pytest.approx(math.sqrt(0.02)), "n": 2}
    assert metrics["resnet20"]["baseline"] == {"top1": 92.0, "top1_std": 0.0, "speedup": 1.0, "speedup_std": 0.0, "n": 1}


def test_table1_refuses_a_record_of_another_model(tmp_path):
    runs = {"resnet56/TRP1": [trp_metrics(tmp_path / "a/metrics.json", 92.0, 90.0, 90.0, 2.0, model="resnet20")]}
    with pytest.raises(ValueError, match="does not match label"):
        table1(runs, "smoke", tmp_path / "t")


def test_table1_refuses_a_finetuned_row_without_finetuned_accuracy(tmp_path):
    runs = {"resnet20/Jaderberg2014": [trp_metrics(tmp_path / "a/metrics.json", 92.0, 90.0, 90.0, 2.0)]}
    with pytest.raises(ValueError, match="finetuned"):
        table1(runs, "smoke", tmp_path / "t")


def test_theorem2(tmp_path):
    log = [rec(1, 8), rec(2, 6, disp=0.10, rank_before=8), rec(3, 7, disp=0.15, rank_before=6),  # violation
           rec(4, 8, disp=0.40, rank_before=7), rec(5, 8, disp=0.30, rank_before=8)]
    res = check(log)
    assert res["records"] == 4 and res["max_displacement"] == 0.40
    assert (res["held_rose"], res["held_not_rose"], res["failed_rose"], res["failed_not_rose"]) == (1, 1, 1, 1)
    assert [v["projection"] for v in res["violations"]] == [3] and "energy_ratios" not in res["violations"][0]
    out = theorem2({"a": [write_log(tmp_path / "a/ranklog.jsonl", log)],
                    "b": [write_log(tmp_path / "b/ranklog.jsonl", log[:3])]}, "smoke", tmp_path / "t2")
    assert out["overall"]["records"] == 4 + 2 and out["overall"]["held_rose"] == 1 + 1
    assert (tmp_path / "t2.md").exists() and len(json.loads((tmp_path / "t2.json").read_text())["runs"]) == 3


def test_theorem2_counts_a_log_named_twice_once(tmp_path):
    log = write_log(tmp_path / "run/ranklog.jsonl", [rec(1, 8), rec(2, 6, disp=0.10, rank_before=8)])
    same = str(tmp_path / "run" / ".." / "run" / "ranklog.jsonl")  # another spelling of the same file
    out = theorem2({"resnet20/TRP1/s0": [log], "resnet20/trp-channel-e0.02-lam0/s0": [same, log]}, "smoke", tmp_path / "t2")
    assert out["resnet20/TRP1/s0"]["records"] == 1 and out["resnet20/trp-channel-e0.02-lam0/s0"]["records"] == 1
    assert out["overall"]["records"] == 1


def fig2_log(tmp_path):
    disps = [None, 0.05, 0.12, 0.08, 0.03]
    ranks = [8, 6, 5, 5, 4]
    log = [rec(z, k, disp=d, rank_before=ranks[z - 2] if z > 1 else None) for z, (k, d) in enumerate(zip(ranks, disps), 1)]
    log += [rec(z, 3, layer="layer2.0.conv1") for z in (1, 2)]
    trp_metrics(tmp_path / "run/metrics.json", 92.0, 90.0, 90.0, 2.0)
    return write_log(tmp_path / "run/ranklog.jsonl", log), ranks


def test_fig2(tmp_path):
    path, ranks = fig2_log(tmp_path)
    s = fig2(path, "res3-1-2", 0.05, "smoke", tmp_path / "fig2")
    assert s["layer"] == "layer3.0.conv2" and s["ranks"] == ranks
    assert s["max_displacement"] == 0.12 and s["max_displacement_projection"] == 3 and s["bound_held_all"]
    assert s["sqrt_e"] == pytest.approx(math.sqrt(0.05))
    saved = json.loads((tmp_path / "fig2.json").read_text())
    assert saved["max_displacement"] == 0.12 and saved["provenance"]["config_hash"] == "cfg0"
    assert saved["displacements"][0] is None
    assert (tmp_path / "fig2.png").stat().st_size > 0 and (tmp_path / "fig2.pdf").exists()
    with pytest.raises(ValueError, match="no records of layer"):
        fig2(path, "res1-1-1", 0.05, "smoke", tmp_path / "nope")
    with pytest.raises(ValueError, match="sqrt"):
        fig2(path, "res3-1-2", 0.1, "smoke", tmp_path / "nope")


def test_fig3(tmp_path):
    points = {"channel/TRP": [trp_metrics(tmp_path / f"c{i}/metrics.json", 92.0, acc, acc, sp)
                              for i, (acc, sp) in enumerate(((89.0, 3.0), (90.0, 2.0)))],
              "spatial/Basic": [finetuned_metrics(tmp_path / "s/metrics.json", 60.0, 85.0, 2.5)]}
    data = fig3(points, "smoke", tmp_path / "fig3")
    assert [(p["speedup"], p["top1"]) for p in data["channel"]["TRP"]] == [(2.0, 90.0), (3.0, 89.0)]
    assert [p["top1"] for p in data["spatial"]["Basic"]] == [85.0]  # after fine-tuning
    assert (tmp_path / "fig3.png").exists() and (tmp_path / "fig3.pdf").exists()


def test_claims_from_run_records(tmp_path):
    """Each verdict follows from the records written here, for the reason it states."""
    runs = {"resnet20/TRP1": [trp_metrics(tmp_path / "trp1/metrics.json", 91.0, 90.6, 90.5, 2.0)],
            "resnet20/TRP1+Nu": [trp_metrics(tmp_path / "trp1nu/metrics.json", 90.8, 90.2, 89.0, 2.5)],  # drop 1.8
            "resnet20/Zhang2016": [finetuned_metrics(tmp_path / "zhang/metrics.json", 70.0, 88.0, 1.5)]}
    points = {"channel/TRP": runs["resnet20/TRP1"],
              "channel/Basic": [finetuned_metrics(tmp_path / "basic/metrics.json", 60.0, 87.0, 1.8)]}
    log, _ = fig2_log(tmp_path)
    timing = runtime_doc(tmp_path / "runtime.json", "resnet20", {"baseline": 2.0, "TRP1+Nu": 1.0},
                         {"baseline": 1.0, "TRP1+Nu": 2.5})
    rows, records = claims(runs, {"ranklog": log, "layer": "res3-1-2", "e": 0.05, "projections": 0}, points,
                           {"resnet20/rankvar/s0": [log]}, [timing])
    by = {r["claim"].split(" (")[0]: r for r in rows}
    assert len(records) == 3
    drop = by["TRP networks are decomposed with negligible accuracy loss, no fine-tuning"]
    assert drop["verdict"] == "not supported" and f"{90.8 - 89.0:.2f} points" in drop["evidence"]
    assert "over 2 TRP runs" in drop["evidence"]  # TRP1 is both a Table-1 run and an ablation point: once
    beats = by["resnet20: TRP1"]
    assert beats["verdict"] == "supported" and "[Zhang et al., 2016]" in beats["claim"]
    assert "TRP1 90.50 % at 2.00x vs 88.00 % at 1.50x" == beats["evidence"]
    nu = by["resnet20: nuclear regularization raises TRP1's speedup at similar accuracy"]
    assert nu["verdict"] == "not supported"  # 89.0 < 90.5 - 1.0
    assert by["Fig. 3"]["verdict"] == "supported" and "TRP 90.50 % at 2.00x vs Basic 87.00 % at 1.80x" in by["Fig. 3"]["evidence"]
    assert by["Theorem 2: where ||W^{t+m} - T^z|| < sqrt(e) ||W^{t+m}||, the rank does not rise"]["verdict"] == "supported"
    assert by["Fig. 2: the bound holds in the initial training stage"]["verdict"] == "supported"
    table4_row = by["Table 4: TRP1+Nu runs faster than the baseline"]
    assert table4_row["verdict"] == "supported" and f"batch 1: {2.0 / 1.0:.2f}x measured" in table4_row["evidence"]
    assert sum(r["verdict"] == "not tested" for r in rows) == 3


def test_cobla_table_reads_finetuned_accuracy_of_allocations(tmp_path):
    runs = {"resnet20/x2/sqp": [finetuned_metrics(tmp_path / "sqp/metrics.json", 40.0, 88.0, 2.0)],
            "resnet20/x2/budgeted_trp": [trp_metrics(tmp_path / "b/metrics.json", 91.0, 90.0, 89.5, 2.0)]}
    allocation = tmp_path / "sqp/ranks.json"
    allocation.write_text(json.dumps({"objective": {"start": 1.5, "end": 1.2, "rounded": 1.25}}))
    timing = runtime_doc(tmp_path / "runtime.json", "resnet20", {"baseline": 2.0, "x2/sqp": 1.2, "x2/budgeted_trp": 1.1},
                         {"baseline": 1.0, "x2/sqp": 2.0, "x2/budgeted_trp": 2.0})
    rows = cobla_table(runs, {"resnet20/x2/sqp": [str(allocation)]}, [timing], "smoke", tmp_path / "cobla")
    by = {r["method"]: r for r in rows}
    assert (by["COBLA (SQP)"]["top1_before"], by["COBLA (SQP)"]["top1"]) == (40.0, 88.0)
    assert by["COBLA (SQP)"]["ce"] == 1.25 and by["COBLA (SQP)"]["ms_b1"] == 1.2
    assert (by["budgeted TRP"]["top1_before"], by["budgeted TRP"]["top1"]) == (None, 89.5)
    assert json.loads((tmp_path / "cobla.json").read_text())["rows"][0]["budget"] == "x2"


def test_latency_schema_and_table4(tmp_path):
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
    rows = latency(model, (3, 8, 8), batch_sizes=(1, 2), min_run_time=0.05, threads=1)
    assert [r["batch_size"] for r in rows] == [1, 2] and all(r["measurements"] >= 1 for r in rows)
    assert rows[1]["median_ms_per_image"] == pytest.approx(1e3 * rows[1]["median_s"] / 2)
    assert rows[0]["threads"] == 1 and rows[0]["device"].startswith("CPU")
    assert torch.is_grad_enabled() and model[0].weight.requires_grad  # grad mode left as it was

    path = runtime_doc(tmp_path / "runtime.json", "resnet20", {"baseline": 2.0, "TRP2+Nu": 0.8},
                       {"baseline": 1.0, "TRP2+Nu": 2.5})
    out = table4([path], "smoke", tmp_path / "table4")
    ours = [r for r in out if "section" not in r][:2]
    assert ours[1]["speedup"] == pytest.approx(2.0 / 0.8) and ours[1]["mac_speedup"] == 2.5
    paper_cpu = [r for r in out if r.get("device", "").startswith("CPU: Intel")]
    assert paper_cpu[2]["speedup"] == pytest.approx(118.02 / 49.88) and paper_cpu[2]["mac_speedup"] == 3.18
    assert "paper, Table 4" in (tmp_path / "table4.md").read_text()
