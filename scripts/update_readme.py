"""Write the results page docs/results.md, and the short summary between the README's results
markers, from committed outputs: paper_tables/<profile>/*.md and *.json, results/benchmarks/*.json.
No number is typed by hand.

    .venv/bin/python scripts/update_readme.py                  # profiles cpu and paper_cpu
    .venv/bin/python scripts/update_readme.py --profile cpu    # one profile

The README gets, per profile, Table 1's rows measured by the profile and the verdicts on the
paper's Table-1 claims; docs/results.md gets every table of each profile with its provenance
footer, the figures, and the benchmark records. A profile with no rendered tables yet is named
as such in both. A profile whose run is carried in profile_snapshots/<tag>/ (a run in progress,
moved between machines) gets, in the README, where that run stands: each training or fine-tuning
its logs show started and not finished, at its last logged epoch.
"""
import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- results:begin (scripts/update_readme.py) -->", "<!-- results:end -->"
SECTIONS = [("claims", "Which claims the run supports"), ("table1", "Table 1 (CIFAR-10)"),
            ("theorem2", "Theorem 2 over every logged projection"),
            ("theorem2-failures", "Theorem 2: where and when a condition failed"),
            ("table4", "Table 4 for CIFAR: measured inference time"),
            ("cobla", "COBLA and budgeted TRP"), ("budget", "What the run cost, measured")]
PROFILES = ("cpu", "paper_cpu")


def commit_label(git: dict | None, path: Path, root: Path = ROOT) -> str:
    """'commit abc1234' for the commit a benchmark record names. A record that names none (made from a
    copy of the code without .git or a commit file) reads 'commit unknown', and one whose commit this
    clone does not hold keeps its short hash; either is said in one line on stderr, and the page is drawn."""
    commit = (git or {}).get("commit")
    if not commit:
        print(f"update_readme: {path.name}: the record names no commit; its table says 'commit unknown'", file=sys.stderr)
        return "commit unknown"
    try:
        known = subprocess.run(["git", "-C", str(root), "cat-file", "-e", f"{commit}^{{commit}}"],
                               capture_output=True).returncode == 0
        inside = subprocess.run(["git", "-C", str(root), "rev-parse", "--git-dir"], capture_output=True).returncode == 0
    except OSError:  # no git here: nothing to check against
        known = inside = False
    if inside and not known:
        print(f"update_readme: {path.name}: commit {commit[:7]} is not in this clone's history", file=sys.stderr)
    return f"commit {commit[:7]}"


def demote(md: str) -> str:
    return re.sub(r"^\*\*(.+)\*\*$", r"*\1*", md.strip(), count=1, flags=re.M)


def benchmark_table(path: Path, root: Path = ROOT) -> str:
    """A benchmarks/train_step.py record: each variant's step time over plain (eager) SGD's."""
    d = json.loads(path.read_text())
    variants = [v for v in d["rows"][0]["ratio_to_plain"] if v != "plain"]
    commit = f"{commit_label(d['git'], path, root)}, " if "git" in d else ""  # older records name none
    lines = [f"Training step time relative to plain SGD, interleaved in one run ({d['device']}; {commit}"
             f"m = {d['m']}, lambda = {d['lam']}, e = {d['e']}; `benchmarks/train_step.py`):", "",
             "| model | scheme | precision | plain img/s | " +
             " | ".join(f"{v.replace('trp+nu', 'TRP+Nu').replace('trp', 'TRP')} / plain" for v in variants) + " |",
             "|---|---|---|---|" + "---|" * len(variants)]
    for r in d["rows"]:
        lines.append(f"| {r['model']} | {r['scheme']} | {r['precision']} | {r['images_per_s']['plain']:.0f} | " +
                     " | ".join(f"{r['ratio_to_plain'][v]:.3f}" for v in variants) + " |")
    return "\n".join(lines)


def throughput_table(path: Path, root: Path = ROOT) -> str:
    """A benchmarks/throughput.py record (CPU or GPU); records made before its rename (from
    benchmarks/cpu_throughput.py) name no script."""
    d = json.loads(path.read_text())
    machine = d["device"] if "cpu_bf16_instructions" not in d else \
        f"{d['device']}, {d['cores']} cores, bf16 instructions: {', '.join(d['cpu_bf16_instructions']) or 'none'}"
    script = f"`{d['script']}`" if "script" in d else "`benchmarks/throughput.py`, then named cpu_throughput.py"
    lines = [f"Plain ResNet-20 training throughput, batch {d['batch']}, medians of {d['rounds']} interleaved rounds "
             f"({machine}; {commit_label(d.get('git'), path, root)}; {script}):", "",
             "| setting | images/s | relative |", "|---|---|---|"]
    for name, r in d["settings"].items():
        lines.append(f"| {name} | {r['images_per_s']:.0f} | {r['relative_to_fp32_channels_last_1_job']:.2f} |")
    return "\n".join(lines)


def precision_table(path: Path, root: Path = ROOT) -> str:
    """A benchmarks/precision_accuracy.py record: a profile's baseline trained in bf16 beside its fp32 records."""
    from trp.report.cells import fmt
    d = json.loads(path.read_text())
    lines = [f"The `{d['profile']}` profile's baseline ({d['profile_train']['epochs']} epochs) trained in bf16 autocast, "
             f"{d['jobs']} ({commit_label(d.get('git'), path, root)}, dirty {(d.get('git') or {}).get('dirty')}; `{d['script']}`), beside the "
             "published profile's fp32 records:", "",
             "| precision | seed | top-1 (%) | median s / epoch | median images/s per job | machine |", "|---|---|---|---|---|---|"]
    for precision, row in d["runs"].items():
        for seed, r in row["seeds"].items():
            lines.append(f"| {precision} | {seed[1:]} | {r['top1']:.2f} | {r['median_epoch_s']:.1f} | "
                         f"{r['median_images_per_s']:.0f} | {r['device']} |")
        lines.append(f"| {precision} | mean ± std | {fmt(row['top1'])} | | | |")
    return "\n".join(lines)


def latency_table(path: Path, root: Path = ROOT) -> str:
    """Table 4 on ResNet-18 (and any ResNet-20 networks timed): the paper's rows from trp.report.paper,
    then, per decomposed network and batch size, the runtime whose speedup has the best lower bound."""
    from trp.report.paper import TABLE4
    from trp.report.verdict import target_verdict
    d = json.loads(path.read_text())
    git = d["provenance"]
    rows = {r["method"]: r for r in TABLE4["rows"]}
    base = rows["baseline"]["cpu_ms"]
    lines = [f"Paper (Table 4, {TABLE4['cpu']}, batch size not stated): " + "; ".join(
        f"{m} {r['cpu_ms']} ms ({base / r['cpu_ms']:.2f}x)" for m, r in rows.items()) + ".", "",
        f"Measured here ({d['device']}, {commit_label(git, path, root)}, "
        f"dirty {git.get('dirty')}; `benchmarks/latency.py`): per decomposed network and batch size, the runtime whose "
        "speedup has the highest lower 95 % bound; *realised* = measured speedup / conv-MAC speedup.", "",
        "| model | network | batch | conv-MAC speedup | best runtime | ms/image | speedup [95 % CI] | realised [95 % CI] |",
        "|---|---|---|---|---|---|---|---|"]
    for b in d["best"]:
        lo, hi = b["speedup_ci"]
        rlo, rhi = b["realised_ci"]
        lines.append(f"| {b['model']} | {b['variant']} | {b['batch_size']} | {b['mac_speedup']:.2f}x | {b['runtime']} / "
                     f"{b['memory_format']} | {b['median_ms_per_image']:.2f} | {b['speedup']:.2f}x [{lo:.2f}, {hi:.2f}] | "
                     f"{b['realised_fraction']:.2f} [{rlo:.2f}, {rhi:.2f}] |")
    for t in d["targets"]:
        lines.append(f"\nTarget: {t['model']} {t['variant']} at batch 1 realises at least {t['threshold']} of its MAC "
                     f"speedup: {t['realised_fraction']:.2f} ({t['speedup']:.2f}x measured against {t['mac_speedup']:.2f}x fewer "
                     f"conv MACs), {target_verdict(t)}.")
    return "\n".join(lines)


def profile_block(profile: str, root: Path = ROOT) -> str:
    """Every rendered table of one profile (with its provenance footer) and its figures, for docs/results.md."""
    tables = root / "paper_tables" / profile
    parts = []
    for name, title in SECTIONS:
        md = tables / f"{name}.md"
        if md.exists():
            parts += [f"### {title}", demote(md.read_text())]
    fig2 = tables / "fig2.json"
    if fig2.exists():
        f = json.loads(fig2.read_text())
        parts += ["### Figure 2 (rank variation) and Figure 3 (ablation)",
                  f"![Fig. 2](../paper_tables/{profile}/fig2.png)",
                  f"Layer {f['layer']} (the paper's res3-1-2), e = {f['e']}: max mG/||W|| {f['max_step_bound']:.3f} and max "
                  f"displacement {f['max_displacement']:.3f} against sqrt(e) = {f['sqrt_e']:.3f} (paper: max mG/||W|| "
                  f"{f['paper']['max_bound']} < {f['paper']['sqrt_e']}); rank {f['ranks'][0]} -> {f['ranks'][-1]} over "
                  f"{len(f['ranks'])} projections.",
                  f"![Fig. 3](../paper_tables/{profile}/fig3.png)"]
    return "\n\n".join(parts)


def benchmarks_block(root: Path = ROOT) -> str:
    """The records in results/benchmarks/: training overhead, latency, throughput, bf16 accuracy."""
    parts = []
    for bench in sorted((root / "results" / "benchmarks").glob("train_step_*.json")):
        parts += [f"### Training overhead of TRP (`results/benchmarks/{bench.name}`)", benchmark_table(bench, root)]
    latency = root / "results" / "benchmarks" / "latency_cpu.json"
    if latency.exists():
        parts += ["### Table 4 on ResNet-18: measured speedup against conv-MAC speedup", latency_table(latency, root)]
    for kind, title in (("cpu", "a CPU"), ("gpu", "a GPU (jobs sharing one GPU)")):
        for throughput in sorted((root / "results" / "benchmarks").glob(f"{kind}_throughput*.json")):
            parts += [f"### Training throughput on {title} (`results/benchmarks/{throughput.name}`)", throughput_table(throughput, root)]
    for bench in sorted((root / "results" / "benchmarks").glob("bf16_baseline_*.json")):
        parts += [f"### Does bf16 keep the accuracy? (`results/benchmarks/{bench.name}`)", precision_table(bench, root)]
    return "\n\n".join(parts)


def results_page(profiles: list[str], root: Path = ROOT) -> str:
    """docs/results.md: each profile's tables and figures, then the benchmark records."""
    parts = ["# Results", "Generated by `scripts/update_readme.py` from `paper_tables/<profile>/` and "
             "`results/benchmarks/`; do not edit by hand. Every table carries its provenance footer (commit, config "
             "hashes, data fingerprint, device). What the numbers mean: [findings.md](findings.md)."]
    for profile in profiles:
        body = profile_block(profile, root)
        parts += [f"## Profile `{profile}`", body or f"No table of the `{profile}` profile has been rendered yet "
                  f"(`paper_tables/{profile}/` holds none)."]
    bench = benchmarks_block(root)
    if bench:
        parts += ["## Benchmarks", bench]
    return "\n\n".join(parts) + "\n"


def table_rows(md: str) -> list[list[str]]:
    """The body rows of the first Markdown table in md, as lists of cells."""
    rows = [line for line in md.splitlines() if line.startswith("|")]
    return [[c.strip() for c in re.split(r"(?<!\\)\|", r)[1:-1]] for r in rows[2:]]


TABLE1_CLAIM = re.compile(r"\(Table 1\)$|at equal conv MACs and epochs$")
DIFFERENCE = re.compile(r"a − b = ([+-]?[0-9.]+)")
INTERVAL = re.compile(r"[0-9]+ ?% interval \[[^\]]+\]")


def run_in_progress(profile: str, root: Path = ROOT) -> str | None:
    """Where a run of `profile` carried in profile_snapshots/<tag>/ stands, from the snapshot's manifest and the
    job logs in it (trp.run_state): each training or fine-tuning started and not finished, at its last logged
    epoch with the test top-1 of the dense network at that epoch; None without such a snapshot."""
    from trp import profile as profiles
    from trp.report.paper import method_label, model_label
    from trp.run_state import ProfileState, logged_epochs
    from trp.runs import RunTable

    for manifest in sorted((root / "profile_snapshots").glob("*/manifest.json")):
        snapshot = json.loads(manifest.read_text())
        if snapshot.get("profile") != profile:
            continue
        table = RunTable(profiles.load(root / "config" / f"{profile}.yaml"))
        state = ProfileState(manifest.parent / "files", table)
        labels = {}
        for model, rows in table.tables.items():
            for key, run in rows.items():
                labels.setdefault((model, run), method_label(key))
        going = []
        for stage, model, run, seed in state.every_job():
            logged = logged_epochs(state.tree / state.log(stage, model, run, seed))
            if stage not in ("train", "finetune") or not logged or \
                    (state.tree / state.benchmark(stage, model, run, seed)).is_file():
                continue
            last = max(logged, key=lambda e: e["epoch"])
            total = table.config["train" if stage == "train" else "finetune"]["epochs"]
            what = labels.get((model, run), run) + (" fine-tuning" if stage == "finetune" else "")
            top1 = f" (test top-1 {last['test_top1']:.2f} %)" if isinstance(last.get("test_top1"), (int, float)) else ""
            going.append(f"{model_label(model)} {what}, seed {seed}: epoch {last['epoch']} of {total}{top1}")
        return (f"A run from commit `{snapshot['commit'][:7]}` is in progress, carried in "
                f"`profile_snapshots/{manifest.parent.name}/`: " + ("; ".join(going) or "no training started") +
                ". The test top-1 is the dense network's during training, not a Table-1 number.")
    return None


def summary(profile: str, root: Path = ROOT) -> str:
    """The README's short view of one profile: its measured Table-1 rows and its verdicts on the
    paper's Table-1 claims (the difference of means and its confidence interval, as the claims table gives
    them), and where a run of it in progress stands."""
    progress = run_in_progress(profile, root)
    tables = root / "paper_tables" / profile
    if not (tables / "table1.md").exists():
        return " ".join([f"**`{profile}`**: no Table-1 row rendered yet (`paper_tables/{profile}/table1.md` does not "
                         "exist).", *filter(None, [progress])])
    parts = [f"**`{profile}`**, Table 1 (`paper_tables/{profile}/table1.md`; ours: mean ± std over seeds):", "",
             "| model | method | training (epochs) | ours: top-1 (%) | ours: speedup (conv MACs) | paper: top-1 (%) | paper: speedup |",
             "|---|---|---|---|---|---|---|"]
    parts += [f"| {' | '.join(r[:7])} |" for r in table_rows((tables / "table1.md").read_text()) if r[3] != "–"]
    claims = tables / "claims.json"
    if claims.exists():
        parts += ["", f"Verdicts on the paper's Table-1 claims (`paper_tables/{profile}/claims.md`, at equal conv MACs):", "",
                  "| paper's claim | verdict | a − b | its interval |", "|---|---|---|---|"]
        for c in json.loads(claims.read_text())["claims"]:
            if TABLE1_CLAIM.search(c["claim"]):
                diff, interval = DIFFERENCE.search(c["evidence"]), INTERVAL.search(c["evidence"])
                parts.append(f"| {c['claim'].removeprefix('R-20: ')} | {c['verdict']} | {diff[1] if diff else '–'} | "
                             f"{interval[0] if interval else '–'} |")
    return "\n".join([*parts, *(["", progress] if progress else [])])


def readme_block(profiles: list[str], root: Path = ROOT) -> str:
    return "\n\n".join([f"Generated by `scripts/update_readme.py`; every table of each profile, with its provenance, "
                        f"is in [docs/results.md](docs/results.md)."] + [summary(p, root) for p in profiles])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", action="append", help="a profile to draw (repeatable; default: cpu and paper_cpu)")
    ap.add_argument("--root", type=Path, default=ROOT, help="the checkout whose README and outputs to use (default: this one)")
    a = ap.parse_args()
    profiles = a.profile or list(PROFILES)
    readme = a.root / "README.md"
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"README.md lacks the markers {BEGIN} ... {END}")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    page = a.root / "docs" / "results.md"
    page.parent.mkdir(exist_ok=True)
    page.write_text(results_page(profiles, a.root))
    readme.write_text(f"{head}{BEGIN}\n{readme_block(profiles, a.root)}\n{END}{tail}")


if __name__ == "__main__":
    main()
