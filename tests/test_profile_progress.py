"""scripts/profile_progress.py: the time a run has left is weighted by what its jobs measured, counts
only the epochs an interrupted job has still to train, and is a lower bound where a stage has no
measurement yet."""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from profile_progress import planned_benchmarks, progress, report, running  # noqa: E402

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


def test_time_left_counts_the_epochs_still_to_train_at_the_measured_median(tmp_path):
    r = tmp_path / "results" / "cpu"
    job(r, "train", "resnet20/baseline/s0", 400, [100, 100, 120])
    job(r, "train", "resnet20/trp/s0", 390, [100, 130, 100])
    interrupted = job(r, "train", "resnet20/trp/s1", None, [100])  # resumes from its second epoch
    fresh = job(r, "train", "resnet20/baseline/s1", None, [])
    job(r, "tsvd", "resnet20/basic/s0", 60, [])
    tsvd_left = job(r, "tsvd", "resnet20/basic/s1", None, [])
    render = r / "benchmarks" / "render" / "claims.tsv"
    dry_run = "".join(f"rule x:\n    log: {t.with_suffix('.log')}\n    benchmark: {t}\n    reason: missing\n"
                      for t in (interrupted, fresh, tsvd_left, render)) + "localrule all:\n    input: a\n"
    planned = planned_benchmarks(dry_run)
    assert planned == [interrupted, fresh, tsvd_left, render]
    rows = {row["stage"]: row for row in progress(r / "benchmarks", planned)}
    assert (rows["train"]["done"], rows["train"]["left"]) == (2, 2)
    assert rows["train"]["left_hours"] * 3600 == (2 + 3) * 100  # median epoch 100 s, 3 epochs a job
    assert rows["tsvd"]["left_hours"] * 3600 == 60 and rows["render"]["left_hours"] is None
    text = report(list(rows.values()), jobs_at_once=2)
    assert "3 of 7 jobs done; at least 0.2 job-hours left, at least 0.1 h" in text


def test_a_finished_run_has_nothing_left(tmp_path):
    r = tmp_path / "results" / "cpu"
    job(r, "train", "resnet20/baseline/s0", 400, [100])
    rows = progress(r / "benchmarks", [])
    assert rows == [{"stage": "train", "done": 1, "left": 0, "median_min": 400 / 60, "left_hours": 0.0}]
    assert "1 of 1 jobs done; about 0.0 job-hours left" in report(rows, jobs_at_once=1)


def test_a_stage_with_no_job_done_counts_the_profiles_epochs_at_the_running_jobs_median(tmp_path):
    r = tmp_path / "results" / "paper_cpu"
    a = job(r, "train", "resnet20/baseline/s0", None, [400, 360, 370])
    b = job(r, "train", "resnet20/trp/s0", None, [380])
    c = job(r, "train", "resnet20/trp/s1", None, [])
    rows = progress(r / "benchmarks", [a, b, c], {"train": 10})
    assert rows[0]["left_hours"] * 3600 == ((10 - 3) + (10 - 1) + 10) * 375  # median of 400, 360, 370, 380
    assert progress(r / "benchmarks", [a, b, c])[0]["left_hours"] is None  # no epochs per job: no estimate
    assert running([a, b, c]) == ["- train/resnet20/baseline/s0: epoch 3 done, the latest in 370 s",
                                  "- train/resnet20/trp/s0: epoch 1 done, the latest in 380 s"]
