"""Writing a table as .md, .tex (booktabs), .csv and .html (the Snakemake report shows it), each
with its provenance footer, and the inputs' hashes beside it."""
import csv
import html
from pathlib import Path

from .cells import fmt
from .footer import footer_lines, write_manifest

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
    """Write rows as {out_prefix}.md, .tex, .csv and .html, each carrying the footer, and the
    inputs' hashes as {out_prefix}.provenance.json.

    columns: keys, or (key, header) pairs; csv_columns: more of them, in the csv only (e.g. the
    paths of a row's records, a list: ";"-separated). A row {"section": text} starts a labelled
    section. In the csv a mean_std cell becomes three columns: KEY, KEY_std, KEY_n."""
    cols = _pairs(columns)
    out = Path(out_prefix)
    out.parent.mkdir(parents=True, exist_ok=True)
    lines = footer_lines(footer, write_manifest(out, footer))
    write_html(rows, cols, out.with_name(f"{out.name}.html"), title, lines)
    write_md(rows, cols, out.with_suffix(".md"), title, lines)
    write_tex(rows, cols, out.with_suffix(".tex"), title, lines)
    write_csv(rows, cols + _pairs(csv_columns), out.with_suffix(".csv"), lines)
    return [out.with_suffix(s) for s in (".md", ".tex", ".csv", ".html")]


def write_md(rows: list[dict], cols: list[tuple[str, str]], path: Path, title: str, lines: list[str]) -> None:
    """The table in markdown: title, rows (a section row's label in bold), the footer as a paragraph."""
    md = [f"**{title}**", "", "| " + " | ".join(_md(h) for _, h in cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        cells = [f"**{r['section']}**"] + [""] * (len(cols) - 1) if "section" in r else [fmt(r.get(k)) for k, _ in cols]
        md.append("| " + " | ".join(_md(c) for c in cells) + " |")
    md += ["", "**Provenance.** " + "; ".join(lines) + "."]
    path.write_text("\n".join(md) + "\n")


def write_tex(rows: list[dict], cols: list[tuple[str, str]], path: Path, title: str, lines: list[str]) -> None:
    """The table as a booktabs tabular: title and footer as comments, a section row spanning the table,
    the footer again in small print below it."""
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
    path.write_text("\n".join(tex) + "\n")


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
