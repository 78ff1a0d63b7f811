TRAIN_SHELL = (
    "OMP_NUM_THREADS={threads} trp train --no-progress --set {params.settings} --data {input.data} "
    "--out $(dirname {output.metrics}) --checkpoints $(dirname {output.model}) > {log} 2>&1"
)


rule train_baseline:
    input:
        data=DATA,
    output:
        metrics=f"{R}/runs/{{model}}/{{run}}/s{{seed}}/metrics.json",
        ranklog=f"{R}/runs/{{model}}/{{run}}/s{{seed}}/ranklog.jsonl",
        model=f"{C}/runs/{{model}}/{{run}}/s{{seed}}/model.pt",
    wildcard_constraints:
        run="baseline",
    params:
        settings=train_args,
    threads: config["threads"]
    resources:
        gpu=gpu,
    conda:
        ENV
    log:
        f"{R}/logs/train/{{model}}/{{run}}/s{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/train/{{model}}/{{run}}/s{{seed}}.tsv"
    shell:
        TRAIN_SHELL


rule train_lowrank:
    input:
        data=DATA,
    output:
        metrics=f"{R}/runs/{{model}}/{{run}}/s{{seed}}/metrics.json",
        ranklog=f"{R}/runs/{{model}}/{{run}}/s{{seed}}/ranklog.jsonl",
        model=f"{C}/runs/{{model}}/{{run}}/s{{seed}}/model.pt",
        decomposed=f"{C}/runs/{{model}}/{{run}}/s{{seed}}/decomposed.pt",
    wildcard_constraints:
        run="(trp|nuclear)-[a-z0-9.e-]+|rankvar",
    params:
        settings=train_args,
    threads: config["threads"]
    resources:
        gpu=gpu,
    conda:
        ENV
    log:
        f"{R}/logs/train/{{model}}/{{run}}/s{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/train/{{model}}/{{run}}/s{{seed}}.tsv"
    shell:
        TRAIN_SHELL
