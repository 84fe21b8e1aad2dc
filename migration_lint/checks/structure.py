"""Checks over the revision graph: heads, parents, duplicates, cycles."""

from __future__ import annotations

import collections

from migration_lint.model import LIST_LIMIT, Finding, listing

CHECKS = ("multiple_heads", "missing_parent", "duplicate_revision", "revision_cycle")


def _line(run, path, header="revision"):
    file = run.file_at(path)
    if file is None:
        return 1
    return file.header_lines.get(header) or file.header_lines.get("revision") or 1


def multiple_heads(rule, run):
    """One finding per history (not one per head: with thousands of heads that would repeat the
    history thousands of times), at the head a pull request added when there is one."""
    graph = run.graph
    heads = graph.heads
    if len(heads) < 2:
        return
    unlabelled = heads
    if any(rev.branch_labels for rev in graph.revisions.values()):
        # a head is the tip of a branch label of its own when it carries a label no other head does
        labels = {head: graph.labels_of(head) for head in heads}
        count = collections.Counter(label for head in heads for label in labels[head])
        unlabelled = [head for head in heads if not any(count[label] == 1 for label in labels[head])]
    if not unlabelled:
        return  # every head is the tip of its own branch label (e.g. expand/contract)
    merge = " ".join(unlabelled) if len(unlabelled) <= LIST_LIMIT else "heads"
    command = f"{run.settings.merge_command} -m \"merge heads\" {merge}"
    upgrade = "flask db upgrade" if run.settings.merge_command.startswith("flask") else "alembic upgrade head"
    message = f"the history has {len(heads)} heads ({listing(heads)}); `{upgrade}` will fail. Merge them: `{command}`"
    # the fix line names the same command as the message (Flask-Migrate projects merge with flask db)
    fix = f"Join the heads with `{command}` (or give each branch its own branch_labels on purpose)"
    diff = run.diff
    at = max(unlabelled, key=lambda head: (graph.revisions[head].path, head))  # the last file: usually the newest
    if diff is not None:
        added = [head for head in unlabelled if diff.new_revisions & (graph.ancestors(head) | {head})]
        if not added:
            return  # the change adds nothing to any line of history that ends in a head: not its doing
        at = added[0]
        lineage = graph.ancestors(at) | {at}
        stale = [h for h in diff.base_heads if h not in lineage]
        if stale:
            first = min((r for r in lineage if r in diff.new_revisions), key=lambda r: len(graph.ancestors(r)))
            parent = ", ".join(graph.parents(first)) or "base"
            message = (
                f"revision {first} (added by this change) branches from {parent}, but the head at {diff.ref} is "
                f"{listing(stale)}: the branch started from a stale head. Merge them: `{command}`"
            )
    rev = graph.revisions[at]
    yield Finding(rule.name, rev.path, _line(run, rev.path), message, revision=at, subject=("heads", *unlabelled), help=fix)


def missing_parent(rule, run):
    """One finding per revision and header, listing the parents no file defines."""
    missing: dict = {}
    for rev, parent, field in run.graph.missing_parents:
        missing.setdefault((rev.revision, field), (rev, []))[1].append(parent)
    for (revision, field), (rev, parents) in missing.items():
        names = listing(repr(p) for p in parents)
        which = f"{field} {names}, which no revision file defines" if len(parents) == 1 else f"{len(parents)} {field} revisions no revision file defines: {names}"
        yield Finding(
            rule.name,
            rev.path,
            _line(run, rev.path, field),
            f"revision {revision} names {which}",
            revision=revision,
            subject=("parent", field, *parents[:LIST_LIMIT]),
        )


def duplicate_revision(rule, run):
    for revision, definers in run.graph.duplicates.items():
        paths = listing(d.path for d in definers)
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
            f"revisions {listing(cycle, separator=' -> ')} form a cycle through down_revision; Alembic cannot order them",
            revision=first.revision,
            subject=("cycle", *cycle),
        )
