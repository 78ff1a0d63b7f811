# One renderer per output (src/trp/report/), each table as .md/.tex/.csv and each figure as
# .png/.pdf, with a provenance footer.


rule table1:
    input:
        list(table1_runs().values()),
    output:
        report(f"{T}/table1.md", category="Table 1"),
        f"{T}/table1.tex",
        f"{T}/table1.csv",
        f"{T}/table1.json",
    params:
        profile=PROFILE,
        prefix=out_prefix,
        runs=labelled(table1_runs()),
    conda:
        ENV
    log:
        f"{R}/logs/render/table1.log",
    benchmark:
        f"{R}/benchmarks/render/table1.tsv"
    shell:
        "python -m trp.report.table1 --runs {params.runs} --profile {params.profile} --out {params.prefix} > {log} 2>&1"


rule fig2:
    input:
        f"{R}/runs/{RV['model']}/rankvar/s{SEEDS[0]}/ranklog.jsonl",
    output:
        report(f"{T}/fig2.png", category="Figure 2"),
        f"{T}/fig2.pdf",
        f"{T}/fig2.json",
    params:
        profile=PROFILE,
        prefix=out_prefix,
        layer=RV["layer"],
        e=RV["e"],
    conda:
        ENV
    log:
        f"{R}/logs/render/fig2.log",
    benchmark:
        f"{R}/benchmarks/render/fig2.tsv"
    shell:
        "python -m trp.report.fig2 --ranklog {input} --layer {params.layer} --e {params.e} --profile {params.profile} "
        "--out {params.prefix} > {log} 2>&1"


rule fig3:
    input:
        [p for _, _, p in ablation_points()],
    output:
        report(f"{T}/fig3.png", category="Figure 3"),
        f"{T}/fig3.pdf",
        f"{T}/fig3.json",
    params:
        profile=PROFILE,
        prefix=out_prefix,
        points=" ".join(f"--point {s}:{m}:{p}" for s, m, p in ablation_points()),
    conda:
        ENV
    log:
        f"{R}/logs/render/fig3.log",
    benchmark:
        f"{R}/benchmarks/render/fig3.tsv"
    shell:
        "python -m trp.report.fig3 {params.points} --profile {params.profile} --out {params.prefix} > {log} 2>&1"


rule table4:
    input:
        expand(f"{R}/runtime/{{model}}.json", model=config["models"]),
    output:
        report(f"{T}/table4.md", category="Table 4"),
        f"{T}/table4.tex",
        f"{T}/table4.csv",
    params:
        profile=PROFILE,
        prefix=out_prefix,
    conda:
        ENV
    log:
        f"{R}/logs/render/table4.log",
    benchmark:
        f"{R}/benchmarks/render/table4.tsv"
    shell:
        "python -m trp.report.table4 --runtime {input} --profile {params.profile} --out {params.prefix} > {log} 2>&1"


rule theorem2:
    input:
        list(trp_ranklogs().values()),
    output:
        report(f"{T}/theorem2.md", category="Theorem 2"),
        f"{T}/theorem2.tex",
        f"{T}/theorem2.csv",
        f"{T}/theorem2.json",
    params:
        profile=PROFILE,
        prefix=out_prefix,
        logs=" ".join(shlex.quote(f"{k}={v}") for k, v in trp_ranklogs().items()),
    conda:
        ENV
    log:
        f"{R}/logs/render/theorem2.log",
    benchmark:
        f"{R}/benchmarks/render/theorem2.tsv"
    shell:
        "python -m trp.report.theorem2 --ranklog {params.logs} --profile {params.profile} --out {params.prefix} > {log} 2>&1"


rule claims:
    input:
        table1=f"{T}/table1.json",
        fig2=f"{T}/fig2.json",
        fig3=f"{T}/fig3.json",
        theorem2=f"{T}/theorem2.json",
        runtime=expand(f"{R}/runtime/{{model}}.json", model=config["models"]),
        runs=sorted(set(trp_metrics().values())),
    output:
        report(f"{T}/claims.md", category="Claims"),
        f"{T}/claims.tex",
        f"{T}/claims.csv",
        f"{T}/claims.json",
    params:
        profile=PROFILE,
        prefix=out_prefix,
    conda:
        ENV
    log:
        f"{R}/logs/render/claims.log",
    benchmark:
        f"{R}/benchmarks/render/claims.tsv"
    shell:
        "python -m trp.report.claims --table1 {input.table1} --fig2 {input.fig2} --fig3 {input.fig3} "
        "--theorem2 {input.theorem2} --runtime {input.runtime} --runs {input.runs} --profile {params.profile} "
        "--out {params.prefix} > {log} 2>&1"
