"""`trp allocate`: COBLA rank allocation of a trained dense checkpoint, written as JSON that
`trp decompose --ranks FILE` reads (its "ranks" key; layers not listed stay dense)."""
from ..artifacts import DENSE, load_network, record, sha256_file, write_json
from ..cobla import allocate
from ..data import load_prepared, sample_batches

SCHEMA = "trp.allocation/1"
RESULT_KEYS = ("ranks", "dense_layers", "macs", "params", "budget", "speedup", "param_ratio", "method", "scheme",
               "arch", "convention", "dense", "objective", "solver", "starts", "timings")


def allocate_checkpoint(checkpoint, scheme: str, target_speedup: float | None = None, max_params: float | None = None,
                        data_npz=None, out_json="allocation.json", method: str = "sqp", sample: int = 2048,
                        seed: int = 0, maxiter: int = 60, device: str = "cpu") -> dict:
    """Allocate ranks for `checkpoint` (a model.pt of `trp train`) and write `out_json`."""
    model, rec = load_network(checkpoint, device, expect=DENSE)
    arrays, data_fp = load_prepared(data_npz) if data_npz is not None else (None, None)
    batches = None if arrays is None else sample_batches(arrays["train_x"], arrays["train_y"], sample, seed, device=device)
    res = allocate(model, rec["arch"], scheme, target_speedup=target_speedup, max_params=max_params, method=method,
                   batches=batches, seed=seed, maxiter=maxiter, device=device)
    settings = {"source": str(checkpoint), "arch": rec["arch"], "scheme": scheme, "method": method,
                "target_speedup": target_speedup, "max_params": max_params,
                "sample": sample if arrays is not None else None, "seed": seed, "maxiter": maxiter}
    out = {"schema": SCHEMA, **{k: res[k] for k in RESULT_KEYS}, **{k: res[k] for k in ("milp", "rounding") if k in res},
           "config": settings,
           "provenance": record(settings, device, data_fp, seed, source_sha256=sha256_file(checkpoint))}
    write_json(out_json, out)
    return out
