"""Pipeline profiles (config/<name>.yaml). A profile is complete on its own, or names another profile
with `extends: <name>` and states only what differs from it: mappings are merged key by key, any
other value (a list, a number, a string) replaces the base's. So the paper's schedule is written
once, in config/paper.yaml, and a profile that runs it elsewhere (config/paper_cpu.yaml) inherits it.
A key given twice in one mapping is refused. `check` holds a profile to its schema more strictly
than JSON Schema does: every number finite, an integer not written as a float (2.0), milestones
increasing, and the Fig. 2 layer a conv of its model. No torch import: Snakemake reads profiles
while it parses the workflow."""
import math
import re
from pathlib import Path

import yaml

EXTENDS = "extends"
# a number YAML 1.1 reads as a string (no dot: 1e-4, 3E+2); TrainConfig and --set read it as the float it means
_FLOAT_STRING = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


class ProfileError(ValueError):
    pass


class _UniqueKeyLoader(yaml.SafeLoader):
    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise ProfileError(f"line {key_node.start_mark.line + 1}: key {key!r} is given twice in one mapping; "
                                   "give it once")
            seen.add(key)
        return super().construct_mapping(node, deep)


def read_yaml(path: str | Path):
    """A YAML file's content, refusing a key given twice in one mapping (plain YAML keeps the last)."""
    path = Path(path)
    try:
        return yaml.load(path.read_text(), Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path} is not valid YAML: {' '.join(str(exc).split())}") from None
    except ProfileError as exc:
        raise ProfileError(f"{path}, {exc}") from None


def numbers(value):
    """`value` with every string that YAML 1.1 leaves unread as a number (1e-4) turned into its float."""
    if isinstance(value, dict):
        return {k: numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [numbers(v) for v in value]
    if isinstance(value, str) and _FLOAT_STRING.fullmatch(value.strip()):
        return float(value)
    return value


def _conv_names(model: str) -> set[str]:
    """The convs of a CIFAR ResNet (depth 6n+2) by module name, without building it."""
    n = (int(model.removeprefix("resnet")) - 2) // 6
    return {"conv1"} | {f"layer{s}.{b}.conv{c}" for s in (1, 2, 3) for b in range(n) for c in (1, 2)}


def check(config: dict, schema: dict) -> None:
    """Refuse what the schema's JSON Schema validation lets through: a non-finite number (.nan,
    .inf), an integer written as a float (2.0), milestones out of order, a Fig. 2 layer that is not
    a conv of its model."""
    import jsonschema

    base = jsonschema.validators.validator_for(schema)
    types = base.TYPE_CHECKER.redefine_many({
        "integer": lambda _, v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda _, v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)})
    strict = jsonschema.validators.extend(base, type_checker=types)(schema)
    error = jsonschema.exceptions.best_match(strict.iter_errors(config))
    if error is not None:
        where = ".".join(str(p) for p in error.absolute_path) or "the profile"
        wanted = error.validator_value if error.validator == "type" else None
        wanted = [wanted] if isinstance(wanted, str) else wanted or []
        what = " or ".join({"integer": "an integer (2, not 2.0)", "number": "a finite number"}.get(t, t) for t in wanted)
        raise ProfileError(f"{where}: {error.instance!r} is not {what}" if what else
                           f"{where}: {error.message.splitlines()[0][:200]}")
    for block in ("train", "finetune"):
        ms = config.get(block, {}).get("milestones")
        if isinstance(ms, list) and any(a >= b for a, b in zip(ms, ms[1:])):
            raise ProfileError(f"{block}.milestones: {ms!r} is not increasing; give each epoch once, in order")
    rv = config.get("rank_variation")
    if isinstance(rv, dict) and rv.get("model") in ("resnet20", "resnet56"):
        layer = str(rv.get("layer"))
        m = re.fullmatch(r"res(\d)-(\d+)-(\d)", layer)
        name = f"layer{m[1]}.{int(m[2]) - 1}.conv{m[3]}" if m else layer
        if name not in _conv_names(rv["model"]):
            raise ProfileError(f"rank_variation.layer: {layer!r} is not a conv of {rv['model']} (e.g. res3-1-2 or "
                               "layer3.0.conv2)")


def merged(base: dict, over: dict) -> dict:
    """`over` on top of `base`: nested mappings merged, every other value replaced."""
    out = dict(base)
    for key, value in over.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def resolve(profile: dict, folder: Path, seen: tuple[str, ...] = ()) -> dict:
    """A profile with its `extends` chain applied (the profiles named are read from `folder`)."""
    if EXTENDS not in profile:
        return profile
    name = profile[EXTENDS]
    if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
        raise ProfileError(f"`extends: {name!r}` must name a profile in {folder}/, e.g. `extends: paper`")
    if name in seen:
        raise ProfileError(f"profiles extend each other in a loop: {' -> '.join((*seen, name))}")
    path = folder / f"{name}.yaml"
    if not path.is_file():
        raise ProfileError(f"`extends: {name}`: no profile {path}")
    base = read_yaml(path)
    if not isinstance(base, dict):
        raise ProfileError(f"{path} is not a mapping of settings")
    own = {k: v for k, v in profile.items() if k != EXTENDS}
    return merged(resolve(base, folder, (*seen, name)), own)


def load(path: str | Path) -> dict:
    """The settings of the profile at `path`, with what it extends applied."""
    path = Path(path)
    profile = read_yaml(path)
    if not isinstance(profile, dict):
        raise ProfileError(f"{path} is not a mapping of settings")
    return resolve(profile, path.parent, (path.stem,))
