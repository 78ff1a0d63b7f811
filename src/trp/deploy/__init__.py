"""Deployment of dense and decomposed networks, and their measured speed.

fold           BatchNorm folded into the conv before it (the second conv of a LowRankConv2d)
recompose      a decomposed layer back to one dense conv with the same output
align          a decomposed network's ranks zero-padded to multiples, with the same output
runtimes       eager, BN-folded eager, torch.compile and ONNX Runtime as calls on a prepared input
ort            ONNX export and the ONNX Runtime session
measure        networks timed side by side in every runtime and memory format (trp.runtime/2)
layer_table    per-layer latency of the dense conv and its two-conv form at candidate ranks, cached
latency_aware  ranks from that table: stay dense where not faster, hardware-friendly rounding,
               latency costs per (layer, rank) for a latency budget
"""
from .align import pad_ranks
from .fold import conv_bn_pairs, fold_bn
from .latency_aware import keep_faster, latency_costs, network_latency, rank_latency, round_ranks
from .layer_table import candidate_ranks, layer_latency_table
from .measure import measure_networks
from .recompose import dense_conv, recompose
from .runtimes import MEMORY_FORMATS, RUNTIMES, Unavailable, prepare, versions

__all__ = ["MEMORY_FORMATS", "RUNTIMES", "Unavailable", "candidate_ranks", "conv_bn_pairs", "dense_conv", "fold_bn",
           "keep_faster", "latency_costs", "layer_latency_table", "measure_networks", "network_latency", "pad_ranks",
           "prepare", "rank_latency", "recompose", "round_ranks", "versions"]
