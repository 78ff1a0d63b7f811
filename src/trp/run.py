"""A training run from a config: data, model, TRP / nuclear regularizer, training, then the
decomposition into the low-rank network and a metrics JSON that cites everything."""
import json
import time
from pathlib import Path

import torch

from . import models
from .checkpoint import atomic_save, atomic_write_text, sha256_file
from .config import TrainConfig
from .data import TensorLoader, fingerprint, load_prepared
from .finalize import decompose_and_measure, final_ranks
from .lowrank import conv_macs, find_sites, model_cost, save_decomposed
from .provenance import record
from .train import RankRegularizer, evaluate, fit


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was asked for but no GPU is available; use device: cpu or auto")
    return torch.device(name)


class RankLog:
    """Theorem-2 records as JSON lines, appended as they come; on resume, records of steps that
    will be replayed are dropped."""

    def __init__(self, path: Path):
        self.path = path

    def __call__(self, rec: dict) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps(rec) + "\n")

    def truncate(self, step: int) -> None:
        if self.path.exists():
            lines = [ln for ln in self.path.read_text().splitlines() if json.loads(ln)["step"] < step]
            atomic_write_text(self.path, "".join(ln + "\n" for ln in lines))


def load_data(cfg: TrainConfig, data_npz, device, generator):
    arrays = load_prepared(data_npz)
    fp = fingerprint(arrays)["data_fingerprint"]
    n_train, n_test = cfg.train_subset, cfg.test_subset
    train = TensorLoader(arrays["train_x"][:n_train], arrays["train_y"][:n_train], cfg.batch_size, True, device,
                         generator, channels_last=cfg.channels_last)
    test = TensorLoader(arrays["test_x"][:n_test], arrays["test_y"][:n_test], 500, False, device,
                        channels_last=cfg.channels_last)
    return train, test, fp


def build_model(cfg: TrainConfig, device):
    model = models.build(cfg.model).to(device)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    names = cfg.layers and [models.paper_layer_name(n) for n in cfg.layers]
    sites = find_sites(model, models.input_size(cfg.model), cfg.scheme, names=names,
                       exclude=() if names else (models.stem(cfg.model),))
    return model, sites


def budget_allocator(cfg: TrainConfig, model, sites):
    """Budgeted TRP: ranks at every projection from the exact surrogate allocator (least
    discarded energy) so that the network meets conv MACs <= dense conv MACs / target."""
    from .cobla import budget_ranks

    dense = model_cost(model, models.input_size(cfg.model))["conv_macs"]
    fixed = dense - sum(conv_macs(s.conv, None, None, s.out_hw) for s in sites)  # convs never decomposed
    budget = dense / cfg.target_speedup

    def allocate(sites, singular_values=None):
        return budget_ranks(sites, cfg.scheme, mac_budget=budget, fixed_macs=fixed, singular_values=singular_values)

    return allocate


def train_run(cfg: TrainConfig, data_npz, out_dir, ckpt_dir=None, progress: bool = True) -> dict:
    """Train per `cfg`: metrics.json and ranklog.jsonl go to `out_dir`; last.pt (resumed from
    if present), model.pt and decomposed.pt (TRP / nuclear methods) to `ckpt_dir` (default
    out_dir). Returns the metrics."""
    out = Path(out_dir)
    ckpt = Path(ckpt_dir or out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    generator = torch.Generator().manual_seed(cfg.seed)
    model, sites = build_model(cfg, device)  # unknown layer names fail here, before any work
    train_loader, test_loader, data_fp = load_data(cfg, data_npz, device, generator)
    log = RankLog(out / "ranklog.jsonl")
    if not (ckpt / "last.pt").exists():
        log.path.unlink(missing_ok=True)
    log.path.touch()  # an empty log for runs that never project
    reg = None
    allocate = budget_allocator(cfg, model, sites) if cfg.target_speedup else None
    if cfg.method != "baseline":
        reg = RankRegularizer(sites, cfg.scheme, cfg.method == "trp", cfg.e, cfg.m, cfg.lam, cfg.nuclear_cadence,
                              allocate=allocate, log=log)
    state = fit(model, cfg, train_loader, test_loader, generator, device, ckpt, reg, progress, on_resume=log.truncate)
    atomic_save({"arch": cfg.model, "state_dict": model.state_dict(), "config": cfg.to_dict()}, ckpt / "model.pt")
    metrics = {"schema": "trp.run/1", "config": cfg.to_dict()}
    size = models.input_size(cfg.model)
    files = {"model_sha256": sha256_file(ckpt / "model.pt")}
    if cfg.method == "baseline":
        cost = model_cost(model, size)
        metrics.update(accuracy={"dense": evaluate(model, test_loader, device)["top1"]},
                       cost={"dense": {k: v for k, v in cost.items() if k != "layers"}})
    else:
        ranks, dense_layers = final_ranks(sites, cfg.scheme, cfg.e, cfg.rank_rule, cfg.rank_threshold,
                                          ranks=allocate(sites) if allocate else None)
        decomposed, report = decompose_and_measure(model, sites, cfg.scheme, ranks, dense_layers, size, test_loader, device)
        save_decomposed(ckpt / "decomposed.pt", decomposed, cfg.model, cfg.scheme, ranks, {"config": cfg.to_dict()})
        files["decomposed_sha256"] = sha256_file(ckpt / "decomposed.pt")
        metrics.update(report)
    metrics["training"] = {"epochs": state["epoch"], "steps": state["step"], "train_seconds": state["train_seconds"],
                           "images_per_s": sum(h["images_per_s"] for h in state["history"]) / len(state["history"]),
                           "wall_seconds_this_process": time.perf_counter() - t0, "history": state["history"],
                           "projections": reg.projections if reg else 0}
    metrics["provenance"] = record(cfg.to_dict(), device, data_fp, cfg.seed, **files)
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=1))
    return metrics
