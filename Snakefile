# Regenerates the TRP paper's CIFAR-10 tables and figures. Profiles: config/paper.yaml (default,
# needs a GPU where the jobs run), config/cpu.yaml (15 epochs on 2 CPU cores: several hours),
# config/paper_cpu.yaml (the paper's 164-epoch schedule on CPUs: days), config/smoke.yaml (minutes):
#   snakemake --cores all [--configfile config/cpu.yaml]
# and its ImageNet Tables 2 and 3: config/imagenet.yaml (GPUs and an ImageNet copy).
# A profile given with --configfile replaces config/paper.yaml (workflow/rules/profile.smk).
from snakemake.utils import min_version

min_version("9.0")


envvars:
    "PATH",


include: "workflow/rules/profile.smk"
include: "workflow/rules/common.smk"
include: "workflow/rules/runs.smk"
include: "workflow/rules/run_table.smk"


if config["dataset"] == "imagenet":

    include: "workflow/rules/imagenet.smk"

else:

    include: "workflow/rules/data.smk"
    include: "workflow/rules/train.smk"
    include: "workflow/rules/compress.smk"
    include: "workflow/rules/allocate.smk"
    include: "workflow/rules/latency.smk"
    include: "workflow/rules/render.smk"


onstart:
    check_device()  # for a run of named targets; a run of rule all stops earlier, while it is planned


rule all:
    input:
        all_targets,
    default_target: True
