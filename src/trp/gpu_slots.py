"""Several small jobs per GPU, each pinned to one device: `python -m trp.gpu_slots --per-gpu K -- CMD`
waits for a free slot (one of K per visible GPU, held by a file lock for as long as CMD runs), sets
CUDA_VISIBLE_DEVICES to that slot's GPU and runs CMD, passing SIGTERM, SIGINT and SIGHUP on to it and
returning its exit status (128 + N where signal N ended it). The GPUs are the ones the job may use:
those in an inherited CUDA_VISIBLE_DEVICES (as SLURM sets it), else all.

Snakemake's local executor counts GPU jobs (resources: gpu_jobs) but does not say which device a
job gets; the locks do: with G GPUs and K slots each, at most G*K jobs run and no GPU gets more
than K. The locks are named by device id and live in --lock-dir (default $TMPDIR/trp-gpu-slots,
and per SLURM job under SLURM, whose jobs own their GPUs); they vanish with the process, so a killed
job frees its slot. A device id is any CUDA_VISIBLE_DEVICES entry (an index, a GPU UUID, a MIG id
with "/" in it); its lock file name is the id with "/" and "%" escaped.

A bad argument, a command that cannot be started or a lock directory that cannot be used is one
line, `python -m trp.gpu_slots: error: ...`, exit status 2."""
import argparse
import fcntl
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from .cli_parser import Parser

PROG = "python -m trp.gpu_slots"


def gpu_count() -> int:
    import torch

    return torch.cuda.device_count()


def visible_devices(gpus: int | None = None) -> list[str]:
    """The device ids this job may use: an inherited CUDA_VISIBLE_DEVICES, else 0..gpus-1."""
    inherited = os.environ.get("CUDA_VISIBLE_DEVICES")
    if gpus is None and inherited:
        return [d.strip() for d in inherited.split(",") if d.strip()]
    return [str(i) for i in range(gpu_count() if gpus is None else gpus)]


def default_lock_dir() -> Path:
    job = os.environ.get("SLURM_JOB_ID")
    return Path(tempfile.gettempdir()) / (f"trp-gpu-slots-{job}" if job else "trp-gpu-slots")


def acquire(devices: list[str], per_gpu: int, lock_dir, poll_s: float = 1.0, timeout_s: float | None = None):
    """(device id, open lock fd) of the first free slot, least-loaded GPU first; waits if none is free."""
    lock_dir = Path(lock_dir)
    lock_dir.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    while True:
        for slot in range(per_gpu):          # fill slot 0 of every GPU before slot 1 of any
            for gpu in devices:
                fd = os.open(lock_dir / f"gpu{quote(gpu, safe='')}-slot{slot}.lock", os.O_RDWR | os.O_CREAT, 0o666)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return gpu, fd
                except BlockingIOError:
                    os.close(fd)
        if timeout_s is not None and time.monotonic() - start > timeout_s:
            raise TimeoutError(f"no free GPU slot among {len(devices)} GPU(s) x {per_gpu} after {timeout_s} s")
        time.sleep(poll_s)


def run(command, env=None) -> int:
    """Run `command` and return its exit status (128 + N where signal N ended it, as a shell gives).
    SIGTERM, SIGINT and SIGHUP sent to this process are passed on to it: a job manager that stops
    the job stops the command, instead of leaving it running on a GPU whose slot is freed."""
    child, early = None, []  # a signal that comes before the command has started is passed on once it has

    def pass_on(signum, _):
        if child is None:
            early.append(signum)
        else:
            child.send_signal(signum)

    previous = {s: signal.signal(s, pass_on) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    try:
        child = subprocess.Popen(command, env=env)
        for signum in early:
            child.send_signal(signum)
        code = child.wait()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return 128 - code if code < 0 else code


def main(argv=None) -> int:
    ap = Parser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--per-gpu", type=int, default=1, help="jobs that may share one GPU")
    ap.add_argument("--gpus", type=int,
                    help="number of GPUs 0..N-1 (default: CUDA_VISIBLE_DEVICES, else as torch sees them)")
    ap.add_argument("--lock-dir", default=default_lock_dir())
    ap.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD ARGS...")
    a = ap.parse_args(argv)
    command = a.command[1:] if a.command[:1] == ["--"] else a.command
    if not command or a.per_gpu < 1:
        ap.error("give --per-gpu >= 1 and a command after --")
    if a.gpus is not None and a.gpus < 0:
        ap.error(f"--gpus must be >= 0 (0: no GPU, run unpinned), got {a.gpus}")
    devices = visible_devices(a.gpus)
    try:
        if not devices:  # no GPU: nothing to share, run as is
            return run(command)
        try:
            gpu, fd = acquire(devices, a.per_gpu, a.lock_dir)
        except OSError as e:
            print(f"{PROG}: error: cannot use the lock directory {a.lock_dir} ({e.strerror or e}); give a writable "
                  "--lock-dir", file=sys.stderr)
            return 2
        try:
            return run(command, {**os.environ, "CUDA_VISIBLE_DEVICES": gpu})
        finally:
            os.close(fd)
    except OSError as e:  # the command itself cannot be started
        print(f"{PROG}: error: cannot run {command[0]!r} ({e.strerror or e})", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
