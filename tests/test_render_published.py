"""The cpu profile's published tables re-render from its committed records through its run table
(trp.runs.RunTable.document, as the workflow writes results/cpu/runs.json): the same numbers, rows,
points and provenance (but the commit of the code that drew them). And a run table that is missing
or is not one stops a renderer with one line."""
import json
from pathlib import Path

import pytest

from trp import cli, profile
from trp.runs import RunTable

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = ROOT / "paper_tables" / "cpu"


def without_renderer(doc):
    """A rendering's JSON without the commit of the code that drew it."""
    if isinstance(doc, dict):
        return {k: without_renderer(v) for k, v in doc.items() if k != "rendered_by"}
    return [without_renderer(v) for v in doc] if isinstance(doc, list) else doc


@pytest.fixture
def cpu_run_table(tmp_path, monkeypatch):
    """results/cpu/runs.json as the workflow writes it, in a scratch folder; the records' paths are
    relative to the checkout, the working directory."""
    monkeypatch.chdir(ROOT)
    path = tmp_path / "runs.json"
    path.write_text(json.dumps(RunTable(profile.load(ROOT / "config" / "cpu.yaml")).document()))
    return path


@pytest.mark.parametrize("name, extra", [("table1", []), ("fig3", []),
                                         ("cobla", ["--runtime", "results/cpu/runtime/resnet20-cobla.json"])])
def test_the_cpu_profile_re_renders_from_its_run_table(cpu_run_table, tmp_path, name, extra):
    out = tmp_path / "out" / name
    argv = ["render", name, "--run-table", str(cpu_run_table), *extra, "--profile", "cpu", "--out", str(out)]
    assert cli.main(argv) == 0
    ours = json.loads(out.with_suffix(".json").read_text())
    assert without_renderer(ours) == without_renderer(json.loads((PUBLISHED / f"{name}.json").read_text()))


@pytest.mark.parametrize("content, message", [(None, "run table not found"),
                                              ("[1, 2]", "not a run table (no 'profile'"),
                                              ("{", "not a readable run table")])
def test_a_renderer_refuses_what_is_not_a_run_table(tmp_path, capsys, content, message):
    path = tmp_path / "runs.json"
    if content is not None:
        path.write_text(content)
    argv = ["render", "table1", "--run-table", str(path), "--profile", "cpu", "--out", str(tmp_path / "t")]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
