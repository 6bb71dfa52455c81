"""The core's imports run one way: no import cycle among gp's modules (imports inside
functions included), and no module imports another module's private names."""
import ast
import pathlib

from tests.helpers import ROOT

PLATFORM = ROOT / "platform"


def module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(PLATFORM).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in (PLATFORM / "gp").rglob("*.py")}


def imports(path: pathlib.Path):
    """(module, name) of every absolute ``from gp... import name`` and ``import gp...`` in the file."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("gp"):
            yield from ((node.module, a.name) for a in node.names)
        elif isinstance(node, ast.Import):
            yield from ((a.name, None) for a in node.names if a.name.startswith("gp"))


def graph() -> dict[str, set[str]]:
    """Module -> the gp modules it imports (a package's ``__init__`` is not an edge of its own modules)."""
    out = {}
    for name, path in MODULES.items():
        deps = {f"{m}.{n}" if f"{m}.{n}" in MODULES else m for m, n in imports(path)}
        out[name] = {d for d in deps if d in MODULES and d != name and not name.startswith(d + ".")}
    return out


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    found, state, stack = [], {}, []

    def visit(u):
        state[u] = "open"
        stack.append(u)
        for v in sorted(edges[u]):
            if state.get(v) == "open":
                found.append(stack[stack.index(v):] + [v])
            elif v not in state:
                visit(v)
        stack.pop()
        state[u] = "done"

    for u in sorted(edges):
        if u not in state:
            visit(u)
    return found


def test_no_import_cycle_among_gps_modules():
    assert cycles(graph()) == []


def test_the_cycle_finder_finds_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


def test_no_module_imports_another_modules_private_names():
    private = [(name, m, n) for name, path in MODULES.items() for m, n in imports(path)
               if n and n.startswith("_") and not n.startswith("__")]
    assert private == []


def private_attributes(path: pathlib.Path) -> list[str]:
    """``module._name`` where ``module`` is a gp module imported in the file (``from gp import orchestrate``)."""
    tree = ast.parse(path.read_text())
    aliases = {a.asname or a.name for node in ast.walk(tree)
               if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("gp")
               for a in node.names if f"{node.module}.{a.name}" in MODULES}
    return [f"{node.value.id}.{node.attr}" for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
            and node.attr.startswith("_") and not node.attr.startswith("__")]


def test_no_module_reaches_into_another_modules_private_names():
    reached = {name: private_attributes(path) for name, path in MODULES.items()}
    assert {k: v for k, v in reached.items() if v} == {}
