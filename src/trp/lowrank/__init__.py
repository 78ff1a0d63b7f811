"""The low-rank maths: matricization, energy rule, TSVD projection, nuclear sub-gradient,
decomposition into two convs, and the MAC/parameter cost model."""
from .cost import break_even_rank, conv_macs, conv_params, model_cost, speedup
from .decompose import LowRankConv2d, decompose_conv, decompose_model
from .energy import energy_rank, energy_ranks, energy_ratios
from .matricize import SCHEMES, from_matrix, to_matrix
from .nuclear import add_nuclear_subgradient
from .project import ConvSite, Projection, find_sites, project, project_sites

__all__ = ["SCHEMES", "ConvSite", "LowRankConv2d", "Projection", "add_nuclear_subgradient", "break_even_rank",
           "conv_macs", "conv_params", "decompose_conv", "decompose_model", "energy_rank", "energy_ranks",
           "energy_ratios", "find_sites", "from_matrix", "model_cost", "project",
           "project_sites", "speedup", "to_matrix"]
