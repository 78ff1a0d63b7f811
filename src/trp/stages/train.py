"""`trp train`: a training run from a config, then its final ranks, decomposition and measures.

Outputs: metrics.json and ranklog.jsonl in `out`; last.pt and ranklog.partial.jsonl (resumed from, only
when the directory holds this very run), model.pt and decomposed.pt (TRP / nuclear methods) in `checkpoints`.
On ImageNet (trp.stages.imagenet) from torchvision's pretrained network, in one process or many under torchrun."""
import time

import torch

from .. import models
from ..artifacts import (PARTIAL_RANKLOG, RankLog, RunDirectory, load_training_state, record, save_decomposed, save_dense,
                         save_training_state, sha256_file)
from ..artifacts.records import write_record
from ..config import ConfigError, TrainConfig
from ..data.cifar10 import INPUT_SIZE
from ..lowrank import conv_macs, model_cost
from ..progress import phase
from ..train import RankRegularizer, fit, training_summary
from .compress import compress, final_ranks, measure
from .inputs import ImageNet, resolve_device, sites_of, train_loaders

EXIT_RESUMABLE = 75  # the time limit stopped the run after a checkpoint: run the same command again


def budget_allocator(cfg: TrainConfig, model, sites):
    """Budgeted TRP: ranks at every projection from the exact surrogate allocator (least
    discarded energy) so that the network meets conv MACs <= dense conv MACs / target."""
    from ..cobla import InfeasibleBudget, budget_ranks

    dense = model_cost(model, INPUT_SIZE)["conv_macs"]
    fixed = dense - sum(conv_macs(s.conv, None, None, s.out_hw) for s in sites)  # convs never decomposed
    budget = dense / cfg.target_speedup

    def allocate(sites, singular_values=None):
        return budget_ranks(sites, cfg.scheme, mac_budget=budget, fixed_macs=fixed, singular_values=singular_values)

    try:
        allocate(sites)  # ranks exist for this budget (they do for any weights once they do for one)
    except InfeasibleBudget as e:
        raise ConfigError(f"target_speedup {cfg.target_speedup:g} cannot be reached by {cfg.model} ({e})") from None
    return allocate


def train_run(cfg: TrainConfig, data, out_dir, ckpt_dir=None, progress: bool = True, overwrite: bool = False,
              time_limit_minutes: float | None = None, deterministic: bool = False, inputs=(), weights=None) -> dict:
    """Train per `cfg` and return the metrics; with a time limit that stops the run early, the
    metrics are {"finished": False, ...} and the run resumes when called again. `data`: CIFAR-10's
    prepared .npz, trained from scratch, or an ImageNet folder, trained from the pretrained `weights`
    (default: torchvision's cache file). `inputs`: other files the command read (a --budget-from
    record), kept like the data, --overwrite or not."""
    if isinstance(data, ImageNet):
        from .imagenet import pretrained_training

        return pretrained_training(cfg, data, out_dir, ckpt_dir, weights, progress, overwrite, time_limit_minutes,
                                   inputs)
    t0 = time.perf_counter()
    deadline = time.monotonic() + 60 * time_limit_minutes if time_limit_minutes else None
    device = resolve_device(cfg.device, cfg.precision, deterministic)
    torch.manual_seed(cfg.seed)
    generator = torch.Generator().manual_seed(cfg.seed)
    model = models.build(cfg.model).to(device)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    sites = sites_of(model, cfg.model, cfg.scheme, cfg.layers, INPUT_SIZE)  # unknown layer names fail here, before any work
    train_loader, test_loader, data_fp = train_loaders(cfg, data, device, generator)
    settings = {"config": cfg.to_dict(), "data_fingerprint": data_fp}
    with RunDirectory("train", settings, out_dir, ckpt_dir, overwrite, inputs=(data, *inputs)) as run:
        last = run.checkpoints / "last.pt"
        resume = load_training_state(last, device, model, cfg.model) if run.resuming and last.exists() else None
        log = RankLog(run.checkpoints / PARTIAL_RANKLOG)
        log.start(resume["state"]["step"] if resume else None, layers=len(sites))
        allocate = budget_allocator(cfg, model, sites) if cfg.target_speedup else None
        reg = None
        if cfg.method != "baseline":
            reg = RankRegularizer.from_config(cfg, sites, allocate=allocate, log=log)
        state = fit(model, cfg, train_loader, test_loader, generator, device, reg, resume,
                    save=lambda training_state: save_training_state(last, training_state), progress=progress, deadline=deadline)
        if not state["finished"]:
            return {"finished": False, "epoch": state["epoch"]}
        save_dense(run.checkpoints / "model.pt", model, cfg.model, cfg.to_dict(), INPUT_SIZE)
        files = {"model_sha256": sha256_file(run.checkpoints / "model.pt")}
        if cfg.method == "baseline":
            report = measure(cfg.model, {"dense": model}, test_loader, device, input_size=INPUT_SIZE, progress=progress)
        else:
            with phase(f"decomposing {len(sites)} convs ({cfg.scheme}-wise)", progress):
                ranks, dense_layers = final_ranks(sites, cfg.scheme, cfg.e, cfg.rank_rule, cfg.rank_threshold,
                                                  ranks=allocate(sites) if allocate else None)
                networks = compress(model, sites, cfg.scheme, ranks)
            report = {**measure(cfg.model, networks, test_loader, device, input_size=INPUT_SIZE, progress=progress),
                      "ranks": ranks, "dense_layers": dense_layers}
            save_decomposed(run.checkpoints / "decomposed.pt", networks["decomposed"], cfg.model, cfg.scheme, ranks,
                            {"config": cfg.to_dict()}, INPUT_SIZE)
            files["decomposed_sha256"] = sha256_file(run.checkpoints / "decomposed.pt")
        fields = {"config": cfg.to_dict(), **report, "training": training_summary(state, t0, reg),
                  "provenance": record(cfg.to_dict(), device, data_fp, cfg.seed, **files)}
        log.publish(run.out / "ranklog.jsonl")
        metrics = write_record(run.out / "metrics.json", "training", fields)
    return {"finished": True, **metrics}

