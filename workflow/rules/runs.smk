# The run table (trp.runs.RunTable): every run of the profile, CIFAR-10 or ImageNet, by name, with
# what it is, built once from the profile; results/<profile>/runs.json lists each model's table, its
# runs and records. A rule reads a run's settings, source and arguments from RUNS[wildcards.run], and
# its wildcard constraint lists the names of the runs it makes.
from snakemake.exceptions import WorkflowError

from trp.runs import Decomposition, Finetuning, RunTable, RunTableError, Training, budget, is_baseline

try:
    RUN_TABLE = RunTable(config)
except RunTableError as exc:
    raise WorkflowError(str(exc)) from None
RUNS, SEEDS, BASELINE = RUN_TABLE.runs, RUN_TABLE.seeds, RUN_TABLE.baseline


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


def source_model(wildcards):
    return run_file(C, "runs", "model.pt", wildcards.model, RUNS[wildcards.run].source, wildcards.seed)


def budget_metrics(wildcards):
    """The metrics.json of the run (same model and seed) whose conv MACs set this run's budget, if one does."""
    b = budget(RUNS[wildcards.run])
    return result_metrics(wildcards.model, b, wildcards.seed) if isinstance(b, str) else []


def budget_args(wildcards, input):
    return budget_flags(budget(RUNS[wildcards.run]), input)


rule run_table:
    """Each model's table (Table 1; on ImageNet Table 2 or 3): model -> method key -> run name and its
    metrics.json per seed (trp.runs)."""
    output:
        f"{R}/runs.json",
    params:
        table=RUN_TABLE.table_records(),
    log:
        f"{R}/logs/render/run_table.log",
    localrule: True
    run:
        with open(output[0], "w") as f:
            json.dump(params.table, f, indent=1)
            f.write("\n")
