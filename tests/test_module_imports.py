"""How histnet's modules import each other: no cycles, no test code, no private scikit-learn.

Read from the source with ``ast`` (nothing is imported), counting every import statement,
those inside functions too: a lazy import still ties two modules together.
"""

import ast
from pathlib import Path

import histnet

ROOT = Path(histnet.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict:
    """Module name -> set of the modules it imports (absolute names)."""
    graph = {}
    for path in ROOT.rglob("*.py"):
        name = _module_name(path)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = package.split(".")
                if node.level:
                    base = base[:len(base) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module
                found.add(target)
                found.update(f"{target}.{a.name}" for a in node.names)  # `from . import x` names a module
        graph[name] = found
    return {m: {t for t in targets if t in graph and t != m} for m, targets in graph.items()}


def _cycle(graph, start):
    """A path start -> ... -> start, or None."""
    stack, seen = [(start, [start])], set()
    while stack:
        node, path = stack.pop()
        for nxt in graph[node]:
            if nxt == start:
                return path + [start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, path + [nxt]))
    return None


def test_no_module_of_histnet_is_in_an_import_cycle():
    graph = _imports()
    assert {"histnet.methods.registry", "histnet.methods.alexnet", "histnet.studies"} <= set(graph)
    for name in graph:
        assert _cycle(graph, name) is None, " -> ".join(_cycle(graph, name))
    # the stand-in's array module uses its kernel compiler, which knows nothing of it
    assert "histnet.standin.elementwise" in graph["histnet.standin.arrays"]
    assert not any(t.startswith("histnet.") and t != "histnet.standin" for t in graph["histnet.standin.elementwise"])


def test_library_code_imports_no_test_code_and_no_private_sklearn():
    for path in ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for n in names:
                assert not n.startswith("histnet.testing") and not n.startswith("tests"), (path, n)
                assert not (n.startswith("sklearn") and any(p.startswith("_") for p in n.split("."))), (path, n)
