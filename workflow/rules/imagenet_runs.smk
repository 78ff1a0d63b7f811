# The ImageNet run table (Tables 2 and 3; rules in imagenet.smk): one run per TRP key of
# trp.report.paper, by name (never parsed), for each model of the profile and seed; then the inputs
# and arguments of the rules.
from dataclasses import dataclass

from trp.report import paper


@dataclass(frozen=True)
class ImagenetRun:
    scheme: str
    nu: bool  # "+Nu": trp imagenet --nu (the nuclear-norm weight of Sec. 4.4)


RUNS = {}  # run name -> ImagenetRun
RUN_OF = {}  # method key -> run name
for form_name, form in paper.FORMS.items():
    for key, nu in zip(paper.trp_keys(form_name), (False, True)):
        RUN_OF[key] = f"trp-{form['scheme']}" + ("-nu" if nu else "")
        RUNS[RUN_OF[key]] = ImagenetRun(form["scheme"], nu)
MODELS = config["models"]
TABLE_OF = {"resnet18": "table2", "resnet50": "table3"}  # the paper's table of each model
MODEL_OF = {TABLE_OF[model]: model for model in MODELS}


def imagenet_settings(wildcards):
    values = {"model": wildcards.model, "seed": int(wildcards.seed), "method": "trp", "scheme": RUNS[wildcards.run].scheme}
    return set_args(values)


def imagenet_weights(wildcards):
    """The pretrained weights file of the model, if the profile names one (else trp finds torchvision's cache)."""
    return MODELS[wildcards.model]["weights"] or []


def nu_args(wildcards):
    return ["--nu"] if RUNS[wildcards.run].nu else []


def weights_args(wildcards, input):
    return ["--weights", input.weights] if input.weights else []


def imagenet_runs(model):
    """(method key, metrics.json) of every run of `model` and seed."""
    return [(key, run_file(R, "imagenet", "metrics.json", model, RUN_OF[key], seed))
            for key in MODELS[model]["methods"] for seed in config["seeds"]]


def table_runs(wildcards):
    return paths(imagenet_runs(MODEL_OF[wildcards.table]))


def table_args(wildcards):
    model = MODEL_OF[wildcards.table]
    return render_args("imagenet", "--model", model, "--runs", *labelled(imagenet_runs(model)))


def all_outputs():
    return [f"{T}/{table}.md" for table in MODEL_OF]
