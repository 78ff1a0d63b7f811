"""ImageNet (Tables 2 and 3) in the stages CIFAR-10 runs through, with the same records: `trp train`
fine-tunes torchvision's pretrained ResNet-18 / ResNet-50 with TRP (or, method baseline, without a
regulariser) and decomposes it (a training record); `trp decompose` takes the TSVD of a dense network, the
pretrained one included, and measures it on the validation split (a decomposition record); `trp finetune`
fine-tunes a decomposed network (a fine-tuning record). The settings are the ImageNet profile's
(config/imagenet.yaml, read by `--profile`, which also says that `--data` is an ImageNet folder).

Training and fine-tuning run in one process or in many under torchrun (DistributedDataParallel;
`batch_size` counts the images of a step over all processes). Outputs as for CIFAR-10; every process
evaluates its shard of the validation split and the counts are summed. Under torchrun rank 0 alone enters
the run directory, holds its lock for the whole run and writes every file; it tells the other processes
whether the run resumes or was refused, and they wait at a barrier while it writes. Every process reads
last.pt to resume, so the checkpoints must be on a filesystem they all see. A time limit stops every
process after the same epoch (they decide together), checkpointed.
"""
import contextlib
import io
import math
import time
from pathlib import Path

import torch

from ..artifacts import (DECOMPOSED, PARTIAL_RANKLOG, ArtifactError, RankLog, RunDirectory, load_network,
                         load_training_state, record, save_decomposed, save_dense, save_training_state, sha256_file)
from ..artifacts.records import write_record
from ..config import ConfigError, TrainConfig
from ..data import (PUBLISHED, DataError, image_folders, imagenet_loaders, load_pretrained, loader_throughput,
                    per_image_cost)
from ..train import RankRegularizer, evaluate, fit, training_summary
from ..train.distributed import (Process, barrier, broadcast_int, finish, identical_across, start, sum_across,
                                 wrap)
from .compress import compress, final_ranks, measure
from .inputs import EVAL_BATCH, ImageNet, finetuning_config, resolve_device, sites_of

REFUSED, FRESH, RESUME = -1, 0, 1


def check_settings(cfg: TrainConfig, world_size: int, image_size: int) -> None:
    """Refuse settings an ImageNet run cannot take over `world_size` processes, before any data is read."""
    if cfg.batch_size % world_size:
        raise ConfigError(f"batch_size {cfg.batch_size} (images a step over all processes) must be a multiple of "
                          f"the {world_size} processes")
    if cfg.batch_size // world_size * math.ceil(image_size / 32) ** 2 < 2:  # the last stage is image_size / 32 wide
        raise ConfigError(f"batch_size {cfg.batch_size} over {world_size} process(es) at --image-size {image_size} "
                          f"leaves batch norm one value per channel in {cfg.model}'s last stage; give at least 2 "
                          "images a step per process or --image-size 64 or more")
    if cfg.model not in PUBLISHED:
        raise ConfigError(f"ImageNet runs fine-tune {' or '.join(PUBLISHED)}, not {cfg.model!r}; set model=...")
    if cfg.target_speedup is not None:
        raise ConfigError("target_speedup (budgeted TRP) is not available for ImageNet runs")


def _folders(data: ImageNet, classes_out: int):
    """The checked folders and what a record says of them; more classes than the network's outputs is a DataError."""
    folders = image_folders(data.root, data.image_size)
    if len(folders.classes) > classes_out:
        raise DataError(f"{data.root}: {len(folders.classes)} class folders, more than the {classes_out} outputs of "
                        "the network")
    described = {**folders.describe(), "image_size": data.image_size,
                 "head_matches_labels": len(folders.classes) == classes_out}
    return folders, described


def _memory_format(cfg: TrainConfig) -> torch.memory_format:
    return torch.channels_last if cfg.channels_last else torch.contiguous_format


def _loaders(process: Process, cfg: TrainConfig, data: ImageNet, folders):
    train, val = imagenet_loaders(folders, cfg.batch_size // process.world_size, data.workers, process.device,
                                  cfg.seed, process.rank, process.world_size, cfg.channels_last, cfg.train_subset,
                                  cfg.test_subset)
    if len(train) == 0:
        raise DataError(f"{data.root}: {len(train.loader.dataset)} training images are fewer than one step "
                        f"(batch_size {cfg.batch_size})")
    return train, val


@contextlib.contextmanager
def _run_directory(process: Process, kind: str, settings: dict, out, checkpoints, overwrite: bool, inputs=()):
    """Yields whether the run resumes from last.pt, on every process. Rank 0 holds the
    RunDirectory (lock, claim) until the block ends; a refusal reaches every process, so none is
    left waiting."""
    status, error = REFUSED, None
    with contextlib.ExitStack() as stack:
        if process.is_main:
            try:
                run = stack.enter_context(RunDirectory(kind, settings, out, checkpoints, overwrite, inputs))
                status = RESUME if run.resuming and (run.checkpoints / "last.pt").exists() else FRESH
            except ArtifactError as e:
                error = e
        status = broadcast_int(status, process)
        if status == REFUSED:
            raise error or ArtifactError(f"rank 0 could not take the run directory {out} (see its message)")
        yield status == RESUME


def _fit(process: Process, cfg: TrainConfig, net, loaders, last: Path, resume, reg, held_ranks, deadline, progress):
    """fit() of `net` under DDP; after every epoch every process checks that the replicas are identical and rank 0
    writes last.pt."""
    def save(training_state):
        identical_across(net, process, held_ranks())
        if process.is_main:
            save_training_state(last, training_state)
        barrier(process)

    quiet = contextlib.nullcontext() if process.is_main else contextlib.redirect_stdout(io.StringIO())
    with quiet:
        return fit(wrap(net, process), cfg, *loaders, torch.Generator().manual_seed(cfg.seed), process.device, reg,
                   resume, save=save, progress=progress and process.is_main, deadline=deadline,
                   all_reduce=sum_across(process))


def _distributed(process: Process, cfg: TrainConfig, digests) -> dict:
    return {"world_size": process.world_size, "batch_per_process": cfg.batch_size // process.world_size,
            "state_digests": digests}


def _in_processes(run):
    """`run(process)` in this process's place among the ones torchrun started (or alone), the group left after."""
    def call(cfg: TrainConfig, *args, **kwargs):
        process = start(resolve_device(cfg.device, cfg.precision).type)
        try:
            return run(process, cfg, *args, **kwargs)
        finally:
            finish(process)
    return call


@_in_processes
def pretrained_training(process: Process, cfg: TrainConfig, data: ImageNet, out_dir, ckpt_dir=None, weights=None,
                        progress: bool = True, overwrite: bool = False, time_limit_minutes: float | None = None,
                        inputs=()) -> dict:
    """`trp train` on ImageNet: the pretrained network (`weights`, default torchvision's cache file) evaluated
    ("pretrained", the tables' Baseline), trained per `cfg`, then its final ranks, decomposition and measures, as
    trp.stages.train.train_run. With a time limit that stops the run early: {"finished": False, "epoch": ...} on
    every process, and the run resumes when called again. Else {"finished": True, **record} on rank 0,
    {"finished": True} on the other processes. Under torchrun every process calls this."""
    t0 = time.perf_counter()
    # each process's own clock; fit stops every process after the same epoch (loop.out_of_time)
    deadline = time.monotonic() + 60 * time_limit_minutes if time_limit_minutes else None
    check_settings(cfg, process.world_size, data.image_size)
    model, weights_info = load_pretrained(cfg.model, weights)
    folders, described = _folders(data, model.fc.out_features)
    torch.manual_seed(cfg.seed)
    sites = sites_of(model, cfg.model, cfg.scheme, cfg.layers)
    model = model.to(process.device, memory_format=_memory_format(cfg))
    loaders = _loaders(process, cfg, data, folders)
    settings = {"config": cfg.to_dict(), "data_listing_sha256": described["listing_sha256"],
                "image_size": data.image_size, "weights_sha256": weights_info["sha256"]}
    out, ckpt = Path(out_dir), Path(ckpt_dir or out_dir)
    with _run_directory(process, "train", settings, out, ckpt, overwrite, (weights, *inputs)) as resuming:
        resume = load_training_state(ckpt / "last.pt", process.device, model, cfg.model) if resuming else None
        log = RankLog(ckpt / PARTIAL_RANKLOG) if process.is_main else None
        if log is not None:
            log.start(resume["state"]["step"] if resume else None, layers=len(sites))
        reg = RankRegularizer.from_config(cfg, sites, log=log) if cfg.method != "baseline" else None

        def held_ranks():
            return {name: rank for name, (_, rank) in reg.previous.items()} if reg is not None else {}

        total = sum_across(process)
        results = {"pretrained": evaluate(model, loaders[1], process.device, total)}
        state = _fit(process, cfg, model, loaders, ckpt / "last.pt", resume, reg, held_ranks, deadline, progress)
        if not state["finished"]:
            barrier(process)  # leave together: torchrun ends the others when the first process exits
            return {"finished": False, "epoch": state["epoch"]}
        digests = identical_across(model, process, held_ranks())
        networks, ranks, dense_layers = {"dense": model}, None, None
        if reg is not None:
            ranks, dense_layers = final_ranks(sites, cfg.scheme, cfg.e, cfg.rank_rule, cfg.rank_threshold)
            networks = compress(model, sites, cfg.scheme, ranks)
        results |= {k: evaluate(n, loaders[1], process.device, total) for k, n in networks.items()}
        metrics = {}
        if process.is_main:
            save_dense(ckpt / "model.pt", model, cfg.model, cfg.to_dict())
            files = {"model_sha256": sha256_file(ckpt / "model.pt")}
            if ranks is not None:
                save_decomposed(ckpt / "decomposed.pt", networks["decomposed"], cfg.model, cfg.scheme, ranks,
                                {"config": cfg.to_dict()})
                files["decomposed_sha256"] = sha256_file(ckpt / "decomposed.pt")
            report = measure(cfg.model, networks, loaders[1], process.device, accuracies=results)
            fields = {"config": cfg.to_dict(), **report,
                      **({"ranks": ranks, "dense_layers": dense_layers} if ranks is not None else {}),
                      "layers": [s.name for s in sites], "training": training_summary(state, t0, reg),
                      "data": described, "weights": weights_info, "distributed": _distributed(process, cfg, digests),
                      "provenance": record(cfg.to_dict(), process.device, described["listing_sha256"], cfg.seed,
                                           weights_sha256=weights_info["sha256"], **files)}
            log.publish(out / "ranklog.jsonl")
            metrics = write_record(out / "metrics.json", "training", fields)
        barrier(process)
    return {"finished": True, **metrics}


@_in_processes
def decomposed_finetuning(process: Process, cfg: TrainConfig, checkpoint, data: ImageNet, out_dir, ckpt_dir=None,
                          progress: bool = True, overwrite: bool = False,
                          time_limit_minutes: float | None = None) -> dict:
    """`trp finetune` on ImageNet: the decomposed network `checkpoint` evaluated ("decomposed"), fine-tuned per
    `cfg` without a regulariser, evaluated again ("finetuned"); returns as pretrained_training."""
    t0 = time.perf_counter()
    deadline = time.monotonic() + 60 * time_limit_minutes if time_limit_minutes else None
    model, rec = load_network(checkpoint, expect=DECOMPOSED)
    cfg = finetuning_config(cfg, rec)
    check_settings(cfg, process.world_size, data.image_size)
    folders, described = _folders(data, model.fc.out_features)
    torch.manual_seed(cfg.seed)
    model = model.to(process.device, memory_format=_memory_format(cfg))
    loaders = _loaders(process, cfg, data, folders)
    source = sha256_file(checkpoint)
    settings = {"config": cfg.to_dict(), "source_sha256": source, "data_listing_sha256": described["listing_sha256"],
                "image_size": data.image_size}
    out, ckpt = Path(out_dir), Path(ckpt_dir or out_dir)
    ranks = rec["ranks"]
    with _run_directory(process, "finetune", settings, out, ckpt, overwrite, (checkpoint,)) as resuming:
        resume = load_training_state(ckpt / "last.pt", process.device, model, rec["arch"]) if resuming else None
        total = sum_across(process)
        results = {"decomposed": evaluate(model, loaders[1], process.device, total)}
        state = _fit(process, cfg, model, loaders, ckpt / "last.pt", resume, None, lambda: ranks, deadline, progress)
        if not state["finished"]:
            barrier(process)
            return {"finished": False, "epoch": state["epoch"]}
        digests = identical_across(model, process, ranks)
        results["finetuned"] = evaluate(model, loaders[1], process.device, total)
        metrics = {}
        if process.is_main:
            save_decomposed(ckpt / "finetuned.pt", model, rec["arch"], rec["scheme"], ranks,
                            {"finetune": cfg.to_dict()})
            metrics = write_record(out / "metrics.json", "finetuning", {
                "config": cfg.to_dict(), "source": str(checkpoint),
                **measure(rec["arch"], {"finetuned": model}, loaders[1], process.device, accuracies=results),
                "ranks": ranks, "scheme": rec["scheme"], "training": training_summary(state, t0),
                "data": described, "distributed": _distributed(process, cfg, digests),
                "provenance": record(cfg.to_dict(), process.device, described["listing_sha256"], cfg.seed,
                                     source_sha256=source, finetuned_sha256=sha256_file(ckpt / "finetuned.pt"))})
        barrier(process)
    return {"finished": True, **metrics}


def validation_data(data: ImageNet, device, test_subset: int | None = None):
    """(loader of the validation split, or its first-spread `test_subset` images, in one process; the listing's
    sha256)."""
    folders = image_folders(data.root, data.image_size)
    _, val = imagenet_loaders(folders, EVAL_BATCH, data.workers, device, seed=0, val_subset=test_subset)
    return val, folders.describe()["listing_sha256"]


def loader_benchmark(data_root, workers: int = 8, batch_size: int = 256, batches: int = 20,
                     image_size: int = 224) -> dict:
    """Images/s of the training loader alone (no device, no model) with `workers` processes, and
    the per-image cost of PIL decoding and of the transform in one process: where the time goes."""
    folders = image_folders(data_root, image_size)
    train_loader, _ = imagenet_loaders(folders, batch_size, workers, "cpu", seed=0)
    train_loader.set_epoch(0)
    return {**loader_throughput(train_loader.loader, batches), **per_image_cost(folders.train)}
