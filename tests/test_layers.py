"""The architecture as docs/architecture.md states it, checked on every run from the sources:
imports run downward only (the floors below), no import circle between modules, no module over
500 lines, and the app and the CLI reach the capabilities through ``cdir.api`` only.

A new room of ``cdir/`` fails :func:`test_every_room_has_a_floor` until it is given a floor here
and in docs/architecture.md.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "cdir"
MAX_LINES = 500

# The floor of each room: a module may import its own room and the rooms of lower floors only.
FLOORS: dict[str, int] = {
    "cdir": 0,  # the package's __init__: version and a logging handler, imports nothing
    "cdir.assets": 0,  # the data shipped in the package (examples, the demo model)
    "cdir.imaging": 0,  # decoding image files
    "cdir.store": 0,  # a collection on disk, the cache, vector indexes
    "cdir.names": 0,  # names shown as text, control and bidi characters escaped
    "cdir.models": 1,  # presets, weights, encoders, captioners, cached text embeddings
    "cdir.ingest": 2,  # files to a collection
    "cdir.browse": 2,  # the grid of a collection
    "cdir.maps": 2,  # the collection in 2-D
    "cdir.retrieval": 3,  # a query to hits
    "cdir.duplicates": 3,  # near-duplicate groups and decisions
    "cdir.evaluation": 4,  # the paper's protocol
    "cdir.export": 5,  # a collection out to other tools
    "cdir.api": 6,  # one function per user action
    "cdir.app": 7,  # the web app
    "cdir.cli": 8,  # the command line (``cdir app`` starts the web app)
    "cdir.__main__": 9,  # ``python -m cdir``
}

# What the app and the CLI may import: the API, their own modules, the shipped data (the app's
# examples folder) and (the CLI, for ``cdir app``) the app's entry point.
FRONT_DOORS = {
    "cdir.app": ("cdir.api", "cdir.app", "cdir.assets"),
    "cdir.cli": ("cdir.api", "cdir.cli", "cdir.app.main"),
}
# Imports below the API from cdir/app/ and cdir/cli/ today: none (the service layer, cdir.api,
# holds every user action).
BELOW_API_TODAY = 0


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the imported module (or package)
    line: int
    top_level: bool  # False: inside a function (loaded when it runs)


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def room(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else parts[0]


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(module: str, source: str, known: Iterable[str]) -> Iterator[Import]:
    """The ``cdir`` imports of one module's source; ``from cdir.x import y`` names ``cdir.x.y``
    when that is a module of ``known``."""
    known = set(known)
    tree = ast.parse(source)
    top = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            subs = [f"{node.module}.{alias.name}" for alias in node.names]
            targets = [s for s in subs if s in known] or [node.module]
        else:
            continue
        for target in targets:
            if target == "cdir" or target.startswith("cdir."):
                yield Import(module, target, node.lineno, id(node) in top)


def all_imports() -> list[Import]:
    found = modules()
    return [
        imp
        for name, path in found.items()
        for imp in imports_of(name, path.read_text(encoding="utf-8"), found)
    ]


def upward(imports: Iterable[Import]) -> list[str]:
    return [
        f"{i.module}:{i.line} imports {i.target} (floor {FLOORS[room(i.target)]} >= "
        f"{FLOORS[room(i.module)]})"
        for i in imports
        if room(i.module) != room(i.target) and FLOORS[room(i.target)] >= FLOORS[room(i.module)]
    ]


def below_api(imports: Iterable[Import]) -> list[str]:
    """Imports of cdir/app and cdir/cli that reach past their front door."""
    bad = []
    for i in imports:
        allowed = FRONT_DOORS.get(room(i.module))
        if allowed is None:
            continue
        if not any(i.target == a or i.target.startswith(a + ".") for a in allowed):
            bad.append(f"{i.module}:{i.line} imports {i.target}")
    return bad


def test_every_room_has_a_floor() -> None:
    rooms = {room(name) for name in modules()}
    assert rooms <= set(FLOORS), f"rooms without a floor: {sorted(rooms - set(FLOORS))}"


def test_imports_run_downward() -> None:
    assert upward(all_imports()) == []


def test_no_import_circle_between_modules() -> None:
    """Module-level imports only: an import inside a function runs after every module loaded."""
    graph: dict[str, set[str]] = {name: set() for name in modules()}
    for i in all_imports():
        if i.top_level and i.target in graph and i.target != i.module:
            graph[i.module].add(i.target)
    circles = [c for c in strongly_connected(graph) if len(c) > 1]
    assert circles == []


def test_no_module_over_the_line_cap() -> None:
    sizes = {
        name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in modules().items()
    }
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


def test_the_rules_catch_what_they_forbid() -> None:
    """The checks themselves: an app module reaching below the API and a store module reaching up
    are both reported; the API, the app's own widgets and the CLI's ``cdir app`` are not."""
    known = {"cdir.api", "cdir.store.index", "cdir.app.widgets", "cdir.app.main"}
    app_source = (
        "from cdir import api\nfrom cdir.app.widgets import x\n"
        "def f():\n    from cdir.store.index import build_index\n"
    )
    found = list(imports_of("cdir.app.views", app_source, known))
    assert below_api(found) == ["cdir.app.views:4 imports cdir.store.index"]
    assert not found[2].top_level and found[0].top_level
    cli = list(imports_of("cdir.cli.app", "from cdir.app.main import main\n", known))
    assert below_api(cli) == [] and upward(cli) == []
    store = list(imports_of("cdir.store.cache", "import cdir.retrieval.search\n", known))
    assert upward(store) == ["cdir.store.cache:1 imports cdir.retrieval.search (floor 3 >= 0)"]


def test_app_and_cli_import_only_the_api() -> None:
    assert below_api(all_imports()) == []


def test_imports_below_the_api_do_not_grow() -> None:
    """The count the docs give (docs/architecture.md): no import below the API in the app or
    the CLI."""
    bad = below_api(all_imports())
    assert len(bad) <= BELOW_API_TODAY, "\n".join(bad)


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components (iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                out.append(sorted(component))
    return out
