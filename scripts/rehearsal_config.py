"""A profile's config shrunk for a rehearsal: the same jobs (models, seeds, runs, budgets, renders) on
small subsets and a few steps, so that the whole pipeline, renderers and README block included, runs
here before the real profile spends its hours (or its GPU): the cpu profile's 95 jobs took 17 minutes.

    .venv/bin/python scripts/rehearsal_config.py cpu /tmp/rehearse-cpu.yaml

TRP's energy thresholds are raised (e 0.3 and up) so that networks trained for a few steps still
compress; a TRP run that does not (conv speedup 1) cannot set a basic method's budget. The data
archive becomes an absolute path (the profile's, else $TRP_CIFAR_ARCHIVE, else the local one beside the repository)
and the profile never requires a GPU. Run it with scripts/rehearse_profile.sh, which does the rest.
"""
import argparse
import os
from pathlib import Path

import yaml

from trp import profile as profiles

ROOT = Path(__file__).resolve().parents[1]
TRAIN = {"epochs": 2, "milestones": [1], "train_subset": 1024, "test_subset": 256}
FINETUNE = {"epochs": 1, "milestones": [1], "train_subset": 256}
LOCAL_ARCHIVE = "../shared/data/cifar-10-python.tar.gz"  # where no archive is given: no rehearsal needs the network
E = 0.3  # TRP's threshold in the rehearsal; the ablation sweep becomes E, E + 0.1, ...


def rehearsal(config: dict) -> dict:
    c = {**config, "require_gpu": False, "threads": 1}
    archive = c["data"].get("archive") or os.environ.get("TRP_CIFAR_ARCHIVE") or LOCAL_ARCHIVE
    c["data"] = {**c["data"], "archive": str((ROOT / archive).resolve())}
    c["train"] = {**c["train"], **TRAIN}
    c["finetune"] = {**c["finetune"], **FINETUNE}
    c["trp"] = {**c["trp"], "e": E, "m": 2}
    c["ablation"] = {**c["ablation"], "e": [round(E + 0.1 * i, 2) for i in range(len(c["ablation"]["e"]))]}
    c["rank_variation"] = {**c["rank_variation"], "e": E, "m": 2, "projections": 4}
    c["cobla"] = {**c["cobla"], "sample": 64, "maxiter": 3}
    c["runtime"] = {**c["runtime"], "batch_sizes": [1, 8], "min_run_time": 0.05}
    return c


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("profile", choices=sorted(p.stem for p in (ROOT / "config").glob("*.yaml") if p.stem != "imagenet"),
                    help="a CIFAR-10 profile in config/")
    ap.add_argument("out", type=Path, help="where to write the rehearsal's config")
    args = ap.parse_args()
    config = profiles.load(ROOT / "config" / f"{args.profile}.yaml")
    args.out.write_text(yaml.safe_dump(rehearsal(config), sort_keys=False))


if __name__ == "__main__":
    main()
