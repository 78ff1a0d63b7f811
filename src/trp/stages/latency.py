"""`trp latency`: measured inference time of a dense baseline (label "baseline") and decomposed
networks in interleaved rounds, per runtime and memory format, with their MAC speedups and the
measured speedups' confidence intervals, as a runtime JSON (schema trp.runtime/2 in trp.timing),
which replaces a runtime JSON at `out`, anything else only with `overwrite`, a checkpoint it reads never."""
from ..artifacts import (DECOMPOSED, DENSE, ArtifactError, check_outputs, input_size_of, load_network, record,
                         sha256_file)
from ..artifacts.records import KINDS, write_record
from ..deploy import MEMORY_FORMATS, measure_networks
from ..progress import say
from ..timing import ROUNDS
from .inputs import resolve_device


def latency_report(checkpoints: dict[str, str], batch_sizes, min_run_time, out, device="auto", runtimes=("eager",),
                   memory_formats=MEMORY_FORMATS, rounds: int = ROUNDS, threads: int | None = None,
                   overwrite: bool = False) -> dict:
    check_outputs([out], KINDS["latency"].schema, checkpoints.values(), overwrite)
    if "baseline" not in checkpoints:
        raise ArtifactError("latency needs a checkpoint labelled 'baseline' (the dense model.pt)")
    device = resolve_device(device)
    # all read before any timing: the baseline dense, every other network decomposed
    loaded = {label: load_network(path, expect=DENSE if label == "baseline" else DECOMPOSED)
              for label, path in checkpoints.items()}
    arch = loaded["baseline"][1]["arch"]
    for label, (_, rec) in loaded.items():
        if rec["arch"] != arch:
            raise ArtifactError(f"{checkpoints[label]} holds {rec['arch']}, the baseline {arch}")
    size = input_size_of(loaded["baseline"][1])  # the images the networks were trained on
    measured = measure_networks({label: model for label, (model, _) in loaded.items()}, size,
                                batch_sizes, runtimes, memory_formats, threads, rounds, min_run_time, device=device,
                                progress=say)
    settings = {"checkpoints": checkpoints, "batch_sizes": list(batch_sizes), "min_run_time": min_run_time,
                "runtimes": list(runtimes), "memory_formats": list(memory_formats), "rounds": rounds, "threads": threads}
    hashes = {f"{label}_sha256": sha256_file(path) for label, path in checkpoints.items()}
    return write_record(out, "latency", {"model": arch, **measured,
                                         "provenance": record(settings, device, None, None, **hashes)})
