"""scripts/profile_progress.py: the time a run has left is weighted by what its jobs measured, counts
only the epochs an interrupted job has still to train, and is a lower bound where a stage has no
measurement yet. The jobs are the cpu profile's, as its run table names them."""
import json
import sys
from pathlib import Path

from trp import profile
from trp.run_state import ProfileState
from trp.runs import RunTable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from profile_progress import RunJobs, planned_benchmarks, progress, report, running  # noqa: E402

TABLE = RunTable(profile.load(ROOT / "config" / "cpu.yaml"))
BASE, TRP1, BASIC = (TABLE.tables["resnet20"][key] for key in ("baseline", "TRP1", "Zhang2016"))

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def job(results: Path, stage: str, name: str, wall: float | None, epoch_seconds: list[float]) -> Path:
    tsv = results / "benchmarks" / stage / f"{name}.tsv"
    log = results / "logs" / stage / f"{name}.log"
    for path in (tsv, log):
        path.parent.mkdir(parents=True, exist_ok=True)
    if wall is not None:
        tsv.write_text(HEADER + f"{wall}\t0:00:00\t1\t1\t1\t1\t0\t0\t50\t{wall}\n")
    log.write_text("".join(json.dumps({"epoch": i + 1, "top1": 50.0, "seconds": s}) + "\n"
                           for i, s in enumerate(epoch_seconds)) + "Traceback: not an epoch record\n")
    return tsv


def run_jobs(tmp_path):
    return RunJobs(ProfileState(tmp_path, TABLE))


def test_time_left_counts_the_epochs_still_to_train_at_the_measured_median(tmp_path):
    r = tmp_path / "results" / "cpu"
    job(r, "train", f"resnet20/{BASE}/s0", 400, [100, 100, 120])
    job(r, "train", f"resnet20/{TRP1}/s0", 390, [100, 130, 100])
    interrupted = job(r, "train", f"resnet20/{TRP1}/s1", None, [100])  # resumes from its second epoch
    fresh = job(r, "train", f"resnet20/{BASE}/s1", None, [])
    job(r, "tsvd", f"resnet20/{BASIC}/s0", 60, [])
    tsvd_left = job(r, "tsvd", f"resnet20/{BASIC}/s1", None, [])
    render = r / "benchmarks" / "render" / "claims.tsv"
    dry_run = "".join(f"rule x:\n    log: {t.with_suffix('.log')}\n    benchmark: {t}\n    reason: missing\n"
                      for t in (interrupted, fresh, tsvd_left, render)) + "localrule all:\n    input: a\n"
    planned = planned_benchmarks(dry_run)
    assert planned == [interrupted, fresh, tsvd_left, render]
    rows = {row["stage"]: row for row in progress(run_jobs(tmp_path), planned)}
    assert (rows["train"]["done"], rows["train"]["left"]) == (2, 2)
    assert rows["train"]["left_hours"] * 3600 == (2 + 3) * 100  # median epoch 100 s, 3 epochs a job
    assert rows["tsvd"]["left_hours"] * 3600 == 60 and rows["render"]["left_hours"] is None
    text = report(list(rows.values()), jobs_at_once=2)
    assert "3 of 7 jobs done; at least 0.2 job-hours left, at least 0.1 h" in text


def test_a_finished_run_has_nothing_left(tmp_path):
    r = tmp_path / "results" / "cpu"
    job(r, "train", f"resnet20/{BASE}/s0", 400, [100])
    rows = progress(run_jobs(tmp_path), [])
    assert rows == [{"stage": "train", "done": 1, "left": 0, "median_min": 400 / 60, "left_hours": 0.0}]
    assert "1 of 1 jobs done; about 0.0 job-hours left" in report(rows, jobs_at_once=1)


def test_a_stage_with_no_job_done_counts_the_profiles_epochs_at_the_running_jobs_median(tmp_path):
    r = tmp_path / "results" / "cpu"
    a = job(r, "train", f"resnet20/{BASE}/s0", None, [400, 360, 370])
    b = job(r, "train", f"resnet20/{TRP1}/s0", None, [380])
    c = job(r, "train", f"resnet20/{TRP1}/s1", None, [])
    jobs = run_jobs(tmp_path)
    rows = progress(jobs, [a, b, c], {"train": 10})
    assert rows[0]["left_hours"] * 3600 == ((10 - 3) + (10 - 1) + 10) * 375  # median of 400, 360, 370, 380
    assert progress(jobs, [a, b, c])[0]["left_hours"] is None  # no epochs per job: no estimate
    assert running(jobs, [a, b, c]) == [f"- train/resnet20/{BASE}/s0: epoch 3 done, the latest in 370 s",
                                        f"- train/resnet20/{TRP1}/s0: epoch 1 done, the latest in 380 s"]


def test_a_job_of_no_run_has_no_epochs_whatever_its_folder_logs(tmp_path):
    """A benchmark file and log in the folders of a run the profile does not make: no job of the run
    table, so none of its log's epochs count."""
    r = tmp_path / "results" / "cpu"
    stray = job(r, "train", "resnet20/not-a-run/s0", None, [400, 360])
    jobs = run_jobs(tmp_path)
    assert jobs.epochs(stray) == [] and running(jobs, [stray]) == []
