"""From a trained dense network to the real low-rank network: final ranks, decomposition,
accuracy of dense / projected / decomposed networks, MACs, parameters and speedup."""
import copy

import torch

from .lowrank import ConvSite, decompose_model, model_cost, project_sites, speedup
from .train import evaluate


def final_ranks(sites: list[ConvSite], scheme: str, e: float, rule: str = "energy", threshold: float = 0.05,
                ranks: dict[str, int] | None = None) -> tuple[dict[str, int], list[str]]:
    """Per-layer ranks of the decomposed network and the layers left dense (where the rank would
    not save MACs). rule "energy": Eq. (4) at e (paper); "absolute": keep singular values above
    `threshold` (authors' code); or the given `ranks` (an allocator's)."""
    if ranks is None:
        proj = project_sites(sites, e, scheme, apply=False)
        if rule == "absolute":
            ranks = {p.name: max(1, int((p.singular_values > threshold).sum())) for p in proj}
        elif rule == "energy":
            ranks = {p.name: p.rank for p in proj}
        else:
            raise ValueError(f"unknown rank rule {rule!r}; choose 'energy' or 'absolute'")
    keep = {s.name: ranks[s.name] for s in sites if s.name in ranks and ranks[s.name] <= s.break_even}
    return keep, [s.name for s in sites if s.name not in keep]


def decompose_and_measure(model, sites: list[ConvSite], scheme: str, ranks: dict[str, int], dense_layers: list[str],
                          input_size, test_loader, device) -> tuple[torch.nn.Module, dict]:
    """Accuracy of the dense, projected-dense and decomposed networks (no fine-tuning), their
    cost and the largest difference between projected and decomposed outputs."""
    dense_cost = model_cost(model, input_size)
    projected = copy.deepcopy(model)
    psites = [ConvSite(s.name, dict(projected.named_modules())[s.name], s.in_hw, s.out_hw, s.full_rank, s.break_even)
              for s in sites if s.name in ranks]
    project_sites(psites, None, scheme, ranks=ranks)
    decomposed = decompose_model(copy.deepcopy(model), ranks, scheme)
    x, _ = next(iter(test_loader))
    with torch.no_grad():
        projected.eval(), decomposed.eval()
        diff = (projected(x) - decomposed(x)).abs().max().item()
    dec_cost = model_cost(decomposed, input_size)
    report = {
        "accuracy": {"dense": evaluate(model, test_loader, device)["top1"],
                     "projected": evaluate(projected, test_loader, device)["top1"],
                     "decomposed": evaluate(decomposed, test_loader, device)["top1"]},
        "max_output_difference": diff,
        "ranks": ranks, "dense_layers": dense_layers,
        "cost": {"dense": {k: v for k, v in dense_cost.items() if k != "layers"},
                 "decomposed": {k: v for k, v in dec_cost.items() if k != "layers"},
                 "layers": dec_cost["layers"]},
        "speedup": speedup(dense_cost, dec_cost),
    }
    return decomposed, report
