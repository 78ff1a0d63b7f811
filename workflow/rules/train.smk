# Trainings from scratch (RUNS entries of kind Training): the baseline, then every projected or
# nuclear-norm run, each decomposed at the end; budgeted TRP takes its budget from another run. A
# job with a runtime resource stops before it (time_limit) and resumes when resubmitted.

# A GPU rule's command (trainings here, fine-tunings and decompositions in compress.smk) on a GPU
# profile: pinned to one GPU (CUDA_VISIBLE_DEVICES) by trp.gpu_slots, at most gpu.jobs_per_gpu jobs
# a GPU; `--resources gpu=N` (workflow/profiles/default) caps how many run at once. On a CPU profile
# the command runs as is.
GPU_SLOT = f"python -m trp.gpu_slots --per-gpu {config['gpu']['jobs_per_gpu']} -- " if config["require_gpu"] else ""


TRAIN_SHELL = (
    "OMP_NUM_THREADS={threads} " + GPU_SLOT + "trp train --no-progress --set {params.settings:q} {params.budget:q} "
    "{params.time_limit:q} --data {input.data:q} --out {params.out:q} --checkpoints {params.checkpoints:q} > {log:q} 2>&1"
)


rule train_baseline:
    input:
        data=DATA,
    output:
        metrics=run_file(R, "runs", "metrics.json"),
        ranklog=run_file(R, "runs", "ranklog.jsonl"),
        model=run_file(C, "runs", "model.pt"),
    wildcard_constraints:
        run=names(Training, is_baseline),
    params:
        settings=train_args,
        budget=[],
        time_limit=time_limit,
        out=out_dir("metrics"),
        checkpoints=out_dir("model"),
    threads: config["threads"]
    priority: run_priority
    resources:
        gpu=gpu,
    conda:
        ENV
    log:
        job_log("train"),
    benchmark:
        job_benchmark("train")
    shell:
        TRAIN_SHELL


rule train_lowrank:
    input:
        data=DATA,
        budget=budget_metrics,
    output:
        metrics=run_file(R, "runs", "metrics.json"),
        ranklog=run_file(R, "runs", "ranklog.jsonl"),
        model=run_file(C, "runs", "model.pt"),
        decomposed=run_file(C, "runs", "decomposed.pt"),
    wildcard_constraints:
        run=names(Training, lambda run: not is_baseline(run)),
    params:
        settings=train_args,
        budget=budget_args,
        time_limit=time_limit,
        out=out_dir("metrics"),
        checkpoints=out_dir("model"),
    threads: config["threads"]
    priority: run_priority
    resources:
        gpu=gpu,
    conda:
        ENV
    log:
        job_log("train"),
    benchmark:
        job_benchmark("train")
    shell:
        TRAIN_SHELL
