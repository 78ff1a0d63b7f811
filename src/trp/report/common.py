"""What every renderer shares: reading rank logs, the provenance footer, seed aggregation,
and writing a table (.md/.tex/.csv, .html for the Snakemake report) or a figure (.png/.pdf) with
that footer."""
import argparse
import csv
import html
import json
import math
import textwrap
from pathlib import Path

import matplotlib

from ..artifacts import RENDER_MARK, ArtifactError
from ..artifacts.provenance import git_commit
from ..artifacts.records import Record
from ..cli_parser import Parser
from ..config import ConfigError

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


# ----------------------------------------------------------------------------- inputs

RANKLOG_KEYS = ("layer", "projection", "rank_after", "sqrt_e")  # in every record of a rank log


def load_jsonl(path) -> list[dict]:
    """The records of a rank log (JSON lines); a missing file, or a line that is not a JSON object
    with RANKLOG_KEYS (garbage, a half-written last line), is an ArtifactError naming the file and
    the line."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ArtifactError(f"{path}: rank log not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ArtifactError(f"{path}: not a readable rank log ({e})") from None
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            records.append(_record(_json_or_none(line), RANKLOG_KEYS, f"{path}: line {number} is not a rank log record"))
    return records


def _json_or_none(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return None


def _record(doc, keys, where: str) -> dict:
    """`doc` if it is a JSON object holding `keys`; else an ArtifactError starting with `where`."""
    if not isinstance(doc, dict):
        raise ArtifactError(f"{where} (not a JSON object)")
    missing = [k for k in keys if k not in doc]
    if missing:
        raise ArtifactError(f"{where} (no {missing[0]!r})")
    return doc


def scratch_epochs(records: list[Record]) -> str:
    """The epochs of the trainings from scratch among `records` (a profile gives them all the same)."""
    return "/".join(sorted({str(m["config"]["epochs"]) for m in records if m.kind == "training"}))


def training_epochs(record: Record, scratch_epochs: str) -> str:
    """The training behind a run's network: its own epochs, or a fine-tuning's epochs on top of the
    `scratch_epochs` its source network was trained for."""
    own = record["config"]["epochs"]
    return f"{scratch_epochs} + {own}" if record.kind == "finetuning" else f"{own}"


def label_parts(label: str, form: str) -> list[str]:
    """The parts of a label of `form` ("model/method"); another number of parts is a ConfigError."""
    parts = label.split("/")
    if len(parts) != form.count("/") + 1:
        raise ConfigError(f"label {label!r} is not of the form {form}")
    return parts


def parse_pairs(items: list[str], sep: str = "=") -> dict[str, list[str]]:
    """["a=x", "a=y", "b=z"] -> {"a": ["x", "y"], "b": ["z"]} (repeated labels = seeds)."""
    out: dict[str, list[str]] = {}
    for item in items or []:
        label, _, path = item.partition(sep)
        if not path:
            raise ConfigError(f"expected LABEL{sep}PATH, got {item!r}")
        out.setdefault(label, []).append(path)
    return out


def renderer_parser(name: str, doc: str) -> argparse.ArgumentParser:
    """The command line of `trp render NAME`: the renderer's inputs are added to it; --profile, --out here."""
    ap = Parser(prog=f"trp render {name}", description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", required=True)
    ap.add_argument("--out", required=True, metavar="PREFIX",
                    help="where the files go (PREFIX.md, ...); they replace an earlier rendering there")
    ap.add_argument("--overwrite", action="store_true",
                    help="replace files at PREFIX that are not a rendering (a file the renderer reads is never replaced)")
    return ap


# ----------------------------------------------------------------------------- provenance

RENDERED_OUTPUTS = ("results", "paper_tables")  # a renderer's outputs: writing them leaves its commit clean


def short_commit(p: dict) -> str:
    """A provenance block's commit as 12 hex digits, "+dirty" where its tree had changes."""
    return p["commit"][:12] + ("+dirty" if p.get("dirty") else "")


def provenance_footer(metrics_list: list[dict], profile: str) -> dict:
    """The provenance of everything a table or figure is made of: the distinct git commits,
    config hashes, data fingerprints, devices, seeds and checkpoint hashes (first 16 hex digits)
    found in each input's "provenance" block, as "key: comma-separated values"; and rendered_by, the
    commit of the code that drew it (dirty only for changes outside results/ and paper_tables/)."""
    keys = ("commit", "config_hash", "data_fingerprint", "device", "seed", "checkpoints")
    seen = {k: [] for k in keys}

    def add(key, value):
        if value is not None and str(value) not in seen[key]:
            seen[key].append(str(value))

    for m in metrics_list:
        p = m.get("provenance", {})
        if p.get("commit"):
            add("commit", short_commit(p))
        for k in ("config_hash", "data_fingerprint", "device", "seed"):
            add(k, p.get(k))
        for k, v in sorted(p.items()):
            if k.endswith("_sha256") and v:
                add("checkpoints", f"{k.removesuffix('_sha256')}={v[:16]}")
    renderer = git_commit(outside=RENDERED_OUTPUTS)
    return {"profile": profile, "inputs": str(len(metrics_list)),
            **{k: ", ".join(v) if v else "n/a" for k, v in seen.items()},
            "rendered_by": short_commit(renderer) if renderer["commit"] else "n/a"}


HASHES = ("config_hash", "data_fingerprint", "checkpoints")  # long lists: in the manifest, not the footer


def footer_lines(footer: dict, manifest: str) -> list[str]:
    """The footer a reader sees: profile, inputs, commits, devices, seeds and rendered_by; the
    inputs' hashes are in `manifest` (a file beside the rendering that holds the whole footer)."""
    return [f"{k}: {v}" for k, v in footer.items() if k not in HASHES] + \
        [f"config hashes, data fingerprints and checkpoint hashes: {manifest}"]


def write_manifest(out: Path, footer: dict) -> str:
    """Writes {out}.provenance.json (the whole footer); returns its name, for the footer."""
    manifest = out.with_name(f"{out.name}.provenance.json")
    manifest.write_text(json.dumps(footer, indent=1) + "\n")
    return manifest.name


# ----------------------------------------------------------------------------- numbers

def mean_std(values) -> dict:
    """Seed aggregation: mean, sample standard deviation (0 for a single seed) and n."""
    values = [float(v) for v in values]
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return {"mean": mean, "std": std, "n": n}


def fmt(value, digits: int = 2) -> str:
    """A table cell: floats to `digits` decimals, mean_std dicts as "m ± s (n=k)", None as "–"."""
    if value is None:
        return "–"
    if isinstance(value, dict):
        if value["n"] == 1:
            return f"{value['mean']:.{digits}f} (n=1)"
        return f"{value['mean']:.{digits}f} ± {value['std']:.{digits}f} (n={value['n']})"
    if isinstance(value, float):  # small values (ms per image) keep two significant digits
        return f"{value:.{digits}f}" if value == 0 or abs(value) >= 0.1 else f"{value:.2g}"
    return str(value)


def diff(ours, paper) -> str | None:
    """ours − paper as a signed string (ours may be a mean_std dict); None if either is missing."""
    if ours is None or paper is None:
        return None
    return f"{(ours['mean'] if isinstance(ours, dict) else ours) - paper:+.2f}"


# ----------------------------------------------------------------------------- tables

_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "_": r"\_", "#": r"\#", "$": r"\$", "{": r"\{",
        "}": r"\}", "±": r"$\pm$", "−": "-", "–": "--", "×": r"$\times$", "√": r"$\surd$", "≈": r"$\approx$"}


def _md(s: str) -> str:
    """A markdown table cell: a | of the text (||W||) escaped, not a column break."""
    return s.replace("|", r"\|")


def _tex(s: str) -> str:
    return "".join(_TEX.get(c, c) for c in s)


def _pairs(columns) -> list[tuple[str, str]]:
    """Columns as (key, header) pairs: a bare key is its own header."""
    return [c if isinstance(c, tuple) else (c, c) for c in columns]


def write_table(rows: list[dict], columns, out_prefix, title: str, footer: dict, csv_columns=()) -> list[Path]:
    """Write rows as {out_prefix}.md, .tex (booktabs), .csv and .html (the Snakemake report shows
    it), each carrying the footer, and the inputs' hashes as {out_prefix}.provenance.json.

    columns: keys, or (key, header) pairs; csv_columns: more of them, in the csv only (e.g. the
    paths of a row's records, a list: ";"-separated). A row {"section": text} starts a labelled
    section. In the csv a mean_std cell becomes three columns: KEY, KEY_std, KEY_n."""
    cols = _pairs(columns)
    out = Path(out_prefix)
    out.parent.mkdir(parents=True, exist_ok=True)
    lines = footer_lines(footer, write_manifest(out, footer))
    write_html(rows, cols, out.with_name(f"{out.name}.html"), title, lines)

    md = [f"**{title}**", "", "| " + " | ".join(_md(h) for _, h in cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        cells = [f"**{r['section']}**"] + [""] * (len(cols) - 1) if "section" in r else [fmt(r.get(k)) for k, _ in cols]
        md.append("| " + " | ".join(_md(c) for c in cells) + " |")
    md += ["", "**Provenance.** " + "; ".join(lines) + "."]
    out.with_suffix(".md").write_text("\n".join(md) + "\n")

    tex = [f"% {_tex(title)}"] + [f"% {ln}" for ln in lines]
    tex += [r"\begin{tabular}{" + "l" * len(cols) + "}", r"\toprule",
            " & ".join(_tex(h) for _, h in cols) + r" \\", r"\midrule"]
    for r in rows:
        if "section" in r:
            label = rf"\multicolumn{{{len(cols)}}}{{l}}{{\textit{{{_tex(r['section'])}}}}} \\"
            tex += [r"\midrule"] * (tex[-1] != r"\midrule") + [label, r"\midrule"]
        else:
            tex.append(" & ".join(_tex(fmt(r.get(k))) for k, _ in cols) + r" \\")
    tex += [r"\bottomrule", r"\end{tabular}",
            r"\par\smallskip\noindent{\footnotesize Provenance: " + _tex("; ".join(lines)) + "}"]
    out.with_suffix(".tex").write_text("\n".join(tex) + "\n")

    write_csv(rows, cols + _pairs(csv_columns), out.with_suffix(".csv"), lines)
    return [out.with_suffix(s) for s in (".md", ".tex", ".csv", ".html")]


def write_csv(rows: list[dict], cols: list[tuple[str, str]], path: Path, lines: list[str]) -> None:
    """The table as csv (see write_table), the footer lines after it as # comments."""
    split = {k for k, _ in cols if any(isinstance(r.get(k), dict) for r in rows)}
    header = [x for k, h in cols for x in ([h, f"{h}_std", f"{h}_n"] if k in split else [h])]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for r in rows:
            if "section" in r:
                w.writerow([r["section"]] + [""] * (len(header) - 1))
                continue
            row = []
            for k, _ in cols:
                v = r.get(k)
                if k in split:
                    row += [v["mean"], v["std"], v["n"]] if isinstance(v, dict) else [v, "", ""]
                else:
                    row.append("" if v is None else ";".join(v) if isinstance(v, list) else v)
            w.writerow(row)
        f.writelines(f"# {ln}\n" for ln in lines)


def write_html(rows: list[dict], cols: list[tuple[str, str]], path: Path, title: str, lines: list[str]) -> None:
    """The table as one HTML page: title, rows (a section row spans the table), footer."""
    esc = lambda s: html.escape(str(s))  # noqa: E731
    body = []
    for r in rows:
        if "section" in r:
            body.append(f'<tr><th colspan="{len(cols)}">{esc(r["section"])}</th></tr>')
        else:
            body.append("<tr>" + "".join(f"<td>{esc(fmt(r.get(k)))}</td>" for k, _ in cols) + "</tr>")
    page = ['<!DOCTYPE html>', '<html><head><meta charset="utf-8"><style>body{font-family:sans-serif;font-size:13px}'
            'table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}'
            'p.footer{color:#555;font-size:11px}</style></head><body>',
            f"<table><caption><b>{esc(title)}</b></caption>",
            "<tr>" + "".join(f"<th>{esc(h)}</th>" for _, h in cols) + "</tr>", *body, "</table>",
            f'<p class="footer">Provenance. {esc("; ".join(lines))}.</p>', "</body></html>"]
    path.write_text("\n".join(page) + "\n")


# ----------------------------------------------------------------------------- figures

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
