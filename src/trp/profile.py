"""Pipeline profiles (config/<name>.yaml). A profile is complete on its own, or names another profile
with `extends: <name>` and states only what differs from it: mappings are merged key by key, any
other value (a list, a number, a string) replaces the base's. So the paper's schedule is written
once, in config/paper.yaml, and a profile that runs it elsewhere (config/paper_cpu.yaml) inherits it.
No torch import: Snakemake reads profiles while it parses the workflow."""
from pathlib import Path

import yaml

EXTENDS = "extends"


class ProfileError(ValueError):
    pass


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
    base = yaml.safe_load(path.read_text())
    if not isinstance(base, dict):
        raise ProfileError(f"{path} is not a mapping of settings")
    own = {k: v for k, v in profile.items() if k != EXTENDS}
    return merged(resolve(base, folder, (*seen, name)), own)


def load(path: str | Path) -> dict:
    """The settings of the profile at `path`, with what it extends applied."""
    path = Path(path)
    profile = yaml.safe_load(path.read_text())
    if not isinstance(profile, dict):
        raise ProfileError(f"{path} is not a mapping of settings")
    return resolve(profile, path.parent, (path.stem,))
