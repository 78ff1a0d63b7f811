"""`trp finetune`: plain-SGD fine-tuning of a decomposed network (the basic methods, COBLA
allocations), resumable like training; its accuracy before and after ("decomposed",
"finetuned") through the same measure() as every other run. On ImageNet (trp.stages.imagenet) in
one process or in many under torchrun."""
import copy
import time

import torch

from ..artifacts import (DECOMPOSED, RunDirectory, load_network, load_training_state, record, save_decomposed,
                         save_training_state, sha256_file)
from ..artifacts.records import write_record
from ..config import TrainConfig
from ..data.cifar10 import INPUT_SIZE
from ..train import fit
from .compress import measure
from .inputs import ImageNet, finetuning_config, resolve_device, train_loaders

# config keys fine-tuning does not use: the checkpoint fixes the network, plain SGD trains it
IGNORES = frozenset({"model", "method", "scheme", "e", "lam", "m", "counter", "nuclear_cadence", "layers",
                     "target_speedup", "rank_rule", "rank_threshold", "log_spectrum", "svd_device"})


def finetune(checkpoint, cfg: TrainConfig, data, out_dir, ckpt_dir=None, progress=True, overwrite=False,
             deterministic=False, time_limit_minutes: float | None = None) -> dict:
    """Fine-tune and return the record; `data`: CIFAR-10's prepared .npz or an ImageNet folder. With a time limit
    that stops the run early, {"finished": False, "epoch": ...}, and the run resumes when called again."""
    if isinstance(data, ImageNet):
        from .imagenet import decomposed_finetuning

        return decomposed_finetuning(cfg, checkpoint, data, out_dir, ckpt_dir, progress, overwrite, time_limit_minutes)
    t0 = time.perf_counter()
    deadline = time.monotonic() + 60 * time_limit_minutes if time_limit_minutes else None
    device = resolve_device(cfg.device, cfg.precision, deterministic)
    model, rec = load_network(checkpoint, device, expect=DECOMPOSED)
    cfg = finetuning_config(cfg, rec)
    model = model.to(device, memory_format=torch.channels_last if cfg.channels_last else torch.contiguous_format)
    before = copy.deepcopy(model)
    torch.manual_seed(cfg.seed)
    generator = torch.Generator().manual_seed(cfg.seed)
    train_loader, test_loader, data_fp = train_loaders(cfg, data, device, generator)
    settings = {"config": cfg.to_dict(), "source_sha256": sha256_file(checkpoint), "data_fingerprint": data_fp}
    with RunDirectory("finetune", settings, out_dir, ckpt_dir, overwrite, (checkpoint, data)) as run:
        last = run.checkpoints / "last.pt"
        resume = load_training_state(last, device, model, rec["arch"]) if run.resuming and last.exists() else None
        state = fit(model, cfg, train_loader, test_loader, generator, device, None, resume,
                    save=lambda training_state: save_training_state(last, training_state), progress=progress,
                    deadline=deadline)
        if not state["finished"]:
            return {"finished": False, "epoch": state["epoch"]}
        save_decomposed(run.checkpoints / "finetuned.pt", model, rec["arch"], rec["scheme"], rec["ranks"],
                        {"finetune": cfg.to_dict()}, INPUT_SIZE)
        metrics = write_record(run.out / "metrics.json", "finetuning", {
            "config": cfg.to_dict(), "source": str(checkpoint),
            **measure(rec["arch"], {"decomposed": before, "finetuned": model}, test_loader, device, input_size=INPUT_SIZE),
            "ranks": rec["ranks"], "scheme": rec["scheme"],
            "training": {"epochs": state["epoch"], "train_seconds": state["train_seconds"],
                         "wall_seconds_this_process": time.perf_counter() - t0, "history": state["history"]},
            "provenance": record(cfg.to_dict(), device, data_fp, cfg.seed, source_sha256=settings["source_sha256"],
                                 finetuned_sha256=sha256_file(run.checkpoints / "finetuned.pt"))})
    return {"finished": True, **metrics}
