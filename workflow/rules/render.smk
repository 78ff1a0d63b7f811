# One renderer per output (trp.report.<rule name>, run as `trp render NAME ...`), each table as
# .md/.tex/.csv (+ .json) and each figure as .png/.pdf, with a provenance footer. Every renderer
# reads run records (metrics JSON, rank logs, runtime JSON), never another renderer's output; only
# Table 1's flat metrics file (DVC metrics) is Table 1's own JSON flattened.
RENDER_SHELL = "trp render {params.args:q} --out {params.prefix:q} > {log:q} 2>&1"


RV, COBLA_MODEL = config["rank_variation"], RUN_TABLE.cobla_model
RUNTIME_TABLES = expand(f"{R}/runtime/{{model}}.json", model=config["models"])
TABLE1_ARGS = ["--runs", *labelled(RUN_TABLE.table1_inputs())]
FIG2_ARGS = ["--rankvar", RUN_TABLE.rankvar_input(), "--layer", RV["layer"], "--e", str(RV["e"])]
FIG3_ARGS = ["--points", *labelled(RUN_TABLE.ablation_inputs())]
THEOREM2_ARGS = ["--ranklog", *labelled(RUN_TABLE.theorem2_inputs())]


rule table1:
    input:
        paths(RUN_TABLE.table1_inputs()),
    output:
        table_outputs("table1", "Table 1"),
    params:
        args=render_args("table1", *TABLE1_ARGS),
        prefix=out_prefix,
    conda:
        ENV
    log:
        f"{R}/logs/render/table1.log",
    benchmark:
        f"{R}/benchmarks/render/table1.tsv"
    shell:
        RENDER_SHELL


rule fig2:
    input:
        RUN_TABLE.rankvar_input(),
    output:
        figure_outputs("fig2", "Figure 2"),
    params:
        args=render_args("fig2", *FIG2_ARGS),
        prefix=out_prefix,
    conda:
        ENV
    log:
        f"{R}/logs/render/fig2.log",
    benchmark:
        f"{R}/benchmarks/render/fig2.tsv"
    shell:
        RENDER_SHELL


rule fig3:
    input:
        paths(RUN_TABLE.ablation_inputs()),
    output:
        figure_outputs("fig3", "Figure 3"),
    params:
        args=render_args("fig3", *FIG3_ARGS),
        prefix=out_prefix,
    conda:
        ENV
    log:
        f"{R}/logs/render/fig3.log",
    benchmark:
        f"{R}/benchmarks/render/fig3.tsv"
    shell:
        RENDER_SHELL


rule table4:
    input:
        RUNTIME_TABLES,
    output:
        table_outputs("table4", "Table 4", ("tex", "csv")),
    params:
        args=render_args("table4", "--runtime", *RUNTIME_TABLES),
        prefix=out_prefix,
    conda:
        ENV
    log:
        f"{R}/logs/render/table4.log",
    benchmark:
        f"{R}/benchmarks/render/table4.tsv"
    shell:
        RENDER_SHELL


rule theorem2:
    input:
        paths(RUN_TABLE.theorem2_inputs()),
    output:
        table_outputs("theorem2", "Theorem 2"),
        table_outputs("theorem2-failures", "Theorem 2", ("tex", "csv")),
    params:
        args=render_args("theorem2", *THEOREM2_ARGS),
        prefix=out_prefix,
    conda:
        ENV
    log:
        f"{R}/logs/render/theorem2.log",
    benchmark:
        f"{R}/benchmarks/render/theorem2.tsv"
    shell:
        RENDER_SHELL


rule claims:
    input:
        paths(RUN_TABLE.table1_inputs()),
        RUN_TABLE.rankvar_input(),
        paths(RUN_TABLE.ablation_inputs()),
        paths(RUN_TABLE.theorem2_inputs()),
        RUNTIME_TABLES,
    output:
        table_outputs("claims", "Claims"),
    params:
        args=render_args("claims", *TABLE1_ARGS, *FIG2_ARGS, *FIG3_ARGS, *THEOREM2_ARGS, "--runtime", *RUNTIME_TABLES),
        prefix=out_prefix,
    conda:
        ENV
    log:
        f"{R}/logs/render/claims.log",
    benchmark:
        f"{R}/benchmarks/render/claims.tsv"
    shell:
        RENDER_SHELL


rule cobla:
    input:
        paths(cobla_runs()),
        paths(cobla_allocations()),
        f"{R}/runtime/{COBLA_MODEL}-cobla.json",
    output:
        table_outputs("cobla", "COBLA"),
    params:
        args=render_args("cobla", "--runs", *labelled(cobla_runs()), "--allocation", *labelled(cobla_allocations()),
                         "--runtime", f"{R}/runtime/{COBLA_MODEL}-cobla.json"),
        prefix=out_prefix,
    conda:
        ENV
    log:
        f"{R}/logs/render/cobla.log",
    benchmark:
        f"{R}/benchmarks/render/cobla.tsv"
    shell:
        RENDER_SHELL


rule table1_metrics:
    """Table 1's numbers, one per row and column, in a flat file: the profile's metrics in dvc.yaml."""
    input:
        f"{T}/table1.json",
    output:
        f"{R}/table1_metrics.json",
    log:
        f"{R}/logs/render/table1_metrics.log",
    localrule: True
    run:
        from trp.report.table1_metrics import write_metrics

        write_metrics(input[0], output[0])
