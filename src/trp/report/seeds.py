"""A quantity aggregated over a run's seeds."""
import math


def mean_std(values) -> dict:
    """Seed aggregation: mean, sample standard deviation (0 for a single seed) and n."""
    values = [float(v) for v in values]
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return {"mean": mean, "std": std, "n": n}
