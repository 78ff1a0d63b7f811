# Rank allocation (trp allocate) of a trained network under a conv-MAC budget: the MACs another run
# of the same model and seed reached (--budget-from), or a speedup (--target-speedup). The energy
# rule tuned to the budget gives the basic methods' ranks; COBLA (Li & Shi, ECCV-18: SQP) and the
# exact MILP surrogate compete with it in the COBLA table. Budgeted TRP is a Training (train.smk).


rule allocate:
    input:
        data=DATA,
        model=source_model,
        budget=budget_metrics,
    output:
        run_file(R, "allocate", "ranks.json"),
    wildcard_constraints:
        run=names(Decomposition),
    params:
        args=allocate_args,
    threads: config["threads"]
    priority: run_priority
    conda:
        ENV
    log:
        job_log("allocate"),
    benchmark:
        job_benchmark("allocate")
    shell:
        "OMP_NUM_THREADS={threads} trp allocate --checkpoint {input.model:q} {params.args:q} --data {input.data:q} "
        "--out {output:q} > {log:q} 2>&1"
