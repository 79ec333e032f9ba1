"""The house rules that keep the layers holding (docs/architecture.md).

The import contracts themselves are checked by ``lint-imports`` in ``make test``; these
tests catch what a contract cannot see."""

import ast
from pathlib import Path

import lonewatch

ROOT = Path(lonewatch.__file__).parent


def _sources():
    for path in sorted(ROOT.rglob("*.py")):
        if "migrations" not in path.parts:
            yield path


def _function_imports(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    lines = path.read_text().splitlines()

    def visit(node, function):
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) \
                else function
            if function and isinstance(child, ast.Import | ast.ImportFrom):
                yield function, child.lineno, lines[child.lineno - 1]
            yield from visit(child, inner)

    yield from visit(tree, None)


def test_no_import_hides_inside_a_function():
    """An import inside a function usually dodges an import circle. Allowed only in an
    ``AppConfig.ready()`` (where Django wants an app's registrations made) and where the
    line says why it is lazy (``# lazy: …``: an optional or heavy module)."""
    hidden = []
    for path in _sources():
        for function, lineno, line in _function_imports(path):
            if path.name == "apps.py" and function == "ready":
                continue
            if "# lazy:" in line:
                continue
            hidden.append(f"{path.relative_to(ROOT.parent)}:{lineno} in {function}(): "
                          f"{line.strip()}")
    assert not hidden, "imports hidden inside functions:\n" + "\n".join(hidden)


def test_every_layer_lists_its_hooks_in_one_module():
    """Hooks are declared only in a layer's ``hooks.py`` (and the mechanism in core)."""
    declared_elsewhere = []
    for path in _sources():
        if path.name == "hooks.py":
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Hook":
                declared_elsewhere.append(f"{path.relative_to(ROOT.parent)}:{node.lineno}")
    assert not declared_elsewhere, declared_elsewhere
