"""scripts/rehearsal_config.py: a rehearsal plans exactly the jobs of the profile it rehearses (the
real run's shape on a few steps), and never requires a GPU."""
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from support import job_counts

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("profile", ["cpu", "paper", "paper_cpu"])
def test_rehearsal_plans_the_profiles_jobs_on_a_few_steps(profile, tmp_path):
    out = tmp_path / f"rehearse-{profile}.yaml"
    subprocess.run([sys.executable, str(ROOT / "scripts/rehearsal_config.py"), profile, str(out)], check=True)
    c = yaml.safe_load(out.read_text())
    assert c["require_gpu"] is False and c["train"]["epochs"] == 2 and c["train"]["train_subset"] == 1024
    assert Path(c["data"]["archive"]).is_absolute() and c["data"]["archive"].endswith("cifar-10-python.tar.gz")
    assert job_counts(out) == job_counts(f"config/{profile}.yaml")
