# Names and paths shared by the rules. A run is named for what it is:
#   baseline | trp-{scheme}-e{e}-lam{lam} | nuclear-{scheme}-lam{lam} | rankvar
#   basic-{scheme}-e{e} (TSVD of the baseline) | basicnu-{scheme}-e{e}-lam{lam} (TSVD of nuclear-...)
#   cobla-{budget}-{scheme}-{method} (an allocation on the baseline) | trpbudget-{scheme}-{budget} (budgeted TRP)
# results/{profile}/ holds JSON (git); checkpoints/{profile}/ holds .pt files (DVC).
import json
import os
import shlex
import sys

# Rules call `trp` and `python`: take them from the environment Snakemake itself runs in.
os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")

PROFILE = config["profile"]
R = f"results/{PROFILE}"
C = f"checkpoints/{PROFILE}"
T = f"paper_tables/{PROFILE}"
DATA = "data/prepared/cifar10.npz"
SCHEMES = ["channel", "spatial"]
TRP = config["trp"]
SEEDS = config["seeds"]
RV = config["rank_variation"]
RUNTIME_LABELS = ["TRP1", "TRP1+Nu", "TRP2", "TRP2+Nu"]  # Table 4: decomposed networks timed beside the baseline
ENV = "../envs/trp.yaml"
COBLA = config["cobla"]
COBLA_MODEL = config["models"][0]
TEST_SUBSET = f"--test-subset {config['train']['test_subset']}" if config["train"]["test_subset"] else ""


def num(x):
    return f"{float(x):g}"


def trp_run(scheme, nu, e=None):
    e = TRP["e"] if e is None else e
    return f"trp-{scheme}-e{num(e)}-lam{num(TRP['lam']) if nu else 0}"


# Table 1's methods: label -> run directory family (train runs or fine-tuned basic runs)
TABLE1 = {
    "baseline": ("runs", "baseline"),
    "TRP1": ("runs", trp_run("channel", False)),
    "TRP1+Nu": ("runs", trp_run("channel", True)),
    "Zhang2016": ("finetune", f"basic-channel-e{num(config['basic']['e'])}"),
    "TRP2": ("runs", trp_run("spatial", False)),
    "TRP2+Nu": ("runs", trp_run("spatial", True)),
    "Jaderberg2014": ("finetune", f"basic-spatial-e{num(config['basic']['e'])}"),
}


def metrics(kind, model, run, seed):
    return f"{R}/{kind}/{model}/{run}/s{seed}/metrics.json"


def ablation_points():
    """Fig. 3: (scheme, method, metrics path) for Basic, Basic+Nu, TRP, TRP+Nu over e."""
    m, lam, s = config["ablation"]["model"], num(TRP["lam"]), SEEDS[0]
    for scheme in SCHEMES:
        for e in map(num, config["ablation"]["e"]):
            yield scheme, "Basic", metrics("finetune", m, f"basic-{scheme}-e{e}", s)
            yield scheme, "Basic+Nu", metrics("finetune", m, f"basicnu-{scheme}-e{e}-lam{lam}", s)
            yield scheme, "TRP", metrics("runs", m, trp_run(scheme, False, e), s)
            yield scheme, "TRP+Nu", metrics("runs", m, trp_run(scheme, True, e), s)


def trp_metrics():
    """label -> metrics.json of every TRP training (Table 1's and the ablation's)."""
    out = {}
    for model in config["models"]:
        for label, (kind, run) in TABLE1.items():
            if run.startswith("trp-"):
                out.update({f"{model}/{label}/s{s}": metrics(kind, model, run, s) for s in SEEDS})
    m, s = config["ablation"]["model"], SEEDS[0]
    for scheme in SCHEMES:
        for e in config["ablation"]["e"]:
            for nu in (False, True):
                run = trp_run(scheme, nu, e)
                out.setdefault(f"{m}/{run}/s{s}", metrics("runs", m, run, s))
    return out


def trp_ranklogs():
    """label -> rank log of every projected run, for the Theorem-2 report."""
    logs = {"rankvar": metrics("runs", RV["model"], "rankvar", SEEDS[0])}
    logs.update(trp_metrics())
    return {k: v.replace("metrics.json", "ranklog.jsonl") for k, v in logs.items()}


def all_outputs():
    outs = [f"{T}/{name}.md" for name in ("table1", "table4", "theorem2", "claims", "cobla")]
    outs += [f"{T}/{name}.png" for name in ("fig2", "fig3")]
    return outs


def check_device():
    if config["require_gpu"]:
        import torch

        if not torch.cuda.is_available():
            sys.exit(f"profile '{PROFILE}' needs a GPU and none is visible here. On a CPU machine run "
                     "`snakemake --cores all --configfile config/cpu.yaml` (about 2 hours on 2 cores) or "
                     "`--configfile config/smoke.yaml` (minutes).")


def gpu(wildcards):
    return 1 if config["require_gpu"] else 0


def train_settings(run):
    """TrainConfig overrides for a run name (see common.smk)."""
    parts = run.split("-")
    if run == "baseline":
        return {"method": "baseline"}
    if run == "rankvar":
        rv = config["rank_variation"]
        return {"method": "trp", "model": rv["model"], "scheme": rv["scheme"], "e": rv["e"], "m": rv["m"],
                "lam": 0.0, "layers": None, "max_steps": rv["projections"] * rv["m"]}
    if parts[0] == "trp":
        return {"method": "trp", "scheme": parts[1], "e": float(parts[2][1:]), "lam": float(parts[3][3:]), "m": TRP["m"]}
    if parts[0] == "nuclear":
        return {"method": "nuclear", "scheme": parts[1], "lam": float(parts[2][3:])}
    raise ValueError(f"unknown run name {run!r}")


def set_args(values):
    return " ".join(shlex.quote(f"{k}={json.dumps(v, separators=(',', ':'))}") for k, v in values.items())


def train_args(wildcards):
    values = {**config["train"], "model": wildcards.model, "seed": int(wildcards.seed), **train_settings(wildcards.run)}
    return set_args(values)


def tsvd_source(wildcards):
    b = wildcards.basic.split("-")
    run = "baseline" if b[0] == "basic" else f"nuclear-{b[1]}-{b[3]}"
    return f"{C}/runs/{wildcards.model}/{run}/s{wildcards.seed}/model.pt"


def tsvd_args(wildcards):
    b = wildcards.basic.split("-")
    return f"--scheme {b[1]} --e {b[2][1:]}"


def finetune_args(wildcards):
    return set_args({**config["train"], **config["finetune"], "seed": int(wildcards.seed)})


def runtime_inputs(wildcards):
    s = SEEDS[0]
    ins = {"baseline": f"{C}/runs/{wildcards.model}/baseline/s{s}/model.pt"}
    for label in RUNTIME_LABELS:
        ins[label] = f"{C}/runs/{wildcards.model}/{TABLE1[label][1]}/s{s}/decomposed.pt"
    return ins


def table1_runs():
    """(model, method label, seed) -> metrics.json of every Table-1 run."""
    return {(model, label, s): metrics(kind, model, run, s)
            for model in config["models"] for label, (kind, run) in TABLE1.items() for s in SEEDS}


def labelled(d):
    """LABEL=PATH arguments; a label's seeds share the label (model/method)."""
    return " ".join(shlex.quote(f"{model}/{label}={path}") for (model, label, _), path in d.items())


def out_prefix(wildcards, output):
    return os.path.splitext(output[0])[0]


def budget_metrics(wildcards):
    """A budget named after a TRP run (TRP1, TRP2) is the conv MACs that run reached."""
    if wildcards.budget in TABLE1:
        kind, run = TABLE1[wildcards.budget]
        return metrics(kind, wildcards.model, run, wildcards.seed)
    return []


def target_args(wildcards):
    b = wildcards.budget
    return f"--budget-from {budget_metrics(wildcards)}" if b in TABLE1 else f"--target-speedup {b[1:]}"


def budgeted_train_args(wildcards):
    return set_args({**config["train"], "model": wildcards.model, "seed": int(wildcards.seed), "method": "trp",
                     "scheme": wildcards.scheme, "e": TRP["e"], "lam": 0.0, "m": TRP["m"]})


def cobla_runs():
    """label model/budget/method -> fine-tuned metrics of each allocation."""
    s = SEEDS[0]
    return {f"{COBLA_MODEL}/{b}/{m}": metrics("finetune", COBLA_MODEL, f"cobla-{b}-{COBLA['scheme']}-{m}", s)
            for b in COBLA["budgets"] for m in COBLA["methods"]}


def budgeted_runs():
    """label model/budget/method -> budgeted TRP runs, and the plain TRP run whose MACs set a budget."""
    s, out = SEEDS[0], {}
    for b in COBLA["budgeted_trp"]:
        out[f"{COBLA_MODEL}/{b}/budgeted TRP"] = metrics("runs", COBLA_MODEL, f"trpbudget-{COBLA['scheme']}-{b}", s)
        if b in TABLE1:
            out[f"{COBLA_MODEL}/{b}/{b} (energy rule)"] = metrics(*TABLE1[b][:1], COBLA_MODEL, TABLE1[b][1], s)
    return out


def cobla_runtime_inputs(wildcards):
    """The baseline, every fine-tuned allocation and every budgeted TRP network, by label."""
    m, s, scheme = wildcards.model, SEEDS[0], COBLA["scheme"]
    ins = {"baseline": f"{C}/runs/{m}/baseline/s{s}/model.pt"}
    for b in COBLA["budgets"]:
        for method in COBLA["methods"]:
            ins[f"{b}/{method}"] = f"{C}/finetune/{m}/cobla-{b}-{scheme}-{method}/s{s}/finetuned.pt"
    for b in COBLA["budgeted_trp"]:
        ins[f"{b}/budgeted TRP"] = f"{C}/runs/{m}/trpbudget-{scheme}-{b}/s{s}/decomposed.pt"
    return ins
