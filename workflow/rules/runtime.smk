# Table 4 for CIFAR: measured inference time of the baseline and the decomposed TRP networks.


rule runtime:
    input:
        unpack(runtime_inputs),
    output:
        f"{R}/runtime/{{model}}.json",
    params:
        checkpoints=lambda wc, input: " ".join(shlex.quote(f"{k}={v}") for k, v in input.items()),
        batches=" ".join(map(str, config["runtime"]["batch_sizes"])),
        min_run_time=config["runtime"]["min_run_time"],
    threads: workflow.cores  # the whole machine: no other job runs while timing
    conda:
        ENV
    log:
        f"{R}/logs/runtime/{{model}}.log",
    benchmark:
        f"{R}/benchmarks/runtime/{{model}}.tsv"
    shell:
        "OMP_NUM_THREADS={threads} trp latency --checkpoint {params.checkpoints} --batch-sizes {params.batches} "
        "--min-run-time {params.min_run_time} --out {output} > {log} 2>&1"
