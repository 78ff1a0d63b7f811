# The run table (trp.runs.RunTable): every run of the profile, by name, with what it is, built once
# from the profile; results/<profile>/runs.json lists Table 1's runs and records from it. A rule reads
# a run's settings, source and arguments from RUNS[wildcards.run], and its wildcard constraint lists
# the names of the runs it makes.
from snakemake.exceptions import WorkflowError

from trp.runs import Decomposition, Finetuning, RunTable, RunTableError, Training, budget, is_baseline

try:
    RUN_TABLE = RunTable(config)
except RunTableError as exc:
    raise WorkflowError(str(exc)) from None
RUNS, TABLE1, SEEDS = RUN_TABLE.runs, RUN_TABLE.table1, RUN_TABLE.seeds
BASELINE, LATENCY_METHODS = RUN_TABLE.baseline, RUN_TABLE.latency_methods
COBLA_MODEL, COBLA_RUNS, BUDGET_RUNS = RUN_TABLE.cobla_model, RUN_TABLE.cobla_runs, RUN_TABLE.budget_runs
RV, COBLA = config["rank_variation"], config["cobla"]


def run_priority(wildcards):
    """A job's Snakemake priority: its run's step in the profile's `order` (trp.runs)."""
    return RUN_TABLE.priorities.get((wildcards.run, int(wildcards.seed)), 0)


# ----------------------------------------------------------------------------- run kinds


def names(kind, where=lambda run: True):
    """A wildcard constraint: exactly the names of the runs of one kind (a class or a tuple of them)."""
    return one_of(name for name, run in RUNS.items() if isinstance(run, kind) and where(run))


def result_metrics(model, run, seed):
    return RUN_TABLE.record(model, run, seed)


# ----------------------------------------------------------------------------- rule inputs and params


def train_args(wildcards):
    values = {**config["train"], "model": wildcards.model, "seed": int(wildcards.seed), **RUNS[wildcards.run].settings,
              **DEVICE}
    return set_args(values)


def finetune_args(wildcards):
    return set_args({**config["train"], **config["finetune"], "seed": int(wildcards.seed), **DEVICE})


def source_model(wildcards):
    return run_file(C, "runs", "model.pt", wildcards.model, RUNS[wildcards.run].source, wildcards.seed)


def finetune_source(wildcards):
    """The decomposed network a fine-tuning starts from: a decomposition's, or a training's own."""
    run = RUNS[wildcards.run]
    if isinstance(run, Finetuning):
        return run_file(C, "runs", "decomposed.pt", wildcards.model, run.source, wildcards.seed)
    return run_file(C, "tsvd", "decomposed.pt", wildcards.model, wildcards.run, wildcards.seed)


def decompose_args(wildcards, input):
    subset = config["train"]["test_subset"]
    return ["--scheme", RUNS[wildcards.run].scheme, "--ranks", input.ranks, *(["--test-subset", str(subset)] if subset else []),
            *(f"--{key}={value}" for key, value in DEVICE.items())]


def budget_metrics(wildcards):
    """The metrics.json of the run (same model and seed) whose conv MACs set this run's budget, if one does."""
    b = budget(RUNS[wildcards.run])
    return result_metrics(wildcards.model, b, wildcards.seed) if isinstance(b, str) else []


def budget_args(wildcards, input):
    return budget_flags(budget(RUNS[wildcards.run]), input)


def allocate_args(wildcards, input):
    run = RUNS[wildcards.run]
    return ["--scheme", run.scheme, "--method", run.allocation.method, *budget_args(wildcards, input),
            "--sample", str(COBLA["sample"]), "--maxiter", str(COBLA["maxiter"])]


# ----------------------------------------------------------------------------- what each output reads


def cobla_runs():
    runs = COBLA_RUNS | BUDGET_RUNS
    return [(f"{COBLA_MODEL}/{b}/{m}", result_metrics(COBLA_MODEL, run, SEEDS[0])) for (b, m), run in runs.items()]


def cobla_allocations():
    return [(f"{COBLA_MODEL}/{b}/{m}", run_file(R, "allocate", "ranks.json", COBLA_MODEL, run, SEEDS[0]))
            for (b, m), run in COBLA_RUNS.items() if isinstance(RUNS[run], Decomposition)]


def network(model, run, seed):
    """The network a run ends with: the fine-tuned one of a decomposition or fine-tuning, else the trained (decomposed) one."""
    if not isinstance(RUNS[run], Training):
        return run_file(C, "finetune", "finetuned.pt", model, run, seed)
    return run_file(C, "runs", "model.pt" if is_baseline(RUNS[run]) else "decomposed.pt", model, run, seed)


# Timed networks: output name -> label -> checkpoint (Table 4 per model; the COBLA table's networks).
LATENCY = {model: {key: network(model, TABLE1[model][key], SEEDS[0]) for key in ["baseline", *LATENCY_METHODS]}
           for model in config["models"]}
LATENCY[f"{COBLA_MODEL}-cobla"] = {"baseline": network(COBLA_MODEL, BASELINE, SEEDS[0])} | {
    f"{b}/{m}": network(COBLA_MODEL, run, SEEDS[0]) for (b, m), run in COBLA_RUNS.items()}


def all_outputs():
    outs = [f"{T}/{name}.md" for name in ("table1", "table4", "theorem2", "claims", "cobla")]
    outs += [f"{T}/{name}.png" for name in ("fig2", "fig3")]
    return outs + [f"{R}/runs.json", f"{R}/table1_metrics.json"]
