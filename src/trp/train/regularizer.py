"""TRP (Eq. 2) and the nuclear-norm sub-gradient (Eq. 6) as hooks around a plain SGD step,
with the Theorem-2 quantities logged at every projection."""
from typing import Callable

import torch

from ..lowrank import ConvSite, add_nuclear_subgradient, energy_ratios, project_sites
from ..lowrank.host import read_at_once
from ..lowrank.matricize import from_matrix
from ..lowrank.nuclear import add_to_grad
from ..lowrank.theorem2 import theorem2_from_norms, theorem2_norms


class RankRegularizer:
    """Projects the sites' weights to D(W) every `m` steps (method "trp") and adds
    lam * U_r V_r^T to their gradients (lam > 0) every step or only on projection steps.

    `allocate(sites, singular_values)`, if given, returns per-layer ranks (budgeted TRP);
    otherwise ranks come from the energy rule at `e`. `log` receives one record per site per
    projection (the Theorem-2 quantities); with `spectrum`, also the energy ratios ER(i) of T^z
    (Eq. 13, Fig. 2), which make a record several times larger (a 512-channel layer's: kilobytes).
    `svd_device` (e.g. "cpu"): where the projections' SVDs run, if not on the weights' device."""

    def __init__(self, sites: list[ConvSite], scheme: str, project: bool, e: float, m: int, lam: float,
                 nuclear_cadence: str = "every_step", allocate: Callable | None = None,
                 log: Callable[[dict], None] | None = None, spectrum: bool = False, svd_device: str | None = None):
        self.sites, self.scheme, self.do_project = sites, scheme, project
        self.e, self.m, self.lam, self.cadence = e, m, lam, nuclear_cadence
        self.allocate, self.log, self.spectrum, self.svd_device = allocate, log, spectrum, svd_device
        self.previous: dict[str, tuple[torch.Tensor, int]] = {}  # T^z and its rank, per site
        self.projections = 0
        self._last = None
        self._max_step, self._steps = None, 0  # G = max ||lr grad||_F per site since the last projection, and m

    @classmethod
    def from_config(cls, cfg, sites: list[ConvSite], allocate: Callable | None = None,
                    log: Callable[[dict], None] | None = None) -> "RankRegularizer":
        """The regularizer a TrainConfig asks for: method "trp" projects, lam adds the nuclear term."""
        return cls(sites, cfg.scheme, cfg.method == "trp", cfg.e, cfg.m, cfg.lam, cfg.nuclear_cadence,
                   allocate=allocate, log=log, spectrum=cfg.log_spectrum,
                   svd_device=None if cfg.svd_device == "same" else cfg.svd_device)

    def projects_at(self, step: int) -> bool:
        return self.do_project and step % self.m == 0

    def before_forward(self, step: int, global_step: int) -> None:
        """Eq. (2): on steps with step % m == 0 the weights are replaced by T^z = D(W^t)."""
        self._last = None
        if not self.projects_at(step):
            return
        weights = [s.conv.weight.detach().clone() for s in self.sites]
        ranks = (lambda S: self.allocate(self.sites, S)) if self.allocate else None
        self._last = project_sites(self.sites, self.e, self.scheme, ranks=ranks, svd_device=self.svd_device)
        self.projections += 1
        previous = [self.previous.get(s.name) for s in self.sites]
        self.previous.update({s.name: (s.conv.weight.detach().clone(), p.rank) for s, p in zip(self.sites, self._last)})
        if self.log is not None:
            for record in self._records(weights, previous, global_step):
                self.log(record)
        self._max_step, self._steps = None, 0

    def _records(self, weights: list[torch.Tensor], previous: list, global_step: int) -> list[dict]:
        """The rank log's records of this projection, one per site; the device values they hold
        (Theorem 2's norms, the energy ratios, G) are read to the host at once."""
        norms = [None if prev is None else
                 theorem2_norms(w, prev[0], prev[1], self.scheme, singular_values=p.singular_values)
                 for w, prev, p in zip(weights, previous, self._last)]
        ratios = [energy_ratios(p.singular_values[:p.rank].double()) if self.spectrum else None for p in self._last]
        values = iter(read_at_once([t for t in norms + ratios + [self._max_step] if t is not None]))
        norms = [None if t is None else next(values) for t in norms]
        ratios = [None if t is None else next(values) for t in ratios]
        max_step = [None] * len(self.sites) if self._max_step is None else next(values)
        return [self._record(*args, global_step) for args in zip(self.sites, self._last, previous, norms, ratios, max_step)]

    def _record(self, site: ConvSite, p, prev: tuple | None, norms: list[float] | None, ratios: list[float] | None,
                max_step: float | None, global_step: int) -> dict:
        """One site's record, from the values _records read: the rank kept, and from the second
        projection on Theorem 2's quantities against the previous T^z (and mG, where G was tracked)."""
        rank = p.rank
        rec = {"projection": self.projections, "step": global_step, "layer": site.name, "rank_after": rank,
               "saves_macs": p.saves_macs, "full_rank": site.full_rank}
        if ratios is not None:
            rec["energy_ratios"] = ratios  # Eq. (13)
        if prev is None:
            rec["sqrt_e"] = self.e ** 0.5
            return rec
        rank_prev = prev[1]
        # Eq. (11)-(12): ||W^{t+m} - T^z||_F / ||W^{t+m}||_F and the tail energy beyond rank(T^z).
        steps = self._steps if max_step is not None else None
        q = theorem2_from_norms(*norms, rank_prev, self.e, steps=steps, max_step=max_step)
        rec.update(rank_before=rank_prev, displacement=q["displacement"], tail_ratio=q["tail_ratio"],
                   sqrt_e=q["sqrt_e"], bound_holds=q["bound_holds"], rank_rose=rank > rank_prev)
        if steps is not None:
            rec.update(steps=steps, max_step=max_step, step_bound=q["step_bound"],
                       assumption_holds=q["assumption_holds"])
        return rec

    def after_backward(self, lr: float | None = None) -> None:
        """Eq. (6): grad += lam * U_r V_r^T, every step (paper) or on projection steps only,
        then from the same truncated SVD (authors' code). With `lr` (and a log), also tracks
        G = max ||lr grad f||_F per site for the rank log (on the device; read at projections)."""
        self._add_nuclear()
        if lr is not None and self.log is not None and self.do_project:
            norms = lr * torch.stack(torch._foreach_norm([s.conv.weight.grad for s in self.sites])).float()
            self._max_step = norms if self._max_step is None else torch.maximum(self._max_step, norms)
            self._steps += 1

    def _add_nuclear(self) -> None:
        if self.lam == 0:
            return
        if self.cadence == "every_step":
            add_nuclear_subgradient([s.conv.weight for s in self.sites], self.lam, self.scheme)
        elif self._last is not None:
            for site, p in zip(self.sites, self._last):
                g = from_matrix(p.U[:, :p.rank] @ p.Vh[:p.rank], site.conv.weight.shape, self.scheme)
                add_to_grad(site.conv.weight, g, self.lam)

    def state_dict(self) -> dict:
        return {"projections": self.projections, "max_step": self._max_step, "steps": self._steps,
                "previous": {n: {"weight": T, "rank": r} for n, (T, r) in self.previous.items()}}

    def load_state_dict(self, state: dict) -> None:
        self.projections = state["projections"]
        self._max_step, self._steps = state.get("max_step"), state.get("steps", 0)
        self.previous = {n: (v["weight"], v["rank"]) for n, v in state["previous"].items()}
