"""Trained Rank Pruning (Xu et al., IJCAI-20) and COBLA rank allocation (Li & Shi, ECCV-18)."""

__version__ = "0.1.0"
