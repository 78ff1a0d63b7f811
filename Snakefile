# Regenerates the TRP paper's CIFAR-10 tables and figures. Profiles: config/paper.yaml (default,
# needs a GPU), config/cpu.yaml (2 CPU cores, about 2 hours), config/smoke.yaml (minutes):
#   snakemake --cores all [--configfile config/cpu.yaml]
from snakemake.utils import min_version, validate

min_version("9.0")

configfile: "config/paper.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


envvars:
    "PATH",


include: "workflow/rules/common.smk"


wildcard_constraints:
    model="resnet[0-9]+",
    seed="[0-9]+",
    scheme="channel|spatial",
    e="[0-9.]+",
    lam="[0-9.e-]+",

include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/basic.smk"
include: "workflow/rules/runtime.smk"
include: "workflow/rules/cobla.smk"
include: "workflow/rules/render.smk"


onstart:
    check_device()


rule all:
    input:
        all_outputs(),
    default_target: True
