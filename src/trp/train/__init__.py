from .loop import NonFiniteError, evaluate, fit
from .regularizer import RankRegularizer

__all__ = ["NonFiniteError", "RankRegularizer", "evaluate", "fit"]
