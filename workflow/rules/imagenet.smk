# ImageNet, Tables 2 (ResNet-18) and 3 (ResNet-50): each run fine-tunes torchvision's pretrained
# network with TRP under torchrun (trp imagenet, the paper's settings), decomposes it and evaluates
# the pretrained, dense, projected and decomposed networks; the pretrained evaluation is the tables'
# Baseline row. A job takes `gpus` whole GPUs (resources: gpu); it has no --time-limit, and a job
# stopped by its scheduler resumes from last.pt (written after every epoch) when resubmitted.


rule imagenet:
    input:
        weights=imagenet_weights,
    output:
        metrics=run_file(R, "imagenet", "metrics.json"),
        ranklog=run_file(R, "imagenet", "ranklog.jsonl"),
        model=run_file(C, "imagenet", "model.pt"),
        decomposed=run_file(C, "imagenet", "decomposed.pt"),
    wildcard_constraints:
        model=one_of(MODELS),
        run=one_of(RUNS),
    params:
        root=config["data"]["root"],
        weights=weights_args,
        settings=imagenet_settings,
        nu=nu_args,
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
        "torchrun --standalone --nproc_per_node {resources.gpu} -m trp.cli imagenet --no-progress --data {params.root:q} "
        "{params.weights:q} --set {params.settings:q} {params.nu:q} --workers {params.workers} --out {params.out:q} "
        "--checkpoints {params.checkpoints:q} > {log:q} 2>&1"


rule imagenet_table:
    input:
        table_runs,
    output:
        table_outputs("{table}", "ImageNet"),
    wildcard_constraints:
        table=one_of(MODEL_OF),
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
