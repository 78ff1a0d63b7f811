# Names and paths shared by the rules. A run is named for what it is:
#   baseline | trp-{scheme}-e{e}-lam{lam} | nuclear-{scheme}-lam{lam} | rankvar
#   basic-{scheme}-e{e} (TSVD of the baseline) | basicnu-{scheme}-e{e}-lam{lam} (TSVD of nuclear-...)
# results/{profile}/ holds JSON (git); checkpoints/{profile}/ holds .pt files (DVC).
import sys

PROFILE = config["profile"]
R = f"results/{PROFILE}"
C = f"checkpoints/{PROFILE}"
T = f"paper_tables/{PROFILE}"
DATA = "data/prepared/cifar10.npz"
SCHEMES = ["channel", "spatial"]
TRP = config["trp"]
SEEDS = config["seeds"]


wildcard_constraints:
    model="resnet[0-9]+",
    seed="[0-9]+",
    scheme="channel|spatial",
    e="[0-9.]+",
    lam="[0-9.e-]+",


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


def trp_ranklogs():
    """Every rank log of a projected run, for the Theorem-2 report."""
    logs = {f"rankvar/s{SEEDS[0]}": f"{R}/runs/{config['rank_variation']['model']}/rankvar/s{SEEDS[0]}/ranklog.jsonl"}
    for model in config["models"]:
        for label, (kind, run) in TABLE1.items():
            if run.startswith("trp-"):
                for s in SEEDS:
                    logs[f"{model}/{label}/s{s}"] = f"{R}/runs/{model}/{run}/s{s}/ranklog.jsonl"
    for scheme, method, path in ablation_points():
        if method.startswith("TRP"):
            logs[path.split("/runs/")[1].rsplit("/", 1)[0]] = path.replace("metrics.json", "ranklog.jsonl")
    return logs


def all_outputs():
    outs = [f"{T}/{name}.md" for name in ("table1", "table4", "theorem2")]
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
