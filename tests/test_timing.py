"""trp.timing: interleaved rounds, pinned threads, the per-variant row, paired speedup intervals."""
import numpy as np
import pytest
import torch

from trp.timing import CALIBRATION, interleaved, paired_speedup, pinned_threads, summary_row, verdict


def test_interleaved_rotates_warms_up_and_sizes_blocks():
    log = []
    calls = {k: (lambda k=k: log.append(k)) for k in "abc"}
    samples = interleaved(calls, rounds=4, min_run_time=0.004, warmup=2)
    assert list(samples) == ["a", "b", "c"] and all(len(s.times) == 4 and s.number >= 1 for s in samples.values())
    setup = 3 * (2 + CALIBRATION)
    assert log[:setup] == ["a"] * 2 + ["b"] * 2 + ["c"] * 2 + ["a"] * CALIBRATION + ["b"] * CALIBRATION + ["c"] * CALIBRATION
    timed = log[setup:]
    assert len(timed) == 4 * sum(s.number for s in samples.values())
    blocks = [k for i, k in enumerate(timed) if i == 0 or timed[i - 1] != k]  # one entry per timed block
    assert blocks == list("abc" "bca" "cab" "abc")  # round r starts with the r-th variant
    with pytest.raises(ValueError):
        interleaved(calls, rounds=0)


def test_pinned_threads_restores():
    before = torch.get_num_threads()
    with pinned_threads(1) as n:
        assert n == torch.get_num_threads() == 1
    with pinned_threads(None) as n:
        assert n == before
    assert torch.get_num_threads() == before


def test_paired_interval_uses_the_pairing():
    drift = np.linspace(1.0, 3.0, 12)  # the machine slows down over the rounds, for both variants alike
    paired = paired_speedup(list(2.0 * drift), list(1.9 * drift))
    assert paired["speedup"] == pytest.approx(2.0 / 1.9)
    assert paired["ci"] == pytest.approx([2.0 / 1.9] * 2) and paired["faster"] is True
    rng = np.random.default_rng(1)
    noisy = paired_speedup(list(rng.uniform(1, 3, 12)), list(rng.uniform(1, 3, 12)))
    assert noisy["ci"][0] < 1 < noisy["ci"][1] and noisy["faster"] == "inconclusive"
    slower = paired_speedup([1.0, 1.1, 0.9, 1.0], [2.0, 2.1, 1.9, 2.0])
    assert slower["faster"] is False and slower["ci"][1] < 1
    assert paired_speedup([1.0], [1.0]) == {"speedup": 1.0, "ci": [1.0, 1.0], "faster": "inconclusive"}
    assert (verdict(1.1, 1.3), verdict(0.7, 0.9), verdict(0.9, 1.1)) == (True, False, "inconclusive")
    with pytest.raises(ValueError):
        paired_speedup([1.0, 2.0], [1.0])


def test_summary_row_fields():
    from trp.timing import Samples

    row = summary_row(Samples([0.1, 0.2, 0.3, 0.4], 5), 4, (3, 8, 8), "cpu", 1)
    assert row["median_s"] == pytest.approx(0.25) and row["iqr_s"] == pytest.approx(0.15)
    assert row["median_ms_per_image"] == pytest.approx(1e3 * 0.25 / 4) and row["mean_ms_per_image"] == pytest.approx(62.5)
    assert (row["measurements"], row["number_per_run"], row["threads"], row["input_size"]) == (4, 5, 1, [3, 8, 8])
    assert row["device"].startswith("CPU")
