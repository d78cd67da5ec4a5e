"""No hidden global state: shared objects, context-local switches, one-way imports."""

from __future__ import annotations

import ast
import threading
from pathlib import Path

import gradcli
from gradcli.engine.mode import is_grad_enabled, no_grad
from gradcli.engine.trace import recording
from gradcli.engine.watch import watch_nonfinite


def test_as_tensor_never_returns_a_shared_object():
    first = gradcli.as_tensor(2.0)
    first.requires_grad_(True)
    assert gradcli.as_tensor(2.0) is not first
    x = gradcli.tensor(3.0)
    assert not (x * 2.0).requires_grad
    assert not (2.0 * x).requires_grad
    assert not gradcli.as_tensor(2.0).requires_grad


def test_switches_are_reset_however_the_block_ends():
    try:
        with no_grad():
            raise KeyError("inside")
    except KeyError:
        pass
    assert is_grad_enabled()
    try:
        with watch_nonfinite():
            raise KeyError("inside")
    except KeyError:
        pass
    x = gradcli.tensor(-1.0, requires_grad=True)
    gradcli.sqrt(x).backward()  # no watch is active any more: nothing is recorded
    with watch_nonfinite() as log:
        gradcli.log(gradcli.tensor(-1.0))
    assert log.first is not None and log.first.op == "log"


def test_grad_mode_and_recording_are_local_to_each_thread():
    seen: dict[str, object] = {}
    inside = threading.Event()
    release = threading.Event()

    def other() -> None:
        with no_grad(), recording() as recorder:
            inside.set()
            release.wait(5)
            gradcli.tensor(1.0) + 1.0
            seen["other"] = len(recorder.entries)

    thread = threading.Thread(target=other)
    thread.start()
    inside.wait(5)
    # the other thread is inside no_grad() and recording: this one is not affected
    assert is_grad_enabled()
    with recording() as mine:
        y = gradcli.tensor(2.0, requires_grad=True) * 3.0
    release.set()
    thread.join(5)
    assert y.requires_grad
    assert len(mine.entries) == 1 and seen["other"] == 1


# -- imports point one way ----------------------------------------------------------------
PACKAGE = Path(gradcli.__file__).parent
#: a module of a layer may import modules of its own layer and of the layers after it
#: (the three batch packages are layers of their own: orchestration schedules, plans compile,
#: point files read and write; neither of the last two knows the other)
LAYERS = [
    ("gradcli.cli",),
    ("gradcli.batch",),
    ("gradcli.plans",),
    ("gradcli.pointfiles",),
    ("gradcli.compute", "gradcli.steps", "gradcli.checking", "gradcli.classification",
     "gradcli.sampling", "gradcli.results", "gradcli.drawing",
     "gradcli.functional", "gradcli.language", "gradcli.formula", "gradcli.render"),
    ("gradcli.ops",),
    ("gradcli.engine",),
    ("gradcli.errors", "gradcli.numbers", "gradcli.columns"),
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, name: str, modules: frozenset[str] = frozenset()) -> set[str]:
    """gradcli modules this file imports, at any depth (outside TYPE_CHECKING blocks).

    As import-linter counts them: `from package import module` imports that module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {id(n) for node in ast.walk(tree)
               if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
               for n in ast.walk(node)}
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            submodules = {f"{base}.{a.name}" for a in node.names} & modules
            found.update(submodules)
            if len(submodules) < len(node.names):
                found.add(base)
    return {m for m in found if m.startswith("gradcli")}


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    names = frozenset(modules)
    return {name: {m for m in _imports(path, name, names) if m in modules and m != name}
            for name, path in modules.items()}


def _layer(module: str) -> int | None:
    for k, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return k
    return None


def test_imports_point_from_the_cli_down_to_the_engine():
    wrong = []
    for module, imported in _graph().items():
        here = _layer(module)
        for other in imported:
            there = _layer(other)
            if here is not None and there is not None and there < here:
                wrong.append(f"{module} imports {other}")
    assert wrong == []


def test_plans_and_point_files_do_not_know_each_other():
    graph = _graph()
    crossing = sorted(f"{module} imports {other}" for module, imported in graph.items()
                      for other in imported
                      if {_layer(module), _layer(other)} == {_layer("gradcli.plans"),
                                                            _layer("gradcli.pointfiles")})
    assert crossing == []


def test_there_are_no_import_cycles():
    graph = _graph()
    # Tarjan's strongly connected components, with an explicit stack
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []
    for start in sorted(graph):
        if start in index:
            continue
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        work = [(start, iter(sorted(graph[start])))]
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
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
                    if len(component) > 1:
                        cycles.append(sorted(component))
    assert cycles == []


def test_the_import_check_sees_a_cycle_when_there_is_one(tmp_path):
    # the graph reader itself: relative and absolute imports both count
    source = tmp_path / "mod.py"
    source.write_text("from gradcli.engine import tensor\nfrom . import autograd\n")
    modules = frozenset({"gradcli.engine.tensor", "gradcli.engine.autograd"})
    assert _imports(source, "gradcli.engine.mod", modules) == modules
