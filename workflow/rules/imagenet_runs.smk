# The ImageNet run table (Tables 2 and 3; rules in imagenet.smk): one run per method key of
# trp.report.paper that the profile lists for a model, by name (never parsed): the TRP runs, and the
# basic methods (the TSVD of the pretrained network at the energy rule tuned to a conv-MAC budget,
# then fine-tuning with TRP's schedule) at the paper's speedup of that model (its Table 2 / 3 row)
# or at the conv MACs a TRP run of the same model and seed reached; then the inputs and arguments
# of the rules.
from dataclasses import dataclass

from snakemake.exceptions import WorkflowError

from trp.report import paper


@dataclass(frozen=True)
class ImagenetRun:
    scheme: str
    nu: bool = False  # "+Nu": trp imagenet --nu (the nuclear-norm weight of Sec. 4.4)
    # a basic method's conv-MAC budget: a TRP run's name (the MACs it reached, same model and seed:
    # trp imagenet --budget-from) or a speedup (--target-speedup); None: a TRP run
    budget: str | float | None = None

    @property
    def basic(self) -> bool:
        return self.budget is not None


RUNS = {}  # run name -> ImagenetRun


def add(name, run):
    if RUNS.setdefault(name, run) != run:
        raise WorkflowError(f"run name {name!r} would stand for both {RUNS[name]} and {run}")
    return name


TRP_RUN_OF = {}  # TRP method key -> run name
MATCHED = {}  # paper.matched_key(basic, trp) -> (scheme, trp key)
BASIC = {}  # the paper's basic method key -> scheme
for form_name, form in paper.FORMS.items():
    BASIC[form["basic"]] = form["scheme"]
    for key, nu in zip(paper.trp_keys(form_name), (False, True)):
        TRP_RUN_OF[key] = add(f"trp-{form['scheme']}" + ("-nu" if nu else ""), ImagenetRun(form["scheme"], nu))
        MATCHED[paper.matched_key(form["basic"], key)] = (form["scheme"], key)


def run_of(model, key):
    """The run of a method key for `model`: a TRP run; a basic method at the paper's speedup for
    `model`; or a basic method at the conv MACs of a TRP run (a matched key)."""
    if key in TRP_RUN_OF:
        return TRP_RUN_OF[key]
    if key in MATCHED:
        scheme, trp = MATCHED[key]
        return add(f"basic-{scheme}-{trp}", ImagenetRun(scheme, budget=TRP_RUN_OF[trp]))
    row = paper.imagenet_row(model, key)
    if row is None:
        others = [k for k, (scheme, _) in MATCHED.items() if scheme == BASIC[key]]
        raise WorkflowError(f"models.{model}.methods: the paper has no {key} row for {model} to take a speedup from; "
                            f"list {' or '.join(others)} (its conv MACs from a TRP run) instead")
    return add(f"basic-{BASIC[key]}-x{num(row['speedup'])}", ImagenetRun(BASIC[key], budget=float(row["speedup"])))


MODELS = config["models"]
TABLE_OF = {"resnet18": "table2", "resnet50": "table3"}  # the paper's table of each model
MODEL_OF = {TABLE_OF[model]: model for model in MODELS}
# method key -> run of each model's table: the profile's keys, and the TRP runs a matched key reads
TABLE = {model: {key: run_of(model, key)
                 for key in dict.fromkeys([*spec["methods"], *(MATCHED[k][1] for k in spec["methods"] if k in MATCHED)])}
         for model, spec in MODELS.items()}


def names(basic):
    """A wildcard constraint: the names of the basic-method runs (basic) or of the TRP runs; with no
    such run, one that matches nothing (an empty constraint would match every name)."""
    return one_of(name for name, run in RUNS.items() if run.basic == basic) or "(?!)"


def imagenet_settings(wildcards):
    run = RUNS[wildcards.run]
    values = {"model": wildcards.model, "seed": int(wildcards.seed), "method": "baseline" if run.basic else "trp",
              "scheme": run.scheme, **DEVICE}
    return set_args(values)


def imagenet_weights(wildcards):
    """The pretrained weights file of the model, if the profile names one (else trp finds torchvision's cache)."""
    return MODELS[wildcards.model]["weights"] or []


def budget_metrics(wildcards):
    """The metrics.json of the TRP run (same model and seed) whose conv MACs are this basic run's budget, if one is."""
    b = RUNS[wildcards.run].budget
    return run_file(R, "imagenet", "metrics.json", wildcards.model, b, wildcards.seed) if isinstance(b, str) else []


def budget_args(wildcards, input):
    return budget_flags(RUNS[wildcards.run].budget, input)


def nu_args(wildcards):
    return ["--nu"] if RUNS[wildcards.run].nu else []


def weights_args(wildcards, input):
    return ["--weights", input.weights] if input.weights else []


def imagenet_runs(model):
    """(method key, metrics.json) of every run of `model`'s table and seed."""
    return [(key, run_file(R, "imagenet", "metrics.json", model, run, seed))
            for key, run in TABLE[model].items() for seed in config["seeds"]]


def table_runs(wildcards):
    return paths(imagenet_runs(MODEL_OF[wildcards.table]))


def table_args(wildcards):
    model = MODEL_OF[wildcards.table]
    return render_args("imagenet", "--model", model, "--runs", *labelled(imagenet_runs(model)))


def all_outputs():
    return [f"{T}/{table}.md" for table in MODEL_OF]
