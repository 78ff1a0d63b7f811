"""scripts/update_readme.py: the README's results block is drawn from committed records only."""
import json
import sys
from pathlib import Path

from trp.report.common import mean_std

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from update_readme import block  # noqa: E402


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
    text = block("cpu", tmp_path)
    assert "#### Does bf16 keep the accuracy? (`results/benchmarks/bf16_baseline_cpu_test.json`)" in text
    assert "| bf16 | 1 | 86.00 | 54.0 | 926 | cpu-test |" in text
    assert "| bf16 | mean ± std | 85.50 ± 0.71 (n=2) | | | |" in text
    assert "| fp32 (published profile) | mean ± std | 85.50 (n=1) | | | |" in text and "commit 72dcac8, dirty False" in text
