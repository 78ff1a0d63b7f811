"""Plain ResNet-20 training throughput of this machine's CPU cores or GPU, for choosing a profile's settings.

python benchmarks/throughput.py --out results/benchmarks/cpu_throughput.json
python benchmarks/throughput.py --device cuda --out results/benchmarks/gpu_throughput.json
Each setting is a precision (fp32 or bf16 autocast), a memory format and a way to share the machine: on the
CPU one job with all the threads or one 1-thread job per core, on the GPU 1 to 8 jobs at once on the one GPU
(the paper profile's gpu.jobs_per_gpu). The jobs are worker processes started once and warmed up in every
setting; for each measurement the setting's jobs train plain SGD steps (benchmarks/train_step.py's `setup`
and `steps`, random CIFAR-shaped batches) in one common timed window, and the images/s summed over them is
what they train together. Settings are interleaved round-robin over several rounds; the median is reported.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from trp.artifacts import atomic_write_text
from trp.artifacts.provenance import device_name, git_commit, numerics, versions
from trp.stages.inputs import resolve_device

BASE = "fp32 channels_last, 1 job"  # the setting the others are compared with (on the CPU: with every thread)
SETTINGS = {  # device: {name: (precision, channels_last, jobs, CPU threads per job)}
    "cpu": {f"{BASE} x 2 threads": ("fp32", True, 1, 2),
            "fp32 contiguous, 1 job x 2 threads": ("fp32", False, 1, 2),
            "bf16 channels_last, 1 job x 2 threads": ("bf16", True, 1, 2),
            "fp32 channels_last, 2 jobs x 1 thread": ("fp32", True, 2, 1),
            "bf16 channels_last, 2 jobs x 1 thread": ("bf16", True, 2, 1)},
    "cuda": {BASE: ("fp32", True, 1, 1), "bf16 channels_last, 1 job": ("bf16", True, 1, 1),
             **{f"fp32 channels_last, {n} jobs": ("fp32", True, n, 1) for n in (2, 4, 8)},
             "bf16 channels_last, 4 jobs": ("bf16", True, 4, 1)},
}
def worker(device: str, batch: int) -> None:
    """A job: reads "warm PRECISION CHANNELS_LAST" or "time PRECISION CHANNELS_LAST THREADS START SECONDS"
    lines, answers "ok" or the images/s it trained in [START, START + SECONDS] ("late" if it missed START)."""
    import torch
    from train_step import setup, steps
    dev, states = resolve_device(device), {}  # fp32 operations in IEEE fp32, as in trp train (bf16 too)
    for line in sys.stdin:
        cmd, precision, channels_last, *rest = line.split()
        key = (precision, channels_last == "1")
        if key not in states:
            states[key] = setup("resnet20", "channel", "plain", dev, batch, channels_last=key[1])
        state = states[key]
        if cmd == "warm":
            steps(state, 5, 1, precision, dev)  # cuDNN's algorithm search on a GPU
            print("ok", flush=True)
            continue
        threads, start, seconds = int(rest[0]), float(rest[1]), float(rest[2])
        torch.set_num_threads(threads)
        if time.time() > start:
            print("late", flush=True)
            continue
        time.sleep(start - time.time())
        n, t0 = 0, time.perf_counter()
        while time.time() < start + seconds:
            steps(state, 5, 6 + n, precision, dev)  # synchronises the GPU
            n += 5
        print(batch * n / (time.perf_counter() - t0), flush=True)


class Workers:
    def __init__(self, device: str, jobs: int, batch: int, slack: float):
        self.slack = slack
        cmd = [sys.executable, __file__, "--worker", device, str(batch)]
        self.procs = [subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                      for _ in range(jobs)]

    def ask(self, procs, line: str) -> list[str]:
        for p in procs:
            p.stdin.write(line + "\n")
            p.stdin.flush()
        answers = [p.stdout.readline().strip() for p in procs]
        if not all(answers):
            raise SystemExit("throughput: a worker died")
        return answers

    def warm(self, precision: str, channels_last: bool) -> None:
        self.ask(self.procs, f"warm {precision} {int(channels_last)}")

    def measure(self, precision, channels_last, jobs, threads, seconds) -> float:
        answers = self.ask(self.procs[:jobs], f"time {precision} {int(channels_last)} {threads} "
                                              f"{time.time() + self.slack} {seconds}")
        if "late" in answers:
            raise SystemExit(f"throughput: a worker missed the common start; raise --slack ({self.slack} s)")
        return sum(float(a) for a in answers)

    def close(self) -> None:
        for p in self.procs:
            p.stdin.close()
            p.wait()


def main():
    if sys.argv[1:2] == ["--worker"]:
        worker(sys.argv[2], int(sys.argv[3]))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", choices=sorted(SETTINGS), default="cpu")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=10.0, help="timed window per setting and round")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--slack", type=float, default=2.0, help="seconds from sending a measurement to its common start")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    settings = SETTINGS[args.device]
    workers = Workers(args.device, max(s[2] for s in settings.values()), args.batch, args.slack)
    for precision, channels_last in dict.fromkeys((s[0], s[1]) for s in settings.values()):
        workers.warm(precision, channels_last)
    samples = {name: [] for name in settings}
    for _ in range(args.rounds):
        for name, setting in settings.items():
            samples[name].append(workers.measure(*setting, args.seconds))
    workers.close()
    base = statistics.median(next(iter(samples.values())))
    rows = {name: {"images_per_s": statistics.median(s), "samples": s,
                   "relative_to_fp32_channels_last_1_job": statistics.median(s) / base} for name, s in samples.items()}
    resolve_device(args.device)  # the numerics its workers set, to record them
    record = {"script": "benchmarks/throughput.py", "model": "resnet20", "batch": args.batch, "seconds": args.seconds, "rounds": args.rounds,
              "device": device_name(args.device), "numerics": numerics(), "cores": os.cpu_count(),
              "versions": versions(), "git": git_commit(),
              "settings": rows}
    if args.device == "cpu":
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
        record["cpu_bf16_instructions"] = sorted(f for f in flags if "bf16" in f or f.startswith("amx"))
    atomic_write_text(args.out, json.dumps(record, indent=1) + "\n")
    for name, row in rows.items():
        print(f"{name:40s} {row['images_per_s']:7.0f} img/s  x{row['relative_to_fp32_channels_last_1_job']:.2f}")


if __name__ == "__main__":
    main()
