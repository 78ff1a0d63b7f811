"""Tables 2 (ResNet-18) and 3 (ResNet-50), ImageNet: our top-1, top-5 and speedup beside the paper's.

    trp render imagenet --model resnet18 --run-table results/imagenet/runs.json --profile imagenet \
        --out paper_tables/table2

The run table (trp.report.run_table) lists the model's rows by method key of trp.report.paper, with the record
of each seed: a row is mean ± std (n) over its seeds. A TRP row reads a training record (`trp train` of the
pretrained network) and reports the decomposed network without fine-tuning; a basic-method row (the paper's
basic keys at the paper's speedup, and paper.matched_key rows at the conv MACs a TRP run reached) reads a
fine-tuning record (`trp finetune` of the TSVD of the pretrained network). The Baseline row is the pretrained
network as every TRP run evaluated it, beside the paper's baseline; its note gives torchvision's published
accuracy of those weights. Every paper row is listed (the pruning methods and the data-driven [Zhang et al.,
2016] of [Guo et al., 2018] are not run, and the note says so); a matched row follows the paper's row of its
basic method. {PREFIX}.json holds our numbers by method key (DVC metrics).
"""
from pathlib import Path

from ..artifacts import ArtifactError, write_json
from ..artifacts.records import final_network, read_record
from ..config import ConfigError
from . import paper
from .arguments import add_run_table, renderer_parser
from .cells import diff
from .footer import provenance_footer
from .run_table import read_run_table
from .seeds import mean_std
from .tables import write_table

PAPER = paper.IMAGENET_TABLES
TRP_KEYS = {key for form in paper.FORMS for key in paper.trp_keys(form)}
MATCHED = {paper.matched_key(f["basic"], trp): (f["basic"], trp) for form, f in paper.FORMS.items()
           for trp in paper.trp_keys(form)}  # matched key -> (its basic method, the TRP run whose MACs it took)
BASIC_KEYS = {form["basic"] for form in paper.FORMS.values()} | set(MATCHED)
DATA_DRIVEN = "Zhang2016-Guo2018"
COLUMNS = [("method", "method"), ("our_top1", "ours: top-1 (%)"), ("our_top5", "ours: top-5 (%)"),
           ("our_speedup", "ours: speedup (conv MACs)"), ("paper_top1", "paper: top-1 (%)"),
           ("paper_top5", "paper: top-5 (%)"), ("paper_speedup", "paper: speedup"),
           ("d_top1", "ours − paper: top-1"), ("d_top5", "ours − paper: top-5"), ("note", "note")]


def title(model: str) -> str:
    return (f"{PAPER[model][0]}: {paper.model_label(model)} on ImageNet, ours vs the paper (ours: TRP networks "
            "decomposed, no fine-tuning; the basic methods: TSVD of the pretrained network at the energy rule tuned "
            "to a conv-MAC budget, then fine-tuned with TRP's schedule; speedup = dense / decomposed conv MACs, the "
            "paper's a FLOPs ratio; mean ± std over n seeds). The paper does not say which pretrained weights gave "
            "its baseline: compare each method's drop from its own baseline.")


def load_runs(model: str, runs: dict[str, list[str]]) -> dict[str, list[dict]]:
    """method key -> metrics.json paths (seeds)  =>  method key -> records, each checked to be of
    `model` and of the kind its key names (a basic method's: a fine-tuning; TRP's: a training)."""
    out = {}
    for key, files in runs.items():
        kind = "finetuning" if key in BASIC_KEYS else "training"
        out[key] = [read_record(p, kind) for p in files]
        for p, m in zip(files, out[key]):
            if m["config"].get("model") != model:
                raise ArtifactError(f"{p}: model {m['config'].get('model')!r} is not {model!r}")
    return out


def our_results(records: dict[str, list[dict]]) -> dict[str, dict]:
    """method key -> {"top1", "top5", "speedup"} over seeds (mean_std) of the network each run
    ends with (the decomposed TRP network, the fine-tuned TSVD network); and "baseline": the
    pretrained network over every training record."""
    trained = pretrained_runs(records)
    out = {"baseline": {"top1": mean_std(m["accuracy"]["pretrained"] for m in trained),
                        "top5": mean_std(m["top5"]["pretrained"] for m in trained), "speedup": 1.0}} if trained else {}
    for key, ms in records.items():
        out[key] = {"top1": mean_std(m["accuracy"][final_network(m)] for m in ms),
                    "top5": mean_std(m["top5"][final_network(m)] for m in ms),
                    "speedup": mean_std(m["speedup"]["conv"] for m in ms),
                    "epochs": "/".join(sorted({str(m["config"]["epochs"]) for m in ms}))}
    return out


def pretrained_runs(records: dict[str, list[dict]]) -> list[dict]:
    """The training records: each evaluated the pretrained network it started from ("pretrained")."""
    return [m for ms in records.values() for m in ms if m.kind == "training"]


def baseline_note(records: list[dict]) -> str:
    published = {(p["top1"], p["top5"]) for p in (m["weights"]["published"] for m in records) if p}
    said = "; ".join(f"torchvision publishes {t1:.2f} / {t5:.2f} for these weights" for t1, t5 in sorted(published))
    return "the pretrained network, evaluated in each run; " + (
        said or "weights not torchvision's file: no published accuracy")


def note(model: str, key: str, ours: dict, repeated: bool, baseline: str) -> str:
    if key == "baseline":
        return baseline
    if key == DATA_DRIVEN:
        return "not run: the data-driven decomposition (implementation of [Guo et al., 2018]) is not built"
    if key not in TRP_KEYS | BASIC_KEYS:
        return "not run: another method, the paper's number"
    if key not in ours:
        return "not run: not in the profile"
    if key in BASIC_KEYS:
        budget = (f"the conv MACs {MATCHED[key][1]} reached (same seed)" if key in MATCHED else
                  f"{float(paper.imagenet_row(model, key)['speedup']):.2f}x (the paper's speedup)")
        return (f"TSVD of the pretrained network, energy rule tuned to {budget}; fine-tuned like TRP "
                f"({ours[key]['epochs']} epochs)")
    return "one run beside both rows: they differ in a setting the paper does not state" if repeated else ""


def row_keys(model: str, ours: dict[str, dict]) -> list[str]:
    """The paper's rows in its order, each basic method's matched rows (of ours) right after its
    row, and ours the paper has no row for after them."""
    keys = []
    for p in PAPER[model][1]:
        keys.append(p["method"])
        keys += [k for k in ours if k in MATCHED and MATCHED[k][0] == p["method"] and k not in keys]
    return keys + [k for k in ours if k not in keys]


def table_rows(model: str, ours: dict[str, dict], baseline: str) -> list[dict]:
    """Rows in row_keys order, our numbers beside the paper's row of the same key; labels for keys."""
    rows = []
    paper_keys = [r["method"] for r in PAPER[model][1]]
    paper_rows = iter(PAPER[model][1])
    for key in row_keys(model, ours):
        p = next(paper_rows) if key in paper_keys else {}
        o = ours.get(key, {})
        rows.append({"method": paper.method_label(key), "our_top1": o.get("top1"), "our_top5": o.get("top5"),
                     "our_speedup": o.get("speedup"), "paper_top1": p.get("top1"), "paper_top5": p.get("top5"),
                     "paper_speedup": p.get("speedup"), "d_top1": diff(o.get("top1"), p.get("top1")),
                     "d_top5": diff(o.get("top5"), p.get("top5")),
                     "note": note(model, key, ours, paper_keys.count(key) > 1, baseline)})
    return rows


def dvc_metrics(ours: dict[str, dict]) -> dict:
    """method key -> {top1, top1_std, top5, top5_std, speedup, n}: numbers only, for `dvc metrics`."""
    return {key: {"top1": o["top1"]["mean"], "top1_std": o["top1"]["std"], "top5": o["top5"]["mean"],
                  "top5_std": o["top5"]["std"], "n": o["top1"]["n"],
                  "speedup": o["speedup"]["mean"] if isinstance(o["speedup"], dict) else o["speedup"]}
            for key, o in ours.items()}


def imagenet_table(model: str, runs: dict[str, list[str]], profile: str, out_prefix) -> list[dict]:
    """runs: method key -> metrics.json paths (seeds) of `model`. Writes {out_prefix}.md/.tex/.csv/.json;
    returns the rows."""
    if model not in PAPER:
        raise ConfigError(f"ImageNet tables are of {' and '.join(PAPER)}, not {model!r}")
    records = load_runs(model, runs)
    every = [m for ms in records.values() for m in ms]
    ours = our_results(records)
    rows = table_rows(model, ours, baseline_note(pretrained_runs(records)))
    write_table(rows, COLUMNS, out_prefix, title(model), provenance_footer(every, profile))
    write_json(f"{out_prefix}.json", dvc_metrics(ours))
    return rows


def table_records(doc: dict, model: str) -> dict[str, list[str]]:
    """method key -> the record path of each seed: `model`'s table in the run table `doc`."""
    if model not in doc["tables"]:
        raise ArtifactError(f"the run table holds no table of {model!r} (it has {', '.join(doc['tables']) or 'none'})")
    return {key: list(row["records"].values()) for key, row in doc["tables"][model].items() if row["records"]}


def main(argv: list[str] | None = None) -> None:
    ap = renderer_parser("imagenet", __doc__)
    ap.add_argument("--model", required=True, choices=sorted(PAPER))
    add_run_table(ap)
    args = ap.parse_args(argv)
    imagenet_table(args.model, table_records(read_run_table(args.run_table), args.model), args.profile, args.out)
    print(Path(f"{args.out}.md").read_text())
