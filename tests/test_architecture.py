"""The package's shape: no import cycle (function-level imports count) and layers that only
import downward: the maths (lowrank, models) and the algorithms on it (cobla, train) do no file
I/O and import nothing of the layers that do (data, artifacts, stages, report, cli)."""
import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "trp"
PURE = ("lowrank", "models", "cobla", "train")
IO = ("data", "artifacts", "stages", "report", "cli")


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every trp module `path` imports, at module or function level."""
    mod = module_name(path)
    package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("trp")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = ".".join(base[:len(base) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            if target.startswith("trp"):
                out.add(target)
                out |= {f"{target}.{a.name}" for a in node.names}
    return out


def graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in SRC.rglob("*.py")}
    return {m: {t for t in imports(p) if t in files and t != m} for m, p in files.items()}


def top(module: str) -> str:
    return module.split(".")[1] if module.count(".") else ""


def test_no_import_cycle():
    g, state, stack = graph(), {}, []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for t in sorted(g[m]):
            if state.get(t) == "open":
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(t):] + [t]))
            if t not in state:
                visit(t)
        stack.pop()
        state[m] = "done"

    for m in sorted(g):
        if m not in state:
            visit(m)


def test_layers_import_only_downward():
    bad = [(m, t) for m, targets in graph().items() if top(m) in PURE for t in targets if top(t) in IO]
    assert not bad, bad
    bad = [(m, t) for m, targets in graph().items() if top(m) == "stages" for t in targets
           if top(t) in ("report", "cli")]
    assert not bad, bad


def test_pure_layers_open_no_files():
    calls = ("open(", "read_text(", "write_text(", "torch.save(", "torch.load(", "np.load(", "np.savez(")
    offenders = [str(p.relative_to(SRC)) for layer in PURE for p in (SRC / layer).rglob("*.py")
                 if any(c in p.read_text() for c in calls)]
    assert not offenders, offenders
