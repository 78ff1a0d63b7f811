"""What a result needs to be cited: commit, versions, device, config hash, data fingerprint."""
import hashlib
import json
import os
import platform
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import torch

PACKAGES = ("trp", "torch", "torchvision", "numpy", "scipy", "snakemake", "dvc")
COMMIT_FILE = "TRP_COMMIT_FILE"  # environment variable: a commit file, for a copy of the code without .git


def git_commit(outside: tuple[str, ...] = (), root: Path | None = None) -> dict:
    """The commit of this package's checkout (or of `root`), and whether a tracked file differs from
    it (changes under the folders `outside`, e.g. a renderer's own outputs, aside). In a copy of the
    code without .git, the commit named by the file $TRP_COMMIT_FILE (commit_from_file)."""
    root = root or Path(__file__).resolve().parents[3]

    def git(*args):
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout.strip()

    try:
        changes = git("status", "--porcelain", "--untracked-files=no", "--", ".", *(f":!{d}" for d in outside))
        return {"commit": git("rev-parse", "HEAD"), "dirty": bool(changes)}
    except (OSError, subprocess.CalledProcessError):
        named = os.environ.get(COMMIT_FILE)
        return commit_from_file(Path(named), root, outside) if named else {"commit": None, "dirty": None}


def blob_id(path: Path) -> str:
    """The id git gives a file's content (a blob's SHA-1), computed without git."""
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def commit_from_file(path: Path, root: Path, outside: tuple[str, ...] = ()) -> dict:
    """The commit a commit file names (JSON {"commit": SHA, "files": {PATH: BLOB_ID}}, written from a
    clean checkout with the tracked files' ids, e.g. by scripts/gpu_check.sh bundle), and whether a
    listed file under `root` now differs from it or is missing (those under `outside` aside). A file
    that cannot be read names no commit."""
    try:
        doc = json.loads(path.read_text())
        commit, files = doc["commit"], doc["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return {"commit": None, "dirty": None}
    kept = {p: i for p, i in files.items() if not any(p == d or p.startswith(f"{d.rstrip('/')}/") for d in outside)}
    dirty = any(not (root / p).is_file() or blob_id(root / p) != i for p, i in kept.items())
    return {"commit": commit, "dirty": dirty, "commit_file": str(path)}


def versions() -> dict:
    out = {}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = None
    out["python"] = platform.python_version()
    return out


def device_name(device: torch.device | str) -> str:
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"CPU: {cpu}, {torch.get_num_threads()} threads"


def numerics() -> dict:
    """This process's settings that decide fp32 results on a GPU: TF32 in cuDNN convolutions and in
    matmuls (float32_matmul_precision "high": TF32, "highest": IEEE fp32), and deterministic algorithms."""
    return {"cudnn_allow_tf32": torch.backends.cudnn.allow_tf32, "cuda_matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
            "float32_matmul_precision": torch.get_float32_matmul_precision(),
            "cudnn_deterministic": torch.backends.cudnn.deterministic, "cudnn_benchmark": torch.backends.cudnn.benchmark,
            "deterministic_algorithms": torch.are_deterministic_algorithms_enabled()}


def config_hash(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


def record(config: dict, device, data_fingerprint: str | None, seed: int | None = None, **extra) -> dict:
    return {**git_commit(), "versions": versions(), "device": device_name(device), "numerics": numerics(), "seed": seed,
            "config_hash": config_hash(config), "data_fingerprint": data_fingerprint,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), **extra}
