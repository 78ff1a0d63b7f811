# Decompositions (RUNS entries of kind Decomposition): the TSVD of a trained network at the ranks
# an allocation chose (allocate.smk): the basic methods (Zhang et al. 2016 channel, Jaderberg et al.
# 2014 spatial) and Basic+Nu at the energy rule tuned to a MAC budget, COBLA at its own; then
# fine-tuning of the decomposed network. A Finetuning fine-tunes a TRP run's own decomposed network
# with the same schedule.


rule decompose:
    input:
        data=DATA,
        model=source_model,
        ranks=run_file(R, "allocate", "ranks.json"),
    output:
        metrics=run_file(R, "tsvd", "metrics.json"),
        decomposed=run_file(C, "tsvd", "decomposed.pt"),
    wildcard_constraints:
        run=names(Decomposition),
    params:
        args=decompose_args,
        out=out_dir("metrics"),
        checkpoints=out_dir("decomposed"),
    threads: config["threads"]
    priority: run_priority
    resources:
        gpu=gpu,
    conda:
        ENV
    log:
        job_log("tsvd"),
    benchmark:
        job_benchmark("tsvd")
    shell:
        "OMP_NUM_THREADS={threads} " + GPU_SLOT + "trp decompose --checkpoint {input.model:q} {params.args:q} --data {input.data:q} "
        "--out {params.out:q} --checkpoints {params.checkpoints:q} > {log:q} 2>&1"


rule finetune:
    input:
        data=DATA,
        decomposed=finetune_source,
    output:
        metrics=run_file(R, "finetune", "metrics.json"),
        model=run_file(C, "finetune", "finetuned.pt"),
    wildcard_constraints:
        run=names((Decomposition, Finetuning)),
    params:
        settings=finetune_args,
        out=out_dir("metrics"),
        checkpoints=out_dir("model"),
    threads: config["threads"]
    priority: run_priority
    resources:
        gpu=gpu,
    conda:
        ENV
    log:
        job_log("finetune"),
    benchmark:
        job_benchmark("finetune")
    shell:
        "OMP_NUM_THREADS={threads} " + GPU_SLOT + "trp finetune --no-progress --checkpoint {input.decomposed:q} --set {params.settings:q} "
        "--data {input.data:q} --out {params.out:q} --checkpoints {params.checkpoints:q} > {log:q} 2>&1"
