# COBLA (Li & Shi, ECCV-18): per-layer ranks of the trained baseline at the MAC budgets TRP reached
# and at fixed speedups (energy rule vs COBLA's SQP vs the exact MILP surrogate). Each allocation is
# then decomposed and fine-tuned like the basic methods (compress.smk); budgeted TRP is a Training.


rule allocate:
    input:
        data=DATA,
        model=source_model,
        budget=budget_metrics,
    output:
        run_file(R, "cobla", "ranks.json"),
    wildcard_constraints:
        run=names(Decomposition, is_allocated),
    params:
        args=allocate_args,
    threads: config["threads"]
    conda:
        ENV
    log:
        job_log("allocate"),
    benchmark:
        job_benchmark("allocate")
    shell:
        "OMP_NUM_THREADS={threads} trp allocate --checkpoint {input.model:q} {params.args:q} --data {input.data:q} "
        "--out {output:q} > {log:q} 2>&1"
