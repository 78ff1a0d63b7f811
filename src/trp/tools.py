"""Subcommands that start from a checkpoint: decompose a trained network, fine-tune a
decomposed one, evaluate either."""
import dataclasses
import json
import time
from pathlib import Path

import torch

from . import models
from .checkpoint import atomic_write_text, load, sha256_file
from .config import TrainConfig
from .data import TensorLoader, fingerprint, load_prepared
from .finalize import decompose_and_measure, final_ranks
from .lowrank import find_sites, load_decomposed, model_cost, save_decomposed, speedup
from .provenance import record
from .run import load_data, resolve_device
from .train import evaluate, fit


def _test_loader(data_npz, device, test_subset=None):
    arrays = load_prepared(data_npz)
    loader = TensorLoader(arrays["test_x"][:test_subset], arrays["test_y"][:test_subset], 500, False, device)
    return loader, fingerprint(arrays)["data_fingerprint"]


def load_dense(checkpoint, device="cpu"):
    rec = load(checkpoint, map_location=device)
    if "arch" not in rec or "state_dict" not in rec:
        raise ValueError(f"{checkpoint} is not a dense model checkpoint written by `trp train` (model.pt)")
    model = models.build(rec["arch"]).to(device)
    model.load_state_dict(rec["state_dict"])
    return model, rec


def decompose_checkpoint(checkpoint, scheme, e, data_npz, out_dir, ckpt_dir=None, rule="energy", threshold=0.05,
                         ranks=None, test_subset=None, device="auto") -> dict:
    """TSVD of a trained dense network (the data-independent baselines of Zhang et al. 2016 and
    Jaderberg et al. 2014, or any rank allocation), evaluated without fine-tuning."""
    if ranks is None and not 0 < e < 1:
        raise ValueError(f"e must lie in (0, 1), got {e}")
    device = resolve_device(device)
    model, rec = load_dense(checkpoint, device)
    arch = rec["arch"]
    sites = find_sites(model, models.input_size(arch), scheme, exclude=(models.stem(arch),))
    if ranks is not None:
        unknown = sorted(set(ranks) - {s.name for s in sites})
        if unknown:
            raise ValueError(f"ranks name layers that are not decomposable convs of {arch}: {unknown}")
    loader, data_fp = _test_loader(data_npz, device, test_subset)
    keep, dense_layers = final_ranks(sites, scheme, e, rule, threshold, ranks)
    decomposed, report = decompose_and_measure(model, sites, scheme, keep, dense_layers, models.input_size(arch), loader, device)
    out, ckpt = Path(out_dir), Path(ckpt_dir or out_dir)
    settings = {"source": str(checkpoint), "arch": arch, "scheme": scheme, "e": e, "rule": rule,
                "threshold": threshold, "ranks_given": ranks is not None, "test_subset": test_subset}
    save_decomposed(ckpt / "decomposed.pt", decomposed, arch, scheme, keep, {"decompose": settings})
    metrics = {"schema": "trp.decompose/1", "config": settings, **report,
               "provenance": record(settings, device, data_fp, rec.get("config", {}).get("seed"),
                                    source_sha256=sha256_file(checkpoint),
                                    decomposed_sha256=sha256_file(ckpt / "decomposed.pt"))}
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=1))
    return metrics


def finetune(checkpoint, cfg: TrainConfig, data_npz, out_dir, ckpt_dir=None, progress=True) -> dict:
    """Fine-tune a decomposed network with plain SGD on the schedule of `cfg`."""
    t0 = time.perf_counter()
    device = resolve_device(cfg.device)
    model, rec = load_decomposed(checkpoint, map_location=device)
    cfg = dataclasses.replace(cfg, model=rec["arch"], method="baseline", lam=0.0)
    model = model.to(device, memory_format=torch.channels_last if cfg.channels_last else torch.contiguous_format)
    torch.manual_seed(cfg.seed)
    generator = torch.Generator().manual_seed(cfg.seed)
    train_loader, test_loader, data_fp = load_data(cfg, data_npz, device, generator)
    out, ckpt = Path(out_dir), Path(ckpt_dir or out_dir)
    size = models.input_size(rec["arch"])
    before = evaluate(model, test_loader, device)["top1"]
    state = fit(model, cfg, train_loader, test_loader, generator, device, ckpt, None, progress)
    save_decomposed(ckpt / "finetuned.pt", model, rec["arch"], rec["scheme"], rec["ranks"], {"finetune": cfg.to_dict()})
    dense_cost, cost = model_cost(models.build(rec["arch"]), size), model_cost(model, size)
    metrics = {"schema": "trp.finetune/1", "config": cfg.to_dict(), "source": str(checkpoint),
               "accuracy": {"before_finetune": before, "decomposed": evaluate(model, test_loader, device)["top1"]},
               "ranks": rec["ranks"], "scheme": rec["scheme"],
               "cost": {"dense": {k: v for k, v in dense_cost.items() if k != "layers"},
                        "decomposed": {k: v for k, v in cost.items() if k != "layers"}, "layers": cost["layers"]},
               "speedup": speedup(dense_cost, cost),
               "training": {"epochs": state["epoch"], "train_seconds": state["train_seconds"],
                            "wall_seconds_this_process": time.perf_counter() - t0, "history": state["history"]},
               "provenance": record(cfg.to_dict(), device, data_fp, cfg.seed, source_sha256=sha256_file(checkpoint),
                                    finetuned_sha256=sha256_file(ckpt / "finetuned.pt"))}
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=1))
    return metrics


def evaluate_checkpoint(checkpoint, data_npz, test_subset=None, device="auto") -> dict:
    device = resolve_device(device)
    rec = load(checkpoint, map_location=device)
    model = load_decomposed(checkpoint, device)[0] if "ranks" in rec else load_dense(checkpoint, device)[0]
    loader, data_fp = _test_loader(data_npz, device, test_subset)
    return {**evaluate(model, loader, device), "data_fingerprint": data_fp, "checkpoint_sha256": sha256_file(checkpoint)}


def latency_report(checkpoints: dict[str, str], batch_sizes, min_run_time, out, device="auto") -> dict:
    """Measured inference time of a dense baseline (label "baseline") and decomposed networks,
    with their MAC speedups, as a runtime JSON (schema in trp.runtime)."""
    from .runtime import latency

    if "baseline" not in checkpoints:
        raise ValueError("latency needs a checkpoint labelled 'baseline' (the dense model.pt)")
    device = resolve_device(device)
    variants, hashes, arch = [], {}, None
    for label, path in checkpoints.items():
        rec = load(path)
        model = load_decomposed(path)[0] if "ranks" in rec else load_dense(path)[0]
        arch = arch or rec["arch"]
        if rec["arch"] != arch:
            raise ValueError(f"{path} holds {rec['arch']}, the others {arch}")
        cost = model_cost(model, models.input_size(arch))
        variants.append({"label": label, "conv_macs": cost["conv_macs"],
                         "rows": latency(model, models.input_size(arch), batch_sizes, device, min_run_time)})
        hashes[f"{label}_sha256"] = sha256_file(path)
    base = next(v["conv_macs"] for v, label in zip(variants, checkpoints) if label == "baseline")
    for v in variants:
        v["mac_speedup"] = base / v["conv_macs"]
    settings = {"checkpoints": checkpoints, "batch_sizes": list(batch_sizes), "min_run_time": min_run_time}
    report = {"schema": "trp.runtime/1", "model": arch, "variants": variants,
              "provenance": record(settings, device, None, None, **hashes)}
    atomic_write_text(out, json.dumps(report, indent=1))
    return report
