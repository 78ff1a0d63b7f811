"""`trp imagenet`: Tables 2 and 3. torchvision's pretrained ResNet-18 / ResNet-50 fine-tuned with
TRP on ImageNet (the paper's settings: the imagenet profile's train: and trp: blocks, config/imagenet.yaml,
which the workflow passes as --set; TrainConfig's defaults otherwise), in one process or in many under torchrun
(DistributedDataParallel); then, as for CIFAR, the final ranks, the decomposition without
fine-tuning, and the top-1 and top-5 accuracy of every network. With a conv-MAC budget
(`--target-speedup`, `--budget-from`), the tables' basic methods instead: the TSVD of the
pretrained network at the energy rule tuned to the budget (as `trp allocate --method energy` and
`trp decompose --ranks` for CIFAR), fine-tuned with the same schedule and no regulariser.

Outputs as `trp train`'s: metrics.json and ranklog.jsonl in `out`; last.pt (after every epoch,
resumed from) with ranklog.partial.jsonl, model.pt and decomposed.pt in `checkpoints`; a basic-method run writes
metrics.json, last.pt and finetuned.pt (the fine-tuned TSVD network). Under torchrun rank 0
alone enters the run directory, holds its lock for the whole run and writes every file; it tells
the other processes whether the run resumes or was refused (and a basic run's ranks, which it
allocates), and they wait at a barrier while it writes. Every process reads last.pt to resume,
so the checkpoints must be on a filesystem they all see. A time limit stops every process after
the same epoch (they decide together), checkpointed.
"""
import contextlib
import copy
import io
import math
import time
from pathlib import Path

import torch
from torch import nn

from .. import models
from ..artifacts import (PARTIAL_RANKLOG, ArtifactError, RankLog, RunDirectory, load_training_state, record, save_decomposed,
                         save_dense, save_training_state, sha256_file)
from ..artifacts.records import write_record
from ..config import ConfigError, TrainConfig, parse_overrides
from ..data import (BASELINE_NOTE, DataError, image_folders, imagenet_loaders, load_pretrained, loader_throughput,
                    per_image_cost)
from ..lowrank import decompose_model
from ..train import RankRegularizer, evaluate, fit
from ..train.distributed import (Process, barrier, broadcast_int, broadcast_ints, finish, identical_across, start,
                                 sum_across, wrap)
from .compress import compress, final_ranks, measure
from .inputs import resolve_device, sites_of

# The convs TRP projects (Sec. 4.4): 3x3 in ResNet-18; 3x3 and 1x1 in ResNet-50, the four 1x1
# shortcut (downsample) convs included, since the paper names all 1x1 layers. Stem and FC stay dense.
KERNELS = {"resnet18": (3,), "resnet50": (1, 3)}
REFUSED, FRESH, RESUME = -1, 0, 1
BASIC_NOTE = ("the basic method (Zhang et al. 2016 channel / Jaderberg et al. 2014 spatial): the data-independent "
              "TSVD of the pretrained network at the energy rule tuned to the conv-MAC budget, then fine-tuned with "
              "the schedule of TRP's ImageNet runs; accuracy 'decomposed' is before fine-tuning, 'finetuned' after")


def imagenet_config(overrides=(), basic: bool = False) -> TrainConfig:
    """TrainConfig's defaults, then `overrides` ("key=value", TrainConfig fields; "+Nu": lam=...).
    `basic` (a basic-method run: fine-tuning of a TSVD network) sets method "baseline": no
    projection, no nuclear norm. `batch_size` counts the images of a step over all processes."""
    values = parse_overrides(list(overrides))
    if basic:
        if values.get("lam", 0) or values.get("method", "baseline") != "baseline":
            raise ConfigError("a basic-method run (--target-speedup / --budget-from) fine-tunes the TSVD network "
                              "without a regulariser; drop lam=... and method=...")
        values["method"] = "baseline"
    return TrainConfig.from_dict(values)


def check_settings(cfg: TrainConfig, world_size: int, image_size: int, basic: bool) -> None:
    """Refuse settings an ImageNet run cannot take over `world_size` processes, before any data is read."""
    if basic and cfg.method != "baseline":
        raise ConfigError("a basic-method run fine-tunes without a regulariser: build its config with "
                          "imagenet_config(basic=True)")
    if cfg.batch_size % world_size:
        raise ConfigError(f"batch_size {cfg.batch_size} (images a step over all processes) must be a multiple of "
                          f"the {world_size} processes")
    if cfg.batch_size // world_size * math.ceil(image_size / 32) ** 2 < 2:  # the last stage is image_size / 32 wide
        raise ConfigError(f"batch_size {cfg.batch_size} over {world_size} process(es) at --image-size {image_size} "
                          f"leaves batch norm one value per channel in {cfg.model}'s last stage; give at least 2 "
                          "images a step per process or --image-size 64 or more")
    if cfg.model not in KERNELS:
        raise ConfigError(f"ImageNet runs fine-tune {' or '.join(KERNELS)}, not {cfg.model!r}; set model=...")
    if cfg.target_speedup is not None:
        raise ConfigError("target_speedup (budgeted TRP) is not available for ImageNet runs")


def default_layers(model: nn.Module, arch: str) -> list[str]:
    """The convs the paper decomposes in `arch` (KERNELS), never the stem."""
    return [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d) and m.kernel_size[0] in KERNELS[arch]
            and n != models.stem(arch)]


def basic_allocation(model: nn.Module, arch: str, scheme: str, sites, target_speedup: float) -> dict:
    """The basic methods' ranks (Zhang et al. 2016 channel, Jaderberg et al. 2014 spatial): the
    energy rule tuned so that the TSVD network's conv MACs are at most dense / `target_speedup`
    (cobla.allocate, method "energy", as `trp allocate --method energy` for CIFAR), over `sites`."""
    from ..cobla import allocate  # scipy: imported only where a budget is allocated
    res = allocate(model, arch, scheme, target_speedup=target_speedup, method="energy", sites=sites)
    return {**{k: res[k] for k in ("method", "ranks", "dense_layers", "macs", "budget", "speedup", "dense")},
            "e": res["starts"]["energy"]["e"]}


def _shared_ranks(process: Process, sites, compute) -> tuple[dict[str, int], dict | None]:
    """({layer: rank}, rank 0's `compute()` record or None): rank 0 computes the ranks and every
    process gets them; an error on rank 0 reaches every process, so none is left waiting."""
    values, record_, error = [REFUSED] * len(sites), None, None
    if process.is_main:
        try:
            record_ = compute()
            values = [record_["ranks"].get(s.name, 0) for s in sites]
        except Exception as e:  # re-raised below, after the other processes are told
            error = e
    values = broadcast_ints(values, process)
    if REFUSED in values:
        raise error or ConfigError("rank 0 could not allocate the basic method's ranks (see its message)")
    return {s.name: v for s, v in zip(sites, values) if v > 0}, record_


@contextlib.contextmanager
def _run_directory(process: Process, settings: dict, out, checkpoints, overwrite: bool, inputs=()):
    """Yields whether the run resumes from last.pt, on every process. Rank 0 holds the
    RunDirectory (lock, claim) until the block ends; a refusal reaches every process, so none is
    left waiting."""
    status, error = REFUSED, None
    with contextlib.ExitStack() as stack:
        if process.is_main:
            try:
                run = stack.enter_context(RunDirectory("imagenet", settings, out, checkpoints, overwrite, inputs))
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
                 image_size: int = 224, progress: bool = True, overwrite: bool = False,
                 target_speedup: float | None = None, budget_from: str | None = None,
                 time_limit_minutes: float | None = None) -> dict:
    """Fine-tune, decompose and measure per `cfg` (see imagenet_config). With `target_speedup`
    (cfg from imagenet_config(basic=True)), the basic method instead: the pretrained network
    TSVD'd at basic_allocation's ranks for that conv-MAC speedup, then fine-tuned (`budget_from`:
    the metrics file the speedup came from, recorded). With a time limit that stops the run
    early: {"finished": False, "epoch": ...} on every process, and the run resumes when called
    again. Else {"finished": True, **metrics} on rank 0, {"finished": True} on the other
    processes. Under torchrun every process calls this."""
    process = start(resolve_device(cfg.device, cfg.precision).type)
    try:
        return _run(process, cfg, data_root, out_dir, ckpt_dir, weights, workers, image_size, progress, overwrite,
                    target_speedup, budget_from, time_limit_minutes)
    finally:
        finish(process)


def _run(process: Process, cfg: TrainConfig, data_root, out_dir, ckpt_dir, weights, workers, image_size, progress,
         overwrite, target_speedup, budget_from, time_limit_minutes) -> dict:
    t0 = time.perf_counter()
    # each process's own clock; fit stops every process after the same epoch (loop.out_of_time)
    deadline = time.monotonic() + 60 * time_limit_minutes if time_limit_minutes else None
    basic = target_speedup is not None
    check_settings(cfg, process.world_size, image_size, basic)
    folders = image_folders(data_root, image_size)
    model, weights_info = load_pretrained(cfg.model, weights)
    if len(folders.classes) > model.fc.out_features:
        raise DataError(f"{data_root}: {len(folders.classes)} class folders, more than the {model.fc.out_features} "
                        f"outputs of the pretrained {cfg.model}")
    data = {**folders.describe(), "image_size": image_size}
    device = process.device
    torch.manual_seed(cfg.seed)
    sites = sites_of(model, cfg.model, cfg.scheme, cfg.layers or default_layers(model, cfg.model))
    ranks, dense_layers, allocation, net = None, None, None, model
    if basic:  # on the CPU, before the network goes to the device
        given, allocation = _shared_ranks(
            process, sites, lambda: basic_allocation(model, cfg.model, cfg.scheme, sites, target_speedup))
        ranks, dense_layers = final_ranks(sites, cfg.scheme, cfg.e, ranks=given)
        net = decompose_model(copy.deepcopy(model), ranks, cfg.scheme)
    memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
    model = model.to(device, memory_format=memory_format)
    net = net.to(device, memory_format=memory_format)
    train_loader, val_loader = imagenet_loaders(
        folders, cfg.batch_size // process.world_size, workers, device, cfg.seed, process.rank, process.world_size,
        cfg.channels_last, cfg.train_subset, cfg.test_subset)
    if len(train_loader) == 0:
        raise DataError(f"{data_root}: {len(train_loader.loader.dataset)} training images are fewer than one step "
                        f"(batch_size {cfg.batch_size})")
    settings = {"config": cfg.to_dict(), "data_listing_sha256": data["listing_sha256"], "image_size": image_size,
                "weights_sha256": weights_info["sha256"]}
    if basic:
        settings["basic"] = {"target_speedup": target_speedup, "ranks": ranks}
    out, ckpt = Path(out_dir), Path(ckpt_dir or out_dir)
    with _run_directory(process, settings, out, ckpt, overwrite, (weights, budget_from)) as resuming:
        last = ckpt / "last.pt"
        resume = load_training_state(last, device) if resuming else None
        log = RankLog(ckpt / PARTIAL_RANKLOG) if process.is_main and not basic else None
        if log is not None:
            log.start(resume["state"]["step"] if resume else None)
        reg = None
        if cfg.method != "baseline":
            reg = RankRegularizer.from_config(cfg, sites, log=log)

        def held_ranks():
            return ranks if basic else _projection_ranks(reg)

        total = sum_across(process)
        results = {"pretrained": evaluate(model, val_loader, device, total)}
        trained = wrap(net, process)  # DDP starts every process from rank 0's weights
        if basic:
            results["decomposed"] = evaluate(trained, val_loader, device, total)  # the TSVD network, not fine-tuned

        def save(training_state):
            identical_across(net, process, held_ranks())
            if process.is_main:
                save_training_state(last, training_state)
            barrier(process)

        quiet = contextlib.nullcontext() if process.is_main else contextlib.redirect_stdout(io.StringIO())
        with quiet:
            state = fit(trained, cfg, train_loader, val_loader, torch.Generator().manual_seed(cfg.seed), device, reg,
                        resume, save=save, progress=progress and process.is_main, deadline=deadline, all_reduce=total)
        if not state["finished"]:
            barrier(process)  # leave together: torchrun ends the others when the first process exits
            return {"finished": False, "epoch": state["epoch"]}
        digests = identical_across(net, process, held_ranks())
        if basic:
            networks = {"finetuned": net}
        else:
            networks = {"dense": model}
            if reg is not None:
                ranks, dense_layers = final_ranks(sites, cfg.scheme, cfg.e, cfg.rank_rule, cfg.rank_threshold)
                networks = compress(model, sites, cfg.scheme, ranks)
        results |= {k: evaluate(n, val_loader, device, total) for k, n in networks.items()}
        metrics = {}
        if process.is_main:
            files = _write_networks(ckpt, networks, cfg, ranks)
            # the accuracies are those of the whole split, evaluated by every process
            report = measure(cfg.model, networks, val_loader, device, accuracies=results)
            fields = {
                "config": cfg.to_dict(), **report,
                "ranks": ranks, "dense_layers": dense_layers, "layers": [s.name for s in sites],
                **({"basic": {"target_speedup": target_speedup, "budget_from": budget_from, "allocation": allocation,
                              "note": BASIC_NOTE}} if basic else {}),
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
            if log is not None:
                log.publish(out / "ranklog.jsonl")
            metrics = write_record(out / "metrics.json", "imagenet", fields)
        barrier(process)
    return {"finished": True, **metrics}


def _write_networks(ckpt: Path, networks: dict, cfg: TrainConfig, ranks) -> dict:
    """A basic-method run: finetuned.pt (the fine-tuned TSVD network). Else model.pt (the
    fine-tuned dense network) and, after TRP, decomposed.pt. Their sha256."""
    if "finetuned" in networks:
        save_decomposed(ckpt / "finetuned.pt", networks["finetuned"], cfg.model, cfg.scheme, ranks,
                        {"config": cfg.to_dict()})
        return {"finetuned_sha256": sha256_file(ckpt / "finetuned.pt")}
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
