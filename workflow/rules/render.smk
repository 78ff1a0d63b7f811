# One renderer per output (trp.report.<rule name>, run as `trp render NAME ...`), each table as
# .md/.tex/.csv (+ .json) and each figure as .png/.pdf, with a provenance footer. Every renderer
# reads run records (metrics JSON, rank logs, runtime JSON), never another renderer's output; only
# Table 1's flat metrics file (DVC metrics) is Table 1's own JSON flattened. Table 1, Fig. 3,
# Theorem 2, the claims and the COBLA table read which runs they show, and their records, from the
# run table (results/<profile>/runs.json, rule run_table); a rule's inputs are the records it lists.
RENDER_SHELL = "trp render {params.args:q} --out {params.prefix:q} > {log:q} 2>&1"


RV, COBLA_MODEL = config["rank_variation"], RUN_TABLE.cobla_model
RUNTIME_TABLES = expand(f"{R}/runtime/{{model}}.json", model=config["models"])
RUN_TABLE_JSON = f"{R}/runs.json"
RUN_TABLE_ARGS = ["--run-table", RUN_TABLE_JSON]
TABLE1_RECORDS = [path for rows in RUN_TABLE.table_records().values() for entry in rows.values()
                  for path in entry["records"].values()]
FIG3_RECORDS = [path for point in RUN_TABLE.ablation_records()["points"] for path in point["records"].values()]
RANK_LOGS = [log["rank_log"] for log in RUN_TABLE.rank_log_records()]
COBLA_FILES = [path for row in RUN_TABLE.cobla_records()["rows"] for path in (row["record"], row["allocation"]) if path]
FIG2_ARGS = ["--rankvar", RUN_TABLE.rankvar_input(), "--layer", RV["layer"], "--e", str(RV["e"])]


rule table1:
    input:
        RUN_TABLE_JSON,
        TABLE1_RECORDS,
    output:
        table_outputs("table1", "Table 1"),
    params:
        args=render_args("table1", *RUN_TABLE_ARGS),
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
        RUN_TABLE_JSON,
        FIG3_RECORDS,
    output:
        figure_outputs("fig3", "Figure 3"),
    params:
        args=render_args("fig3", *RUN_TABLE_ARGS),
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
        RUN_TABLE_JSON,
        RANK_LOGS,
    output:
        table_outputs("theorem2", "Theorem 2"),
        table_outputs("theorem2-failures", "Theorem 2", ("tex", "csv")),
    params:
        args=render_args("theorem2", *RUN_TABLE_ARGS),
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
        RUN_TABLE_JSON,
        TABLE1_RECORDS,
        RUN_TABLE.rankvar_input(),
        FIG3_RECORDS,
        RANK_LOGS,
        RUNTIME_TABLES,
    output:
        table_outputs("claims", "Claims"),
    params:
        args=render_args("claims", *RUN_TABLE_ARGS, *FIG2_ARGS, "--runtime", *RUNTIME_TABLES),
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
        RUN_TABLE_JSON,
        COBLA_FILES,
        f"{R}/runtime/{COBLA_MODEL}-cobla.json",
    output:
        table_outputs("cobla", "COBLA"),
    params:
        args=render_args("cobla", *RUN_TABLE_ARGS, "--runtime", f"{R}/runtime/{COBLA_MODEL}-cobla.json"),
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
