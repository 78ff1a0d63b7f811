"""Does bf16 keep a CPU profile's accuracy? Trains the profile's baseline in bf16 autocast for each of
its seeds, one 1-thread job per seed at once (the profile's way of sharing the cores), and writes each
run's test accuracy and epoch rate beside those of the profile's published fp32 baseline records.

python benchmarks/precision_accuracy.py --profile cpu --data data/prepared/cifar10.npz --work ../bf16-check \\
    --out results/benchmarks/bf16_baseline_cpu.json

Each run is `trp train` with the profile's train settings (config/<profile>.yaml) and precision=bf16;
run the command again with the same --work and an interrupted run resumes from its last epoch.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import yaml

from trp.artifacts import atomic_write_text, read_json
from trp.artifacts.provenance import git_commit, versions
from trp.report.seeds import mean_std

REPO = Path(__file__).resolve().parent.parent


def summary(metrics: dict) -> dict:
    """Top-1, epochs, median epoch seconds and images/s per job, and the machine of one run's metrics.json."""
    history = metrics["training"]["history"]
    return {"top1": metrics["accuracy"]["dense"], "epochs": len(history),
            "median_epoch_s": statistics.median(e["seconds"] for e in history),
            "median_images_per_s": statistics.median(e["images_per_s"] for e in history),
            "device": metrics["provenance"]["device"], "commit": metrics["provenance"].get("commit")}


def train_all(config: dict, data: str, work: Path) -> dict[int, Path]:
    """Runs one bf16 baseline per seed at once, each with one thread; returns each seed's metrics.json."""
    model = config["models"][0]
    jobs, outs = [], {}
    for seed in config["seeds"]:
        settings = {**config["train"], "model": model, "seed": seed, "method": "baseline", "precision": "bf16"}
        out = work / model / "baseline-bf16" / f"s{seed}"
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.yaml").write_text(yaml.safe_dump(settings))
        cmd = [sys.executable, "-m", "trp.cli", "train", "--no-progress", "--config", str(out / "config.yaml"),
               "--data", data, "--out", str(out)]
        with open(out / "train.log", "a") as log:
            jobs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                         env={**os.environ, "OMP_NUM_THREADS": "1"}))
        outs[seed] = out / "metrics.json"
    if any(job.wait() for job in jobs):
        raise SystemExit(f"precision_accuracy: a training failed; see train.log under {work}")
    return outs


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--data", required=True, help="prepared CIFAR-10 arrays (.npz)")
    ap.add_argument("--work", required=True, help="folder for the bf16 runs (outside the repository)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    config = yaml.safe_load((REPO / "config" / f"{args.profile}.yaml").read_text())
    outs = train_all(config, args.data, Path(args.work))
    fp32 = REPO / "results" / args.profile / "runs" / config["models"][0] / "baseline"
    seeds = {"bf16": {f"s{s}": summary(read_json(p)) for s, p in outs.items()},
             "fp32 (published profile)": {f"s{s}": summary(read_json(fp32 / f"s{s}" / "metrics.json"))
                                          for s in config["seeds"] if (fp32 / f"s{s}" / "metrics.json").exists()}}
    rows = {precision: {"seeds": runs, "top1": mean_std(r["top1"] for r in runs.values()) if runs else None}
            for precision, runs in seeds.items()}
    record = {"script": "benchmarks/precision_accuracy.py", "profile": args.profile,
              "profile_train": config["train"],  # the runs replace its precision with bf16
              "jobs": "one 1-thread job per seed, all at once", "versions": versions(), "git": git_commit(),
              "runs": rows}
    atomic_write_text(args.out, json.dumps(record, indent=1) + "\n")
    for precision, row in rows.items():
        print(f"{precision:26s} top-1 {row['top1']}")


if __name__ == "__main__":
    main()
