"""The commands the README and docs show run as written: docs/usage.md's tour of the `trp` commands
and docs/cobla.md's allocation after it run in a scratch folder on a subset of CIFAR-10 (their
training sizes cut by the substitutions below, the prepared data taken from the cifar_npz fixture); every
other command names a script, config and `trp` subcommand that exist, and the README's Snakemake
commands plan (dry run)."""
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from support import snakemake
from trp.cli import parser

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# What the test changes in the blocks it runs: the training, allocation and timing sizes (minutes ->
# seconds) and the data preparation (the cifar_npz fixture's prepared CIFAR-10 is put where the tour reads it).
SMALL = 'Q="epochs=1 train_subset=256 test_subset=256 batch_size=64"'
QUICK_ALLOCATION = "--sample 64 --maxiter 2"
SUBSTITUTIONS = [(re.compile(r'^Q=".*?"', re.M), SMALL), (re.compile(r"^trp prepare-data .*$", re.M), ""),
                 (re.compile(r"--set epochs=20 "), "--set $Q "),
                 (re.compile(r"--sample 512 --maxiter 20"), QUICK_ALLOCATION),
                 (re.compile(r"^(trp (?:decompose|evaluate) .*--data \$D)", re.M), r"\1 --test-subset 256"),
                 (re.compile(r"--method sqp"), f"--method sqp {QUICK_ALLOCATION}"),
                 (re.compile(r"--out runs/latency.json"), "--out runs/latency.json --rounds 2 --min-run-time 0.01 "
                                                          "--batch-sizes 1 --runtimes eager")]


def bash_blocks(page: Path) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", page.read_text(), flags=re.S)


def block_after(page: Path, words: str) -> str:
    text = page.read_text()
    return re.search(r"```bash\n(.*?)```", text[text.index(words):], flags=re.S)[1]


def commands(block: str) -> list[list[str]]:
    """The commands of a block: continuation lines joined, comments dropped, split at && and ;."""
    out = []
    for line in block.replace("\\\n", " ").splitlines():
        for part in re.split(r"&&|;", line.split("  #")[0]):
            words = shlex.split(part, comments=True)
            if words:
                out.append(words)
    return out


def test_the_usage_tour_and_the_cobla_example_run_as_written(tmp_path, cifar_npz):
    script = block_after(ROOT / "docs/usage.md", "A tour on a") + block_after(ROOT / "docs/cobla.md", "```bash")
    for pattern, replacement in SUBSTITUTIONS:
        script, n = pattern.subn(replacement, script)
        assert n, f"the docs no longer hold {pattern.pattern!r}: update this test"
    (tmp_path / "data/prepared").mkdir(parents=True)
    os.symlink(cifar_npz, tmp_path / "data/prepared/cifar10.npz")
    os.symlink(ROOT / ".venv", tmp_path / ".venv")
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    for out in ("runs/base/model.pt", "runs/trp1nu/decomposed.pt", "runs/base-tsvd-ft/metrics.json", "runs/cobla/metrics.json",
                "runs/latency.json", "runs/ranks-sqp.json", "runs/alloc-ft/metrics.json"):
        assert (tmp_path / out).is_file(), out


def test_every_documented_command_names_what_exists():
    subcommands = set(parser()._subparsers._group_actions[0].choices)
    for page in PAGES:
        for block in bash_blocks(page):
            for words in commands(block):
                if "=" in words[0] or words[0] in ("source", "cd"):
                    continue
                where = f"{page.name}: {' '.join(words)}"
                for w in words:
                    if re.fullmatch(r"(scripts|config|benchmarks)/[\w./-]+", w):
                        assert (ROOT / w).exists(), where
                if words[0] == "trp":
                    assert words[1] in subcommands, where
                if words[0].endswith("python") and words[1] == "-m":
                    assert words[2] in ("pytest", "trp.cli"), where


@pytest.mark.parametrize("profile", ["cpu", "smoke"])
def test_the_readme_snakemake_commands_plan(profile):
    """`.venv/bin/snakemake --cores all --configfile config/PROFILE.yaml` as the README gives it, as a dry run."""
    line = next(words for block in bash_blocks(ROOT / "README.md") for words in commands(block)
                if words[0].endswith("snakemake") and f"config/{profile}.yaml" in words)
    proc = snakemake(*line[1:], "-n", check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
