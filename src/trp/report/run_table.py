"""A profile's run table as the renderers read it: results/<profile>/runs.json, written by the
workflow (trp.runs.RunTable.document). It names which runs each table and figure reads, by method
key, scheme or budget, and the path of each record, so no renderer takes these from a label or a
path."""
import json
from pathlib import Path

from ..artifacts import ArtifactError

# The shape of a run table, each part as the renderers read it: an object's keys (KEY? where a profile
# may leave it out; * for every key), [a list's items], a type (or a tuple of types) of a value.
RECORDS = {"*": str}  # seed -> the path of its record
SHAPE = {
    "profile": str, "config?": dict,
    "tables": {"*": {"*": {"run": str, "records": RECORDS, "pending?": [str]}}},  # model -> method key -> row
    "ablation?": {"model": str, "points": [{"scheme": str, "method": str, "run": str, "records": RECORDS}]},
    "rank_logs?": [{"model": str, "run": str, "seed": int, "rank_log": str}],
    "cobla?": {"model": str, "seed": int, "rows": [{"budget": str, "method": str, "run": str, "record": str,
                                                    "allocation": (str, type(None))}]},
}
KINDS = {dict: "an object", list: "a list", str: "a string", int: "an integer", float: "a number",
         bool: "true or false", type(None): "null"}


def read_run_table(path) -> dict:
    """The run table at `path`; a missing file, or one not of SHAPE, is an ArtifactError naming the
    first key that is missing or of the wrong type."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise ArtifactError(f"{path}: run table not found (the workflow writes it: snakemake {path})") from None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise ArtifactError(f"{path}: not a readable run table ({e})") from None
    problem = _problem(doc if isinstance(doc, dict) else {}, SHAPE, "")  # not an object: no profile
    if problem:
        raise ArtifactError(f"{path}: not a run table ({problem}; trp.runs.RunTable.document writes one)")
    return doc


def _problem(value, shape, where: str) -> str | None:
    """The first part of `value` (at key `where`) not of `shape` (in SHAPE's form), as a phrase; None if none."""
    if isinstance(shape, dict):
        if type(value) is not dict:
            return _wrong(value, (dict,), where)
        for key, part in shape.items():
            name = key.rstrip("?")
            if key != "*" and name not in value:
                if key.endswith("?"):
                    continue
                return f"no {_key(where, name)!r}"
            for k, v in value.items() if key == "*" else [(name, value[name])]:
                if problem := _problem(v, part, _key(where, k)):
                    return problem
        return None
    if isinstance(shape, list):
        if type(value) is not list:
            return _wrong(value, (list,), where)
        return next(filter(None, (_problem(v, shape[0], f"{where}[{i}]") for i, v in enumerate(value))), None)
    types = shape if isinstance(shape, tuple) else (shape,)
    return None if type(value) in types else _wrong(value, types, where)  # type, not isinstance: true is no seed


def _key(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _wrong(value, types, where: str) -> str:
    return f"{where!r} is {KINDS[type(value)]}, not " + " or ".join(KINDS[t] for t in types)


def section(doc: dict, name: str):
    """One section of a run table (ablation, rank_logs, cobla: a CIFAR-10 profile's)."""
    if name not in doc:
        raise ArtifactError(f"the run table of profile {doc['profile']!r} has no {name!r} (an ImageNet profile's?)")
    return doc[name]
