# The run table: every run of the profile, by name, with what it is, built once from the profile.
# Names are human-readable (built by the formatters below) but never parsed: a rule reads a run's
# settings, source and arguments from RUNS[wildcards.run], and its wildcard constraint lists the
# names of the runs it makes. REQUESTS records at which (model, seed) each block of outputs asks
# for a run; then come the runs each table and figure reads.
from dataclasses import dataclass

from snakemake.exceptions import WorkflowError

from trp.report import paper


@dataclass(frozen=True)
class Training:
    """A training from scratch (trp train): TrainConfig overrides on top of the profile's train: block."""

    settings: dict
    budget: str | float | None = None  # budgeted TRP: a run's name (the conv MACs it reached) or a speedup


@dataclass(frozen=True)
class Allocation:
    """Per-layer ranks of the source network under a conv-MAC budget (trp allocate)."""

    method: str  # energy (the energy rule tuned to the budget) | sqp | milp
    budget: str | float  # a run's name (the conv MACs it reached, same model and seed) or a speedup


@dataclass(frozen=True)
class Decomposition:
    """TSVD of a training's model.pt at allocated ranks (trp allocate, trp decompose --ranks), then
    fine-tuning (trp finetune) under the same name."""

    source: str  # the name of a Training
    scheme: str
    allocation: Allocation


@dataclass(frozen=True)
class Finetuning:
    """Fine-tuning (trp finetune) of a training's own decomposed.pt, with the schedule of the basic methods."""

    source: str  # the name of a Training


RUNS = {}
REQUESTS = {}  # (model, run name) -> the seeds some output reads it at
TRP, AB, RV, COBLA = config["trp"], config["ablation"], config["rank_variation"], config["cobla"]
SEEDS = config["seeds"]
SCHEMES = [form["scheme"] for form in paper.FORMS.values()]


def add(name, run):
    if RUNS.setdefault(name, run) != run:
        raise WorkflowError(f"run name {name!r} would stand for both {RUNS[name]} and {run}")
    return name


def request(model, run, seeds):
    REQUESTS.setdefault((model, run), set()).update(seeds)
    return run


def seeds_of(model, run):
    return sorted(REQUESTS[(model, run)])


def trp_settings(scheme, e, m, lam):
    return {"method": "trp", "scheme": scheme, "e": e, "m": m, "lam": lam}


def trp_run(scheme, e, nuclear):
    lam = TRP["lam"] if nuclear else 0.0
    return add(f"trp-{scheme}-e{num(e)}-lam{num(lam)}", Training(trp_settings(scheme, e, TRP["m"], lam)))


def nuclear_run(scheme):
    return add(f"nuclear-{scheme}-lam{num(TRP['lam'])}", Training({"method": "nuclear", "scheme": scheme, "lam": TRP["lam"]}))


BASELINE = add("baseline", Training({"method": "baseline"}))
# Table 1's TRP rows: method key -> run (the same runs for every model).
TRP_RUNS = {key: trp_run(form["scheme"], TRP["e"], nuclear)
            for name, form in paper.FORMS.items() for key, nuclear in zip(paper.trp_keys(name), (False, True))}
KEY_OF = {run: key for key, run in TRP_RUNS.items()}


def budget_label(budget):
    """A budget in a run name: the Table-1 key or name of the run whose conv MACs it is, or xN (N times
    fewer conv MACs than the dense network)."""
    return KEY_OF.get(budget, budget) if isinstance(budget, str) else f"x{num(budget)}"


def basic_run(scheme, budget, method="energy"):
    """TSVD of the baseline at the ranks `method` chose for `budget`: the energy rule tuned to it (the
    basic methods, Zhang et al. 2016 channel, Jaderberg et al. 2014 spatial) or COBLA's sqp / milp."""
    return add(f"basic-{scheme}-{method}-{budget_label(budget)}", Decomposition(BASELINE, scheme, Allocation(method, budget)))


def basicnu_run(scheme, budget):
    """Basic+Nu: the energy rule's TSVD of the network trained with the nuclear norm only, at `budget`."""
    name = f"basicnu-{scheme}-lam{num(TRP['lam'])}-{budget_label(budget)}"
    return add(name, Decomposition(nuclear_run(scheme), scheme, Allocation("energy", budget)))


def finetuned_run(source):
    return add(f"{source}-ft", Finetuning(source))


def table1_methods(model):
    """Table 1 of one model, method key -> run: the paper's rows (the basic methods at the paper's
    speedup), then each basic method at the conv MACs each TRP run of its form reached, and each
    TRP run followed by the basic methods' fine-tuning."""
    rows = {"baseline": BASELINE}
    for name, form in paper.FORMS.items():
        rows |= {key: TRP_RUNS[key] for key in paper.trp_keys(name)}
        rows[form["basic"]] = basic_run(form["scheme"], paper.table1(model, form["basic"])["speedup"])
    for name, form in paper.FORMS.items():
        for key in paper.trp_keys(name):
            rows[paper.matched_key(form["basic"], key)] = basic_run(form["scheme"], TRP_RUNS[key])
            rows[paper.finetuned_key(key)] = finetuned_run(TRP_RUNS[key])
    return rows


TABLE1 = {model: {key: request(model, run, SEEDS) for key, run in table1_methods(model).items()}
          for model in config["models"]}
LATENCY_METHODS = list(TRP_RUNS)  # Table 4: decomposed TRP networks timed beside the baseline


def ablation():
    """Fig. 3 on ablation.model, (scheme, method, run): TRP and TRP+Nu over the e sweep; Basic and
    Basic+Nu at the conv MACs of each TRP+Nu run of the sweep (the highest speedups TRP reaches at
    each e) and at ablation.speedups, so the four curves span the same speedups; the Table-1 basic
    runs of the scheme (at the paper's speedup and at each TRP run's MACs) join Basic."""
    points = []
    for scheme in SCHEMES:
        trp, nu = ([trp_run(scheme, e, nuclear) for e in AB["e"]] for nuclear in (False, True))
        budgets = nu + AB["speedups"]
        points += [(scheme, "TRP", run) for run in trp] + [(scheme, "TRP+Nu", run) for run in nu]
        points += [(scheme, "Basic", basic_run(scheme, b)) for b in budgets]
        points += [(scheme, "Basic+Nu", basicnu_run(scheme, b)) for b in budgets]
    return [(scheme, method, request(AB["model"], run, AB["seeds"])) for scheme, method, run in points]


ABLATION = ablation()
if AB["model"] in TABLE1:
    ABLATION += [(form["scheme"], "Basic", TABLE1[AB["model"]][key]) for name, form in paper.FORMS.items()
                 for key in paper.basic_keys(name)]
ABLATION = list(dict.fromkeys(ABLATION))

# Fig. 2: one layer's ranks over successive projections, first seed.
RANKVAR = add("rankvar", Training({**trp_settings(RV["scheme"], RV["e"], RV["m"], 0.0), "max_steps": RV["projections"] * RV["m"],
                                   "log_spectrum": True}))
request(RV["model"], RANKVAR, SEEDS[:1])


def cobla_budget(budget):
    """A budget of the cobla: block: a Table-1 TRP key stands for that run."""
    return TRP_RUNS[budget] if isinstance(budget, str) else budget


def budgeted_run(budget):
    settings = trp_settings(COBLA["scheme"], TRP["e"], TRP["m"], 0.0)
    return add(f"trpbudget-{COBLA['scheme']}-{budget_label(budget)}", Training(settings, budget=budget))


# COBLA table, on the first model and seed: (budget, method key) -> run. The allocations (the energy
# rule's is the basic method at that budget) and budgeted TRP, then the plain TRP runs whose conv
# MACs are a budget.
COBLA_MODEL = config["models"][0]
COBLA_RUNS = {(budget_label(cobla_budget(b)), m): basic_run(COBLA["scheme"], cobla_budget(b), m)
              for b in COBLA["budgets"] for m in COBLA["methods"]}
COBLA_RUNS |= {(budget_label(cobla_budget(b)), "budgeted_trp"): budgeted_run(cobla_budget(b)) for b in COBLA["budgeted_trp"]}
BUDGET_RUNS = {(b, b): TRP_RUNS[b] for b in dict.fromkeys(COBLA["budgets"] + COBLA["budgeted_trp"]) if isinstance(b, str)}
for run in [*COBLA_RUNS.values(), *BUDGET_RUNS.values()]:
    request(COBLA_MODEL, run, SEEDS[:1])


def order_priorities():
    """(run, seed) -> the Snakemake priority of its jobs (training, allocation, decomposition,
    fine-tuning): the profile's `order` lists steps of Table-1 rows at some seeds; the jobs of an
    earlier step start before those of a later one, and jobs no step names start last."""
    priorities = {}
    for i, step in enumerate(config["order"]):
        for model, rows in TABLE1.items():
            for key in step["rows"]:
                if key not in rows:
                    raise WorkflowError(f"order: no Table-1 row {key!r} (rows: {', '.join(rows)})")
                for seed in step["seeds"]:
                    priorities.setdefault((rows[key], seed), len(config["order"]) - i)
    return priorities


PRIORITIES = order_priorities()


def run_priority(wildcards):
    return PRIORITIES.get((wildcards.run, int(wildcards.seed)), 0)


# ----------------------------------------------------------------------------- run kinds


def names(kind, where=lambda run: True):
    """A wildcard constraint: exactly the names of the runs of one kind (a class or a tuple of them)."""
    return one_of(name for name, run in RUNS.items() if isinstance(run, kind) and where(run))


def is_baseline(run):
    return run.settings["method"] == "baseline"


def projects_by_energy(run):
    """A training whose ranks come from the energy rule at every projection (Theorem 2's setting)."""
    return isinstance(run, Training) and run.settings["method"] == "trp" and run.budget is None


def result_metrics(model, run, seed):
    """The metrics.json a table reads: a training's own, a decomposition's or fine-tuning's after fine-tuning."""
    stage = "runs" if isinstance(RUNS[run], Training) else "finetune"
    return run_file(R, stage, "metrics.json", model, run, seed)


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


def budget(run):
    return run.allocation.budget if isinstance(run, Decomposition) else run.budget


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


def table1_runs():
    """(model/method key, metrics.json) of every Table-1 run and seed."""
    return [(f"{m}/{key}", result_metrics(m, run, s)) for m, rows in TABLE1.items() for key, run in rows.items() for s in SEEDS]


def ablation_points():
    """(scheme/method/run, metrics.json) of every Fig. 3 point, at every seed the profile makes it at."""
    m = AB["model"]
    return [(f"{scheme}/{method}/{run}", result_metrics(m, run, s)) for scheme, method, run in ABLATION for s in seeds_of(m, run)]


def rankvar_log():
    return run_file(R, "runs", "ranklog.jsonl", RV["model"], RANKVAR, SEEDS[0])


def theorem2_logs():
    """(model/run/seed, ranklog.jsonl) of every training made that projects with the energy rule, each once."""
    return [(f"{m}/{run}/s{s}", run_file(R, "runs", "ranklog.jsonl", m, run, s))
            for (m, run), seeds in sorted(REQUESTS.items()) if projects_by_energy(RUNS[run]) for s in sorted(seeds)]


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
    return outs
