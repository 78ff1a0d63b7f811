"""trp.artifacts.records: the committed JSON Schemas are those the module generates, every committed
record and every record a stage writes is valid under its kind's schema (checked with jsonschema,
not with the module's own check), and a record of the wrong kind or shape is refused in one line."""
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from trp.artifacts import ArtifactError
from trp.artifacts.records import KINDS, json_schema, kind_of, read_record, read_run, write_record, write_schemas
from trp.cli import main

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "docs" / "schemas"


def assert_valid(doc: dict, kind: str) -> None:
    jsonschema.Draft202012Validator(json_schema(kind)).validate(doc)


def committed_json() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "results/**.json"], cwd=ROOT, capture_output=True, text=True,
                            check=True)
    return listed.stdout.split()


def test_committed_schemas_are_the_generated_ones(tmp_path):
    written = write_schemas(tmp_path)
    assert sorted(p.name for p in SCHEMAS.glob("*.json")) == sorted(p.name for p in written)
    for path in written:
        jsonschema.Draft202012Validator.check_schema(json.loads(path.read_text()))
        assert (SCHEMAS / path.name).read_text() == path.read_text(), f"regenerate {SCHEMAS.relative_to(ROOT)}"


def test_the_module_writes_the_schemas_and_says_where(tmp_path):
    out = subprocess.run([sys.executable, "-m", "trp.artifacts.records", "--schemas", str(tmp_path)],
                         capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.split() == [str(tmp_path / f"{k}.schema.json") for k in KINDS]


def test_every_committed_record_is_valid_under_its_kinds_schema():
    kinds = {}
    for path in committed_json():
        doc = json.loads((ROOT / path).read_text())
        kind = kind_of(doc)
        if kind is not None:
            assert_valid(doc, kind)
            assert read_record(ROOT / path).kind == kind
            kinds.setdefault(kind, []).append(path)
    named = {name: sorted(p for p in committed_json() if p.endswith(name)) for name in ("/metrics.json", "/ranks.json")}
    assert named["/metrics.json"] == sorted(kinds["training"] + kinds["decomposition"] + kinds["finetuning"])
    assert named["/ranks.json"] == sorted(kinds["allocation"]) and kinds["latency"]


TINY = ["method=trp", "e=0.1", "m=2", "train_subset=128", "test_subset=50", "batch_size=64", "device=cpu"]
TIMING = ["--batch-sizes", "1", "--min-run-time", "0.01", "--rounds", "1", "--memory-formats", "contiguous"]


@pytest.fixture(scope="module")
def written(cifar_npz, tmp_path_factory):
    """kind -> the record each CIFAR stage wrote from a tiny TRP training (ImageNet's: test_imagenet)."""
    d = tmp_path_factory.mktemp("records")
    npz, run = str(cifar_npz), d / "train"
    commands = {
        "training": ["train", "--no-progress", "--set", *TINY, "epochs=1", "--data", npz, "--out", str(run)],
        "decomposition": ["decompose", "--checkpoint", str(run / "model.pt"), "--scheme", "channel", "--data", npz,
                          "--test-subset", "50", "--out", str(d / "tsvd")],
        "finetuning": ["finetune", "--checkpoint", str(run / "decomposed.pt"), "--set", "epochs=1", "train_subset=64",
                       "test_subset=50", "device=cpu", "--data", npz, "--out", str(d / "ft"), "--no-progress"],
        "allocation": ["allocate", "--checkpoint", str(run / "model.pt"), "--scheme", "channel", "--method", "energy",
                       "--target-speedup", "2", "--out", str(d / "ranks.json")],
        "latency": ["latency", "--checkpoint", f"baseline={run / 'model.pt'}", f"x={run / 'decomposed.pt'}", *TIMING,
                    "--out", str(d / "latency.json")],
    }
    for argv in commands.values():
        assert main(argv) in (0, None)
    paths = {"training": run / "metrics.json", "decomposition": d / "tsvd" / "metrics.json",
             "finetuning": d / "ft" / "metrics.json", "allocation": d / "ranks.json", "latency": d / "latency.json"}
    return {kind: json.loads(path.read_text()) for kind, path in paths.items()}


@pytest.mark.parametrize("kind", ["training", "decomposition", "finetuning", "allocation", "latency"])
def test_a_record_each_stage_writes_names_its_kind_and_is_valid(written, kind):
    doc = written[kind]
    assert list(doc)[:3] == ["schema", "kind", "schema_version"]
    assert (doc["schema"], doc["kind"], doc["schema_version"]) == (KINDS[kind].schema_id, kind, KINDS[kind].version)
    assert_valid(doc, kind)


def training_record() -> dict:
    return json.loads((ROOT / "results/cpu/runs/resnet20/baseline/s0/metrics.json").read_text())


def write(path: Path, doc: dict) -> Path:
    path.write_text(json.dumps(doc))
    return path


def without(doc: dict, key: str) -> dict:
    return {k: v for k, v in doc.items() if k != key}


BAD = [  # (what is wrong, the record, what the refusal says)
    ("another kind", lambda d: {**d, "schema": "trp.allocation/1"},
     "(it is an allocation (ranks.json of `trp allocate`))"),
    ("a kind that is not one", lambda d: {**d, "kind": "painting"}, "(it names no kind of record)"),
    ("a kind against its schema", lambda d: {**d, "kind": "training", "schema": "trp.finetune/1"},
     "the training record['schema'] is 'trp.finetune/1', not 'trp.run/1'"),
    ("no accuracy", lambda d: without(d, "accuracy"), "(the training record has no 'accuracy')"),
    ("no model in its config", lambda d: {**d, "config": without(d["config"], "model")},
     "the training record['config'] has no 'model'"),
    ("an undeclared key", lambda d: {**d, "notes": "x"}, "the training record has an unknown key 'notes'"),
    ("a rank that is no integer", lambda d: {**d, "ranks": {"layer1.0.conv1": 2.5}},
     "the training record['ranks']['layer1.0.conv1'] is not of type integer"),
]


@pytest.mark.parametrize("damage, says", [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_a_bad_record_is_refused_in_one_line_as_jsonschema_refuses_it(tmp_path, damage, says):
    doc = damage(training_record())
    with pytest.raises(ArtifactError) as refused:
        read_run(write(tmp_path / "metrics.json", doc))
    message = str(refused.value)
    assert message.startswith(f"{tmp_path / 'metrics.json'}: not a run record") and says in message
    assert "\n" not in message
    with pytest.raises(jsonschema.ValidationError):
        assert_valid(doc, kind_of(doc) or "training")


def test_a_record_written_before_records_named_their_kind_is_read_by_its_schema(tmp_path):
    legacy = training_record()
    assert "kind" not in legacy and "schema_version" not in legacy
    record = read_run(write(tmp_path / "metrics.json", legacy))
    assert record.kind == "training" and dict(record) == legacy and record.path == str(tmp_path / "metrics.json")


def test_the_writer_refuses_an_undeclared_field_and_writes_nothing(tmp_path):
    fields = {k: v for k, v in training_record().items() if k != "schema"}
    with pytest.raises(ArtifactError, match="not written: the training record has an unknown key 'notes'"):
        write_record(tmp_path / "metrics.json", "training", {**fields, "notes": "x"})
    assert not (tmp_path / "metrics.json").exists()
    record = write_record(tmp_path / "metrics.json", "training", fields)
    assert read_run(tmp_path / "metrics.json") == record and record.kind == "training"
