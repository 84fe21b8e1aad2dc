"""Checks over the revision graph: heads, parents, duplicates, cycles."""

from __future__ import annotations

from migration_lint.model import Finding

CHECKS = ("multiple_heads", "missing_parent", "duplicate_revision", "revision_cycle")


def _line(run, path, header="revision"):
    file = run.file_at(path)
    if file is None:
        return 1
    return file.header_lines.get(header) or file.header_lines.get("revision") or 1


def multiple_heads(rule, run):
    graph = run.graph
    heads = graph.heads
    if len(heads) < 2:
        return
    labels = {head: graph.labels_of(head) for head in heads}
    unlabelled = []
    for head in heads:
        others = set().union(*(labels[h] for h in heads if h != head))
        if not labels[head] - others:
            unlabelled.append(head)
    if not unlabelled:
        return  # every head is the tip of its own branch label (e.g. expand/contract)
    command = f"{run.settings.merge_command} -m \"merge heads\" {' '.join(unlabelled)}"
    diff = run.diff
    for head in unlabelled:
        rev = graph.revisions[head]
        others = ", ".join(h for h in heads if h != head)
        message = f"revision {head} is one of {len(heads)} heads (others: {others}); `alembic upgrade head` will fail. Merge them: `{command}`"
        if diff is not None:
            lineage = graph.ancestors(head) | {head}
            new = [r for r in lineage if r in diff.new_revisions]
            if not new:
                continue  # the change adds nothing to this line of history: report where it does
            stale = [h for h in diff.base_heads if h not in lineage]
            if stale:
                first = min(new, key=lambda r: len(graph.ancestors(r)))
                parent = ", ".join(graph.parents(first)) or "base"
                message = (
                    f"revision {first} (added by this change) branches from {parent}, but the head at {diff.ref} is "
                    f"{', '.join(stale)}: the branch started from a stale head. Merge them: `{command}`"
                )
        yield Finding(rule.name, rev.path, _line(run, rev.path), message, revision=head, subject=("head", head))


def missing_parent(rule, run):
    for rev, parent, field in run.graph.missing_parents:
        yield Finding(
            rule.name,
            rev.path,
            _line(run, rev.path, field),
            f"revision {rev.revision} names {field} {parent!r}, which no revision file defines",
            revision=rev.revision,
            subject=("parent", field, parent),
        )


def duplicate_revision(rule, run):
    for revision, definers in run.graph.duplicates.items():
        paths = ", ".join(d.path for d in definers)
        for rev in definers[1:]:
            yield Finding(
                rule.name,
                rev.path,
                _line(run, rev.path),
                f"revision id {revision!r} is defined by {len(definers)} files ({paths}); Alembic keeps only one",
                revision=revision,
                subject=("duplicate", rev.path.replace("\\", "/")),
            )


def revision_cycle(rule, run):
    for cycle in run.graph.cycles:
        first = run.graph.revisions[cycle[0]]
        yield Finding(
            rule.name,
            first.path,
            _line(run, first.path, "down_revision"),
            f"revisions {' -> '.join(cycle)} form a cycle through down_revision; Alembic cannot order them",
            revision=first.revision,
            subject=("cycle", *cycle),
        )
