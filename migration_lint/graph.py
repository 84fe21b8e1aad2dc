"""The revision graph: pure code over revision headers (no filesystem, no Alembic import).

Like Alembic's ``RevisionMap``, but it never raises on a broken history: duplicates, dangling
parents and cycles are recorded so that every one of them can be reported at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Tuple


@dataclass(frozen=True)
class Revision:
    revision: str
    down_revision: Tuple[str, ...] = ()
    branch_labels: Tuple[str, ...] = ()
    depends_on: Tuple[str, ...] = ()
    path: str = ""


@dataclass
class RevisionGraph:
    revisions: Dict[str, Revision] = field(default_factory=dict)
    duplicates: Dict[str, List[Revision]] = field(default_factory=dict)  # id -> every definer
    children: Dict[str, List[str]] = field(default_factory=dict)
    missing_parents: List[Tuple[Revision, str, str]] = field(default_factory=list)  # (rev, parent, 'down_revision'|'depends_on')
    cycles: List[List[str]] = field(default_factory=list)

    @classmethod
    def build(cls, revisions: Iterable[Revision]) -> "RevisionGraph":
        graph = cls()
        for rev in revisions:
            if rev.revision in graph.revisions:
                graph.duplicates.setdefault(rev.revision, [graph.revisions[rev.revision]]).append(rev)
                continue
            graph.revisions[rev.revision] = rev
        labels = {label for rev in graph.revisions.values() for label in rev.branch_labels}
        for rev in graph.revisions.values():
            graph.children.setdefault(rev.revision, [])
            for parent in rev.down_revision:
                if parent in graph.revisions:
                    graph.children.setdefault(parent, []).append(rev.revision)
                else:
                    graph.missing_parents.append((rev, parent, "down_revision"))
            for dependency in rev.depends_on:
                if dependency not in graph.revisions and dependency not in labels and not _is_prefix(dependency, graph):
                    graph.missing_parents.append((rev, dependency, "depends_on"))
        graph.cycles = graph._find_cycles()
        return graph

    # -- shape ---------------------------------------------------------------------------------
    @property
    def heads(self) -> List[str]:
        return sorted(r for r, kids in self.children.items() if not kids)

    @property
    def bases(self) -> List[str]:
        return sorted(r.revision for r in self.revisions.values() if not r.down_revision)

    @property
    def merge_points(self) -> List[str]:
        return sorted(r.revision for r in self.revisions.values() if len(r.down_revision) > 1)

    @property
    def branch_points(self) -> List[str]:
        return sorted(r for r, kids in self.children.items() if len(kids) > 1)

    def parents(self, revision: str) -> Tuple[str, ...]:
        rev = self.revisions.get(revision)
        return tuple(p for p in rev.down_revision if p in self.revisions) if rev else ()

    def ancestors(self, revision: str) -> set:
        seen = set()
        stack = list(self.parents(revision))
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            stack.extend(self.parents(current))
        return seen

    def descendants(self, revision: str) -> set:
        seen = set()
        stack = list(self.children.get(revision, ()))
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            stack.extend(self.children.get(current, ()))
        return seen

    def labels_of(self, revision: str) -> set:
        """Branch labels that apply to a revision: its own and its ancestors' (as Alembic does)."""
        labels = set(self.revisions[revision].branch_labels) if revision in self.revisions else set()
        for ancestor in self.ancestors(revision):
            labels.update(self.revisions[ancestor].branch_labels)
        return labels

    def topological_order(self) -> List[str]:
        """Parents before children; revisions on a cycle come last, in file order."""
        pending = {r: len(self.parents(r)) for r in self.revisions}
        ready = sorted(r for r, n in pending.items() if n == 0)
        order = []
        while ready:
            current = ready.pop(0)
            order.append(current)
            for child in sorted(self.children.get(current, ())):
                pending[child] -= 1
                if pending[child] == 0:
                    ready.append(child)
        placed = set(order)
        order.extend(r for r in self.revisions if r not in placed)
        return order

    def _find_cycles(self) -> List[List[str]]:
        """Strongly connected components of more than one revision (or a self-parent)."""
        index: Dict[str, int] = {}
        low: Dict[str, int] = {}
        on_stack = set()
        stack: List[str] = []
        cycles = []
        counter = [0]

        for root in self.revisions:
            if root in index:
                continue
            # iterative Tarjan: (node, iterator over parents)
            work = [(root, iter(self.parents(root)))]
            index[root] = low[root] = counter[0]
            counter[0] += 1
            stack.append(root)
            on_stack.add(root)
            while work:
                node, parents = work[-1]
                advanced = False
                for parent in parents:
                    if parent not in index:
                        index[parent] = low[parent] = counter[0]
                        counter[0] += 1
                        stack.append(parent)
                        on_stack.add(parent)
                        work.append((parent, iter(self.parents(parent))))
                        advanced = True
                        break
                    if parent in on_stack:
                        low[node] = min(low[node], index[parent])
                if advanced:
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
                    if len(component) > 1 or node in self.parents(node):
                        cycles.append(sorted(component))
        return cycles


def _is_prefix(ref: str, graph: RevisionGraph) -> bool:
    """Alembic accepts a unique prefix of a revision id (and ``label@rev``) in depends_on."""
    if "@" in ref:
        return True
    return len(ref) >= 4 and sum(1 for r in graph.revisions if r.startswith(ref)) == 1


def after(graph: RevisionGraph, start_after: Optional[str]) -> Optional[set]:
    """Revisions strictly after ``start_after`` (None: no cut-off)."""
    if not start_after:
        return None
    matches = [r for r in graph.revisions if r == start_after] or [r for r in graph.revisions if r.startswith(start_after)]
    if len(matches) > 1:
        raise KeyError(f"{start_after} (ambiguous: {', '.join(sorted(matches)[:5])})")
    if not matches:
        raise KeyError(start_after)
    return graph.descendants(matches[0])
