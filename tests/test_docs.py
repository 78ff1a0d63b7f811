"""The README and docs/: short README, no dangling link or path, and a project that speaks only of itself."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# text a user reads: the pages, the profiles' comments, the scripts
TEXTS = PAGES + sorted((ROOT / "config").glob("*.yaml")) + sorted((ROOT / "scripts").glob("*.*"))
MAKING_OF = re.compile(r"(?<![\w.])sessions?(?![\w.(])|\blent\b|\bborrow|\bissues?\b|submission|device time|device call"
                       r"|\btags? (?:are|is) not carried", re.I)


def anchors(page: Path) -> set[str]:
    """GitHub's anchors of a page's headings."""
    heads = re.findall(r"^#+ (.+)$", page.read_text(), flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in heads}


def test_the_readme_is_short_and_its_finding_comes_first():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    assert text.index("## What the published `cpu` profile shows") < text.index("## Profiles")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_reaches_a_file_and_heading(page):
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+://", target):
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        assert dest.exists(), f"{page.name}: link to {target}: no such file"
        if anchor:
            assert anchor in anchors(dest), f"{page.name}: link to {target}: no such heading"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_named_file_of_the_repository_exists(page):
    for path in re.findall(r"(?<![\w/.-])((?:scripts|benchmarks|config|docs|workflow|tests|src)/[\w./-]+\.\w+)", page.read_text()):
        assert (ROOT / path).exists(), f"{page.name} names {path}, which does not exist"


@pytest.mark.parametrize("text", TEXTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_project_speaks_only_of_itself(text):
    found = [line for line in text.read_text().splitlines() if MAKING_OF.search(line)]
    assert not found, f"{text.relative_to(ROOT)} speaks of how the project was made: {found}"


def test_the_library_snippet_runs_as_written(capsys):
    """docs/usage.md's Python block: build, regularise, project, decompose, count MACs."""
    block = re.search(r"```python\n(.*?)```", (ROOT / "docs" / "usage.md").read_text(), flags=re.S)[1]
    exec(compile(block, "docs/usage.md", "exec"), {})
    speedups = eval(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(speedups) == {"conv", "whole"} and speedups["conv"] > 1
