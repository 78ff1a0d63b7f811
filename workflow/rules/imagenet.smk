# ImageNet, Tables 2 (ResNet-18) and 3 (ResNet-50), from the run table (runs.smk), through CIFAR-10's
# stages and records, each command given the profile (--profile: its dataset makes --data the ImageNet
# folder) and the run's settings (--set, as for CIFAR-10). Each TRP run (a Training) is `trp train` of
# torchvision's pretrained network under torchrun: it evaluates the pretrained network (the tables'
# Baseline row), trains with TRP, decomposes and measures. Each basic method (a Decomposition of the run
# `pretrained`) is `trp allocate` (the energy rule tuned to its conv-MAC budget: a TRP run's MACs or the
# paper's speedup) and `trp decompose` of the pretrained weights, then `trp finetune` under torchrun with
# the same schedule. A torchrun job takes `gpus` whole GPUs (resources: gpu); with a runtime resource
# (SLURM) it gets --time-limit below it, stops after a checkpointed epoch, and resumes when resubmitted.
PROFILE_FILE = os.path.relpath(workflow.overwrite_configfiles[0])
IMAGENET_TRAIN = (
    "torchrun --standalone --nproc_per_node {resources.gpu} -m trp.cli train --no-progress "
    "--profile {params.profile:q} --data {params.root:q} --workers {params.workers} {params.weights:q} "
    "--set {params.settings:q} {params.time_limit:q} --out {params.out:q} --checkpoints {params.checkpoints:q} "
    "> {log:q} 2>&1"
)
IMAGENET_DECOMPOSE = (
    "trp decompose --checkpoint {params.source:q} {params.args:q} --profile {params.profile:q} --data {params.root:q} "
    "--workers {params.workers} --out {params.out:q} --checkpoints {params.checkpoints:q} > {log:q} 2>&1"
)
IMAGENET_FINETUNE = (
    "torchrun --standalone --nproc_per_node {resources.gpu} -m trp.cli finetune --no-progress --checkpoint "
    "{input.decomposed:q} --profile {params.profile:q} --data {params.root:q} --workers {params.workers} --set "
    "{params.settings:q} {params.time_limit:q} --out {params.out:q} --checkpoints {params.checkpoints:q} > {log:q} 2>&1"
)


rule imagenet_train:
    input:
        weights=imagenet_weights,
    output:
        metrics=run_file(R, "runs", "metrics.json"),
        ranklog=run_file(R, "runs", "ranklog.jsonl"),
        model=run_file(C, "runs", "model.pt"),
        decomposed=run_file(C, "runs", "decomposed.pt"),
    wildcard_constraints:
        model=one_of(config["models"]),
        run=names(Training),
    params:
        profile=PROFILE_FILE,
        root=config["data"]["root"],
        weights=weights_args,
        settings=train_args,
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
        job_log("train"),
    benchmark:
        job_benchmark("train")
    shell:
        IMAGENET_TRAIN


rule imagenet_allocate:
    input:
        weights=imagenet_weights,
        budget=budget_metrics,
    output:
        run_file(R, "allocate", "ranks.json"),
    wildcard_constraints:
        model=one_of(config["models"]),
        run=names(Decomposition),
    params:
        source=pretrained_weights,
        args=allocation_args,
    conda:
        ENV
    log:
        job_log("allocate"),
    benchmark:
        job_benchmark("allocate")
    shell:
        "trp allocate --checkpoint {params.source:q} {params.args:q} --out {output:q} > {log:q} 2>&1"


rule imagenet_decompose:
    input:
        weights=imagenet_weights,
        ranks=run_file(R, "allocate", "ranks.json"),
    output:
        metrics=run_file(R, "tsvd", "metrics.json"),
        decomposed=run_file(C, "tsvd", "decomposed.pt"),
    wildcard_constraints:
        model=one_of(config["models"]),
        run=names(Decomposition),
    params:
        profile=PROFILE_FILE,
        root=config["data"]["root"],
        source=pretrained_weights,
        args=decompose_args,
        workers=config["workers"],
        out=out_dir("metrics"),
        checkpoints=out_dir("decomposed"),
    threads: config["workers"]
    resources:
        gpu=1,
    conda:
        ENV
    log:
        job_log("tsvd"),
    benchmark:
        job_benchmark("tsvd")
    shell:
        IMAGENET_DECOMPOSE


rule imagenet_finetune:
    input:
        decomposed=run_file(C, "tsvd", "decomposed.pt"),
    output:
        metrics=run_file(R, "finetune", "metrics.json"),
        model=run_file(C, "finetune", "finetuned.pt"),
    wildcard_constraints:
        model=one_of(config["models"]),
        run=names(Decomposition),
    params:
        profile=PROFILE_FILE,
        root=config["data"]["root"],
        settings=finetune_args,
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
        job_log("finetune"),
    benchmark:
        job_benchmark("finetune")
    shell:
        IMAGENET_FINETUNE


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
