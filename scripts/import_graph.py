"""The core's import graph, read from the source (nothing is imported or run), and its layering checked.

    python scripts/import_graph.py                 # edges between the core's parts, then the checks
    python scripts/import_graph.py --root OTHER/common/videohub --modules   # another checkout, per module

Parts, lowest first (a part may import only parts below it): errors, card, io, models, runtime, weights,
tasks, viz, hub, batch, train; `client`, `measure` and `distribution` stand apart. Checks (exit status 1 when any fails):
- no cycle between modules (`a` imports `b` imports ... `a`), module-level or not;
- no upward edge (a lower part importing a higher one);
- no function-local import of the core inside the core (used to hide a cycle);
- `tasks` never imports `paddlehub`.
"""
from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Set, Tuple

ROOT = Path(__file__).resolve().parents[1] / "common" / "videohub"
LAYERS = ["errors", "card", "io", "models", "runtime", "weights", "tasks", "viz", "hub", "batch", "train"]
APART = ["client", "measure", "distribution", "__init__", "labels"]


def module_name(path: Path, root: Path) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return ".".join(["videohub", *parts])


def part_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def read_imports(root: Path) -> Tuple[Dict[str, Set[str]], List[str], List[str]]:
    """(module -> core modules it imports, function-local core imports, paddlehub imports in tasks)."""
    modules = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    edges: Dict[str, Set[str]] = defaultdict(set)
    local: List[str] = []
    hub_in_tasks: List[str] = []
    for mod, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        nested = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                  for n in ast.walk(f) if n is not f}
        package = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
        for node in ast.walk(tree):
            names: List[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative import
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
                names = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            for name in names:
                if name.split(".")[0] == "paddlehub" and part_of(mod) == "tasks":
                    hub_in_tasks.append(f"{mod} imports {name}")
                if name.split(".")[0] != "videohub":
                    continue
                target = name
                while target not in modules and "." in target:
                    target = target.rsplit(".", 1)[0]
                if target == mod:
                    continue
                edges[mod].add(target)
                note = f"{mod}:{node.lineno} imports {target} inside a function"
                if id(node) in nested and note not in local:
                    local.append(note)
    for mod in modules:
        edges.setdefault(mod, set())
    return dict(edges), local, hub_in_tasks


def cycles(edges: Dict[str, Set[str]]) -> List[List[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on: Set[str] = set()
    out: List[List[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def upward(edges: Dict[str, Set[str]]) -> List[str]:
    rank = {p: i for i, p in enumerate(LAYERS)}
    bad = []
    for a, targets in sorted(edges.items()):
        for b in sorted(targets):
            pa, pb = part_of(a), part_of(b)
            if pa in rank and pb in rank and rank[pb] > rank[pa]:
                bad.append(f"{a} ({pa}) imports {b} ({pb})")
            elif pb in APART and pb != "__init__" and pa != pb:
                bad.append(f"{a} imports {b}, which stands apart")
    return bad


def main(argv: List[str] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", type=Path, default=ROOT, help="the videohub package folder")
    ap.add_argument("--modules", action="store_true", help="list edges per module, not per part")
    args = ap.parse_args(argv)
    edges, local, hub_in_tasks = read_imports(args.root)
    if args.modules:
        for a in sorted(edges):
            print(f"{a} -> {', '.join(sorted(edges[a])) or '(nothing)'}")
    else:
        by_part: Dict[str, Dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for a, targets in edges.items():
            for b in targets:
                if part_of(a) != part_of(b):
                    by_part[part_of(a)][part_of(b)] += 1
        order = LAYERS + sorted({part_of(m) for m in edges} - set(LAYERS))
        for p in reversed(order):
            if p in {part_of(m) for m in edges}:
                deps = ", ".join(f"{q} ({n})" for q, n in sorted(by_part[p].items(), key=lambda kv: order.index(kv[0])
                                                                       if kv[0] in order else 99))
                print(f"{p:>9} -> {deps or '(nothing)'}")
    problems = [("cycles", [" -> ".join(c) for c in cycles(edges)]), ("upward edges", upward(edges)),
                ("function-local core imports", local), ("paddlehub in tasks", hub_in_tasks)]
    failed = False
    for title, items in problems:
        print(f"{title}: {len(items)}")
        for it in items:
            print(f"  {it}")
        failed = failed or bool(items)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
