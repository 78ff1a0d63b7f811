# The data-independent baselines (Zhang et al. 2016: channel; Jaderberg et al. 2014: spatial):
# TSVD of a trained network at the energy rule, then fine-tuning of the decomposed network.
# basic-*: TSVD of the plain baseline; basicnu-*: of a network trained with the nuclear norm.


def tsvd_source(wildcards):
    b = wildcards.basic.split("-")
    run = "baseline" if b[0] == "basic" else f"nuclear-{b[1]}-{b[3]}"
    return f"{C}/runs/{wildcards.model}/{run}/s{wildcards.seed}/model.pt"


def tsvd_args(wildcards):
    b = wildcards.basic.split("-")
    return f"--scheme {b[1]} --e {b[2][1:]}"


rule tsvd:
    input:
        data=DATA,
        model=tsvd_source,
    output:
        metrics=f"{R}/tsvd/{{model}}/{{basic}}/s{{seed}}/metrics.json",
        decomposed=f"{C}/tsvd/{{model}}/{{basic}}/s{{seed}}/decomposed.pt",
    wildcard_constraints:
        basic="basic(nu)?-(channel|spatial)-e[0-9.]+(-lam[0-9.e-]+)?",
    params:
        args=tsvd_args,
        test_subset=f"--test-subset {config['train']['test_subset']}" if config["train"]["test_subset"] else "",
    threads: workflow.cores
    log:
        f"{R}/logs/tsvd/{{model}}/{{basic}}/s{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/tsvd/{{model}}/{{basic}}/s{{seed}}.tsv"
    shell:
        "trp decompose --checkpoint {input.model} {params.args} {params.test_subset} --data {input.data} "
        "--out $(dirname {output.metrics}) --checkpoints $(dirname {output.decomposed}) > {log} 2>&1"


def finetune_args(wildcards):
    return set_args({**config["train"], **config["finetune"], "seed": int(wildcards.seed)})


rule finetune:
    input:
        data=DATA,
        decomposed=f"{C}/tsvd/{{model}}/{{basic}}/s{{seed}}/decomposed.pt",
    output:
        metrics=f"{R}/finetune/{{model}}/{{basic}}/s{{seed}}/metrics.json",
        model=f"{C}/finetune/{{model}}/{{basic}}/s{{seed}}/finetuned.pt",
    params:
        settings=finetune_args,
    threads: workflow.cores
    resources:
        gpu=gpu,
    log:
        f"{R}/logs/finetune/{{model}}/{{basic}}/s{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/finetune/{{model}}/{{basic}}/s{{seed}}.tsv"
    shell:
        "trp finetune --no-progress --checkpoint {input.decomposed} --set {params.settings} --data {input.data} "
        "--out $(dirname {output.metrics}) --checkpoints $(dirname {output.model}) > {log} 2>&1"
