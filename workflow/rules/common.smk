# Paths and helpers shared by the rules. results/{profile}/ holds JSON (git); checkpoints/{profile}/
# holds .pt files (DVC); paper_tables/{profile}/ the rendered tables and figures.
import json
import os
import re
import sys

from trp.runs import num, run_file  # run names and run folders, shared with the run table

# Rules call `trp`: take it from the environment Snakemake itself runs in.
os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")

PROFILE = config["profile"]
R = f"results/{PROFILE}"
C = f"checkpoints/{PROFILE}"
T = f"paper_tables/{PROFILE}"
DATA = "data/prepared/cifar10.npz"
ENV = "../envs/trp.yaml"


def job_log(stage):
    return f"{R}/logs/{stage}/{{model}}/{{run}}/s{{seed}}.log"


def job_benchmark(stage):
    return f"{R}/benchmarks/{stage}/{{model}}/{{run}}/s{{seed}}.tsv"


def one_of(names):
    """A wildcard constraint matching exactly these names; with none, one that matches nothing (an empty
    constraint would match every name)."""
    return "|".join(re.escape(name) for name in sorted(names)) or "(?!)"


def budget_flags(budget, input):
    """A run's conv-MAC budget as `trp` arguments: none (None), --budget-from the metrics.json of the
    run whose MACs it is (a run name; the rule's input.budget), or --target-speedup (a number)."""
    if budget is None:
        return []
    return ["--budget-from", input.budget] if isinstance(budget, str) else ["--target-speedup", str(budget)]


def set_args(values):
    """TrainConfig overrides as `trp ... --set` arguments (quote them with {params.x:q})."""
    return [f"{k}={json.dumps(v, separators=(',', ':'))}" for k, v in values.items()]


def labelled(paths):
    """LABEL=PATH arguments of a renderer; repeated labels are seeds."""
    return [f"{label}={path}" for label, path in paths]


def out_dir(key):
    """A params function: the directory of output `key` (a `trp` --out / --checkpoints argument)."""
    return lambda wildcards, output: os.path.dirname(output[key])


def out_prefix(wildcards, output):
    return os.path.splitext(output[0])[0]


def render_args(renderer, *args):
    """`trp render` arguments: the renderer (a module of trp.report), its inputs, the profile."""
    return [renderer, *args, "--profile", PROFILE]


def caption(name):
    """A table's or figure's caption in the Snakemake report (--report): workflow/report/NAME.rst."""
    return f"../report/{name}.rst"


def table_outputs(name, category, extensions=("tex", "csv", "json"), caption_name=None):
    """A table's files: .html (shown in the Snakemake report), .md, the `extensions`, and the inputs'
    hashes in .provenance.json."""
    return [report(f"{T}/{name}.html", caption=caption(caption_name or name), category=category), f"{T}/{name}.md"] + [
        f"{T}/{name}.{ext}" for ext in [*extensions, "provenance.json"]]


def figure_outputs(name, category):
    return [report(f"{T}/{name}.png", caption=caption(name), category=category), f"{T}/{name}.pdf", f"{T}/{name}.json"]


def gpu(wildcards):
    return 1 if config["require_gpu"] else 0


# The device a job asks for: CUDA on a GPU profile, so that a job that sees no GPU stops with a
# one-line error instead of running on the CPU; a CPU profile's jobs keep trp's default (auto).
DEVICE = {"device": "cuda"} if config["require_gpu"] else {}


def time_limit(wildcards, resources):
    """`trp train` / `trp finetune` --time-limit: a safety margin (10 %, at least 5 min) below the
    job's runtime resource (minutes, e.g. the SLURM profile's), so the run stops after a checkpoint
    (exit 75; under torchrun, torchrun's own non-zero status) before the scheduler kills it and
    `retries` resubmits it to resume; none without a runtime resource."""
    runtime = resources.get("runtime")
    if not runtime:
        return []
    return ["--time-limit", str(max(1, round(runtime - max(5, 0.1 * runtime))))]


def check_device():
    """A GPU profile whose jobs run on this machine (the local executor) stops here if no GPU is visible:
    rule all's input function calls it while Snakemake builds the plan, before any job table (a dry
    run or --touch plans only, and goes on); a run of named targets is stopped by the onstart hook,
    after its job table but before any job. Under a cluster executor (SLURM) the jobs run on other
    nodes and this machine may have none: there each job asks for CUDA and stops in one line on a
    node without a GPU. The message names the cpu profile's measured cost, read from its budget table."""
    if not config["require_gpu"] or not workflow.local_exec or workflow.dryrun or workflow.touch:
        return
    import torch

    if torch.cuda.is_available():
        return
    from trp.profile_cost import measured_cost

    budget = "paper_tables/cpu/budget.md"
    cost = measured_cost(os.path.splitext(budget)[0] + ".csv", CPU_JOBS_AT_ONCE)
    cost = f"its published run took {cost} on 2 CPU cores ({budget})" if cost else f"its cost: {budget}"
    sys.exit(f"profile '{PROFILE}' needs a GPU and none is visible here. On a CPU machine run "
             f"`.venv/bin/snakemake --cores all --configfile config/cpu.yaml` (the paper's comparisons at 15 "
             f"epochs; {cost}), `--configfile config/paper_cpu.yaml` (the paper's 164-epoch schedule on CPUs: "
             "days) or `--configfile config/smoke.yaml` (minutes); on a SLURM cluster, submit with "
             "`--profile workflow/profiles/slurm`.")


CPU_JOBS_AT_ONCE = 2  # config/cpu.yaml: two 1-thread jobs at a time on 2 cores


def all_targets(wildcards):
    """rule all's inputs, once the device is checked."""
    check_device()
    return all_outputs()


def check_archive(path, given_by):
    """Stops the run in one line, before any job, where the prepared data is still to be made and
    the CIFAR-10 archive named by `given_by` is missing or unreadable."""
    if os.path.exists(DATA):
        return
    problem = ("does not exist" if not os.path.exists(path) else "is not a file" if not os.path.isfile(path)
               else "is not readable" if not os.access(path, os.R_OK) else None)
    if problem:
        sys.exit(f"CIFAR-10 archive {path} {problem} (given by {given_by}): give a readable "
                 "cifar-10-python.tar.gz, or unset it to download the official archive")
