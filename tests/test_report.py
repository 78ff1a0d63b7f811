"""The renderers of trp.report on synthetic run records. Expected numbers are computed here from the
inputs the test writes and from the paper's numbers typed here, not read from trp.report.paper."""
import csv
import json
import math
import re
import subprocess
from pathlib import Path

import pytest
from scipy import stats
import torch
from torch import nn

from trp.report import equal_macs, paper
from trp.report.claims import claims, equal_macs_row, faster, theorem2_claims
from trp.report.cobla import cobla_table
from trp.artifacts.provenance import git_commit
from trp.artifacts.records import write_record
from trp.report.cells import fmt
from trp.report.footer import RENDERED_OUTPUTS, provenance_footer
from trp.report.seeds import mean_std
from trp.report.fig2 import fig2
from trp.report.fig3 import fig3
from trp.report.table1 import table1
from trp.report.table4 import table4
from trp.report.theorem2 import theorem2, theorem2_results
from trp.report.verdict import Pool, target_verdict
from trp.timing import latency

ROOT = Path(__file__).resolve().parents[1]
EPOCHS, FT_EPOCHS = 15, 2  # of the synthetic trainings and fine-tunings


def provenance(seed=0, dirty=False):
    return {"commit": "0123456789abcdef0123", "dirty": dirty, "device": "cpu-test", "seed": seed,
            "config_hash": f"cfg{seed}", "data_fingerprint": "data0", "model_sha256": f"{seed:064x}"}


def write_metrics(path, accuracy, conv_speedup=1.0, model="resnet20", seed=0, conv_macs=1e6, epochs=EPOCHS,
                  method="baseline", kind="training"):
    """A run record of `kind` with the given accuracy block ({"dense": ..} or {"decomposed": .., "finetuned": ..})."""
    fields = {"config": {"model": model, "method": method, "scheme": "channel", "seed": seed, "epochs": epochs},
              "accuracy": accuracy,
              "cost": {"dense": {"conv_macs": conv_macs * conv_speedup},
                       "decomposed": {"conv_macs": conv_macs, "conv_params": 2e3}},
              "speedup": {"conv": conv_speedup, "whole": conv_speedup * 0.9},
              "training": {"epochs": epochs, "history": []}, "provenance": provenance(seed)}
    if kind == "finetuning":
        fields |= {"source": "decomposed.pt", "ranks": {}, "scheme": "channel"}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_record(path, kind, fields)
    return str(path)


def trp_metrics(path, dense, projected, decomposed, conv_speedup, seed=0, model="resnet20"):
    return write_metrics(path, {"dense": dense, "projected": projected, "decomposed": decomposed}, conv_speedup, model,
                         seed, method="trp")


def finetuned_metrics(path, before, after, conv_speedup, seed=0):
    return write_metrics(path, {"decomposed": before, "finetuned": after}, conv_speedup, seed=seed, epochs=FT_EPOCHS,
                         kind="finetuning")


def write_allocation(path, **changes):
    """An allocation of the published cpu profile (trp allocate --method sqp) with `changes`."""
    doc = json.loads((ROOT / "results/cpu/allocate/resnet20/basic-channel-sqp-TRP1/s0/ranks.json").read_text())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**doc, **changes}))
    return path


def rec(z, rank, full=8, disp=None, rank_before=None, bound=None, sqrt_e=math.sqrt(0.05), layer="layer3.0.conv2"):
    """A rank-log record; from the 2nd projection on with the displacement and (if given) mG/||W|| (bound)."""
    r = {"projection": z, "step": 20 * (z - 1), "layer": layer, "rank_after": rank, "saves_macs": True,
         "full_rank": full, "sqrt_e": sqrt_e, "energy_ratios": [1.0 / rank] * rank}
    if disp is not None:
        r.update(rank_before=rank_before, displacement=disp, tail_ratio=disp / 2)
    if bound is not None:
        r.update(step_bound=bound, steps=20)
    return r


def write_log(path, records):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return str(path)


def row_of(paths, pending=()):
    """A row of a run table's table: its run, its records by seed and the states of its seeds pending."""
    return {"run": "r", "records": {str(seed): p for seed, p in enumerate(paths)}} | (
        {"pending": list(pending)} if pending else {})


def point_of(scheme, method, run, paths):
    """A Fig. 3 point of a run table."""
    return {"scheme": scheme, "method": method, "run": run, "records": {str(seed): p for seed, p in enumerate(paths)}}


def run_table_of(rows, points=(), rank_logs=(), pending=None):
    """A run table of resnet20: rows (method key -> record paths), Fig. 3's points, Theorem 2's logs
    ({"model", "run", "seed", "rank_log"}) and the states of rows with seeds pending."""
    pending = pending or {}
    table = {key: row_of(paths) for key, paths in rows.items()}
    table |= {key: row_of(rows.get(key, []), states) for key, states in pending.items()}
    return {"profile": "smoke", "tables": {"resnet20": table},
            "ablation": {"model": "resnet20", "points": list(points)},
            "rank_logs": list(rank_logs)}


def runtime_doc(path, model, ms_by_label, mac_speedups, batch_sizes=(1,), iqr=0.1):
    """A runtime JSON (trp.runtime/2, primary rows only) with the given ms/image per variant label and
    IQR = iqr x median."""
    rows = lambda ms: [{"batch_size": b, "median_s": ms * b / 1e3, "iqr_s": iqr * ms * b / 1e3,
                        "median_ms_per_image": ms, "iqr_ms_per_image": iqr * ms, "device": "CPU test", "threads": 1}
                       for b in batch_sizes]
    doc = {"schema": "trp.runtime/2", "model": model, "provenance": provenance(),
           "variants": [{"label": k, "mac_speedup": mac_speedups[k], "rows": rows(ms)}
                        for k, ms in ms_by_label.items()]}
    path.write_text(json.dumps(doc))
    return str(path)


def test_paper_numbers():
    assert len(paper.TABLE1) == 16
    assert paper.table1("resnet56", "TRP1") == {"model": "resnet56", "method": "TRP1", "top1": 92.77, "speedup": 2.31}
    assert paper.table1("resnet20", "Jaderberg2014")["top1"] == 89.49
    assert paper.table1("resnet20", "budgeted_trp") is None
    assert paper.method_label("Zhang2016") == "[Zhang et al., 2016]" and paper.method_label("x") == "x"
    matched = paper.matched_key("Jaderberg2014", "TRP2+Nu")
    assert paper.method_label(matched) == "[Jaderberg et al., 2014] at TRP2+Nu's MACs"
    assert paper.method_label(paper.finetuned_key("TRP1")) == "TRP1 + fine-tuning"
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
    assert re.fullmatch(r"[0-9a-f]{12}(\+dirty)?", f["rendered_by"])  # the renderer's own commit


def test_rendered_by_is_dirty_only_for_changes_outside_the_rendered_outputs(tmp_path):
    repo = tmp_path / "repo"
    (repo / "paper_tables").mkdir(parents=True)
    git = lambda *a: subprocess.run(["git", "-C", str(repo), *a], check=True, capture_output=True)
    (repo / "code.py").write_text("x = 1\n")
    (repo / "paper_tables" / "t.md").write_text("old\n")
    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c")
    state = lambda outside: git_commit(outside, root=repo)["dirty"]
    (repo / "paper_tables" / "t.md").write_text("new\n")
    assert (state(RENDERED_OUTPUTS), state(())) == (False, True)  # clean for the renderer, dirty for a training
    (repo / "code.py").write_text("x = 2\n")
    assert state(RENDERED_OUTPUTS) is True


def table1_tables(tmp_path):
    """Table 1 of resnet20 as a run table lists it: two TRP1 seeds, a baseline, a fine-tuned Zhang2016 run and a
    run the paper has no row for."""
    trp1 = [(90.0, 2.0), (91.0, 2.2)]  # (decomposed top-1, conv speedup) per seed
    return run_table_of({
        "TRP1": [trp_metrics(tmp_path / f"trp1/s{s}/metrics.json", 92.0, d + 0.1, d, sp, seed=s)
                 for s, (d, sp) in enumerate(trp1)],
        "baseline": [write_metrics(tmp_path / "base/metrics.json", {"dense": 92.0})],
        "Zhang2016": [finetuned_metrics(tmp_path / "zhang/metrics.json", 70.0, 88.5, 1.5)],
        "budgeted_trp": [trp_metrics(tmp_path / "x/metrics.json", 92.0, 89.0, 89.0, 3.0)]})["tables"]


def test_table1(tmp_path):
    rows = table1(table1_tables(tmp_path), "smoke", tmp_path / "out/table1")
    by = {(r["model"], r["method"]): r for r in rows}
    trp1 = by[("R-20", "TRP1")]
    std = math.sqrt(((90.0 - 90.5) ** 2 + (91.0 - 90.5) ** 2) / (2 - 1))
    assert trp1["our_top1"] == {"mean": pytest.approx(90.5), "std": pytest.approx(std), "n": 2}
    assert trp1["paper_top1"] == 90.12 and trp1["d_top1"] == f"{90.5 - 90.12:+.2f}"
    assert trp1["d_speedup"] == f"{2.1 - 1.97:+.2f}"
    zhang = by[("R-20", "[Zhang et al., 2016]")]  # fine-tuned: the accuracy after fine-tuning, not before
    assert zhang["our_top1"]["mean"] == 88.5 and zhang["d_top1"] == f"{88.5 - 88.13:+.2f}"
    assert (trp1["epochs"], zhang["epochs"]) == (f"{EPOCHS}", f"{EPOCHS} + {FT_EPOCHS}")
    base = by[("R-20", "baseline")]
    assert base["our_speedup"] == 1.0 and base["d_top1"] == f"{92.0 - 91.74:+.2f}"
    assert by[("R-56", "TRP1")]["our_top1"] is None and by[("R-56", "TRP1")]["paper_speedup"] == 2.31
    assert by[("R-20", "budgeted TRP")]["paper_top1"] is None and len(rows) == 16 + 1
    md, tex, csv = ((tmp_path / "out" / f"table1.{s}").read_text() for s in ("md", "tex", "csv"))
    assert "ours: top-1 (%)" in md and "paper: top-1 (%)" in md and "**Provenance.**" in md
    assert "90.50 ± 0.71 (n=2)" in md and "[Zhang et al., 2016]" in md
    assert r"\toprule" in tex and r"\bottomrule" in tex and "% commit: 0123456789ab" in tex
    assert "ours: top-1 (%)_std" in csv and "# profile: smoke" in csv and "# seed: 0, 1" in csv


def test_table1_json_holds_the_numbers_and_the_records_of_each_row(tmp_path):
    """table1.json: model -> method key -> numbers (what `dvc metrics show` prints per row, flattened)
    and the paths of the row's records; the csv has them too, the tables shown to readers do not."""
    table1(table1_tables(tmp_path), "smoke", tmp_path / "table1")
    metrics = json.loads((tmp_path / "table1.json").read_text())
    assert set(metrics) == {"resnet20"}
    assert set(metrics["resnet20"]) == {"TRP1", "baseline", "Zhang2016", "budgeted_trp"}
    trp1 = metrics["resnet20"]["TRP1"]
    paths = [str(tmp_path / f"trp1/s{s}/metrics.json") for s in (0, 1)]
    assert trp1 == {"top1": pytest.approx(90.5), "top1_std": pytest.approx(math.sqrt(0.5)),
                    "speedup": pytest.approx(2.1), "speedup_std": pytest.approx(math.sqrt(0.02)), "n": 2,
                    "records": paths}
    assert metrics["resnet20"]["baseline"] == {"top1": 92.0, "top1_std": 0.0, "speedup": 1.0, "speedup_std": 0.0,
                                               "n": 1, "records": [str(tmp_path / "base/metrics.json")]}
    with open(tmp_path / "table1.csv", newline="") as f:
        rows = {(r["model"], r["method"]): r for r in csv.DictReader(line for line in f if line[0] != "#")}
    assert rows["R-20", "TRP1"]["records"] == ";".join(paths) and rows["R-56", "TRP1"]["records"] == ""
    assert "metrics.json" not in (tmp_path / "table1.md").read_text() + (tmp_path / "table1.tex").read_text()


def test_table1_refuses_a_record_of_another_model(tmp_path):
    tables = {"resnet56": {"TRP1": row_of([trp_metrics(tmp_path / "a/metrics.json", 92.0, 90.0, 90.0, 2.0)])}}
    with pytest.raises(ValueError, match="model 'resnet20', but the run table lists it as a record of resnet56/TRP1"):
        table1(tables, "smoke", tmp_path / "t")


def test_theorem2_counts_distinct_records_and_where_a_condition_failed(tmp_path):
    log = [rec(1, 8), rec(2, 6, disp=0.10, rank_before=8, bound=0.15),    # both held, rank fell
           rec(3, 7, disp=0.15, rank_before=6, bound=0.30),                # bound held, assumption failed, rose
           rec(4, 8, disp=0.40, rank_before=7, bound=0.50),                # both failed, rose
           rec(5, 8, disp=0.30, rank_before=8),                            # no mG/||W|| logged
           rec(5, 8, disp=0.30, rank_before=8)]                            # the same record again
    out = theorem2({"a": [write_log(tmp_path / "a/ranklog.jsonl", log)],
                    "b": [write_log(tmp_path / "b/ranklog.jsonl", log[:3])]}, "smoke", tmp_path / "t2")
    a, b = out["a"], out["b"]
    sqrt_e = math.sqrt(0.05)
    assert a["records"] == 4 and a["rank_rose"] == 2 and a["power"]
    assert (a["assumption"]["tested"], a["assumption"]["held"], a["assumption"]["failed_rose"]) == (3, 1, 2)
    assert (a["bound"]["tested"], a["bound"]["held"], a["bound"]["failed_rose"]) == (4, 2, 1)
    assert [v["projection"] for v in a["bound"]["violations"]] == [3] and a["assumption"]["violations"] == []
    assert "energy_ratios" not in a["bound"]["violations"][0]
    assert a["assumption"]["max_ratio"] == pytest.approx(0.50 / sqrt_e)
    assert a["bound"]["max_ratio"] == pytest.approx(0.40 / sqrt_e)
    assert a["failures"] == [{"layer": "layer3.0.conv2", "assumption": [3, 4], "bound": [4, 5], "rose": [3, 4]}]
    assert b["records"] == 2 and b["rank_rose"] == 1
    # overall: b's records repeat a's (the same training logged twice) and count once
    assert (out["overall"]["records"], out["overall"]["repeats"], out["overall"]["rank_rose"]) == (4, 2, 2)
    failures = (tmp_path / "t2-failures.md").read_text()
    assert "| a | layer3.0.conv2 | 3-4 | 4-5 | 3-4 |" in failures
    assert len(json.loads((tmp_path / "t2.json").read_text())["runs"]) == 3


def test_theorem2_counts_a_log_named_twice_once(tmp_path):
    log = write_log(tmp_path / "run/ranklog.jsonl", [rec(1, 8), rec(2, 6, disp=0.10, rank_before=8)])
    same = str(tmp_path / "run" / ".." / "run" / "ranklog.jsonl")  # another spelling of the same file
    out = theorem2_results({"resnet20/TRP1/s0": [log], "resnet20/trp-channel-e0.02-lam0/s0": [same, log]})
    assert set(out) == {"resnet20/TRP1/s0, resnet20/trp-channel-e0.02-lam0/s0", "overall"}
    assert out["overall"]["records"] == 1


def test_theorem2_overall_counts_a_training_logged_twice_once_spectrum_or_not(tmp_path):
    log = [rec(1, 8), rec(2, 6, disp=0.10, rank_before=8, bound=0.15), rec(3, 7, disp=0.15, rank_before=6, bound=0.30)]
    without_spectrum = [{k: v for k, v in r.items() if k != "energy_ratios"} for r in log]
    other = [rec(2, 6, disp=0.11, rank_before=8, bound=0.15)]  # another training: a different measurement
    out = theorem2({"TRP/s0": [write_log(tmp_path / "a/ranklog.jsonl", without_spectrum)],
                    "rankvar/s0": [write_log(tmp_path / "b/ranklog.jsonl", log)],
                    "other/s0": [write_log(tmp_path / "c/ranklog.jsonl", other)]}, "smoke", tmp_path / "t2")
    assert out["TRP/s0"]["records"] == out["rankvar/s0"]["records"] == 2
    assert (out["overall"]["records"], out["overall"]["repeats"], out["overall"]["rank_rose"]) == (3, 2, 1)
    assert "| overall (2 records repeating another log's counted once) | 3 |" in (tmp_path / "t2.md").read_text()


def theorem2_verdict(records, name="assumption"):
    rows = theorem2_claims(theorem2_results({"r": [records]})["overall"], [records])
    assert rows[0]["records"] == [records]  # judged from that rank log
    return rows[list(("assumption", "bound")).index(name)]


def test_theorem2_verdict_without_a_rise_says_the_test_had_no_power(tmp_path):
    quiet = write_log(tmp_path / "q/ranklog.jsonl", [rec(1, 8), rec(2, 6, disp=0.1, rank_before=8, bound=0.12),
                                                     rec(3, 6, disp=0.1, rank_before=6, bound=0.11)])
    row = theorem2_verdict(quiet)
    assert row["verdict"] == "inconclusive" and "no power" in row["evidence"]
    assert "< sqrt(e) in 2, failed in 0" in row["evidence"]
    rose_where_failed = write_log(tmp_path / "f/ranklog.jsonl",
                                  [rec(1, 6), rec(2, 7, disp=0.1, rank_before=6, bound=0.3)])
    assert theorem2_verdict(rose_where_failed)["verdict"] == "supported"
    rose_where_held = write_log(tmp_path / "h/ranklog.jsonl",
                                [rec(1, 6), rec(2, 7, disp=0.1, rank_before=6, bound=0.2)])
    row = theorem2_verdict(rose_where_held)
    assert row["verdict"] == "not supported" and "projection 2" in row["evidence"]
    assert theorem2_verdict(rose_where_held, "bound")["verdict"] == "not supported"
    old_log = write_log(tmp_path / "o/ranklog.jsonl", [rec(1, 6), rec(2, 6, disp=0.1, rank_before=6)])
    assert theorem2_verdict(old_log)["verdict"] == "not tested"  # a log without mG/||W||


def fig2_log(tmp_path):
    disps = [None, 0.05, 0.12, 0.08, 0.03]
    bounds = [None, 0.09, 0.20, 0.10, 0.05]
    ranks = [8, 6, 5, 5, 4]
    log = [rec(z, k, disp=d, rank_before=ranks[z - 2] if z > 1 else None, bound=b)
           for z, (k, d, b) in enumerate(zip(ranks, disps, bounds), 1)]
    log += [rec(z, 3, layer="layer2.0.conv1") for z in (1, 2)]
    trp_metrics(tmp_path / "run/metrics.json", 92.0, 90.0, 90.0, 2.0)
    return write_log(tmp_path / "run/ranklog.jsonl", log), ranks


def test_fig2(tmp_path):
    path, ranks = fig2_log(tmp_path)
    s = fig2(path, "res3-1-2", 0.05, "smoke", tmp_path / "fig2")
    assert s["layer"] == "layer3.0.conv2" and s["ranks"] == ranks
    assert s["max_displacement"] == 0.12 and s["max_displacement_projection"] == 3 and s["bound_held_all"]
    assert s["max_step_bound"] == 0.20 and s["assumption_held_all"]  # 0.20 < sqrt(0.05) = 0.2236
    assert s["sqrt_e"] == pytest.approx(math.sqrt(0.05))
    saved = json.loads((tmp_path / "fig2.json").read_text())
    assert saved["max_displacement"] == 0.12 and saved["provenance"]["config_hash"] == "cfg0"
    assert saved["displacements"][0] is None and saved["step_bounds"][0] is None
    assert (tmp_path / "fig2.png").stat().st_size > 0 and (tmp_path / "fig2.pdf").exists()
    with pytest.raises(ValueError, match="no records of layer"):
        fig2(path, "res1-1-1", 0.05, "smoke", tmp_path / "nope")
    with pytest.raises(ValueError, match="sqrt"):
        fig2(path, "res3-1-2", 0.1, "smoke", tmp_path / "nope")
    lean = [{k: v for k, v in json.loads(line).items() if k != "energy_ratios"} for line in open(path)]
    with pytest.raises(ValueError, match="log_spectrum=true"):  # a run trained without the spectrum
        fig2(write_log(tmp_path / "lean/ranklog.jsonl", lean), "res3-1-2", 0.05, "smoke", tmp_path / "nope")


def test_fig2_panels_share_their_width(tmp_path):
    """The energy-ratio panel's colorbar does not narrow that panel: both panels span the same z."""
    from trp.report.fig2 import draw, rank_variation
    path, _ = fig2_log(tmp_path)
    fig = draw(rank_variation(path, "res3-1-2", 0.05))
    fig.tight_layout()
    top, bottom = (ax.get_position() for ax in fig.axes[:2])
    assert (top.x0, top.x1) == pytest.approx((bottom.x0, bottom.x1))


def test_fig3_points_are_runs_with_their_seeds(tmp_path):
    points = [point_of("channel", "TRP", "e1", [trp_metrics(tmp_path / f"c{s}/metrics.json", 92.0, acc, acc, sp, seed=s)
                                                for s, (acc, sp) in enumerate(((89.0, 3.0), (90.0, 3.1)))]),
              point_of("channel", "TRP", "e2", [trp_metrics(tmp_path / "d/metrics.json", 92.0, 91.0, 91.0, 2.0)]),
              point_of("spatial", "Basic", "b", [finetuned_metrics(tmp_path / "s/metrics.json", 60.0, 85.0, 2.5)])]
    data = fig3({"model": "resnet20", "points": points}, "smoke", tmp_path / "fig3")
    trp = data["channel"]["TRP"]
    assert [p["label"] for p in trp] == ["e2", "e1"]  # by speedup
    assert trp[1]["speedup"]["mean"] == pytest.approx(3.05) and trp[1]["top1"] == mean_std([89.0, 90.0])
    assert [p["top1"]["mean"] for p in data["spatial"]["Basic"]] == [85.0]  # after fine-tuning
    assert data["spatial"]["Basic"][0]["epochs"] == f"{EPOCHS} + {FT_EPOCHS}" and trp[0]["epochs"] == f"{EPOCHS}"
    assert (tmp_path / "fig3.png").exists() and (tmp_path / "fig3.pdf").exists()


def test_footers_name_the_hashes_file_instead_of_listing_the_hashes(tmp_path):
    """Tables and figures show profile, commit, devices and seeds; the inputs' hashes (one per
    checkpoint: dozens) are in a file beside them, and a long list never eats a figure's height."""
    from trp.report.figures import plt, save_figure
    from trp.report.tables import write_table
    footer = {"profile": "p", "commit": "abc", "checkpoints": ", ".join(f"finetuned={i:016x}" for i in range(120)),
              "config_hash": "c1, c2", "data_fingerprint": "d", "device": "cpu-test", "rendered_by": "def"}
    fig, ax = plt.subplots(figsize=(10, 4.2))
    ax.plot([1, 2], [80, 85])
    save_figure(fig, tmp_path / "f", footer)
    assert fig.get_figheight() < 4.2 + 0.3 and ax.get_position().height * fig.get_figheight() > 0.75 * 4.2
    write_table([{"a": 1.5}, {"section": "more"}, {"a": None}], [("a", "x<y")], tmp_path / "t", "T & co", footer)
    md, page = (tmp_path / "t.md").read_text(), (tmp_path / "t.html").read_text()
    for text in (md, page):
        assert "commit: abc" in text and "device: cpu-test" in text and "rendered_by: def" in text
        assert "finetuned=" not in text and "c1, c2" not in text and "hashes: t.provenance.json" in text
    assert json.loads((tmp_path / "t.provenance.json").read_text()) == footer
    assert "<th>x&lt;y</th>" in page and "<td>1.50</td>" in page and '<th colspan="1">more</th>' in page
    assert "<caption><b>T &amp; co</b></caption>" in page


def ms(mean, std, n=2):
    return {"mean": mean, "std": std, "n": n}


def test_latency_target_is_met_with_confidence_only_where_the_lower_bound_reaches_it():
    assert target_verdict({"met": True, "met_with_confidence": True}) == "met with confidence"
    assert target_verdict({"met": True, "met_with_confidence": False}) == "met (point estimate only)"
    assert target_verdict({"met": False, "met_with_confidence": False}) == "not met"


def curve(*points):
    """A curve of (speedup, top-1 mean, top-1 std, n) points."""
    return equal_macs.curve([{"label": str(s), "speedup": ms(s, 0.0), "top1": ms(m, sd, n), "epochs": "15",
                              "records": [f"{s}x/metrics.json"]} for s, m, sd, n in points])


def test_curves_interpolate_between_points_and_never_extrapolate():
    c = curve((2.5, 70.0, 0.4, 3), (1.5, 80.0, 0.2, 2))
    w = (2.0 - 1.5) / (2.5 - 1.5)
    mid = equal_macs.at(c, 2.0)
    assert mid["mean"] == pytest.approx(80.0 + w * (70.0 - 80.0)) and mid["std"] == pytest.approx(0.2 + w * (0.4 - 0.2))
    assert mid["n"] == 2 and mid["where"] == "interpolated between 1.50x and 2.50x"
    assert mid["variance_units"] == pytest.approx((1 - w) ** 2 / 2 + w ** 2 / 3)  # the interpolated mean's variance
    near = equal_macs.at(c, 1.5 * (1 + 0.5 * equal_macs.EQUAL_MACS))  # within EQUAL_MACS of a point: that point
    assert (near["mean"], near["where"]) == (80.0, "measured at 1.50x")
    assert equal_macs.at(c, 3.0) is None and equal_macs.at(c, 1.2) is None
    assert equal_macs.highest_common(c, curve((2.0, 75.0, 0.1, 2), (3.0, 60.0, 0.1, 2))) == 2.5
    assert equal_macs.highest_common(c, curve((2.6, 75.0, 0.1, 2), (3.0, 60.0, 0.1, 2))) is None


def test_equal_macs_row_reads_both_curves_at_the_highest_common_speedup():
    trp = curve((2.0, 88.0, 0.2, 2), (3.0, 86.0, 0.2, 2))
    basic = curve((1.5, 87.0, 0.3, 2), (2.5, 81.0, 0.3, 2))
    sd = Pool(0.3, 8, "top-1")
    row = equal_macs_row("TRP beats Basic", "TRP", trp, "Basic", basic, sd)
    a = 88.0 + (2.5 - 2.0) / (3.0 - 2.0) * (86.0 - 88.0)  # TRP at 2.5x, interpolated
    assert row["verdict"] == "supported" and row["evidence"].startswith("at 2.50x:")
    assert f"a − b = {a - 81.0:+.2f}" in row["evidence"] and row["epochs"] == "15 vs 15"
    assert row["records"] == ["2.0x/metrics.json", "3.0x/metrics.json", "2.5x/metrics.json"]  # the points read
    apart = equal_macs_row("TRP beats Basic", "TRP", curve((3.0, 86.0, 0.2, 2)), "Basic", basic, sd)
    assert apart["verdict"] == "inconclusive" and "no extrapolation" in apart["evidence"]
    assert apart["records"] == ["3.0x/metrics.json", "1.5x/metrics.json", "2.5x/metrics.json"]  # both curves


def test_latency_verdicts_need_a_spread_small_against_the_difference():
    def r(median, iqr):
        return {"median_s": median, "iqr_s": iqr}

    assert faster(r(2.0, 0.2), r(1.0, 0.2))[0] == "supported"      # |2 - 1| > (0.2 + 0.2) / 2
    assert faster(r(1.0, 0.2), r(2.0, 0.2))[0] == "not supported"
    assert faster(r(1.1, 0.4), r(1.0, 0.4))[0] == "inconclusive"   # 0.1 <= 0.4: the IQR ranges overlap
    with_ci = {"median_s": 1.0, "iqr_s": 0.01, "speedup": 1.3, "speedup_ci": [0.9, 1.6], "faster": "inconclusive"}
    assert faster(r(1.3, 0.01), with_ci) == ("inconclusive", "1.30x, interval 0.90-1.60x")  # trp.runtime/2 rows
    assert faster(r(1.3, 0.01), {**with_ci, "speedup_ci": [1.1, 1.6], "faster": True})[0] == "supported"


def claims_inputs(tmp_path):
    """Two seeds of the baseline, TRP1, TRP1 + fine-tuning and Zhang2016 at 1.41x and at TRP1's MACs;
    one seed of TRP1+Nu. Fig. 3: TRP1 and a one-seed TRP run at 3.0x, Basic at 1.41x, 2.04x and 2.61x."""
    def seeds(name, make):
        return [make(tmp_path / f"{name}/s{s}/metrics.json", s) for s in (0, 1)]

    runs = {"baseline": seeds("base", lambda p, s: write_metrics(p, {"dense": 91.0 + 0.4 * s}, 1.0, seed=s)),
            "TRP1": seeds("trp1", lambda p, s: trp_metrics(p, 90.4 + 0.4 * s, 90.2 + 0.4 * s, 90.2 + 0.4 * s,
                                                           2.0 + 0.04 * s, seed=s)),
            "TRP1+FT": seeds("trp1ft", lambda p, s: finetuned_metrics(p, 90.2 + 0.4 * s, 90.5 + 0.4 * s,
                                                                      2.0 + 0.04 * s, seed=s)),
            "Zhang2016": seeds("z", lambda p, s: finetuned_metrics(p, 70.0, 89.0 + 0.4 * s, 1.41, seed=s)),
            "Zhang2016@TRP1": seeds("zt", lambda p, s: finetuned_metrics(p, 60.0, 86.0 + 0.4 * s, 2.02 + 0.04 * s,
                                                                          seed=s)),
            "TRP1+Nu": [trp_metrics(tmp_path / "nu/metrics.json", 89.5, 89.2, 89.0, 2.5)]}
    points = {"trp1": ("TRP", runs["TRP1"]),
              "trp3": ("TRP", [trp_metrics(tmp_path / "t3/metrics.json", 88.0, 87.5, 87.5, 3.0)]),
              "z": ("Basic", runs["Zhang2016"]), "zt": ("Basic", runs["Zhang2016@TRP1"]),
              "z3": ("Basic", seeds("z3", lambda p, s: finetuned_metrics(p, 50.0, 83.0 + 0.4 * s, 2.61, seed=s)))}
    return runs, [point_of("channel", method, run, paths) for run, (method, paths) in points.items()]


def test_claims_at_equal_macs_with_seed_spreads(tmp_path):
    """Each verdict follows from the records written here, for the reason it states."""
    runs, points = claims_inputs(tmp_path)
    log, _ = fig2_log(tmp_path)
    timing = runtime_doc(tmp_path / "runtime.json", "resnet20", {"baseline": 2.0, "TRP1+Nu": 1.0},
                         {"baseline": 1.0, "TRP1+Nu": 2.5})
    rank_logs = [{"model": "resnet20", "run": "rankvar", "seed": 0, "rank_log": log}]
    rows, records, pools = claims(run_table_of(runs, points, rank_logs),
                                  {"ranklog": log, "layer": "res3-1-2", "e": 0.05, "projections": 0}, [timing])
    by = {r["claim"]: r for r in rows}
    assert len(records) == 11 + 9  # Table 1's, then Fig. 3's (TRP1 and Zhang2016 read again as points)
    sd = mean_std([0.0, 0.4])["std"]  # every two-seed row here has std(0, 0.4): the pooled top-1 SD
    top1 = next(p for p in pools if p.what == "R-20 top-1 (%)")
    assert top1.sd == pytest.approx(sd) and top1.df == 5  # baseline, TRP1, TRP1+FT, Zhang2016 and Zhang2016@TRP1
    half = stats.t.ppf(0.975, 5) * sd  # the interval's half width for two two-seed rows: sd * sqrt(1/2 + 1/2)
    trp1, base, ft = 90.4, 91.2, 90.7  # means of the two seeds

    beats = by["R-20: TRP1 (no fine-tuning) beats [Zhang et al., 2016] (fine-tuned) at equal conv MACs (Table 1)"]
    assert beats["verdict"] == "supported" and beats["epochs"] == f"{EPOCHS} vs {EPOCHS} + {FT_EPOCHS}"
    assert "at 2.02x" in beats["evidence"] and "b measured at 2.04x" in beats["evidence"]  # within 2 %: equal MACs
    assert f"a − b = {trp1 - 86.2:+.2f}" in beats["evidence"]
    fair = by["R-20: TRP1 + the same fine-tuning beats [Zhang et al., 2016] at equal conv MACs and epochs"]
    assert fair["verdict"] == "supported" and fair["epochs"] == f"{EPOCHS} + {FT_EPOCHS} vs {EPOCHS} + {FT_EPOCHS}"
    nu = by["R-20: TRP1+Nu (no fine-tuning) beats [Zhang et al., 2016] (fine-tuned) at equal conv MACs (Table 1)"]
    assert nu["verdict"] == "inconclusive" and "no extrapolation" in nu["evidence"]  # 2.5x is beyond Zhang's 1.41-2.04x
    speed = by["R-20: nuclear regularization raises TRP1's speedup (Table 1)"]  # one seed, judged by TRP1's SD
    assert speed["verdict"] == "supported" and "1 df" in speed["evidence"]  # 0.48 against 12.7 * 0.028 * sqrt(1.5)
    better = by["R-20: TRP1+Nu beats TRP1 at equal conv MACs ('results become even better', Sec. 4.3)"]
    assert better["verdict"] == "inconclusive" and "interpolated between 2.02x and 3.00x" in better["evidence"]

    loss = "R-20: TRP1 decomposed without fine-tuning loses at most 1 point against"
    own = by[f"{loss} its own dense network (Sec. 1)"]  # 90.4 vs 90.6: -0.2 + 1 > spread
    assert own["verdict"] == "supported" and f"a − b = {trp1 - 90.6:+.2f}" in own["evidence"]
    vs_base = by[f"{loss} the baseline (Sec. 1, 4.3)"]  # -0.8 + 1 = 0.2 inside the interval's half width 0.73
    assert vs_base["verdict"] == "inconclusive" and abs(trp1 - base + 1.0) <= half
    vs_ft = by[f"{loss} itself fine-tuned like the basic methods (Sec. 1)"]  # paired: -0.3 at both seeds
    assert vs_ft["verdict"] == "supported" and "paired over 2 seeds" in vs_ft["evidence"]
    assert vs_ft["epochs"] == f"{EPOCHS} vs {EPOCHS} + {FT_EPOCHS}"

    fig3_row = by["Fig. 3 (channel): TRP keeps more accuracy than Basic as the speedup rises"]
    assert fig3_row["evidence"].startswith("at 2.61x")  # TRP read between 2.02x and the one-seed 3.0x run: +5.45
    assert fig3_row["verdict"] == "supported" and "5 df" in fig3_row["evidence"]
    assert by["Fig. 2: Theorem 2's assumption holds in the initial training stage (paper: max mG/||W|| 0.092 < "
              "sqrt(e) 0.223)"]["verdict"] == "supported"
    assert by["Table 4: TRP1+Nu runs faster than the baseline (resnet20, CPU test, batch 1)"]["verdict"] == "supported"
    assert by["Table 1 rows of R-56"]["verdict"] == "not tested"

    # each row names the records it was judged from: a side read at a point, that point's seeds
    assert own["records"] == runs["TRP1"]
    assert vs_base["records"] == runs["TRP1"] + runs["baseline"]
    assert vs_ft["records"] == [p for pair in zip(runs["TRP1"], runs["TRP1+FT"]) for p in pair]
    assert beats["records"] == runs["TRP1"] + runs["Zhang2016@TRP1"]
    assert speed["records"] == runs["TRP1+Nu"] + runs["TRP1"]
    point_records = {p["run"]: list(p["records"].values()) for p in points}
    assert fig3_row["records"] == runs["TRP1"] + point_records["trp3"] + point_records["z3"]
    assert by["Table 4: TRP1+Nu runs faster than the baseline (resnet20, CPU test, batch 1)"]["records"] == [timing]
    assert all(r["records"] == [log] for r in rows if r["claim"].startswith(("Fig. 2", "Theorem 2", "Eq. (12)")))
    assert by["Table 1 rows of R-56"]["records"] == []


def test_a_running_profile_is_judged_on_the_records_it_has(tmp_path):
    """Claims and Table 1 of a profile still running: the inputs it lacks are "not tested", each
    pending row is listed with its state, and nothing is judged on a row that has no record."""
    runs, _ = claims_inputs(tmp_path)
    del runs["Zhang2016@TRP1"]
    pending = {"Zhang2016@TRP1": ["seed 0: waiting for TRP1", "seed 1: waiting for TRP1"]}
    rows, _, _ = claims(run_table_of(runs, pending=pending), None, [])
    by = {r["claim"]: r for r in rows}
    for claim in ("Fig. 2: Theorem 2's assumption holds in the initial training stage (paper: max mG/||W|| 0.092 < "
                  "sqrt(e) 0.223)", "Table 4: the decomposed +Nu networks run faster than the baseline",
                  "Fig. 3: TRP keeps more accuracy than the basic methods as the speedup rises"):
        assert by[claim]["verdict"] == "not tested" and "no record yet" in by[claim]["evidence"]
    running = by["Table 1 rows still running (the claims on them are judged when they finish)"]
    waiting = "seed 0: waiting for TRP1; seed 1: waiting for TRP1"
    assert running["evidence"] == f"R-20 [Zhang et al., 2016] at TRP1's MACs: {waiting}"
    fair = by["R-20: TRP1 + the same fine-tuning beats [Zhang et al., 2016] at equal conv MACs and epochs"]
    assert "at 2.02x" not in fair["evidence"]  # judged on the 1.41x row alone: no equal MACs to compare at
    assert fair["verdict"] == "inconclusive"
    assert by["Absolute accuracies of Table 1 (e.g. R-20 baseline 91.74 %)"]["verdict"] == "not tested"

    out = table1(run_table_of(runs, pending=pending)["tables"], "smoke", tmp_path / "out/table1")
    state = {(r["model"], r["method"]): r["state"] for r in out}
    assert state[("R-20", "TRP1")] == "done" and state[("R-56", "TRP1")] is None
    assert state[("R-20", "[Zhang et al., 2016] at TRP1's MACs")] == waiting
    assert "state of this profile's run" in (tmp_path / "out/table1.md").read_text()
    done = run_table_of(runs)["tables"]
    assert "state" not in table1(done, "smoke", tmp_path / "done/table1")[0]  # a finished profile: no such column


def test_absolute_accuracies_are_judged_at_the_papers_schedule(tmp_path):
    """At 164 epochs each Table-1 row the paper has is held to its top-1 (at most 1 point below)."""
    def seeds(name, top1, speedup):
        return [write_metrics(tmp_path / f"{name}/s{s}/metrics.json",
                              {"dense": top1 + 0.2 * s, "decomposed": top1 + 0.2 * s}, speedup, seed=s,
                              epochs=paper.CIFAR_EPOCHS) for s in (0, 1)]

    runs = {"baseline": seeds("base", 91.5, 1.0), "TRP1": seeds("trp1", 87.0, 2.0)}
    rows, _, _ = claims(run_table_of(runs), None, [])
    by = {r["claim"]: r for r in rows}
    base = by["R-20: baseline reaches the paper's top-1 within 1 point (Table 1)"]
    assert base["verdict"] == "supported" and base["epochs"] == "164 vs 164"  # 91.6 vs 91.74 - 1, SD 0.14, 2 df
    trp1 = by["R-20: TRP1 reaches the paper's top-1 within 1 point (Table 1)"]
    assert trp1["verdict"] == "not supported"  # 87.1 vs 89.12
    assert "Absolute accuracies of Table 1 (e.g. R-20 baseline 91.74 %)" not in by


def test_cobla_table_reads_finetuned_accuracy_of_allocations(tmp_path):
    allocation = write_allocation(tmp_path / "sqp/ranks.json", objective={"start": 1.5, "end": 1.2, "rounded": 1.25})
    cobla = {"model": "resnet20", "seed": 0, "rows": [
        {"budget": "x2", "method": "sqp", "run": "basic-channel-sqp-x2", "allocation": str(allocation),
         "record": finetuned_metrics(tmp_path / "sqp/metrics.json", 40.0, 88.0, 2.0)},
        {"budget": "x2", "method": "budgeted_trp", "run": "trpbudget-channel-x2", "allocation": None,
         "record": trp_metrics(tmp_path / "b/metrics.json", 91.0, 90.0, 89.5, 2.0)}]}
    timing = runtime_doc(tmp_path / "runtime.json", "resnet20",
                         {"baseline": 2.0, "x2/sqp": 1.2, "x2/budgeted_trp": 1.1},
                         {"baseline": 1.0, "x2/sqp": 2.0, "x2/budgeted_trp": 2.0})
    rows = cobla_table(cobla, [timing], "smoke", tmp_path / "cobla")
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


def smoke_run_table():
    from trp import profile
    from trp.runs import RunTable
    return RunTable(profile.load(ROOT / "config" / "smoke.yaml"))


def test_budget_sums_benchmark_files_per_stage_and_machine_and_takes_epochs_from_the_same_jobs(tmp_path,
                                                                                               monkeypatch):
    """The smoke profile's jobs, by the run table: TRP1 and TRP2 trained, TRP1+Nu's training without a
    record yet, the basic channel method's allocation, decomposition and fine-tuning, a rendering."""
    from trp.report.budget import budget
    monkeypatch.chdir(tmp_path)
    table = smoke_run_table()
    base, trp1, trp2, nu, basic = (table.tables["resnet20"][key] for key in
                                   ("baseline", "TRP1", "TRP2", "TRP1+Nu", "Zhang2016"))
    header = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    jobs = {f"train/resnet20/{base}/s0": (3600.0, 3000.0), f"train/resnet20/{trp1}/s0": (7200.0, 6000.0),
            f"train/resnet20/{trp2}/s0": (5400.0, 4500.0), f"train/resnet20/{nu}/s0": (1800.0, 1500.0),
            f"finetune/resnet20/{basic}/s0": (600.0, "NA"), f"tsvd/resnet20/{basic}/s0": (30.0, 20.0),
            f"allocate/resnet20/{basic}/s0": (4.0, 3.0),
            "render/table1": (6.0, 5.0)}
    for job, (wall, cpu) in jobs.items():
        tsv = tmp_path / "results/smoke/benchmarks" / f"{job}.tsv"
        tsv.parent.mkdir(parents=True, exist_ok=True)
        tsv.write_text(header + f"{wall}\t0:00:00\t1\t1\t1\t1\t0\t0\t50\t{cpu}\n")
    epochs = {f"runs/resnet20/{base}/s0": [200.0, 260.0], f"runs/resnet20/{trp1}/s0": [250.0, 300.0, 1000.0],
              f"runs/resnet20/{trp2}/s0": [100.0], f"finetune/resnet20/{basic}/s0": [50.0],
              f"tsvd/resnet20/{basic}/s0": []}  # the same job name as the fine-tuning, another stage
    for run, seconds in epochs.items():
        record = tmp_path / "results/smoke" / run / "metrics.json"
        write_metrics(record, {"dense": 90.0})
        m = json.loads(record.read_text())
        m["training"]["history"] = [{"epoch": i + 1, "seconds": s, "images_per_s": 50000 / s}
                                    for i, s in enumerate(seconds)]
        if run.startswith((f"runs/resnet20/{trp2}", "tsvd/")):
            m["provenance"]["device"] = "CPU: another, 1 threads"  # a run moved to another machine
        record.write_text(json.dumps(m))
    write_allocation(tmp_path / f"results/smoke/allocate/resnet20/{basic}/s0/ranks.json", provenance=provenance())
    rows = {(r["stage"], r["device"]): r for r in budget(table, "cpu", tmp_path / "out" / "budget")}
    train, other, ft, total = (rows["train", "cpu-test"], rows["train", "CPU: another, 1 threads"],
                               rows["finetune", "cpu-test"], rows["total", "all"])
    assert (train["jobs"], train["job_hours"], train["cpu_hours"]) == (2, 3.0, 9000 / 3600)
    assert train["median_min"] == 90.0 and train["max_min"] == 120.0
    assert (train["epochs"], train["epoch_s"], train["images_per_s"]) == (5, 260.0, 50000 / 260.0)
    assert (other["jobs"], other["job_hours"], other["epoch_s"]) == (1, 1.5, 100.0)
    assert rows["train", "n/a"]["jobs"] == 1 and rows["train", "n/a"]["epochs"] is None  # TRP1+Nu: no record
    assert ft["cpu_hours"] is None and ft["epoch_s"] == 50.0  # a job without CPU time leaves the stage's sum unknown
    assert ft["epochs"] == 1 and rows["tsvd", "CPU: another, 1 threads"]["jobs"] == 1  # each stage its own record
    assert rows["render", "n/a"]["epochs"] is None
    assert rows["allocate", "cpu-test"]["jobs"] == 1  # an allocation's machine from its ranks.json
    assert total["jobs"] == 8 and total["job_hours"] == pytest.approx(18640 / 3600)
    md = (tmp_path / "out" / "budget.md").read_text()
    assert "| train | cpu-test | 2 | 90.00 | 120.00 | 3.00 | 2.50 | 5 | 260.00 |" in md and "Provenance" in md


def test_budget_reads_no_record_of_a_job_the_run_table_has_not(tmp_path, monkeypatch):
    """A benchmark file and a record in the folders of a run the profile does not make are no job of it:
    counted in their stage, without the record's machine or epochs."""
    from trp.report.budget import budget
    monkeypatch.chdir(tmp_path)
    tsv = tmp_path / "results/smoke/benchmarks/train/resnet20/not-a-run/s0.tsv"
    tsv.parent.mkdir(parents=True)
    tsv.write_text("s\tcpu_time\n60.0\t50.0\n")
    write_metrics(tmp_path / "results/smoke/runs/resnet20/not-a-run/s0/metrics.json", {"dense": 90.0})
    rows = budget(smoke_run_table(), "smoke", tmp_path / "budget")
    assert (rows[0]["stage"], rows[0]["device"], rows[0]["jobs"], rows[0]["epochs"]) == ("train", "n/a", 1, None)


def test_budget_refuses_a_folder_without_benchmark_files(tmp_path, monkeypatch):
    from trp.report.budget import budget
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results/smoke/benchmarks").mkdir(parents=True)
    with pytest.raises(ValueError, match="no benchmark files"):
        budget(smoke_run_table(), "smoke", tmp_path / "budget")
