"""`trp latency`: measured inference time of a dense baseline (label "baseline") and decomposed
networks, with their MAC speedups, as a runtime JSON (schema in trp.timing)."""
from .. import models
from ..artifacts import ArtifactError, load_network, record, sha256_file, write_json
from ..lowrank import model_cost
from ..timing import latency
from .inputs import resolve_device


def latency_report(checkpoints: dict[str, str], batch_sizes, min_run_time, out, device="auto") -> dict:
    if "baseline" not in checkpoints:
        raise ArtifactError("latency needs a checkpoint labelled 'baseline' (the dense model.pt)")
    device = resolve_device(device)
    loaded = {label: load_network(path) for label, path in checkpoints.items()}  # all read before any timing
    arch = loaded["baseline"][1]["arch"]
    for label, (_, rec) in loaded.items():
        if rec["arch"] != arch:
            raise ArtifactError(f"{checkpoints[label]} holds {rec['arch']}, the baseline {arch}")
    size = models.input_size(arch)
    variants = [{"label": label, "conv_macs": model_cost(model, size)["conv_macs"],
                 "rows": latency(model, size, batch_sizes, device, min_run_time)}
                for label, (model, _) in loaded.items()]
    base = next(v["conv_macs"] for v in variants if v["label"] == "baseline")
    for v in variants:
        v["mac_speedup"] = base / v["conv_macs"]
    settings = {"checkpoints": checkpoints, "batch_sizes": list(batch_sizes), "min_run_time": min_run_time}
    hashes = {f"{label}_sha256": sha256_file(path) for label, path in checkpoints.items()}
    report = {"schema": "trp.runtime/1", "model": arch, "variants": variants,
              "provenance": record(settings, device, None, None, **hashes)}
    write_json(out, report)
    return report
