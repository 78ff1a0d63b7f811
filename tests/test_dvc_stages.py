"""dvc.yaml's stages are as granular as the code: a profile stage depends on every part of src/trp but
the renderers, and each published table or figure has a stage that depends on exactly the trp.report
modules its renderer imports, so that a change to one renderer marks only the tables it draws out of date."""
import ast
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "src/trp/report"
STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
PUBLISHED = ("cpu",)  # the profiles whose tables are committed (paper_tables/<profile>/)


def report_imports(module: str) -> set[str]:
    """The trp.report modules `module` imports (from .x import ..., from . import x, y)."""
    tree = ast.parse((REPORT / f"{module}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found |= {node.module} if node.module else {a.name for a in node.names}
    return found


def renderer_modules(renderer: str) -> set[str]:
    """The files of `renderer` and of every trp.report module it imports, directly or not."""
    seen, todo = set(), [renderer]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo += report_imports(module)
    return {f"src/trp/report/{m}.py" for m in seen}


def report_deps(stage: dict) -> set[str]:
    return {d for d in stage["deps"] if d.startswith("src/trp/report")}


def table_stages(profile: str) -> dict[str, dict]:
    """renderer name -> the stage that renders its table or figure."""
    return {name.removeprefix(f"{profile}_"): s for name, s in STAGES.items()
            if name.startswith(f"{profile}_") and name != f"{profile}_metrics"}


def test_a_profile_stage_depends_on_all_code_but_the_renderers():
    tracked = subprocess.run(["git", "ls-files", "src/trp"], cwd=ROOT, capture_output=True, text=True, check=True)
    parts = {f"src/trp/{p.split('/')[2]}" for p in tracked.stdout.split()} - {"src/trp/report"}
    for profile in ("cpu", "paper", "paper_cpu"):
        deps = set(STAGES[profile]["deps"])
        assert parts <= deps, f"dvc.yaml: stage {profile} lacks {sorted(parts - deps)}"
        assert report_deps(STAGES[profile]) == {"src/trp/report/paper.py"}  # the run table's method keys


def test_each_published_table_has_a_stage_on_its_renderer_alone():
    for profile in PUBLISHED:
        stages = table_stages(profile)
        drawn = {p.name.removesuffix(".provenance.json").removesuffix("-failures")
                 for p in (ROOT / "paper_tables" / profile).glob("*.provenance.json")}
        drawn |= {p.stem for p in (ROOT / "paper_tables" / profile).glob("fig*.png")}
        assert set(stages) == drawn
        for renderer, stage in stages.items():
            assert report_deps(stage) == renderer_modules(renderer), f"dvc.yaml: stage {profile}_{renderer}"
            assert f"--allowed-rules {renderer} " in stage["cmd"] or f"trp render {renderer} " in stage["cmd"]
            assert all((ROOT / d).exists() for d in stage["deps"]), f"dvc.yaml: stage {profile}_{renderer}"


def test_a_renderer_change_marks_only_its_tables():
    """table1.py is read by Table 1 and by the claims (which judge Table 1's rows), by nothing else."""
    readers = {r for r, s in table_stages("cpu").items() if "src/trp/report/table1.py" in s["deps"]}
    assert readers == {"table1", "claims"}
