# results/<profile>/runs.json: each model's table from the run table (runs.smk), for every profile.


rule run_table:
    """Each model's table (Table 1; on ImageNet Table 2 or 3): model -> method key -> run name and its
    metrics.json per seed (trp.runs)."""
    output:
        f"{R}/runs.json",
    params:
        table=RUN_TABLE.table_records(),
    log:
        f"{R}/logs/render/run_table.log",
    localrule: True
    run:
        with open(output[0], "w") as f:
            json.dump(params.table, f, indent=1)
            f.write("\n")
