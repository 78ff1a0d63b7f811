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


def budget_metrics(wildcards):
    """The metrics.json of the run (same model and seed) whose conv MACs set this run's budget, if one does."""
    b = budget(RUNS[wildcards.run])
    return result_metrics(wildcards.model, b, wildcards.seed) if isinstance(b, str) else []


def budget_args(wildcards, input):
    return budget_flags(budget(RUNS[wildcards.run]), input)


# ----------------------------------------------------------------------------- CIFAR-10's stages


def source_model(wildcards):
    return run_file(C, "runs", "model.pt", wildcards.model, RUNS[wildcards.run].source, wildcards.seed)


def finetune_args(wildcards):
    """A fine-tuning's settings: the train: block, then the finetune: block (ImageNet has none: the same schedule)."""
    return set_args({**config["train"], **config.get("finetune", {}), "seed": int(wildcards.seed), **DEVICE})


def finetune_source(wildcards):
    """The decomposed network a fine-tuning starts from: a decomposition's, or a training's own."""
    run = RUNS[wildcards.run]
    if isinstance(run, Finetuning):
        return run_file(C, "runs", "decomposed.pt", wildcards.model, run.source, wildcards.seed)
    return run_file(C, "tsvd", "decomposed.pt", wildcards.model, wildcards.run, wildcards.seed)


def decompose_args(wildcards, input):
    subset = config["train"].get("test_subset")
    return ["--scheme", RUNS[wildcards.run].scheme, "--ranks", input.ranks, *(["--test-subset", str(subset)] if subset else []),
            *(f"--{key}={value}" for key, value in DEVICE.items())]


def allocation_args(wildcards, input):
    run = RUNS[wildcards.run]
    return ["--scheme", run.scheme, "--method", run.allocation.method, *budget_args(wildcards, input)]


def allocate_args(wildcards, input):
    return [*allocation_args(wildcards, input), "--sample", str(config["cobla"]["sample"]), "--maxiter",
            str(config["cobla"]["maxiter"])]


def network(model, run, seed):
    """The network a run ends with: the fine-tuned one of a decomposition or fine-tuning, else the trained (decomposed) one."""
    if not isinstance(RUNS[run], Training):
        return run_file(C, "finetune", "finetuned.pt", model, run, seed)
    return run_file(C, "runs", "model.pt" if is_baseline(RUNS[run]) else "decomposed.pt", model, run, seed)


def latency_networks():
    """Timed networks: output name -> label -> checkpoint (Table 4 per model; the COBLA table's networks)."""
    model, seed = RUN_TABLE.cobla_model, SEEDS[0]
    timed = {m: {key: network(m, RUN_TABLE.tables[m][key], seed) for key in ["baseline", *RUN_TABLE.latency_methods]}
             for m in config["models"]}
    timed[f"{model}-cobla"] = {"baseline": network(model, BASELINE, seed)} | {
        f"{b}/{m}": network(model, run, seed) for (b, m), run in RUN_TABLE.cobla_runs.items()}
    return timed


# ----------------------------------------------------------------------------- ImageNet's

TABLE_OF = {"resnet18": "table2", "resnet50": "table3"}  # the paper's ImageNet table of each model


def imagenet_tables():
    """The paper's table of each model of an ImageNet profile: table -> model."""
    return {TABLE_OF[model]: model for model in config["models"]}


def imagenet_weights(wildcards):
    """The pretrained weights file of the model, if the profile names one (else trp finds torchvision's cache)."""
    return config["models"][wildcards.model]["weights"] or []


def weights_args(wildcards, input):
    return ["--weights", input.weights] if input.weights else []


def pretrained_weights(wildcards):
    """The pretrained network the basic methods decompose: the profile's weights file, else torchvision's cache
    file (trp.data.pretrained; torch is imported only where an ImageNet job is planned)."""
    from trp.data.pretrained import default_weights

    return config["models"][wildcards.model]["weights"] or str(default_weights(wildcards.model))


def table_runs(wildcards):
    """The run table and the records it lists for the model's table."""
    rows = RUN_TABLE.table_records()[imagenet_tables()[wildcards.table]].values()
    return [f"{R}/runs.json", *(path for row in rows for path in row["records"].values())]


def table_args(wildcards):
    return render_args("imagenet", "--model", imagenet_tables()[wildcards.table], "--run-table", f"{R}/runs.json")


# ----------------------------------------------------------------------------- the outputs of a whole run


def all_outputs():
    """What a whole run makes: Tables 2 and 3 (ImageNet), or every table and figure of a CIFAR-10 profile."""
    if RUN_TABLE.imagenet:
        return [f"{T}/{table}.md" for table in imagenet_tables()] + [f"{R}/runs.json"]
    outs = [f"{T}/{name}.md" for name in ("table1", "table4", "theorem2", "claims", "cobla")]
    outs += [f"{T}/{name}.png" for name in ("fig2", "fig3")]
    return outs + [f"{R}/runs.json", f"{R}/table1_metrics.json"]
