"""The scope of one history, built once: the revision graph, which files per-migration rules look
at, which revisions the round trip runs, what is read for headers only, what changed and what is
excluded.  The engine, the round trip and the reports receive it and never rebuild any of it.

Pure: what git says of a change arrives as a :class:`ChangeSet` made by ``gitdiff.py``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Dict, FrozenSet, List, Optional, Sequence, Tuple

from migration_lint import rule_ids
from migration_lint.errors import ConfigError
from migration_lint.graph import Revision, RevisionGraph, after
from migration_lint.model import Finding, MigrationFile, count_of


@dataclass(frozen=True)
class FileChange:
    """What a change did to one revision file since the merge base."""

    status: str  # 'added' | 'modified' | 'reformatted' (same syntax tree) | 'deleted'
    first_line: int = 1  # the first line that differs (modified)
    base: Optional[MigrationFile] = None  # its headers at the merge base (modified, deleted)
    excluded: bool = False


@dataclass(frozen=True)
class ChangeSet:
    """Changed-only mode: what git says of one history's revision files (paths as shown)."""

    ref: str
    base_commit: str
    files: Tuple[Tuple[str, FileChange], ...] = ()  # (path, change) of files present now
    deleted: Tuple[Tuple[str, FileChange], ...] = ()  # files that exist only at the merge base

    def of(self, path: str) -> Optional[FileChange]:
        return dict(self.files).get(path)


@dataclass(frozen=True)
class DiffContext:
    """Changed-only mode, as the rules see it."""

    ref: str
    new_revisions: FrozenSet[str] = frozenset()  # revisions whose files the change adds
    base_heads: Tuple[str, ...] = ()  # heads of the history at the merge base


@dataclass(frozen=True)
class Scope:
    graph: RevisionGraph
    files: Tuple[MigrationFile, ...]
    checked: FrozenSet[str]  # paths of the files per-migration rules look at
    excluded: FrozenSet[str] = frozenset()  # count for the graph, report nothing (round trip aside)
    changed: Optional[FrozenSet[str]] = None  # changed-only: files added or modified (None: not in that mode)
    roundtrip_requested: bool = False
    roundtrip: Optional[FrozenSet[str]] = None  # revisions the round trip runs (None: every one)
    diff: Optional[DiffContext] = None
    produced: Tuple[Finding, ...] = ()  # what git says: modified-merged-migration, deleted-migration
    notes: Tuple[str, ...] = ()

    def is_checked(self, path: str) -> bool:
        return path in self.checked

    def is_excluded(self, path: str) -> bool:
        return path in self.excluded

    def file_at(self, path: str) -> Optional[MigrationFile]:
        return self._by_path.get(path)

    @property
    def _by_path(self) -> Dict[str, MigrationFile]:
        cached = self.__dict__.get("_by_path_cache")
        if cached is None:
            cached = {f.path: f for f in self.files}
            object.__setattr__(self, "_by_path_cache", cached)
        return cached

    @property
    def full_read(self) -> FrozenSet[str]:
        """Paths whose upgrade()/downgrade() must be read: the checked files and the round trip's."""
        if not self.roundtrip_requested:
            return self.checked
        if self.roundtrip is None:
            return frozenset(f.path for f in self.files)
        return self.checked | frozenset(f.path for f in self.files if f.revision in self.roundtrip)

    def with_files(self, files: Sequence[MigrationFile]) -> "Scope":
        """The same scope over the same files read in full (their headers are the ones the scope
        was built from)."""
        replaced = dataclasses.replace(self, files=tuple(files))
        replaced.__dict__.pop("_by_path_cache", None)
        return replaced


START_AFTER_ELSEWHERE = "start-after"  # the note a history gets when start-after names another history's revision
GRAPHS_BUILT = [0]  # how many revision graphs were built (a test checks: once per history)


def graph_of(files: Sequence[MigrationFile]) -> RevisionGraph:
    GRAPHS_BUILT[0] += 1
    return RevisionGraph.build(Revision(f.revision, f.down_revision, f.branch_labels, f.depends_on, f.path) for f in files if f.revision)


def build_scope(
    files: Sequence[MigrationFile],
    settings,
    *,
    excluded: FrozenSet[str] = frozenset(),
    changes: Optional[ChangeSet] = None,
    roundtrip: bool = False,
    start_after_elsewhere: bool = False,
) -> Scope:
    """The scope of a history from its files' headers, its settings and what changed.
    ``start_after_elsewhere``: the run checks several histories, and start-after may name a
    revision of another one (the caller makes sure some history has it)."""
    graph = graph_of(files)
    notes: List[str] = []
    try:
        in_scope = after(graph, settings.start_after)
    except KeyError as exc:
        detail = str(exc.args[0]) if exc.args else settings.start_after
        if "ambiguous" in detail or not start_after_elsewhere:
            raise ConfigError(f"start_after: revision {detail!r} is not in this history ({settings.environment})" if "ambiguous" not in detail else f"start_after: {detail}") from None
        in_scope = None
        notes.append(f"{START_AFTER_ELSEWHERE} {settings.start_after} is not a revision of this history: all its revisions are checked")
    produced: List[Finding] = []
    changed = diff = None
    if changes is not None:
        changed, diff = _changes(files, changes, excluded, produced, notes)
    checked = frozenset(
        f.path
        for f in files
        if (in_scope is None or f.revision in in_scope) and (changed is None or f.path in changed) and f.path not in excluded and not f.too_large
    )
    trip = None
    if roundtrip:
        if in_scope is not None:
            trip = frozenset(in_scope)
        if diff is not None:  # only the new revisions are round-tripped; their parents are reached by upgrading
            new = frozenset(f.revision for f in files if f.path in changed and f.revision)
            trip = new if trip is None else trip & new
    return Scope(
        graph=graph,
        files=tuple(files),
        checked=checked,
        excluded=frozenset(excluded),
        changed=changed,
        roundtrip_requested=roundtrip,
        roundtrip=trip,
        diff=diff,
        produced=tuple(produced),
        notes=tuple(notes),
    )


def _changes(files, changes: ChangeSet, excluded, produced: List[Finding], notes: List[str]):
    """Changed-only mode: the files per-migration rules look at, the findings git makes
    (modified or deleted revisions) and the heads at the merge base (a second graph of its own)."""
    changed = set()
    new_revisions = set()
    base_files = []
    for file in files:
        change = changes.of(file.path)
        status = change.status if change is not None else None
        if status in ("added", "modified"):
            changed.add(file.path)
        if status == "added":
            if file.revision:
                new_revisions.add(file.revision)
            continue
        if status == "reformatted" and file.path not in excluded:
            notes.append(f"{file.path}: changed since {changes.ref} in formatting or comments only")
        if status == "modified":
            revision = file.revision
            produced.append(
                Finding(
                    rule_ids.MODIFIED_MERGED_MIGRATION, file.path, change.first_line,
                    f"revision {revision or file.path} already exists at {changes.ref} and this change edits it: databases that ran it will not run it again",
                    revision=revision, subject=("revision", revision or ""),
                )
            )
            if change.base is not None:
                base_files.append(change.base)
                continue
        base_files.append(file)
    for path, change in changes.deleted:
        old = change.base
        if old is not None:
            base_files.append(old)
        if change.excluded:
            continue  # an excluded file reports nothing, its deletion included
        revision = old.revision if old is not None else None
        produced.append(
            Finding(
                rule_ids.DELETED_MIGRATION, path, 1,
                f"revision {revision or path} exists at {changes.ref} and this change deletes it: databases at or after it can no longer be upgraded or downgraded",
                revision=revision, subject=("revision", revision or ""),
            )
        )
    base_graph = RevisionGraph.build(Revision(f.revision, f.down_revision, f.branch_labels, f.depends_on, f.path) for f in base_files if f.revision)
    notes.append(f"changed-only: {count_of(len(changed - set(excluded)), 'revision file')} added or modified since {changes.ref} ({changes.base_commit[:10]})")
    return frozenset(changed), DiffContext(ref=changes.ref, new_revisions=frozenset(new_revisions), base_heads=tuple(base_graph.heads))
