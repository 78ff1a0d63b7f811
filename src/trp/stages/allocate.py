"""`trp allocate`: COBLA rank allocation of a trained dense checkpoint, written as JSON that
`trp decompose --ranks FILE` reads (its "ranks" key; layers not listed stay dense).

With a per-layer latency table (`trp.deploy.layer_table`, measured on the target device and
runtime), the allocation also reports its predicted latency and can be held to a latency budget:
the table's dense time of the decomposable convs divided by `latency_speedup`. The prediction
covers the table's layers (the decomposable convs) only, as the MAC speedup covers conv layers
only; latency does not depend on the weights' values, so a table measured once per model, scheme
and device serves every checkpoint of that model."""
import math

from ..artifacts import ArtifactError, check_outputs, input_size_of, read_json, record, sha256_file
from ..artifacts.records import KINDS, write_record
from ..cobla import allocate
from ..data import SAMPLE, load_prepared, sample_batches
from ..deploy.latency_aware import latency_costs, network_latency
from ..deploy.layer_table import SCHEMA as TABLE_SCHEMA
from ..progress import phase
from .inputs import dense_network, sites_of

RESULT_KEYS = ("ranks", "dense_layers", "macs", "params", "budget", "speedup", "param_ratio", "method", "scheme",
               "arch", "convention", "dense", "objective", "solver", "starts", "timings")
LATENCY_KEYS = ("latency_s", "latency_speedup")


def _seconds(v) -> bool:
    return type(v) in (int, float) and math.isfinite(v) and v > 0


def _malformed(layer) -> str | None:
    """What is wrong with one layer entry of a latency table, or None: it needs dense_s (seconds >
    0), ranks (increasing positive integers), rank_s (seconds > 0, one per rank) and break_even."""
    if not isinstance(layer, dict):
        return "is not a JSON object"
    ranks, times = layer.get("ranks"), layer.get("rank_s")
    if not _seconds(layer.get("dense_s")):
        return f"has dense_s {layer.get('dense_s')!r}, expected seconds > 0"
    if not (isinstance(ranks, list) and ranks and all(type(r) is int and r > 0 for r in ranks)
            and all(a < b for a, b in zip(ranks, ranks[1:]))):
        return f"has ranks {ranks!r}, expected increasing positive integers"
    if not (isinstance(times, list) and len(times) == len(ranks) and all(_seconds(t) for t in times)):
        return f"has rank_s {times!r}, expected {len(ranks)} times in seconds > 0"
    if type(layer.get("break_even")) is not int or layer["break_even"] < 0:
        return f"has break_even {layer.get('break_even')!r}, expected an integer >= 0"
    return None


def table_costs(path, arch: str, scheme: str, sites) -> tuple[dict, dict]:
    """(the table's key fields, its latency costs of `sites`) from a layer-latency JSON; a table
    of another model, scheme or layer structure is an ArtifactError (one line)."""
    table = read_json(path, "latency table")
    if not isinstance(table, dict) or table.get("schema") != TABLE_SCHEMA or not isinstance(table.get("layers"), dict):
        raise ArtifactError(f"{path}: not a layer latency table (schema {TABLE_SCHEMA})")
    if (table.get("model"), table.get("scheme")) != (arch, scheme):
        raise ArtifactError(f"{path}: a latency table of {table.get('model')} ({table.get('scheme')} scheme), but this "
                            f"allocation is of {arch} ({scheme} scheme); measure one for it")
    layers = table["layers"]
    for name, layer in layers.items():
        problem = _malformed(layer)
        if problem:
            raise ArtifactError(f"{path}: malformed latency table: layer {name} {problem}")
    names = [s.name for s in sites]
    missing, extra = [n for n in names if n not in layers], sorted(set(layers) - set(names))
    wrong = [s.name for s in sites if s.name in layers and layers[s.name].get("break_even") != s.break_even]
    if missing or extra or wrong:
        what = "; ".join(([f"missing {missing[:3]}"] if missing else []) + ([f"extra {extra[:3]}"] if extra else [])
                         + ([f"other break-even ranks for {wrong[:3]}"] if wrong else []))
        raise ArtifactError(f"{path}: its layers do not match {arch}'s decomposable convs ({what}); measure a table "
                            "for this model")
    try:
        costs = latency_costs(table, names)
    except (KeyError, TypeError, ValueError) as e:
        raise ArtifactError(f"{path}: malformed latency table ({e})") from None
    key = {k: table.get(k) for k in ("model", "scheme", "runtime", "memory_format", "batch_size", "threads", "device")}
    return key, costs


def allocate_checkpoint(checkpoint, scheme: str, target_speedup: float | None = None, max_params: float | None = None,
                        data_npz=None, out_json="allocation.json", method: str = "sqp", sample: int = SAMPLE,
                        seed: int = 0, maxiter: int = 60, device: str = "cpu", latency_table=None,
                        latency_speedup: float | None = None, overwrite: bool = False) -> dict:
    """Allocate ranks for `checkpoint` (a model.pt of `trp train`, or torchvision's pretrained weights) and
    write `out_json` (replacing an allocation there; anything else only with `overwrite`, an input never).
    `latency_table`: a layer-latency JSON of this model and scheme; `latency_speedup`: the latency
    budget, the table's all-dense time / this (needs the table)."""
    check_outputs([out_json], KINDS["allocation"].schema, (checkpoint, data_npz, latency_table), overwrite)
    if latency_speedup is not None and latency_table is None:
        raise ArtifactError("a latency budget (latency_speedup) needs a layer latency table")
    model, rec = dense_network(checkpoint, device)
    arch = rec["arch"]
    size = input_size_of(rec)
    sites = sites_of(model, arch, scheme, input_size=size)
    table_key, costs, max_latency = None, None, None
    if latency_table is not None:
        table_key, costs = table_costs(latency_table, arch, scheme, sites)
        if latency_speedup is not None:
            max_latency = network_latency({}, costs) / latency_speedup  # all dense
    arrays, data_fp = load_prepared(data_npz) if data_npz is not None else (None, None)
    batches = None if arrays is None else sample_batches(arrays["train_x"], arrays["train_y"], sample, seed, device=device)
    budget = ", ".join(f"{k} {v:g}" for k, v in (("target speedup", target_speedup), ("max params", max_params),
                                                  ("latency speedup", latency_speedup)) if v is not None)
    sampled = f", {sample} training images" if batches is not None else ""
    with phase(f"allocating ranks of {len(sites)} convs ({method}, {budget}{sampled}, up to {maxiter} iterations)"):
        res = allocate(model, arch, scheme, target_speedup=target_speedup, max_params=max_params, method=method,
                       batches=batches, seed=seed, maxiter=maxiter, device=device, sites=sites, input_size=size,
                       latency_costs=costs, max_latency=max_latency)
    settings = {"source": str(checkpoint), "arch": arch, "scheme": scheme, "method": method,
                "target_speedup": target_speedup, "max_params": max_params,
                "sample": sample if arrays is not None else None, "seed": seed, "maxiter": maxiter}
    if latency_table is not None:  # only then: the settings of earlier allocations stay as they were
        settings.update({"latency_table": str(latency_table), "latency_table_key": table_key,
                         "latency_speedup": latency_speedup})
    return write_record(out_json, "allocation", {
        **{k: res[k] for k in RESULT_KEYS}, **{k: res[k] for k in ("milp", "rounding") if k in res},
        **({k: res[k] for k in LATENCY_KEYS} if latency_table is not None else {}),
        "config": settings,
        "provenance": record(settings, device, data_fp, seed, source_sha256=sha256_file(checkpoint))})
