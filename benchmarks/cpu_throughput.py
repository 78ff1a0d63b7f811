"""Plain ResNet-20 training throughput on this machine's CPU cores, for choosing the cpu profile's settings.

python benchmarks/cpu_throughput.py --out results/benchmarks/cpu_throughput.json
Each setting is a precision (fp32 or bf16 autocast), a memory format and a way to use the cores: one job
with all the threads, or one 1-thread job per core running at once (images/s summed over the jobs).
Every job is a fresh process timing plain SGD steps (benchmarks/train_step.py's `setup` and `steps`) on
random CIFAR-shaped batches after a warm-up; the settings are interleaved round-robin over several
rounds and the median per setting is reported.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

from trp.artifacts import atomic_write_text
from trp.artifacts.provenance import device_name, git_commit, versions

SETTINGS = {  # name: (precision, channels_last, jobs, threads per job)
    "fp32 channels_last, 1 job x 2 threads": ("fp32", True, 1, 2),
    "fp32 contiguous, 1 job x 2 threads": ("fp32", False, 1, 2),
    "bf16 channels_last, 1 job x 2 threads": ("bf16", True, 1, 2),
    "fp32 channels_last, 2 jobs x 1 thread": ("fp32", True, 2, 1),
}


def measure(precision, channels_last, jobs, threads, steps, batch):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    job = [sys.executable, __file__, "--job", precision, str(int(channels_last)), str(steps), str(batch)]
    procs = [subprocess.Popen(job, env=env, stdout=subprocess.PIPE, text=True) for _ in range(jobs)]
    outs = [p.communicate()[0] for p in procs]
    if any(p.returncode for p in procs):
        raise SystemExit("cpu_throughput: a timing job failed")
    return sum(float(o) for o in outs)


def job(precision, channels_last, steps, batch):
    """One timing process: images/s of plain ResNet-20 SGD steps after 3 warm-up steps."""
    import torch
    from train_step import setup, steps as timed_steps
    state = setup("resnet20", "channel", "plain", torch.device("cpu"), batch, channels_last=channels_last)
    timed_steps(state, 3, 1, precision, torch.device("cpu"))
    return batch / timed_steps(state, steps, 4, precision, torch.device("cpu"))


def main():
    if sys.argv[1:2] == ["--job"]:
        precision, channels_last, steps, batch = sys.argv[2:6]
        print(job(precision, channels_last == "1", int(steps), int(batch)))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=15)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    samples = {name: [] for name in SETTINGS}
    for _ in range(args.rounds):
        for name, setting in SETTINGS.items():
            samples[name].append(measure(*setting, args.steps, args.batch))
    base = statistics.median(samples["fp32 channels_last, 1 job x 2 threads"])
    rows = {name: {"images_per_s": statistics.median(s), "samples": s,
                   "relative_to_fp32_channels_last_1_job": statistics.median(s) / base} for name, s in samples.items()}
    with open("/proc/cpuinfo") as f:
        flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    record = {"model": "resnet20", "batch": args.batch, "steps": args.steps, "rounds": args.rounds,
              "device": device_name("cpu"), "cores": os.cpu_count(),
              "cpu_bf16_instructions": sorted(f for f in flags if "bf16" in f or f.startswith("amx")),
              "versions": versions(), "git": git_commit(), "settings": rows}
    atomic_write_text(args.out, json.dumps(record, indent=1) + "\n")
    for name, row in rows.items():
        print(f"{name:40s} {row['images_per_s']:7.0f} img/s  x{row['relative_to_fp32_channels_last_1_job']:.2f}")


if __name__ == "__main__":
    main()
