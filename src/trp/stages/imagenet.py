"""`trp imagenet`: Tables 2 and 3. torchvision's pretrained ResNet-18 / ResNet-50 fine-tuned with
TRP on ImageNet (the paper's settings are the defaults), in one process or in many under torchrun
(DistributedDataParallel); then, as for CIFAR, the final ranks, the decomposition without
fine-tuning, and the top-1 and top-5 accuracy of every network.

Outputs as `trp train`'s: metrics.json and ranklog.jsonl in `out`; last.pt (after every epoch,
resumed from), model.pt and decomposed.pt in `checkpoints`. Under torchrun rank 0 alone enters
the run directory, holds its lock for the whole run and writes every file; it tells the other
processes whether the run resumes or was refused, and they wait at a barrier while it writes.
Every process reads last.pt to resume, so the checkpoints must be on a filesystem they all see.
"""
import contextlib
import io
import time
from pathlib import Path

import torch
from torch import nn

from .. import models
from ..artifacts import (ArtifactError, RankLog, RunDirectory, load_training_state, record, save_decomposed,
                         save_dense, save_training_state, sha256_file, write_json)
from ..config import ConfigError, TrainConfig, parse_overrides
from ..data import (BASELINE_NOTE, DataError, image_folders, imagenet_loaders, load_pretrained, loader_throughput,
                    per_image_cost)
from ..train import RankRegularizer, evaluate, fit
from ..train.distributed import Process, barrier, broadcast_int, finish, identical_across, start, sum_across, wrap
from .compress import compress, final_ranks, measure
from .inputs import resolve_device, sites_of

# Sec. 4.2 and 4.4: the pretrained baseline fine-tuned for 10 epochs at lr 1e-4 (SGD, momentum 0.9,
# weight decay 1e-4: TrainConfig's own defaults), e = 0.005. The paper gives no batch size or lr
# schedule for ImageNet: 256 images a step over all processes (torchvision's reference recipe) and
# a constant lr.
IMAGENET = {"model": "resnet18", "epochs": 10, "lr": 1e-4, "milestones": [], "e": 0.005, "batch_size": 256}
NU_LAMBDA = 3e-4  # "+Nu", both networks (Sec. 4.4)
# The convs TRP projects (Sec. 4.4): 3x3 in ResNet-18; 3x3 and 1x1 in ResNet-50, the four 1x1
# shortcut (downsample) convs included, since the paper names all 1x1 layers. Stem and FC stay dense.
KERNELS = {"resnet18": (3,), "resnet50": (1, 3)}
REFUSED, FRESH, RESUME = -1, 0, 1


def imagenet_config(overrides=(), nu: bool = False) -> TrainConfig:
    """The paper's ImageNet settings, then `overrides` ("key=value", TrainConfig fields); `nu`
    ("+Nu") sets lam to NU_LAMBDA. `batch_size` counts the images of a step over all processes."""
    values = {**IMAGENET, **parse_overrides(list(overrides))}
    if nu:
        if "lam" in values:
            raise ConfigError(f"--nu sets lam to {NU_LAMBDA:g}; give either --nu or lam=...")
        values["lam"] = NU_LAMBDA
    cfg = TrainConfig.from_dict(values)
    if cfg.model not in KERNELS:
        raise ConfigError(f"ImageNet runs fine-tune {' or '.join(KERNELS)}, not {cfg.model!r}")
    if cfg.target_speedup is not None:
        raise ConfigError("target_speedup (budgeted TRP) is not available for ImageNet runs")
    return cfg


def default_layers(model: nn.Module, arch: str) -> list[str]:
    """The convs the paper decomposes in `arch` (KERNELS), never the stem."""
    return [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d) and m.kernel_size[0] in KERNELS[arch]
            and n != models.stem(arch)]


@contextlib.contextmanager
def _run_directory(process: Process, settings: dict, out, checkpoints, overwrite: bool):
    """Yields whether the run resumes from last.pt, on every process. Rank 0 holds the
    RunDirectory (lock, claim) until the block ends; a refusal reaches every process, so none is
    left waiting."""
    status, error = REFUSED, None
    with contextlib.ExitStack() as stack:
        if process.is_main:
            try:
                run = stack.enter_context(RunDirectory("imagenet", settings, out, checkpoints, overwrite))
                status = RESUME if run.resuming and (run.checkpoints / "last.pt").exists() else FRESH
            except ArtifactError as e:
                error = e
        status = broadcast_int(status, process)
        if status == REFUSED:
            raise error or ArtifactError(f"rank 0 could not take the run directory {out} (see its message)")
        yield status == RESUME


def _projection_ranks(reg: RankRegularizer | None) -> dict[str, int]:
    return {name: rank for name, (_, rank) in reg.previous.items()} if reg is not None else {}


def imagenet_run(cfg: TrainConfig, data_root, out_dir, ckpt_dir=None, weights=None, workers: int = 8,
                 image_size: int = 224, progress: bool = True, overwrite: bool = False) -> dict:
    """Fine-tune, decompose and measure per `cfg` (see imagenet_config); the metrics on rank 0,
    {} on the other processes. Under torchrun every process calls this."""
    process = start(resolve_device(cfg.device).type)
    try:
        return _run(process, cfg, data_root, out_dir, ckpt_dir, weights, workers, image_size, progress, overwrite)
    finally:
        finish(process)


def _run(process: Process, cfg: TrainConfig, data_root, out_dir, ckpt_dir, weights, workers, image_size, progress,
         overwrite) -> dict:
    t0 = time.perf_counter()
    if cfg.batch_size % process.world_size:
        raise ConfigError(f"batch_size {cfg.batch_size} (images a step over all processes) must be a multiple of "
                          f"the {process.world_size} processes")
    folders = image_folders(data_root, image_size)
    model, weights_info = load_pretrained(cfg.model, weights)
    if len(folders.classes) > model.fc.out_features:
        raise DataError(f"{data_root}: {len(folders.classes)} class folders, more than the {model.fc.out_features} "
                        f"outputs of the pretrained {cfg.model}")
    data = {**folders.describe(), "image_size": image_size}
    device = process.device
    torch.manual_seed(cfg.seed)
    model = model.to(device, memory_format=torch.channels_last if cfg.channels_last else torch.contiguous_format)
    sites = sites_of(model, cfg.model, cfg.scheme, cfg.layers or default_layers(model, cfg.model))
    train_loader, val_loader = imagenet_loaders(
        folders, cfg.batch_size // process.world_size, workers, device, cfg.seed, process.rank, process.world_size,
        cfg.channels_last, cfg.train_subset, cfg.test_subset)
    if len(train_loader) == 0:
        raise DataError(f"{data_root}: {len(train_loader.loader.dataset)} training images are fewer than one step "
                        f"(batch_size {cfg.batch_size})")
    settings = {"config": cfg.to_dict(), "data_listing_sha256": data["listing_sha256"], "image_size": image_size,
                "weights_sha256": weights_info["sha256"]}
    out, ckpt = Path(out_dir), Path(ckpt_dir or out_dir)
    with _run_directory(process, settings, out, ckpt, overwrite) as resuming:
        last = ckpt / "last.pt"
        resume = load_training_state(last, device) if resuming else None
        log = RankLog(out / "ranklog.jsonl") if process.is_main else None
        if log is not None:
            log.start(resume["state"]["step"] if resume else None)
        reg = None
        if cfg.method != "baseline":
            reg = RankRegularizer(sites, cfg.scheme, cfg.method == "trp", cfg.e, cfg.m, cfg.lam, cfg.nuclear_cadence,
                                  log=log)
        total = sum_across(process)
        pretrained = evaluate(model, val_loader, device, total)

        def save(training_state):
            identical_across(model, process, _projection_ranks(reg))
            if process.is_main:
                save_training_state(last, training_state)
            barrier(process)

        quiet = contextlib.nullcontext() if process.is_main else contextlib.redirect_stdout(io.StringIO())
        with quiet:
            state = fit(wrap(model, process), cfg, train_loader, val_loader, torch.Generator().manual_seed(cfg.seed),
                        device, reg, resume, save=save, progress=progress and process.is_main, all_reduce=total)
        digests = identical_across(model, process, _projection_ranks(reg))
        ranks, dense_layers, networks = None, None, {"dense": model}
        if reg is not None:
            ranks, dense_layers = final_ranks(sites, cfg.scheme, cfg.e, cfg.rank_rule, cfg.rank_threshold)
            networks = compress(model, sites, cfg.scheme, ranks)
        results = {"pretrained": pretrained, **{k: evaluate(n, val_loader, device, total) for k, n in networks.items()}}
        metrics = {}
        if process.is_main:
            files = _write_networks(ckpt, networks, cfg, ranks)
            # the accuracies are those of the whole split, evaluated by every process
            report = measure(cfg.model, networks, val_loader, device, accuracies=results)
            metrics = {
                "schema": "trp.imagenet/1", "config": cfg.to_dict(), **report,
                "ranks": ranks, "dense_layers": dense_layers, "layers": [s.name for s in sites],
                "baseline": {"measured": {k: results["pretrained"][k] for k in ("top1", "top5")},
                             "torchvision": weights_info["published"],
                             "note": BASELINE_NOTE},
                "data": {**data, "head_matches_labels": len(folders.classes) == model.fc.out_features},
                "weights": weights_info,
                "distributed": {"world_size": process.world_size, "batch_per_process": cfg.batch_size // process.world_size,
                                "state_digests": digests},
                "training": {"epochs": state["epoch"], "steps": state["step"], "train_seconds": state["train_seconds"],
                             "images_per_s": sum(h["images_per_s"] for h in state["history"]) / len(state["history"]),
                             "wall_seconds_this_process": time.perf_counter() - t0, "history": state["history"],
                             "projections": reg.projections if reg else 0},
                "provenance": record(cfg.to_dict(), device, data["listing_sha256"], cfg.seed,
                                     weights_sha256=weights_info["sha256"], **files)}
            write_json(out / "metrics.json", metrics)
        barrier(process)
    return metrics


def _write_networks(ckpt: Path, networks: dict, cfg: TrainConfig, ranks) -> dict:
    """model.pt (the fine-tuned dense network) and, after TRP, decomposed.pt; their sha256."""
    save_dense(ckpt / "model.pt", networks["dense"], cfg.model, cfg.to_dict())
    files = {"model_sha256": sha256_file(ckpt / "model.pt")}
    if "decomposed" in networks:
        save_decomposed(ckpt / "decomposed.pt", networks["decomposed"], cfg.model, cfg.scheme, ranks,
                        {"config": cfg.to_dict()})
        files["decomposed_sha256"] = sha256_file(ckpt / "decomposed.pt")
    return files


def loader_benchmark(data_root, workers: int = 8, batch_size: int = 256, batches: int = 20,
                     image_size: int = 224) -> dict:
    """Images/s of the training loader alone (no device, no model) with `workers` processes, and
    the per-image cost of PIL decoding and of the transform in one process: where the time goes."""
    folders = image_folders(data_root, image_size)
    train_loader, _ = imagenet_loaders(folders, batch_size, workers, "cpu", seed=0)
    train_loader.set_epoch(0)
    return {**loader_throughput(train_loader.loader, batches), **per_image_cost(folders.train)}
