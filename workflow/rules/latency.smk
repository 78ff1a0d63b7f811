# Measured inference time (Table 4 for CIFAR; the COBLA table's networks): the networks of one
# latency_networks() entry (runs.smk), timed one after the other while no other job runs.


rule latency:
    input:
        unpack(lambda wildcards: latency_networks()[wildcards.timing]),
    output:
        f"{R}/runtime/{{timing}}.json",
    wildcard_constraints:
        timing=one_of(latency_networks()),
    params:
        checkpoints=lambda wildcards, input: labelled(input.items()),
        batches=[str(b) for b in config["runtime"]["batch_sizes"]],
        min_run_time=config["runtime"]["min_run_time"],
    threads: workflow.cores  # the whole machine: no other job runs while timing
    conda:
        ENV
    log:
        f"{R}/logs/runtime/{{timing}}.log",
    benchmark:
        f"{R}/benchmarks/runtime/{{timing}}.tsv"
    shell:
        "OMP_NUM_THREADS={threads} trp latency --checkpoint {params.checkpoints:q} --batch-sizes {params.batches:q} "
        "--min-run-time {params.min_run_time} --out {output:q} > {log:q} 2>&1"
