# ImageNet, Tables 2 (ResNet-18) and 3 (ResNet-50), from the run table (runs.smk): each TRP run
# (a Training) fine-tunes torchvision's pretrained network with TRP under torchrun (trp imagenet at
# the profile's train: and trp: settings), decomposes it and evaluates the pretrained, dense,
# projected and decomposed networks; the pretrained evaluation is the tables' Baseline row. Each
# basic-method run (a Decomposition of the pretrained network: imagenet_basic) takes the TSVD of the
# pretrained network at the energy rule tuned to its conv-MAC budget (a TRP run's MACs: --budget-from
# its metrics.json; or the paper's speedup) and fine-tunes it with the same schedule. A job takes
# `gpus` whole GPUs (resources: gpu); with a runtime resource (SLURM) it gets --time-limit below it,
# stops after a checkpointed epoch, and resumes from last.pt when resubmitted.
IMAGENET_SHELL = (
    "torchrun --standalone --nproc_per_node {resources.gpu} -m trp.cli imagenet --no-progress --data {params.root:q} "
    "{params.weights:q} --set {params.settings:q} {params.budget:q} {params.time_limit:q} --workers {params.workers} "
    "--out {params.out:q} --checkpoints {params.checkpoints:q} > {log:q} 2>&1"
)


rule imagenet:
    input:
        weights=imagenet_weights,
    output:
        metrics=run_file(R, "imagenet", "metrics.json"),
        ranklog=run_file(R, "imagenet", "ranklog.jsonl"),
        model=run_file(C, "imagenet", "model.pt"),
        decomposed=run_file(C, "imagenet", "decomposed.pt"),
    wildcard_constraints:
        model=one_of(config["models"]),
        run=names(Training),
    params:
        root=config["data"]["root"],
        weights=weights_args,
        settings=train_args,
        budget=[],
        time_limit=time_limit,
        workers=config["workers"],
        out=out_dir("metrics"),
        checkpoints=out_dir("model"),
    threads: config["gpus"] * config["workers"]
    resources:
        gpu=config["gpus"],
    conda:
        ENV
    log:
        job_log("imagenet"),
    benchmark:
        job_benchmark("imagenet")
    shell:
        IMAGENET_SHELL


rule imagenet_basic:
    input:
        weights=imagenet_weights,
        budget=budget_metrics,
    output:
        metrics=run_file(R, "imagenet", "metrics.json"),
        model=run_file(C, "imagenet", "finetuned.pt"),
    wildcard_constraints:
        model=one_of(config["models"]),
        run=names(Decomposition),
    params:
        root=config["data"]["root"],
        weights=weights_args,
        settings=basic_args,
        budget=budget_args,
        time_limit=time_limit,
        workers=config["workers"],
        out=out_dir("metrics"),
        checkpoints=out_dir("model"),
    threads: config["gpus"] * config["workers"]
    resources:
        gpu=config["gpus"],
    conda:
        ENV
    log:
        job_log("imagenet"),
    benchmark:
        job_benchmark("imagenet")
    shell:
        IMAGENET_SHELL


rule imagenet_table:
    input:
        table_runs,
    output:
        table_outputs("{table}", "ImageNet", caption_name="imagenet"),
    wildcard_constraints:
        table=one_of(imagenet_tables()),
    params:
        args=table_args,
        prefix=out_prefix,
    conda:
        ENV
    log:
        f"{R}/logs/render/{{table}}.log",
    benchmark:
        f"{R}/benchmarks/render/{{table}}.tsv"
    shell:
        "trp render {params.args:q} --out {params.prefix:q} > {log:q} 2>&1"
