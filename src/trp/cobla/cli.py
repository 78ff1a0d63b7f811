"""`trp allocate`: COBLA rank allocation of a trained dense checkpoint, written as JSON that
`trp decompose --ranks FILE` reads (its "ranks" key; layers not listed stay dense)."""
import json
from pathlib import Path

SCHEMA = "trp.allocation/1"


def allocate_cli(checkpoint, scheme: str, target_speedup: float | None = None, max_params: float | None = None,
                 data_npz=None, out_json="allocation.json", method: str = "sqp", sample: int = 2048, seed: int = 0,
                 mac_budget: float | None = None, maxiter: int = 60, trials: int = 10, convention: str = "conv",
                 device: str = "cpu") -> dict:
    """Allocate ranks for `checkpoint` (a model.pt of `trp train`) and write `out_json`."""
    from ..checkpoint import atomic_write_text, sha256_file
    from ..data import fingerprint, load_prepared
    from ..provenance import record
    from ..tools import load_dense
    from .allocate import allocate

    model, rec = load_dense(checkpoint, device)
    arrays, data_fp = None, None
    if data_npz is not None:
        arrays = load_prepared(data_npz)
        data_fp = fingerprint(arrays)["data_fingerprint"]
    elif method == "sqp":
        raise ValueError("method 'sqp' needs the prepared data (--data) for its training sample")
    res = allocate(model, rec["arch"], scheme, target_speedup=target_speedup, mac_budget=mac_budget,
                   max_params=max_params, method=method, data=arrays, sample=sample, seed=seed,
                   maxiter=maxiter, trials=trials, convention=convention, device=device)
    settings = {"source": str(checkpoint), "arch": rec["arch"], "scheme": scheme, "method": method,
                "target_speedup": target_speedup, "mac_budget": mac_budget, "max_params": max_params,
                "sample": sample if arrays is not None else None, "seed": seed, "maxiter": maxiter,
                "trials": trials, "convention": convention}
    out = {"schema": SCHEMA, **{k: res[k] for k in ("ranks", "dense_layers", "macs", "params", "budget", "speedup",
                                                   "param_ratio", "method", "scheme", "arch", "convention", "dense",
                                                   "objective", "solver", "starts", "timings")},
           **({"milp": res["milp"]} if "milp" in res else {}),
           **({"rounding": res["rounding"]} if "rounding" in res else {}),
           "config": settings,
           "provenance": record(settings, device, data_fp, seed, source_sha256=sha256_file(checkpoint))}
    atomic_write_text(Path(out_json), json.dumps(out, indent=1, default=float))
    return out
