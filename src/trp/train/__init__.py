from .loop import evaluate, fit
from .regularizer import RankRegularizer

__all__ = ["RankRegularizer", "evaluate", "fit"]
