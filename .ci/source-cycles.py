#!/usr/bin/env python3
# Fails when two sibling modules of a crate's sources refer to each other,
# directly or through other siblings (a module and its own children
# aside). Reads every `crate::a::b` and `super::a` path outside comments
# and unit tests, function bodies included, maps it to the deepest module
# file it names, and searches each parent's children for strongly
# connected sets. Usage: source-cycles.py <crate>/src ...
# See docs/architecture.md, "Module dependencies".
import collections
import os
import re
import sys


def modules(root):
    found = {}
    for folder, _, files in os.walk(root):
        for name in files:
            if not name.endswith(".rs"):
                continue
            path = os.path.relpath(os.path.join(folder, name), root)
            parts = path[:-3].split(os.sep)
            if parts[-1] in ("mod", "lib", "main"):
                parts = parts[:-1]
            with open(os.path.join(folder, name)) as f:
                found["::".join(parts)] = f.read()
    return found


def edges(found):
    out = collections.defaultdict(set)
    for module, source in found.items():
        source = re.sub(r"//[^\n]*", "", source)
        tests = source.find("#[cfg(test)]\nmod tests")
        if tests >= 0:
            source = source[:tests]
        parent = module.rsplit("::", 1)[0] if "::" in module else ""
        paths = [p.split("::") for p in re.findall(r"\bcrate::((?:\w+::)*\w+)", source)]
        paths += [
            ([parent] if parent else []) + p.split("::")
            for p in re.findall(r"\bsuper::((?:\w+::)*\w+)", source)
        ]
        for segments in paths:
            segments = [s for s in "::".join(segments).split("::") if s]
            for k in range(len(segments), 0, -1):
                target = "::".join(segments[:k])
                if target in found:
                    out[module].add(target)
                    break
    return out


def cycles(out):
    by_parent = collections.defaultdict(lambda: collections.defaultdict(set))
    for a, targets in out.items():
        for b in targets:
            pa, pb = a.split("::"), b.split("::")
            i = 0
            while i < min(len(pa), len(pb)) and pa[i] == pb[i]:
                i += 1
            if i == len(pa) or i == len(pb):
                continue
            by_parent["::".join(pa[:i])]["::".join(pa[: i + 1])].add("::".join(pb[: i + 1]))
    found = []
    for parent, graph in by_parent.items():
        index, low, stack, on = {}, {}, [], set()

        def visit(v):
            index[v] = low[v] = len(index)
            stack.append(v)
            on.add(v)
            for w in graph[v]:
                if w not in index:
                    visit(w)
                    low[v] = min(low[v], low[w])
                elif w in on:
                    low[v] = min(low[v], index[w])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1:
                    found.append((parent or "crate", sorted(component)))

        for v in list(graph):
            if v not in index:
                visit(v)
    return found


failed = False
for root in sys.argv[1:]:
    for parent, component in cycles(edges(modules(root))):
        failed = True
        print(f"{root}: a cycle under {parent}: {', '.join(component)}")
if failed:
    sys.exit(1)
print("no cycles")
