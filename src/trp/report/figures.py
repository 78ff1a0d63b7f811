"""Writing a figure (.png/.pdf) with its provenance footer drawn along the bottom."""
import textwrap
from pathlib import Path

import matplotlib

from ..artifacts import RENDER_MARK
from .footer import footer_lines

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def save_figure(fig, out_prefix, footer: dict) -> list[Path]:
    """Write {out_prefix}.png (dpi 150) and .pdf with the footer as small text along the bottom. The
    figure grows by the footer's height, so that a long footer (one checkpoint hash per input) never
    squeezes the plots. The inputs' hashes are not drawn: they are in the figure's JSON sidecar
    ({out_prefix}.json, written by the renderer)."""
    text = textwrap.fill("; ".join(footer_lines(footer, f"{Path(out_prefix).name}.json")), 150)
    n = text.count("\n") + 1
    plots = fig.get_figheight()
    footer_height = (n * 7.5 + 6) / 72  # inches: 6 pt text, ~7.5 pt per line
    fig.set_figheight(plots + footer_height)
    fig.tight_layout(rect=(0, footer_height / (plots + footer_height), 1, 1))
    fig.text(0.005, 0.005, text, fontsize=6, family="monospace", va="bottom", ha="left", color="0.3")
    out = Path(out_prefix)
    out.parent.mkdir(parents=True, exist_ok=True)
    paths = [out.with_suffix(".png"), out.with_suffix(".pdf")]
    mark = {"Creator": f"trp render ({RENDER_MARK.decode()} {footer.get('rendered_by')})"}  # tells a rendering
    fig.savefig(paths[0], dpi=150, metadata=mark)
    fig.savefig(paths[1], metadata=mark)
    plt.close(fig)
    return paths
