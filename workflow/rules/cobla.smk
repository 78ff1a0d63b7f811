# COBLA (Li & Shi, ECCV-18) on the trained baseline at the MAC budgets TRP reached and at fixed
# speedups: energy rule vs COBLA's SQP vs the exact MILP surrogate, each fine-tuned with the same
# schedule as the basic methods; and budgeted TRP, which trains to a target speedup.


rule allocate:
    input:
        data=DATA,
        model=f"{C}/runs/{{model}}/baseline/s{{seed}}/model.pt",
        budget=budget_metrics,
    output:
        f"{R}/cobla/{{model}}/cobla-{{budget}}-{{scheme}}-{{method}}/s{{seed}}/ranks.json",
    wildcard_constraints:
        budget="TRP1|TRP2|x[0-9.]+",
        method="energy|sqp|milp",
    params:
        target=target_args,
        sample=COBLA["sample"],
        maxiter=COBLA["maxiter"],
    threads: config["threads"]
    conda:
        ENV
    log:
        f"{R}/logs/allocate/{{model}}/cobla-{{budget}}-{{scheme}}-{{method}}/s{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/allocate/{{model}}/cobla-{{budget}}-{{scheme}}-{{method}}/s{{seed}}.tsv"
    shell:
        "OMP_NUM_THREADS={threads} trp allocate --checkpoint {input.model} --scheme {wildcards.scheme} {params.target} "
        "--method {wildcards.method} --sample {params.sample} --maxiter {params.maxiter} --data {input.data} --out {output} > {log} 2>&1"


rule decompose_allocation:
    input:
        data=DATA,
        model=f"{C}/runs/{{model}}/baseline/s{{seed}}/model.pt",
        ranks=f"{R}/cobla/{{model}}/{{alloc}}/s{{seed}}/ranks.json",
    output:
        metrics=f"{R}/tsvd/{{model}}/{{alloc}}/s{{seed}}/metrics.json",
        decomposed=f"{C}/tsvd/{{model}}/{{alloc}}/s{{seed}}/decomposed.pt",
    wildcard_constraints:
        alloc="cobla-[A-Za-z0-9.]+-(channel|spatial)-(energy|sqp|milp)",
    params:
        scheme=lambda wc: wc.alloc.split("-")[2],
        test_subset=TEST_SUBSET,
    threads: config["threads"]
    conda:
        ENV
    log:
        f"{R}/logs/tsvd/{{model}}/{{alloc}}/s{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/tsvd/{{model}}/{{alloc}}/s{{seed}}.tsv"
    shell:
        "OMP_NUM_THREADS={threads} trp decompose --checkpoint {input.model} --scheme {params.scheme} "
        "--ranks {input.ranks} {params.test_subset} --data {input.data} "
        "--out $(dirname {output.metrics}) --checkpoints $(dirname {output.decomposed}) > {log} 2>&1"


rule train_budgeted:
    input:
        data=DATA,
        budget=budget_metrics,
    output:
        metrics=f"{R}/runs/{{model}}/trpbudget-{{scheme}}-{{budget}}/s{{seed}}/metrics.json",
        ranklog=f"{R}/runs/{{model}}/trpbudget-{{scheme}}-{{budget}}/s{{seed}}/ranklog.jsonl",
        model=f"{C}/runs/{{model}}/trpbudget-{{scheme}}-{{budget}}/s{{seed}}/model.pt",
        decomposed=f"{C}/runs/{{model}}/trpbudget-{{scheme}}-{{budget}}/s{{seed}}/decomposed.pt",
    wildcard_constraints:
        budget="TRP1|TRP2|x[0-9.]+",
    params:
        settings=budgeted_train_args,
        target=target_args,
    threads: config["threads"]
    resources:
        gpu=gpu,
    conda:
        ENV
    log:
        f"{R}/logs/train/{{model}}/trpbudget-{{scheme}}-{{budget}}/s{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/train/{{model}}/trpbudget-{{scheme}}-{{budget}}/s{{seed}}.tsv"
    shell:
        "OMP_NUM_THREADS={threads} trp train --no-progress --set {params.settings} {params.target} "
        "--data {input.data} --out $(dirname {output.metrics}) --checkpoints $(dirname {output.model}) > {log} 2>&1"


rule cobla_runtime:
    input:
        unpack(cobla_runtime_inputs),
    output:
        f"{R}/runtime/{{model}}-cobla.json",
    params:
        checkpoints=lambda wc, input: " ".join(shlex.quote(f"{k}={v}") for k, v in input.items()),
        batches=" ".join(map(str, config["runtime"]["batch_sizes"])),
        min_run_time=config["runtime"]["min_run_time"],
    threads: workflow.cores  # the whole machine: no other job runs while timing
    conda:
        ENV
    log:
        f"{R}/logs/runtime/{{model}}-cobla.log",
    benchmark:
        f"{R}/benchmarks/runtime/{{model}}-cobla.tsv"
    shell:
        "OMP_NUM_THREADS={threads} trp latency --checkpoint {params.checkpoints} --batch-sizes {params.batches} "
        "--min-run-time {params.min_run_time} --out {output} > {log} 2>&1"


rule cobla_table:
    input:
        allocations=lambda wc: list(cobla_runs().values()),
        budgeted=lambda wc: list(budgeted_runs().values()),
        runtime=expand(f"{R}/runtime/{{model}}-cobla.json", model=COBLA_MODEL),
    output:
        report(f"{T}/cobla.md", category="COBLA"),
        f"{T}/cobla.tex",
        f"{T}/cobla.csv",
        f"{T}/cobla.json",
    params:
        runs=" ".join(shlex.quote(f"{k}={v}") for k, v in {**cobla_runs(), **budgeted_runs()}.items()),
        profile=PROFILE,
        prefix=out_prefix,
    conda:
        ENV
    log:
        f"{R}/logs/render/cobla.log",
    benchmark:
        f"{R}/benchmarks/render/cobla.tsv"
    shell:
        "python -m trp.report.cobla --runs {params.runs} --runtime {input.runtime} --profile {params.profile} "
        "--out {params.prefix} > {log} 2>&1"
