"""From a trained dense network to the real low-rank network, and every Table-1 number through
one measure(): accuracy per network (keys say what it is: dense, projected, decomposed,
finetuned), conv and whole-network MACs and parameters, and the speedup."""
import copy
import sys

import torch
from torch import nn

from .. import models
from ..lowrank import ConvSite, decompose_model, model_cost, project_sites, speedup
from ..progress import phase
from ..train import evaluate

RANK_RULES = ("energy", "absolute")


def final_ranks(sites: list[ConvSite], scheme: str, e: float, rule: str = "energy", threshold: float = 0.05,
                ranks: dict[str, int] | None = None) -> tuple[dict[str, int], list[str]]:
    """Per-layer ranks of the decomposed network and the layers left dense (where the rank would
    not save MACs). rule "energy": Eq. (4) at e (paper); "absolute": keep singular values above
    `threshold` (authors' code); or the given `ranks` (an allocator's)."""
    if ranks is None:
        proj = project_sites(sites, e, scheme, apply=False)
        if rule == "absolute":
            ranks = {p.name: max(1, int((p.singular_values > threshold).sum())) for p in proj}
        else:
            ranks = {p.name: p.rank for p in proj}
    keep = {s.name: ranks[s.name] for s in sites if s.name in ranks and ranks[s.name] <= s.break_even}
    return keep, [s.name for s in sites if s.name not in keep]


def compress(model: nn.Module, sites: list[ConvSite], scheme: str, ranks: dict[str, int]) -> dict[str, nn.Module]:
    """{"dense": model, "projected": D(W) at `ranks` kept dense, "decomposed": the two-conv network}."""
    projected = copy.deepcopy(model)
    modules = dict(projected.named_modules())
    project_sites([ConvSite(s.name, modules[s.name], s.in_hw, s.out_hw, s.full_rank, s.break_even)
                   for s in sites if s.name in ranks], None, scheme, ranks=ranks)
    return {"dense": model, "projected": projected, "decomposed": decompose_model(copy.deepcopy(model), ranks, scheme)}


def evaluated(key: str, network: nn.Module, test_loader, device, progress: bool = False) -> dict:
    """evaluate() of one network, with a line (and on a terminal a progress bar) when `progress`."""
    bar = f"evaluating the {key} network" if progress and sys.stderr.isatty() else None
    with phase(f"evaluating the {key} network on {len(test_loader)} test batches", progress):
        return evaluate(network, test_loader, device, progress=bar)


def _totals(cost: dict) -> dict:
    return {k: v for k, v in cost.items() if k != "layers"}


@torch.no_grad()
def measure(arch: str, networks: dict[str, nn.Module], test_loader, device, accuracies: dict | None = None,
            input_size=None, progress: bool = False) -> dict:
    """Accuracy of each network by its key (top-1, and top-5 where there are >= 5 classes), or the
    given `accuracies` ({key: evaluate(...)} computed elsewhere, e.g. sharded over processes);
    cost of the dense architecture and of the last network (the compressed one), their speedup;
    and, where both are given, the largest difference between the projected and the decomposed
    outputs (equal up to rounding) on the first test batch. MACs are counted at `input_size` (C, H, W),
    the size of the images the network is trained and tested on (default: the architecture's own).
    `progress`: a line and a progress bar for each network's evaluation (trp.progress)."""
    size = input_size or models.input_size(arch)
    dense_cost, cost = model_cost(models.build(arch), size), model_cost(list(networks.values())[-1], size)
    results = accuracies or {k: evaluated(k, n, test_loader, device, progress) for k, n in networks.items()}
    report = {"accuracy": {k: r["top1"] for k, r in results.items()},
              **({"top5": {k: r["top5"] for k, r in results.items()}} if all("top5" in r for r in results.values())
                 else {}),
              "cost": {"dense": _totals(dense_cost), "decomposed": _totals(cost), "layers": cost["layers"]},
              "speedup": speedup(dense_cost, cost)}
    if "projected" in networks and "decomposed" in networks:
        x, _ = next(iter(test_loader))
        a, b = networks["projected"].eval(), networks["decomposed"].eval()
        report["max_output_difference"] = (a(x.to(device)) - b(x.to(device))).abs().max().item()
    return report
