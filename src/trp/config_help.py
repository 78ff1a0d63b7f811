"""The keys of a run config as help text (`trp train --help`): every field of
trp.config.TrainConfig with its default, taken from the dataclass itself, and the comment written
beside the field there, so each default and its meaning are stated in one place."""
import dataclasses
import inspect
import json
import re

from .config import TrainConfig

_FIELD_COMMENT = re.compile(r"^\s+(\w+)\s*:[^#\n]*#\s*(.*)$", re.M)


def config_keys_help() -> str:
    try:
        notes = dict(_FIELD_COMMENT.findall(inspect.getsource(TrainConfig)))
    except (OSError, TypeError):  # no source (a frozen build): defaults only
        notes = {}
    defaults = TrainConfig()
    rows = [(f.name, json.dumps(getattr(defaults, f.name))) for f in dataclasses.fields(TrainConfig)]
    width = max(len(name) + len(value) for name, value in rows) + 3
    lines = ["config keys (--config FILE.yaml or --set KEY=VALUE), with their defaults:"]
    for name, value in rows:
        text = f"{name} = {value}"
        lines.append(f"  {text:<{width}}  {notes.get(name, '')}".rstrip())
    return "\n".join(lines)
