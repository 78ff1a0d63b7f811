"""The JSON records the stages write, one kind each, written and read only here:

    training       metrics.json of `trp train`       (trp.stages.train)
    decomposition  metrics.json of `trp decompose`   (trp.stages.decompose)
    finetuning     metrics.json of `trp finetune`    (trp.stages.finetune)
    allocation     ranks.json of `trp allocate`      (trp.stages.allocate)
    latency        runtime JSON of `trp latency`     (trp.stages.latency)

A record is a JSON object with "schema" (e.g. "trp.run/1"), "kind" and "schema_version" (the
number after the schema's slash), and the fields its kind declares in KINDS. Records written
before they named their kind have "schema" only: their kind is read from it (`kind_of`). Each
kind's JSON Schema is generated from KINDS:

    python -m trp.artifacts.records --schemas docs/schemas
"""
import argparse
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .atomic import ArtifactError, atomic_write_text, dumps, read_json, write_json

# ----------------------------------------------------------------------------- the kinds

NUMBER, INTEGER, STRING, OBJECT = ({"type": t} for t in ("number", "integer", "string", "object"))
STRINGS = {"type": "array", "items": STRING}
ACCURACY = {"type": "object", "additionalProperties": NUMBER}  # network -> accuracy (%)
RANKS = {"type": "object", "additionalProperties": INTEGER}  # layer -> rank
COST = {"type": "object", "required": ["dense", "decomposed"], "properties": {"dense": OBJECT, "decomposed": OBJECT}}
SPEEDUP = {"type": "object", "required": ["conv", "whole"], "properties": {"conv": NUMBER, "whole": NUMBER}}
TRAIN_CONFIG = {"type": "object", "required": ["model", "method", "scheme", "epochs", "seed"],
                "properties": {"model": STRING, "method": STRING, "scheme": STRING, "epochs": INTEGER, "seed": INTEGER}}
TRAINING = {"type": "object", "required": ["epochs", "history"],
            "properties": {"epochs": INTEGER, "history": {"type": "array", "items": OBJECT}}}
PROVENANCE = {"type": "object", "required": ["commit", "device"],
              "properties": {"commit": {"type": ["string", "null"]}, "device": STRING}}
MEASURED = {"accuracy": ACCURACY, "cost": COST, "speedup": SPEEDUP, "top5": ACCURACY}  # trp.stages.compress.measure
IMAGENET = {"data": OBJECT, "distributed": OBJECT}  # an ImageNet run's data and processes (trp.stages.imagenet)


@dataclass(frozen=True)
class Kind:
    name: str
    schema: str  # the record's "schema" up to the slash
    version: int  # its number after the slash, and the record's "schema_version"
    what: str  # what a reader is told the record is
    writer: str  # the module that writes it
    fields: dict  # key -> the JSON Schema of its value (besides "provenance", which every kind has)
    optional: tuple[str, ...] = ()  # the keys of `fields` that a record may lack

    @property
    def schema_id(self) -> str:
        return f"{self.schema}/{self.version}"


KINDS = {k.name: k for k in (
    Kind("training", "trp.run", 1, "a training record (metrics.json of `trp train`)", "trp.stages.train",
         {"config": TRAIN_CONFIG, **MEASURED, "ranks": RANKS, "dense_layers": STRINGS,
          "max_output_difference": NUMBER, "training": TRAINING, **IMAGENET, "layers": STRINGS, "weights": OBJECT},
         optional=("top5", "ranks", "dense_layers", "max_output_difference", *IMAGENET, "layers", "weights")),
    Kind("decomposition", "trp.decompose", 1, "a decomposition record (metrics.json of `trp decompose`)",
         "trp.stages.decompose",
         {"config": {"type": "object", "required": ["source", "arch", "scheme"],
                     "properties": {"source": STRING, "arch": STRING, "scheme": STRING}},
          **MEASURED, "max_output_difference": NUMBER, "ranks": RANKS, "dense_layers": STRINGS},
         optional=("top5", "max_output_difference")),
    Kind("finetuning", "trp.finetune", 1, "a fine-tuning record (metrics.json of `trp finetune`)",
         "trp.stages.finetune",
         {"config": TRAIN_CONFIG, "source": STRING, **MEASURED, "ranks": RANKS, "scheme": STRING, "training": TRAINING,
          **IMAGENET},
         optional=("top5", *IMAGENET)),
    Kind("allocation", "trp.allocation", 1, "an allocation (ranks.json of `trp allocate`)", "trp.stages.allocate",
         {"ranks": RANKS, "dense_layers": STRINGS, "macs": INTEGER, "params": INTEGER, "budget": OBJECT,
          "speedup": NUMBER, "param_ratio": NUMBER, "method": STRING, "scheme": STRING, "arch": STRING,
          "convention": STRING, "dense": OBJECT, "objective": OBJECT, "solver": OBJECT, "starts": OBJECT,
          "timings": OBJECT, "milp": OBJECT, "rounding": OBJECT, "latency_s": NUMBER, "latency_speedup": NUMBER,
          "config": OBJECT},
         optional=("milp", "rounding", "latency_s", "latency_speedup")),
    Kind("latency", "trp.runtime", 2, "a runtime JSON of `trp latency`", "trp.stages.latency",
         {"model": STRING, "variants": {"type": "array", "items": OBJECT}, "runtimes": OBJECT,
          "runtime_versions": OBJECT, "timing": OBJECT},
         optional=("runtimes", "runtime_versions", "timing")),
)}
RUNS = ("training", "decomposition", "finetuning")  # the kinds of metrics.json: networks and their accuracy
GROUPS = {RUNS: "a run record (metrics.json of trp train / decompose / finetune)"}  # what a reader is told
BY_SCHEMA = {k.schema: k.name for k in KINDS.values()}


def json_schema(kind: str) -> dict:
    """The JSON Schema of a record of `kind`; "kind" and "schema_version" are optional, for the
    records written before they were."""
    k = KINDS[kind]
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": f"trp {k.name} record ({k.schema_id})",
            "description": f"{k.what[0].upper()}{k.what[1:]}, written by {k.writer} through trp.artifacts.records.",
            "type": "object",
            "required": ["schema", *(key for key in k.fields if key not in k.optional), "provenance"],
            "properties": {"schema": {"const": k.schema_id}, "kind": {"const": k.name},
                           "schema_version": {"const": k.version}, **k.fields, "provenance": PROVENANCE},
            "additionalProperties": False}


def write_schemas(directory) -> list[Path]:
    """Writes DIRECTORY/<kind>.schema.json for every kind; returns their paths."""
    paths = [Path(directory) / f"{kind}.schema.json" for kind in KINDS]
    for kind, path in zip(KINDS, paths):
        write_json(path, json_schema(kind))
    return paths


# ----------------------------------------------------------------------------- checking

TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def _is_type(value, name: str) -> bool:
    """JSON Schema's types: an integer is a number without a fraction (2.0 too), a boolean no number."""
    if name == "number":
        return type(value) in (int, float)
    if name == "integer":
        return type(value) is int or (type(value) is float and value.is_integer())
    return isinstance(value, TYPES[name])


def problem(value, schema: dict, where: str = "the record") -> str | None:
    """What makes `value` fail `schema` (the keywords json_schema uses: const, type, required,
    properties, additionalProperties, items), or None."""
    if "const" in schema and value != schema["const"]:
        return f"{where} is {value!r}, not {schema['const']!r}"
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else types
    if types and not any(_is_type(value, t) for t in types):
        return f"{where} is not of type {' or '.join(types)}"
    if isinstance(value, dict):
        missing = [key for key in schema.get("required", ()) if key not in value]
        if missing:
            return f"{where} has no {missing[0]!r}"
        for key, item in value.items():
            sub = schema.get("properties", {}).get(key, schema.get("additionalProperties", True))
            if sub is False:
                return f"{where} has an unknown key {key!r}"
            found = problem(item, sub, f"{where}[{key!r}]") if isinstance(sub, dict) else None
            if found:
                return found
    if isinstance(value, list) and "items" in schema:
        return next((p for i, item in enumerate(value) if (p := problem(item, schema["items"], f"{where}[{i}]"))), None)
    return None


def kind_problem(doc, kind: str) -> str | None:
    """What makes `doc` fail the schema of `kind` ("the KIND record ..."), or None."""
    return problem(doc, json_schema(kind), f"the {kind} record")


def kind_of(doc) -> str | None:
    """The kind a JSON document declares; for a record written before records named it, the kind
    of its "schema"; None for anything else."""
    if not isinstance(doc, dict):
        return None
    if "kind" in doc:
        return doc["kind"] if isinstance(doc["kind"], str) and doc["kind"] in KINDS else None
    schema = doc.get("schema")
    return BY_SCHEMA.get(schema.partition("/")[0]) if isinstance(schema, str) else None


# ----------------------------------------------------------------------------- writing and reading

class Record(Mapping):
    """A record as its file holds it (read like a dict), its kind and the path it was read from."""

    def __init__(self, kind: str, path: str, fields: dict):
        self.kind, self.path, self._fields = kind, path, fields

    def __getitem__(self, key):
        return self._fields[key]

    def __iter__(self):
        return iter(self._fields)

    def __len__(self):
        return len(self._fields)


def write_record(path, kind: str, fields: dict) -> Record:
    """Write a record of `kind` (its schema, kind and schema_version first, then `fields`) to
    `path`, atomically, and return it as read back; a record its kind's schema refuses (checked
    as JSON: numpy and torch numbers as the numbers they are written as) is an ArtifactError, and
    nothing is written."""
    k = KINDS[kind]
    text = dumps({"schema": k.schema_id, "kind": kind, "schema_version": k.version, **fields})
    doc = json.loads(text)
    found = kind_problem(doc, kind)
    if found:
        raise ArtifactError(f"{path}: not written: {found}")
    atomic_write_text(path, text + "\n")
    return Record(kind, str(path), doc)


def read_record(path, *kinds: str) -> Record:
    """The record at `path`, which must be of one of `kinds` (any kind if none are given) and hold
    what its kind declares; anything else is an ArtifactError of one line naming the file."""
    kinds = kinds or tuple(KINDS)
    expected = GROUPS.get(kinds) or " or ".join(KINDS[k].what for k in kinds)
    doc = read_json(path, expected)
    kind = kind_of(doc)
    if kind not in kinds:
        found = f"it is {KINDS[kind].what}" if kind else "it names no kind of record"
        raise ArtifactError(f"{path}: not {expected} ({found})")
    found = kind_problem(doc, kind)
    if found:
        raise ArtifactError(f"{path}: not {expected} ({found[:200]})")
    return Record(kind, str(path), doc)


def read_run(path) -> Record:
    """A run record: a metrics.json of trp train / decompose / finetune."""
    return read_record(path, *RUNS)


def sibling_run(path) -> list[Record]:
    """The run record (metrics.json) of the run directory holding `path` (a rank log), if it has one."""
    record = Path(path).with_name("metrics.json")
    return [read_run(record)] if record.exists() else []


def read_allocation(path) -> Record:
    return read_record(path, "allocation")


def read_runtime(path) -> Record:
    """A runtime JSON of `trp latency` whose variants each have a label and rows, every row a batch
    size and a median time per image in ms (finite, > 0); anything else is an ArtifactError naming
    the variant."""
    record = read_record(path, "latency")
    if not record["variants"]:
        raise ArtifactError(f"{path}: a runtime JSON without variants")
    for i, variant in enumerate(record["variants"], 1):
        label, rows = variant.get("label"), variant.get("rows")
        if not isinstance(label, str) or not isinstance(rows, list) or not rows:
            raise ArtifactError(f"{path}: variant {i} is not a label with rows of timings")
        for row in rows:
            if not _timed(row):
                raise ArtifactError(f"{path}: variant {label!r} has a row without a batch size and a time per image "
                                    f"> 0 ({str(row)[:120]})")
    return record


def _timed(row) -> bool:
    """Whether a row of a runtime JSON has a batch size (>= 1) and a median time per image (finite, > 0)."""
    size = row.get("batch_size") if isinstance(row, dict) else None
    ms = row.get("median_ms_per_image") if isinstance(row, dict) else None
    return type(size) is int and size >= 1 and type(ms) in (int, float) and math.isfinite(ms) and ms > 0


def final_network(record: Record) -> str:
    """The accuracy key of the network a run ends with, by its kind: a fine-tuning's fine-tuned
    network; a decomposition's decomposed one; a training's dense one for the baseline method,
    else its decomposed one."""
    if record.kind == "finetuning":
        return "finetuned"
    if record.kind == "decomposition":
        return "decomposed"
    return "dense" if record["config"]["method"] == "baseline" else "decomposed"


def top1(record: Record, network: str) -> float:
    """The top-1 of one network of a run record: "dense", "projected", "decomposed" (without
    fine-tuning) or "finetuned" (a fine-tuned decomposition)."""
    accuracy = record["accuracy"]
    if network not in accuracy:
        raise ArtifactError(f"{record.path}: the record has no {network!r} accuracy, only {sorted(accuracy)}")
    return accuracy[network]


def final_top1(record: Record) -> float:
    """The top-1 of the network a run ends with (final_network)."""
    return top1(record, final_network(record))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m trp.artifacts.records", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--schemas", required=True, metavar="DIR", help="where each kind's JSON Schema is written")
    args = ap.parse_args(argv)
    try:
        for path in write_schemas(args.schemas):
            print(path)
    except (OSError, ValueError) as e:
        ap.exit(1, f"trp.artifacts.records: {e}\n")


if __name__ == "__main__":
    main()
