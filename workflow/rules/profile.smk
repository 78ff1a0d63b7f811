# The profile: config/paper.yaml, unless --configfile names another, which then replaces it rather
# than being merged into it: no key leaks in from paper.yaml unless the profile says `extends: paper`
# and states only what differs (trp.profile; config/paper_cpu.yaml).
# --config values are typed as YAML types them in a profile (Snakemake reads a nested --config
# value as strings, e.g. trp='{lam: 5.0e-5}'). The schema of the profile's dataset (CIFAR-10 or
# ImageNet) refuses a missing, unknown or bad key before any job.
from pathlib import Path

import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import update_config, validate

from trp import profile as profiles

if not workflow.overwrite_configfiles:

    configfile: "config/paper.yaml"


YAML_SCALAR_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("int", "float", "bool", "null")}


def yaml_typed(value):
    """A --config value with its strings that YAML reads as numbers, booleans or null converted."""
    if isinstance(value, dict):
        return {k: yaml_typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [yaml_typed(v) for v in value]
    if isinstance(value, str) and yaml.SafeLoader.resolve(yaml.SafeLoader, yaml.ScalarNode, value, (True, False)) in YAML_SCALAR_TAGS:
        return yaml.safe_load(value)
    return value


try:
    for _file in workflow.overwrite_configfiles or [Path(workflow.basedir) / "config" / "paper.yaml"]:
        profiles.read_yaml(_file)  # a key given twice is refused (Snakemake's own reading keeps the last)
    _resolved = profiles.resolve(dict(config), Path(workflow.basedir) / "config")
except profiles.ProfileError as exc:
    raise WorkflowError(f"profile: {exc}") from None
config.clear()
config.update(profiles.numbers(_resolved))
update_config(config, profiles.numbers(yaml_typed(dict(workflow.config_settings.config))))
SCHEMAS = {"cifar10": "../schemas/config.schema.yaml", "imagenet": "../schemas/imagenet.schema.yaml"}
_schema = SCHEMAS.get(config.get("dataset"), SCHEMAS["cifar10"])
validate(config, _schema)
try:
    profiles.check(config, yaml.safe_load((Path(workflow.basedir) / "workflow" / "rules" / _schema).read_text()))
except profiles.ProfileError as exc:
    raise WorkflowError(f"profile: {exc}") from None
