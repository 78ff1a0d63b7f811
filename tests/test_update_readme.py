"""scripts/update_readme.py: the results page and the README's summary are drawn from committed records only."""
import json
import subprocess
import sys
from pathlib import Path

from trp.report.seeds import mean_std

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from update_readme import BEGIN, END, results_page, summary  # noqa: E402


def run(top1, seconds=54.0):
    return {"top1": top1, "epochs": 15, "median_epoch_s": seconds, "median_images_per_s": 50000 / seconds,
            "device": "cpu-test", "commit": "abc"}


def test_the_bf16_record_becomes_a_table_with_each_seed_and_the_mean(tmp_path):
    bench = tmp_path / "results" / "benchmarks"
    bench.mkdir(parents=True)
    record = {"script": "benchmarks/precision_accuracy.py", "profile": "cpu", "profile_train": {"epochs": 15},
              "jobs": "one 1-thread job per seed, all at once", "git": {"commit": "72dcac8" + "0" * 33, "dirty": False},
              "runs": {"bf16": {"seeds": {"s0": run(85.0), "s1": run(86.0)}, "top1": mean_std([85.0, 86.0])},
                       "fp32 (published profile)": {"seeds": {"s0": run(85.5, 160.0)}, "top1": mean_std([85.5])}}}
    (bench / "bf16_baseline_cpu_test.json").write_text(json.dumps(record))
    text = results_page(["cpu"], tmp_path)
    assert "### Does bf16 keep the accuracy? (`results/benchmarks/bf16_baseline_cpu_test.json`)" in text
    assert "| bf16 | 1 | 86.00 | 54.0 | 926 | cpu-test |" in text
    assert "| bf16 | mean ± std | 85.50 ± 0.71 (n=2) | | | |" in text
    assert "| fp32 (published profile) | mean ± std | 85.50 (n=1) | | | |" in text and "commit 72dcac8, dirty False" in text
    assert "No table of the `cpu` profile has been rendered yet" in text


TABLE1 = """**Table 1**

| model | method | training (epochs) | ours: top-1 (%) | ours: speedup (conv MACs) | paper: top-1 (%) | paper: speedup | ours − paper: top-1 | ours − paper: speedup |
|---|---|---|---|---|---|---|---|---|
| R-20 | TRP1 | 15 | 83.00 ± 0.10 (n=2) | 1.50 ± 0.02 (n=2) | 90.12 | 1.97 | -7.12 | -0.47 |
| R-56 | TRP1 | – | – | – | 92.77 | 2.31 | – | – |

**Provenance.** profile: test; commit: abc
"""


def write_profile(root: Path, profile: str):
    tables = root / "paper_tables" / profile
    tables.mkdir(parents=True)
    (tables / "table1.md").write_text(TABLE1)
    claims = [{"claim": "R-20: TRP1 (no fine-tuning) beats [Zhang et al., 2016] (fine-tuned) at equal conv MACs (Table 1)",
               "verdict": "not supported", "epochs": "15 vs 15 + 2",
               "evidence": "at 1.50x: a = TRP1 83.00, b = Zhang 84.00; a − b = -1.00: 95% interval [-1.70, -0.30] "
                           "(pooled seed SD 0.34 of R-20 top-1 (%), 15 df) below 0"},
              {"claim": "Theorem 2: the rank does not rise", "verdict": "inconclusive", "evidence": "no power", "epochs": "–"}]
    (tables / "claims.json").write_text(json.dumps({"claims": claims}))
    (tables / "claims.md").write_text("**Claims**\n\n| claim | verdict |\n|---|---|\n| TRP1 beats Zhang | not supported |\n")


def test_the_readme_summary_holds_the_measured_table1_rows_and_the_table1_verdicts_only(tmp_path):
    write_profile(tmp_path, "cpu")
    text = summary("cpu", tmp_path)
    assert "| R-20 | TRP1 | 15 | 83.00 ± 0.10 (n=2) | 1.50 ± 0.02 (n=2) | 90.12 | 1.97 |" in text
    assert "R-56" not in text  # rows the profile did not measure stay in the full table
    assert ("| TRP1 (no fine-tuning) beats [Zhang et al., 2016] (fine-tuned) at equal conv MACs (Table 1) | "
            "not supported | -1.00 | 95% interval [-1.70, -0.30] |") in text
    assert "Theorem 2" not in text
    assert "no Table-1 row rendered yet (`paper_tables/paper_cpu/table1.md`" in summary("paper_cpu", tmp_path)


def test_the_script_writes_the_page_and_replaces_only_the_readme_block(tmp_path):
    write_profile(tmp_path, "cpu")
    (tmp_path / "README.md").write_text(f"# Title\n\nbefore\n\n{BEGIN}\nold block\n{END}\n\nafter\n")
    subprocess.run([sys.executable, str(ROOT / "scripts" / "update_readme.py"), "--root", str(tmp_path)], check=True)
    readme = (tmp_path / "README.md").read_text()
    assert readme.startswith("# Title\n\nbefore\n\n") and readme.endswith(f"{END}\n\nafter\n")
    assert "old block" not in readme and "| R-20 | TRP1 | 15 |" in readme and "**Provenance.**" not in readme
    page = (tmp_path / "docs" / "results.md").read_text()
    assert "## Profile `cpu`" in page and "*Table 1*" in page and "**Provenance.** profile: test; commit: abc" in page
    assert "## Profile `paper_cpu`" in page and "No table of the `paper_cpu` profile has been rendered yet" in page


def test_a_benchmark_record_whose_commit_is_unknown_is_named_in_one_line_and_the_page_is_drawn(tmp_path):
    """A record made from a copy of the code without .git names no commit; one made elsewhere may name
    a commit this clone does not hold: each is one line on stderr, and every table is still drawn."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    bench = tmp_path / "results" / "benchmarks"
    bench.mkdir(parents=True)
    row = {"model": "resnet20", "scheme": "channel", "precision": "fp32", "images_per_s": {"plain": 100.0},
           "ratio_to_plain": {"plain": 1.0, "trp": 1.2}}
    for name, git in (("train_step_gpu_none.json", {"commit": None, "dirty": None}),
                      ("train_step_gpu_elsewhere.json", {"commit": "f" * 40, "dirty": False})):
        (bench / name).write_text(json.dumps({"device": "stand-in GPU", "git": git, "m": 20, "lam": 3e-4, "e": 0.02,
                                              "rows": [row]}))
    (tmp_path / "README.md").write_text(f"# Title\n\n{BEGIN}\n{END}\n")
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "update_readme.py"), "--root", str(tmp_path)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines() == [
        "update_readme: train_step_gpu_elsewhere.json: commit fffffff is not in this clone's history",
        "update_readme: train_step_gpu_none.json: the record names no commit; its table says 'commit unknown'"]
    page = (tmp_path / "docs" / "results.md").read_text()
    assert "(stand-in GPU; commit unknown, m = 20" in page and "(stand-in GPU; commit fffffff, m = 20" in page


def test_a_run_carried_in_a_snapshot_is_summarised_from_its_logs(tmp_path):
    """A profile run in progress (profile_snapshots/<tag>/) is summarised from the job logs in the snapshot: the
    trainings started and not finished, each at its last logged epoch; a finished one (its benchmark file) is not."""
    import shutil

    shutil.copytree(ROOT / "config", tmp_path / "config")
    files = tmp_path / "profile_snapshots" / "run-tag" / "files"
    logs = files / "results" / "paper_cpu" / "logs" / "train" / "resnet20"
    epoch = {"seconds": 150.0, "train_loss": 0.1}
    for run, last in (("baseline", 87), ("trp-spatial-e0.02-lam0.0003", 83), ("trp-channel-e0.02-lam0.0003", 164)):
        (logs / run).mkdir(parents=True)
        (logs / run / "s0.log").write_text("".join(json.dumps({"epoch": e, **epoch, "test_top1": 80.0 + e / 100}) + "\n"
                                                   for e in range(last - 1, last + 1)))
    done = files / "results" / "paper_cpu" / "benchmarks" / "train" / "resnet20" / "trp-channel-e0.02-lam0.0003"
    done.mkdir(parents=True)
    (done / "s0.tsv").write_text("s\n1\n")
    (files.parent / "manifest.json").write_text(json.dumps({"profile": "paper_cpu", "commit": "f3ac14f" + "0" * 33}))
    text = summary("paper_cpu", tmp_path)
    assert "no Table-1 row rendered yet" in text and "from commit `f3ac14f`" in text
    assert "R-20 baseline, seed 0: epoch 87 of 164 (test top-1 80.87 %); R-20 TRP2+Nu, seed 0: epoch 83 of 164" in text
    assert "TRP1+Nu" not in text and "not a Table-1 number" in text
    assert "in progress" not in summary("cpu", tmp_path)
