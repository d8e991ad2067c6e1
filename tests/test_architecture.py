"""The layout's two rules, checked on every `make test`: no import circle among the project's
modules, and each room of include/launch imports only its own or lower rooms (docs/ARCHITECTURE.md).

Every import counts: module level, inside functions (the engine imports task bodies lazily) and
under TYPE_CHECKING, so a circle cannot hide behind a late import. Run alone:

    .venv/bin/python -m pytest tests/test_architecture.py -q
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# What a plan may name: each plug-in kind's params and the models they embed. The plan validates
# against these, so they sit below it; the plug-ins' bodies sit far above (they write evidence).
KINDS = frozenset({
    "include.launch.plugins", "include.launch.plugins.checks", "include.launch.plugins.checks.catalog",
    "include.launch.plugins.changes", "include.launch.plugins.changes.catalog", "include.launch.plugins.metrics",
    "include.launch.plugins.quality", "include.launch.plugins.quality.model", "include.launch.review.model",
    "include.launch.plugins.metrics.catalog", "include.launch.beta.cohort",
    "include.monitoring.promql",  # the PromQL table: which metrics a Prometheus source provides
})
# Rooms from the bottom up; a module belongs to the room of its longest matching prefix.
ROOMS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("core", ("include.launch.core",)),
    ("kinds", ()),
    ("plan", ("include.launch.plan",)),
    ("spec", ("include.launch.spec",)),
    ("evidence", ("include.launch.evidence",)),
    ("beta", ("include.launch.beta",)),
    ("review", ("include.launch.review",)),
    ("monitoring", ("include.monitoring",)),
    ("plugins", ("include.launch.plugins",)),
    ("engine", ("include.launch.engine",)),
    ("scorecard", ("include.launch.scorecard",)),
    ("ui", ("include.launch.ui",)),
    ("entry", ("include.launch", "include.launch.dags", "include.launch.ledger", "include.launch.incidents")),
)


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path, packages: tuple[str, ...] = ("include",)) -> dict[str, set[str]]:
    """Module -> the project modules it imports (``from a import b`` counts b when b is a module)."""
    paths = {module_name(p, root): p for package in packages for p in sorted((root / package).rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names if alias.name in paths)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                for alias in node.names:
                    if f"{base}.{alias.name}" in paths:
                        targets.add(f"{base}.{alias.name}")
                    elif base in paths:
                        targets.add(base)
        graph[name] = targets - {name}
    return graph


def import_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import circle as its modules in order, or [] when there is none."""
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        return list(exc.args[1])
    return []


def room_of(module: str) -> int | None:
    if module in KINDS:
        return [name for name, _ in ROOMS].index("kinds")
    best: tuple[int, int] | None = None
    for index, (_, prefixes) in enumerate(ROOMS):
        for prefix in prefixes:
            matches = module == prefix or module.startswith(prefix + ".")
            if matches and (best is None or len(prefix) > best[0]):
                best = (len(prefix), index)
    return None if best is None else best[1]


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Every import from a lower room into a higher one, as 'a (room) -> b (room)'."""
    names = [name for name, _ in ROOMS]
    found = []
    for module, targets in sorted(graph.items()):
        here = room_of(module)
        for target in sorted(targets):
            there = room_of(target)
            if here is None or there is None or there <= here:
                continue
            found.append(f"{module} ({names[here]}) -> {target} ({names[there]})")
    return found


def test_no_import_circle_among_the_project_modules() -> None:
    graph = import_graph(ROOT, ("include", "dags", "plugins"))
    assert import_cycle(graph) == []


def test_every_room_imports_only_its_own_or_lower_rooms() -> None:
    assert upward_imports(import_graph(ROOT)) == []


def test_every_engine_module_belongs_to_a_room() -> None:
    strays = [m for m in import_graph(ROOT) if m.startswith("include.launch.") and room_of(m) in (None, len(ROOMS) - 1)
              and m not in ("include.launch.dags", "include.launch.ledger", "include.launch.incidents")]
    assert strays == [], f"put these in a room (and in docs/ARCHITECTURE.md): {strays}"


# --- the checker refuses what it must ------------------------------------------------------------

def _write(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_a_circle_through_a_late_import_is_found(tmp_path: Path) -> None:
    root = _write(tmp_path, {
        "include/__init__.py": "", "include/launch/__init__.py": "",
        "include/launch/engine/__init__.py": "",
        "include/launch/engine/steps.py": "def f():\n    from include.launch.engine import dagbuilder\n",
        "include/launch/engine/dagbuilder.py": "from include.launch.engine.steps import f\n",
    })
    cycle = import_cycle(import_graph(root))
    assert set(cycle) == {"include.launch.engine.steps", "include.launch.engine.dagbuilder"}


def test_a_lower_room_importing_a_higher_one_is_named(tmp_path: Path) -> None:
    root = _write(tmp_path, {
        "include/__init__.py": "", "include/launch/__init__.py": "",
        "include/launch/evidence/__init__.py": "", "include/launch/engine/__init__.py": "",
        "include/launch/engine/steps.py": "",
        "include/launch/evidence/report.py": "if False:\n    from include.launch.engine.steps import x\n",
    })
    assert upward_imports(import_graph(root)) == [
        "include.launch.evidence.report (evidence) -> include.launch.engine.steps (engine)"]


@pytest.mark.parametrize(("module", "room"), [
    ("include.launch.plugins.checks.catalog", "kinds"), ("include.launch.plugins.checks.health", "plugins"),
    ("include.launch.review.model", "kinds"), ("include.launch.review.analysis", "review"),
    ("include.launch.ledger", "entry"), ("include.launch.evidence.ledger", "evidence"),
])
def test_rooms_are_assigned_by_the_longest_prefix(module: str, room: str) -> None:
    index = room_of(module)
    assert index is not None and ROOMS[index][0] == room
