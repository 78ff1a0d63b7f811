# Measured inference time (Table 4 for CIFAR; the COBLA table's networks): the networks of one
# LATENCY entry (below), timed one after the other while no other job runs.


def network(model, run, seed):
    """The network a run ends with: the fine-tuned one of a decomposition or fine-tuning, else the trained (decomposed) one."""
    if not isinstance(RUNS[run], Training):
        return run_file(C, "finetune", "finetuned.pt", model, run, seed)
    return run_file(C, "runs", "model.pt" if is_baseline(RUNS[run]) else "decomposed.pt", model, run, seed)


# Timed networks: output name -> label -> checkpoint (Table 4 per model; the COBLA table's networks).
LATENCY = {model: {key: network(model, RUN_TABLE.table1[model][key], SEEDS[0])
                   for key in ["baseline", *RUN_TABLE.latency_methods]} for model in config["models"]}
LATENCY[f"{RUN_TABLE.cobla_model}-cobla"] = {"baseline": network(RUN_TABLE.cobla_model, BASELINE, SEEDS[0])} | {
    f"{b}/{m}": network(RUN_TABLE.cobla_model, run, SEEDS[0]) for (b, m), run in RUN_TABLE.cobla_runs.items()}


rule latency:
    input:
        unpack(lambda wildcards: LATENCY[wildcards.timing]),
    output:
        f"{R}/runtime/{{timing}}.json",
    wildcard_constraints:
        timing=one_of(LATENCY),
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
