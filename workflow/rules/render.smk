# One renderer per output (src/trp/report/), each table as .md/.tex/.csv and each figure as
# .png/.pdf, with a provenance footer.


def table1_runs():
    return {f"{model}/{label}/s{s}": metrics(kind, model, run, s)
            for model in config["models"] for label, (kind, run) in TABLE1.items() for s in SEEDS}


def labelled(d):
    return " ".join(shlex.quote(f"{k.rsplit('/s', 1)[0]}={v}") for k, v in d.items())


rule table1:
    input:
        list(table1_runs().values()),
    output:
        report(f"{T}/table1.md", category="Table 1"),
        f"{T}/table1.tex",
        f"{T}/table1.csv",
        f"{T}/table1.json",
    params:
        runs=labelled(table1_runs()),
    log:
        f"{R}/logs/render/table1.log",
    benchmark:
        f"{R}/benchmarks/render/table1.tsv"
    shell:
        "python -m trp.report.table1 --runs {params.runs} --profile {PROFILE} --out {T}/table1 > {log} 2>&1"


RV = config["rank_variation"]


rule fig2:
    input:
        f"{R}/runs/{RV['model']}/rankvar/s{SEEDS[0]}/ranklog.jsonl",
    output:
        report(f"{T}/fig2.png", category="Figure 2"),
        f"{T}/fig2.pdf",
        f"{T}/fig2.json",
    log:
        f"{R}/logs/render/fig2.log",
    benchmark:
        f"{R}/benchmarks/render/fig2.tsv"
    shell:
        "python -m trp.report.fig2 --ranklog {input} --layer {RV[layer]} --e {RV[e]} --profile {PROFILE} "
        "--out {T}/fig2 > {log} 2>&1"


rule fig3:
    input:
        [p for _, _, p in ablation_points()],
    output:
        report(f"{T}/fig3.png", category="Figure 3"),
        f"{T}/fig3.pdf",
    params:
        points=" ".join(f"--point {s}:{m}:{p}" for s, m, p in ablation_points()),
    log:
        f"{R}/logs/render/fig3.log",
    benchmark:
        f"{R}/benchmarks/render/fig3.tsv"
    shell:
        "python -m trp.report.fig3 {params.points} --profile {PROFILE} --out {T}/fig3 > {log} 2>&1"


rule table4:
    input:
        expand(f"{R}/runtime/{{model}}.json", model=config["models"]),
    output:
        report(f"{T}/table4.md", category="Table 4"),
        f"{T}/table4.tex",
        f"{T}/table4.csv",
    log:
        f"{R}/logs/render/table4.log",
    benchmark:
        f"{R}/benchmarks/render/table4.tsv"
    shell:
        "python -m trp.report.table4 --runtime {input} --profile {PROFILE} --out {T}/table4 > {log} 2>&1"


rule theorem2:
    input:
        list(trp_ranklogs().values()),
    output:
        report(f"{T}/theorem2.md", category="Theorem 2"),
        f"{T}/theorem2.tex",
        f"{T}/theorem2.csv",
    params:
        logs=" ".join(shlex.quote(f"{k}={v}") for k, v in trp_ranklogs().items()),
    log:
        f"{R}/logs/render/theorem2.log",
    benchmark:
        f"{R}/benchmarks/render/theorem2.tsv"
    shell:
        "python -m trp.report.theorem2 --ranklog {params.logs} --profile {PROFILE} --out {T}/theorem2 > {log} 2>&1"
