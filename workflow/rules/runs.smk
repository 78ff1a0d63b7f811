# The run table: every run of the profile, by name, with what it is, built once from the profile.
# Names are human-readable (built by the formatters below) but never parsed: a rule reads a run's
# settings, source and arguments from RUNS[wildcards.run], and its wildcard constraint lists the
# names of the runs it makes. Then come the runs each table and figure reads.
from dataclasses import dataclass

from snakemake.exceptions import WorkflowError


@dataclass(frozen=True)
class Training:
    """A training from scratch (trp train): TrainConfig overrides on top of the profile's train: block."""

    settings: dict
    budget: str | float | None = None  # budgeted TRP: a Table-1 method key (the conv MACs its run reached) or a speedup


@dataclass(frozen=True)
class Allocation:
    """Per-layer ranks of the source network under a conv-MAC budget (trp allocate)."""

    method: str  # energy | sqp | milp
    budget: str | float  # a Table-1 method key (the conv MACs its run reached) or a speedup


@dataclass(frozen=True)
class Decomposition:
    """TSVD of a training's model.pt (trp decompose), at the energy rule or at allocated ranks, then
    fine-tuning (trp finetune) under the same name."""

    source: str  # the name of a Training
    scheme: str
    e: float | None = None
    allocation: Allocation | None = None


RUNS = {}
TRP, BASIC, RV, COBLA = config["trp"], config["basic"], config["rank_variation"], config["cobla"]
SEEDS = config["seeds"]


def num(x):
    """A number in a run name: as short as %g when that is exact, else every digit (names stay unique)."""
    short = f"{float(x):g}"
    return short if float(short) == float(x) else repr(float(x))


def budget_label(budget):
    """TRP1 (the conv MACs that run reached) or xN (N times fewer conv MACs than the dense network)."""
    return budget if isinstance(budget, str) else f"x{num(budget)}"


def add(name, run):
    if RUNS.setdefault(name, run) != run:
        raise WorkflowError(f"run name {name!r} would stand for both {RUNS[name]} and {run}")
    return name


def trp_settings(scheme, e, m, lam):
    return {"method": "trp", "scheme": scheme, "e": e, "m": m, "lam": lam}


def trp_run(scheme, e, nuclear):
    lam = TRP["lam"] if nuclear else 0.0
    return add(f"trp-{scheme}-e{num(e)}-lam{num(lam)}", Training(trp_settings(scheme, e, TRP["m"], lam)))


def nuclear_run(scheme):
    return add(f"nuclear-{scheme}-lam{num(TRP['lam'])}", Training({"method": "nuclear", "scheme": scheme, "lam": TRP["lam"]}))


def basic_run(scheme, e, nuclear):
    """Basic (TSVD of the baseline) or Basic+Nu (TSVD of a network trained with the nuclear norm only)."""
    if nuclear:
        name = f"basicnu-{scheme}-e{num(e)}-lam{num(TRP['lam'])}"
        return add(name, Decomposition(nuclear_run(scheme), scheme, e=e))
    return add(f"basic-{scheme}-e{num(e)}", Decomposition(BASELINE, scheme, e=e))


def cobla_run(budget, method):
    name = f"cobla-{budget_label(budget)}-{COBLA['scheme']}-{method}"
    return add(name, Decomposition(BASELINE, COBLA["scheme"], allocation=Allocation(method, budget)))


def budgeted_run(budget):
    settings = trp_settings(COBLA["scheme"], TRP["e"], TRP["m"], 0.0)
    return add(f"trpbudget-{COBLA['scheme']}-{budget_label(budget)}", Training(settings, budget=budget))


BASELINE = add("baseline", Training({"method": "baseline"}))

# Table 1: method key (trp.report.paper) -> run, for every model and seed.
TABLE1 = {
    "baseline": BASELINE,
    "TRP1": trp_run("channel", TRP["e"], False),
    "TRP1+Nu": trp_run("channel", TRP["e"], True),
    "Zhang2016": basic_run("channel", BASIC["e"], False),
    "TRP2": trp_run("spatial", TRP["e"], False),
    "TRP2+Nu": trp_run("spatial", TRP["e"], True),
    "Jaderberg2014": basic_run("spatial", BASIC["e"], False),
}
LATENCY_METHODS = ["TRP1", "TRP1+Nu", "TRP2", "TRP2+Nu"]  # Table 4: decomposed networks timed beside the baseline

# Fig. 3: (scheme, method, run) over the ablation's e, on ablation.model, first seed.
ABLATION = [(scheme, method, run)
            for scheme in ("channel", "spatial") for e in config["ablation"]["e"]
            for method, run in (("Basic", basic_run(scheme, e, False)), ("Basic+Nu", basic_run(scheme, e, True)),
                                ("TRP", trp_run(scheme, e, False)), ("TRP+Nu", trp_run(scheme, e, True)))]

# Fig. 2: one layer's ranks over successive projections, first seed.
RANKVAR = add("rankvar", Training({**trp_settings(RV["scheme"], RV["e"], RV["m"], 0.0), "max_steps": RV["projections"] * RV["m"]}))

# COBLA table, on the first model and seed: (budget, method key) -> run. The allocations and the
# budgeted TRP runs, then the plain TRP runs whose conv MACs set a budget of budgeted TRP.
COBLA_MODEL = config["models"][0]
COBLA_RUNS = {(budget_label(b), m): cobla_run(b, m) for b in COBLA["budgets"] for m in COBLA["methods"]}
COBLA_RUNS |= {(budget_label(b), "budgeted_trp"): budgeted_run(b) for b in COBLA["budgeted_trp"]}
BUDGET_RUNS = {(b, b): TABLE1[b] for b in COBLA["budgeted_trp"] if isinstance(b, str)}


# ----------------------------------------------------------------------------- run kinds


def names(kind, where=lambda run: True):
    """A wildcard constraint: exactly the names of the runs of one kind."""
    return one_of(name for name, run in RUNS.items() if isinstance(run, kind) and where(run))


def is_baseline(run):
    return run.settings["method"] == "baseline"


def is_allocated(run):
    return run.allocation is not None


def result_metrics(model, run, seed):
    """The metrics.json a table reads: a training's own, a decomposition's after fine-tuning."""
    stage = "runs" if isinstance(RUNS[run], Training) else "finetune"
    return run_file(R, stage, "metrics.json", model, run, seed)


# ----------------------------------------------------------------------------- rule inputs and params


def train_args(wildcards):
    values = {**config["train"], "model": wildcards.model, "seed": int(wildcards.seed), **RUNS[wildcards.run].settings}
    return set_args(values)


def finetune_args(wildcards):
    return set_args({**config["train"], **config["finetune"], "seed": int(wildcards.seed)})


def source_model(wildcards):
    return run_file(C, "runs", "model.pt", wildcards.model, RUNS[wildcards.run].source, wildcards.seed)


def allocated_ranks(wildcards):
    if not is_allocated(RUNS[wildcards.run]):
        return []
    return run_file(R, "cobla", "ranks.json", wildcards.model, wildcards.run, wildcards.seed)


def decompose_args(wildcards, input):
    run = RUNS[wildcards.run]
    ranks = ["--ranks", input.ranks] if is_allocated(run) else ["--e", str(run.e)]
    subset = config["train"]["test_subset"]
    return ["--scheme", run.scheme, *ranks, *(["--test-subset", str(subset)] if subset else [])]


def budget(run):
    return run.allocation.budget if isinstance(run, Decomposition) else run.budget


def budget_metrics(wildcards):
    """The metrics.json of the Table-1 run whose conv MACs set this run's budget, if one does."""
    b = budget(RUNS[wildcards.run])
    return result_metrics(wildcards.model, TABLE1[b], wildcards.seed) if isinstance(b, str) else []


def budget_args(wildcards, input):
    b = budget(RUNS[wildcards.run])
    if b is None:
        return []
    return ["--budget-from", input.budget] if isinstance(b, str) else ["--target-speedup", str(b)]


def allocate_args(wildcards, input):
    a = RUNS[wildcards.run].allocation
    return ["--scheme", RUNS[wildcards.run].scheme, "--method", a.method, *budget_args(wildcards, input),
            "--sample", str(COBLA["sample"]), "--maxiter", str(COBLA["maxiter"])]


# ----------------------------------------------------------------------------- what each output reads


def table1_runs():
    """(model/method key, metrics.json) of every Table-1 run and seed."""
    return [(f"{m}/{key}", result_metrics(m, run, s)) for m in config["models"] for key, run in TABLE1.items() for s in SEEDS]


def ablation_points():
    m = config["ablation"]["model"]
    return [(f"{scheme}/{method}", result_metrics(m, run, SEEDS[0])) for scheme, method, run in ABLATION]


def rankvar_log():
    return run_file(R, "runs", "ranklog.jsonl", RV["model"], RANKVAR, SEEDS[0])


def theorem2_logs():
    """(model/run/seed, ranklog.jsonl) of every training that projects with the energy rule, each once."""
    requested = {(m, run, s) for m in config["models"] for run in TABLE1.values() for s in SEEDS}
    requested |= {(config["ablation"]["model"], run, SEEDS[0]) for _, _, run in ABLATION}
    requested.add((RV["model"], RANKVAR, SEEDS[0]))
    return [(f"{m}/{run}/s{s}", run_file(R, "runs", "ranklog.jsonl", m, run, s)) for m, run, s in sorted(requested)
            if isinstance(RUNS[run], Training) and RUNS[run].settings["method"] == "trp" and RUNS[run].budget is None]


def cobla_runs():
    runs = COBLA_RUNS | BUDGET_RUNS
    return [(f"{COBLA_MODEL}/{b}/{m}", result_metrics(COBLA_MODEL, run, SEEDS[0])) for (b, m), run in runs.items()]


def cobla_allocations():
    return [(f"{COBLA_MODEL}/{b}/{m}", run_file(R, "cobla", "ranks.json", COBLA_MODEL, run, SEEDS[0]))
            for (b, m), run in COBLA_RUNS.items() if isinstance(RUNS[run], Decomposition)]


def network(model, run, seed):
    """The network a run ends with: the fine-tuned one of a decomposition, else the trained (decomposed) one."""
    if isinstance(RUNS[run], Decomposition):
        return run_file(C, "finetune", "finetuned.pt", model, run, seed)
    return run_file(C, "runs", "model.pt" if is_baseline(RUNS[run]) else "decomposed.pt", model, run, seed)


# Timed networks: output name -> label -> checkpoint (Table 4 per model; the COBLA table's networks).
LATENCY = {model: {key: network(model, TABLE1[key], SEEDS[0]) for key in ["baseline", *LATENCY_METHODS]}
           for model in config["models"]}
LATENCY[f"{COBLA_MODEL}-cobla"] = {"baseline": network(COBLA_MODEL, BASELINE, SEEDS[0])} | {
    f"{b}/{m}": network(COBLA_MODEL, run, SEEDS[0]) for (b, m), run in COBLA_RUNS.items()}


def all_outputs():
    outs = [f"{T}/{name}.md" for name in ("table1", "table4", "theorem2", "claims", "cobla")]
    outs += [f"{T}/{name}.png" for name in ("fig2", "fig3")]
    return outs
