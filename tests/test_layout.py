"""The layout holds: each module's `__all__` is exactly its public names, modules import only what
others export, and no layer imports one above it.

Read from the source with `ast`, so a module is checked without importing it (the Worker-only
modules import `workers`, which CPython tests have too, but `js` only exists in Pyodide).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "src"
PACKAGE = SOURCE / "gateway"

# The layers in the order a request crosses them, lowest first. A module may import from its own
# layer and the ones below it, never from one above: the ASGI toolkit knows nothing of keys or
# models, limits know nothing of the upstream, and nothing the Worker runs imports `gateway.local`.
LAYERS: list[tuple[str, ...]] = [
    ("gateway._valueclass", "gateway._digest", "gateway._seal", "gateway._js", "gateway._errors", "gateway._catalog"),
    ("gateway._asgi",),
    ("gateway._policy", "gateway._config"),
    ("gateway._envelopes", "gateway._params"),
    ("gateway._limits", "gateway._stored"),
    ("gateway._upstream",),
    ("gateway._middleware",),
    ("gateway._native", "gateway._openai", "gateway._anthropic", "gateway._key_report"),
    ("gateway._app", "gateway._reference"),
    ("gateway", "gateway.durable", "gateway.cli", "gateway.local"),
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SOURCE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_package(path: Path) -> bool:
    return path.name == "__init__.py"


MODULES: dict[str, Path] = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _tree(name: str) -> ast.Module:
    return ast.parse(MODULES[name].read_text(), filename=str(MODULES[name]))


def _top_level(tree: ast.Module) -> Iterator[ast.stmt]:
    """Top-level statements, including those under a top-level `if` or `try` (conditional imports)."""
    for node in tree.body:
        if isinstance(node, ast.If):
            yield from node.body
            yield from node.orelse
        elif isinstance(node, ast.Try):
            yield from node.body
            for handler in node.handlers:
                yield from handler.body
        else:
            yield node


def _declared_all(tree: ast.Module) -> list[str] | None:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return list(ast.literal_eval(node.value))
    return None


def _defined(tree: ast.Module) -> set[str]:
    """Names the module defines itself (functions, classes, assignments), not ones it imports."""
    names: set[str] = set()
    for node in _top_level(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names - {"__all__"}


def _imported(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in _top_level(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return names


def _resolve(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _gateway_imports(path: Path, importer: str) -> Iterator[tuple[str, str, int]]:
    """(module, name, line) for every `from gateway... import name` in a file, nested ones included."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            module = _resolve(importer, _is_package(path), node)
            if module == "gateway" or module.startswith("gateway."):
                for alias in node.names:
                    yield module, alias.name, node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("gateway"):
                    yield alias.name, "", node.lineno


def _layer_of(module: str) -> int:
    best, rank = -1, -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), index
    assert rank >= 0, f"{module} is in no layer: add it to LAYERS"
    return rank


@pytest.mark.parametrize("name", sorted(MODULES))
def test_all_lists_exactly_the_public_names(name: str) -> None:
    tree = _tree(name)
    declared = _declared_all(tree)
    public = {n for n in _defined(tree) if not n.startswith("_")}
    if declared is None:
        assert not public, f"{name} defines public names {sorted(public)} but has no __all__"
        return
    assert len(declared) == len(set(declared)), f"{name}.__all__ repeats a name"
    assert public <= set(declared), f"{name}: public but not in __all__: {sorted(public - set(declared))}"
    bound = _defined(tree) | _imported(tree)
    assert set(declared) <= bound, f"{name}: __all__ names what it does not have: {sorted(set(declared) - bound)}"
    reexported = set(declared) - _defined(tree)
    if reexported and not _is_package(MODULES[name]):
        # Only a package re-exports; a module that lists an import is either `_digest`, which picks
        # its functions from builtin modules, or a mistake.
        assert name == "gateway._digest", f"{name} re-exports {sorted(reexported)}"


def _exports(module: str) -> set[str]:
    declared = _declared_all(_tree(module))
    submodules = {other.rsplit(".", 1)[-1] for other in MODULES if other.rsplit(".", 1)[0] == module}
    return set(declared or ()) | submodules


def _files() -> list[Path]:
    return [*sorted(PACKAGE.rglob("*.py")), SOURCE / "entry.py", *sorted((REPO / "tests").rglob("*.py"))]


@pytest.mark.parametrize("path", _files(), ids=lambda p: str(p.relative_to(REPO)))
def test_imports_name_only_what_a_module_exports(path: Path) -> None:
    importer = _module_name(path) if path.is_relative_to(PACKAGE) else ""
    for module, name, line in _gateway_imports(path, importer):
        assert module in MODULES, f"{path.name}:{line} imports from {module}, which does not exist"
        if name:
            exported = _exports(module)
            assert name in exported, f"{path.name}:{line} imports {name} from {module}, which does not export it"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_layer_imports_one_above_it(name: str) -> None:
    own = _layer_of(name)
    for module, _, line in _gateway_imports(MODULES[name], name):
        assert _layer_of(module) <= own, f"{name}:{line} (layer {own}) imports {module} (layer {_layer_of(module)})"


def test_every_module_says_its_job_in_its_first_line() -> None:
    for name in MODULES:
        docstring = ast.get_docstring(_tree(name))
        assert docstring and docstring.strip(), f"{name} has no docstring"


def test_no_two_module_names_a_letter_apart() -> None:
    stems = sorted({path.stem for path in MODULES.values() if path.stem != "__init__"} | {"_asgi"})
    for index, one in enumerate(stems):
        for other in stems[index + 1 :]:
            assert not _one_edit_apart(one.strip("_"), other.strip("_")), f"{one} and {other} are a letter apart"


def _one_edit_apart(a: str, b: str) -> bool:
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    short, long = sorted((a, b), key=len)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))
