# results/<profile>/runs.json: the run table (runs.smk) as the renderers read it, for every profile.


rule run_table:
    """Each model's table (Table 1; on ImageNet Table 2 or 3): model -> method key -> run name and its
    metrics.json per seed; on CIFAR-10 also the records of Fig. 3, Theorem 2 and the COBLA table
    (trp.runs.RunTable.document)."""
    output:
        f"{R}/runs.json",
    params:
        table=RUN_TABLE.document(),
    log:
        f"{R}/logs/render/run_table.log",
    localrule: True
    run:
        with open(output[0], "w") as f:
            json.dump(params.table, f, indent=1)
            f.write("\n")
