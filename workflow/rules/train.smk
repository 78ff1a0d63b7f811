import json
import shlex


def train_settings(run):
    """TrainConfig overrides for a run name (see common.smk)."""
    parts = run.split("-")
    if run == "baseline":
        return {"method": "baseline"}
    if run == "rankvar":
        rv = config["rank_variation"]
        return {"method": "trp", "model": rv["model"], "scheme": rv["scheme"], "e": rv["e"], "m": rv["m"],
                "lam": 0.0, "layers": None, "max_steps": rv["projections"] * rv["m"]}
    if parts[0] == "trp":
        return {"method": "trp", "scheme": parts[1], "e": float(parts[2][1:]), "lam": float(parts[3][3:]), "m": TRP["m"]}
    if parts[0] == "nuclear":
        return {"method": "nuclear", "scheme": parts[1], "lam": float(parts[2][3:])}
    raise ValueError(f"unknown run name {run!r}")


def set_args(values):
    return " ".join(shlex.quote(f"{k}={json.dumps(v, separators=(',', ':'))}") for k, v in values.items())


def train_args(wildcards):
    values = {**config["train"], "model": wildcards.model, "seed": int(wildcards.seed), **train_settings(wildcards.run)}
    return set_args(values)


TRAIN_SHELL = (
    "trp train --no-progress --set {params.settings} --data {input.data} "
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
    threads: workflow.cores
    resources:
        gpu=gpu,
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
    threads: workflow.cores
    resources:
        gpu=gpu,
    log:
        f"{R}/logs/train/{{model}}/{{run}}/s{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/train/{{model}}/{{run}}/s{{seed}}.tsv"
    shell:
        TRAIN_SHELL
