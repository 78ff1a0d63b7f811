# Table 4 for CIFAR: measured inference time of the baseline and the decomposed TRP networks.
RUNTIME_LABELS = ["TRP1", "TRP1+Nu", "TRP2", "TRP2+Nu"]


def runtime_inputs(wildcards):
    s = SEEDS[0]
    ins = {"baseline": f"{C}/runs/{wildcards.model}/baseline/s{s}/model.pt"}
    for label in RUNTIME_LABELS:
        ins[label] = f"{C}/runs/{wildcards.model}/{TABLE1[label][1]}/s{s}/decomposed.pt"
    return ins


rule runtime:
    input:
        unpack(runtime_inputs),
    output:
        f"{R}/runtime/{{model}}.json",
    params:
        checkpoints=lambda wc, input: " ".join(shlex.quote(f"{k}={v}") for k, v in input.items()),
        batches=" ".join(map(str, config["runtime"]["batch_sizes"])),
        min_run_time=config["runtime"]["min_run_time"],
    threads: workflow.cores
    log:
        f"{R}/logs/runtime/{{model}}.log",
    benchmark:
        f"{R}/benchmarks/runtime/{{model}}.tsv"
    shell:
        "trp latency --checkpoint {params.checkpoints} --batch-sizes {params.batches} "
        "--min-run-time {params.min_run_time} --out {output} > {log} 2>&1"
