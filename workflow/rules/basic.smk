# The data-independent baselines (Zhang et al. 2016: channel; Jaderberg et al. 2014: spatial):
# TSVD of a trained network at the energy rule, then fine-tuning of the decomposed network.
# basic-*: TSVD of the plain baseline; basicnu-*: of a network trained with the nuclear norm.






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
        test_subset=TEST_SUBSET,
    threads: config["threads"]
    conda:
        ENV
    log:
        f"{R}/logs/tsvd/{{model}}/{{basic}}/s{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/tsvd/{{model}}/{{basic}}/s{{seed}}.tsv"
    shell:
        "OMP_NUM_THREADS={threads} trp decompose --checkpoint {input.model} {params.args} {params.test_subset} --data {input.data} "
        "--out $(dirname {output.metrics}) --checkpoints $(dirname {output.decomposed}) > {log} 2>&1"




rule finetune:
    input:
        data=DATA,
        decomposed=f"{C}/tsvd/{{model}}/{{basic}}/s{{seed}}/decomposed.pt",
    output:
        metrics=f"{R}/finetune/{{model}}/{{basic}}/s{{seed}}/metrics.json",
        model=f"{C}/finetune/{{model}}/{{basic}}/s{{seed}}/finetuned.pt",
    params:
        settings=finetune_args,
    threads: config["threads"]
    resources:
        gpu=gpu,
    conda:
        ENV
    log:
        f"{R}/logs/finetune/{{model}}/{{basic}}/s{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/finetune/{{model}}/{{basic}}/s{{seed}}.tsv"
    shell:
        "OMP_NUM_THREADS={threads} trp finetune --no-progress --checkpoint {input.decomposed} --set {params.settings} --data {input.data} "
        "--out $(dirname {output.metrics}) --checkpoints $(dirname {output.model}) > {log} 2>&1"
