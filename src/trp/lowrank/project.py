"""The low-rank operator D(W) (Eq. 3-4) for one weight and for the projected layers of a network."""
from dataclasses import dataclass

import torch
from torch import nn

from .cost import break_even_rank, dry_forward
from .decompose import check_decomposable
from .energy import energy_ranks
from .host import read_at_once
from .matricize import from_matrix, matrix_shape, to_matrix
from .svd import batched_svd, float32_or_better, truncate


def project(weight: torch.Tensor, e: float, scheme: str) -> tuple[torch.Tensor, int]:
    """D(W): truncated SVD of the matricized weight at the energy rank (Eq. 4), folded back to
    the weight's shape. SVD in float32 or better; the result has the weight's dtype."""
    U, S, Vh = torch.linalg.svd(to_matrix(float32_or_better(weight), scheme), full_matrices=False)
    k = int(energy_ranks(S, e))
    return from_matrix(truncate(U, S, Vh, k), weight.shape, scheme).to(weight.dtype), k


@dataclass
class ConvSite:
    """One conv that TRP projects: where it is, its feature-map sizes and its rank limits."""
    name: str
    conv: nn.Conv2d
    in_hw: tuple[int, int]
    out_hw: tuple[int, int]
    full_rank: int   # min of the matrix dimensions
    break_even: int  # largest rank whose decomposed form needs fewer MACs than the dense conv


def find_sites(model: nn.Module, input_size, scheme: str, kernel_sizes=(1, 3), names=None,
               exclude=()) -> list[ConvSite]:
    """The convs to project: by default every groups=1 conv with a square kernel in
    `kernel_sizes`, minus `exclude` (the paper leaves the stem conv and the FC layer dense);
    or exactly the convs listed in `names`."""
    modules = dict(model.named_modules())
    if names is not None:
        bad = [n for n in names if not isinstance(modules.get(n), nn.Conv2d)]
        if bad:
            convs = [n for n, m in modules.items() if isinstance(m, nn.Conv2d)]
            raise ValueError(f"not conv layers of this model: {bad}; its convs are {convs}")
    unknown = [n for n in exclude if n not in modules]
    if unknown:
        raise ValueError(f"excluded layers not in the model: {unknown}")
    shapes = {}  # conv name -> (input hw, output hw)
    dry_forward(model, input_size, {m: lambda m, i, o, n=n: shapes.__setitem__(n, (tuple(i[0].shape[-2:]), tuple(o.shape[-2:])))
                                    for n, m in modules.items() if isinstance(m, nn.Conv2d)})
    sites = []
    for name, m in modules.items():
        if not isinstance(m, nn.Conv2d) or name in exclude:
            continue
        if names is None and (m.groups != 1 or m.kernel_size[0] != m.kernel_size[1] or m.kernel_size[0] not in kernel_sizes):
            continue
        if names is not None and name not in names:
            continue
        check_decomposable(m, scheme)
        in_hw, out_hw = shapes[name]
        sites.append(ConvSite(name, m, in_hw, out_hw, min(matrix_shape(m.weight.shape, scheme)),
                              break_even_rank(m, scheme, out_hw, in_hw)))
    return sites


@dataclass
class Projection:
    """What D(W) did to one site: singular values before, the rank kept, and whether that rank
    would save MACs once decomposed (if not, the decomposed network keeps the layer dense)."""
    name: str
    singular_values: torch.Tensor
    rank: int
    saves_macs: bool
    U: torch.Tensor
    Vh: torch.Tensor


def project_sites(sites: list[ConvSite], e: float | None, scheme: str, ranks=None,
                  apply: bool = True, svd_device: torch.device | str | None = None) -> list[Projection]:
    """D(W) in place on every site's weight (Eq. 2), one batched SVD per matrix shape. Ranks
    come from the energy rule at `e`, or from `ranks`: a {layer: rank} dict or a function of the
    sites' singular values (float64, on the CPU) returning one (a budget allocator; a site not in it
    keeps full rank).
    With apply=False only the SVDs and ranks are computed. With `svd_device` the SVDs run there
    (e.g. the CPU for a GPU's weights) and their factors come back to the weights' device."""
    with torch.no_grad():
        matrices = [to_matrix(s.conv.weight, scheme) for s in sites]
        if svd_device is None:
            svds = batched_svd(matrices)
        else:
            svds = [tuple(f.to(m.device) for f in svd)
                    for svd, m in zip(batched_svd([m.to(svd_device) for m in matrices]), matrices)]
        if callable(ranks):  # the allocator gets the spectra on the host, read at once
            ranks = ranks([torch.tensor(S, dtype=torch.float64) for S in read_at_once([S for _, S, _ in svds])])
        if ranks is None:
            ks = energy_ranks(torch.nn.utils.rnn.pad_sequence([S for _, S, _ in svds], batch_first=True), e).tolist()
        else:
            ks = [ranks.get(s.name, s.full_rank) for s in sites]
        out = []
        for site, (U, S, Vh), k in zip(sites, svds, ks):
            if apply:
                w = site.conv.weight
                w.copy_(from_matrix(truncate(U, S, Vh, k), w.shape, scheme))
            out.append(Projection(site.name, S, k, k <= site.break_even, U, Vh))
    return out
