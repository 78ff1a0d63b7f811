"""The names code outside the renderers imports from here (trp.report.imagenet, scripts/update_readme.py,
benchmarks/precision_accuracy.py), re-exported from the modules that hold them: arguments, cells,
footer, seeds and tables."""
from .arguments import parse_pairs, renderer_parser
from .cells import diff, fmt
from .footer import provenance_footer
from .seeds import mean_std
from .tables import write_table

__all__ = ["diff", "fmt", "mean_std", "parse_pairs", "provenance_footer", "renderer_parser", "write_table"]
