from .loop import NonFiniteError, evaluate, fit, training_summary
from .regularizer import RankRegularizer

__all__ = ["NonFiniteError", "RankRegularizer", "evaluate", "fit", "training_summary"]
