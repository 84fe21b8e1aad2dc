"""What a change adds to a revision history, from git (changed-only mode, ``--diff-base REF``).

I/O lives here (it runs git); what it returns is plain data for the engine.
"""

from __future__ import annotations

import ast
import re
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from migration_lint.errors import MigrationLintError
from migration_lint.facts import column_spellings, spellings
from migration_lint.loader import cached_result, result_key, store_result
from migration_lint.scope import ChangeSet, FileChange


class GitError(MigrationLintError):
    pass


@dataclass
class Change:
    status: str  # 'added' | 'modified' | 'deleted' | 'renamed'
    path: Path  # absolute, in the working tree (for deleted: where it was)
    old_path: Optional[Path] = None  # renames: where it was at the base


@dataclass
class DiffInfo:
    ref: str
    base: str  # the merge-base commit
    root: Path  # the repository's top folder
    changes: Dict[Path, Change] = field(default_factory=dict)  # by (resolved) working-tree path

    def status_of(self, path: Path) -> Optional[str]:
        change = self.changes.get(Path(os.path.realpath(path)))
        return change.status if change else None

    def deleted_under(self, folders: List[Path]) -> List[Change]:
        resolved = [Path(os.path.realpath(f)) for f in folders]
        return [
            c
            for c in self.changes.values()
            if c.status == "deleted" and c.path.suffix == ".py" and any(_within(c.path, f) for f in resolved)
        ]

    def base_path(self, path: Path) -> Path:
        """Where a working-tree file was at the merge base (renames followed)."""
        change = self.changes.get(Path(os.path.realpath(path)))
        return change.old_path if change is not None and change.old_path is not None else path

    def base_text(self, path: Path) -> Optional[bytes]:
        """A file's content at the merge base (None when it did not exist there)."""
        relative = os.path.relpath(os.path.realpath(self.base_path(path)), self.root)
        proc = _git(self.root, "show", f"{self.base}:{Path(relative).as_posix()}", check=False, binary=True)
        return proc.stdout if proc.returncode == 0 else None


def _within(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


# git with nothing the repository's own config could start: no fsmonitor hook, no signature
# check (gpg.program), root commits shown as they are, paths taken literally
GIT_SAFE = ("git", "-c", "core.fsmonitor=false", "-c", "log.showSignature=false", "-c", "log.showRoot=true", "--literal-pathspecs")


def _git(cwd: Path, *args: str, check: bool = True, binary: bool = False, timeout: int = 60):
    if not Path(cwd).is_dir():
        raise GitError(f"--diff-base: {cwd} is not a folder")
    try:
        text = {} if binary else {"encoding": "utf-8", "errors": "surrogateescape"}  # any file name
        # nothing the repository's own config names runs: no fsmonitor hook, no external diff
        proc = subprocess.run([*GIT_SAFE, *args], cwd=cwd, capture_output=True, timeout=timeout, **text)
    except FileNotFoundError:
        raise GitError("--diff-base needs git, which is not installed") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"git {args[0]} did not answer within {timeout} s") from None
    if check and proc.returncode != 0:
        err = proc.stderr if isinstance(proc.stderr, str) else proc.stderr.decode(errors="replace")
        raise GitError(f"git {' '.join(args[:2])}: {err.strip().splitlines()[-1] if err.strip() else 'failed'}")
    return proc


class Diffs:
    """The changes since ``ref`` of each git repository the checked paths live in: environments
    in different repositories (or submodules) are each compared with their own history."""

    def __init__(self, ref: str):
        self.ref = ref
        self._by_root: Dict[Path, DiffInfo] = {}

    def for_path(self, path: Path) -> DiffInfo:
        root = repository_root(path)
        if root not in self._by_root:
            self._by_root[root] = diff_info(root, self.ref)
        return self._by_root[root]


def repository_root(start: Path) -> Path:
    folder = start if start.is_dir() else start.parent
    proc = _git(folder, "rev-parse", "--show-toplevel", check=False)
    if proc.returncode != 0:
        raise GitError(f"--diff-base: {folder} is not inside a git repository")
    return Path(proc.stdout.strip())


def diff_info(start: Path, ref: str) -> DiffInfo:
    """Changes of the working tree (commits, staged, unstaged and untracked files) since the
    merge base of ``ref`` and HEAD."""
    root = repository_root(start)
    if _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False).returncode != 0:
        raise GitError(f"--diff-base: unknown revision {ref!r} (fetch it first, e.g. `git fetch origin {ref.split('/')[-1]}`)")
    merge_base = _git(root, "merge-base", ref, "HEAD", check=False)
    if merge_base.returncode != 0:
        raise GitError(f"--diff-base: {ref!r} and HEAD have no common ancestor (a shallow clone? fetch with more depth)")
    base = merge_base.stdout.strip()
    info = DiffInfo(ref=ref, base=base, root=root)
    out = _git(root, "diff", "--no-ext-diff", "--no-textconv", "--name-status", "-M", "-z", base, "--").stdout
    parts = out.split("\0")
    index = 0
    while index < len(parts) and parts[index]:
        status = parts[index]
        if status.startswith(("R", "C")):
            old, new = parts[index + 1], parts[index + 2]
            index += 3
            similarity = int(status[1:] or 0)
            kind = "renamed" if status.startswith("R") and similarity == 100 else ("modified" if status.startswith("R") else "added")
            change = Change(kind, root / new, old_path=root / old)
        else:
            path = parts[index + 1]
            index += 2
            kind = {"A": "added", "M": "modified", "D": "deleted", "T": "modified"}.get(status[0], "modified")
            change = Change(kind, root / path)
        info.changes[Path(os.path.realpath(change.path)) if change.status != "deleted" else change.path] = change
    untracked = _git(root, "ls-files", "--others", "--exclude-standard", "-z").stdout
    for path in filter(None, untracked.split("\0")):
        info.changes[Path(os.path.realpath(root / path))] = Change("added", root / path)
    return info


def first_changed_line(info: DiffInfo, path: Path) -> int:
    """The first line of ``path`` that differs from the merge base (1 when unknown)."""
    relative = os.path.relpath(os.path.realpath(path), info.root)
    old = os.path.relpath(os.path.realpath(info.base_path(path)), info.root)
    proc = _git(info.root, "diff", "--no-ext-diff", "--no-textconv", "-U0", "-M", info.base, "--", *sorted({old, relative}), check=False)
    match = re.search(r"^@@ -\d+(?:,\d+)? \+(\d+)", proc.stdout or "", re.M)
    return max(int(match.group(1)), 1) if match else 1


def changes_for(info: DiffInfo, paths: List[Path], display: List[str], deleted_locations: List[Path], display_of, is_excluded):
    """What git says of one history's revision files since the merge base: each present file's
    status (a reformatting that leaves the syntax tree alone counts as none), where an edit
    starts, and the headers at the merge base of edited and deleted files."""
    from migration_lint.frontend.alembic_ops import parse_migration  # libcst: only once something changed

    present = []
    for path, shown in zip(paths, display):
        status = info.status_of(path)
        if status not in ("added", "modified"):
            continue
        if status == "added":
            present.append((shown, FileChange("added")))
            continue
        base_text = info.base_text(path)
        if _same_code(base_text, path):
            present.append((shown, FileChange("reformatted")))
            continue
        base = parse_migration(base_text, shown, operations=False) if base_text is not None else None
        present.append((shown, FileChange("modified", first_line=first_changed_line(info, path), base=base)))
    deleted = []
    for change in info.deleted_under(deleted_locations):
        shown = display_of(change.path)
        text = info.base_text(change.path)
        base = parse_migration(text, shown, operations=False) if text is not None else None
        deleted.append((shown, FileChange("deleted", base=base, excluded=is_excluded(change.path))))
    return ChangeSet(ref=info.ref, base_commit=info.base, files=tuple(present), deleted=tuple(deleted))


def _same_code(base: Optional[bytes], path: Path) -> bool:
    """True when two versions of a file differ only in formatting and comments (same syntax tree)."""
    if base is None:
        return False
    try:
        return ast.dump(ast.parse(base)) == ast.dump(ast.parse(path.read_bytes()))
    except (SyntaxError, ValueError, OSError):
        return False


# A commit that adds more revision files than this is an import of a history, not one change
DEPLOY_UNIT_LIMIT = 10


def deploy_units(paths: List[Path], use_cache: bool = True) -> Dict[Path, Tuple[str, int]]:
    """{revision file: (the first-parent commit that added it, its commit time)}: revisions added
    by one merge (or one squashed pull request) ship in one deploy.  Files of a versioned history
    that git does not track yet are one change of their own ("worktree", 0: no time yet).  Empty
    when the files are not in a git repository (or none of them is tracked there), git is
    missing or slow, or the clone is shallow (its oldest commit would seem to add everything)."""
    if not paths:
        return {}
    try:
        root = repository_root(paths[0])
        if _git(root, "rev-parse", "--is-shallow-repository", check=False).stdout.strip() != "false":
            return {}
        real_root = os.path.realpath(root)
        folders = sorted({os.path.relpath(os.path.realpath(p.parent), real_root) for p in paths})
        if any(f.startswith("..") for f in folders):
            return {}  # files outside this repository
        head = _git(root, "rev-parse", "--verify", "--quiet", "HEAD", check=False).stdout.strip()
        if not head:
            return {}  # no commit yet
        relative = [os.path.relpath(os.path.realpath(p), real_root) for p in paths]
        # what HEAD holds (staged files are not committed yet: part of the change at hand)
        tracked = set(filter(None, _git(root, "ls-tree", "-r", "-z", "--name-only", "HEAD", "--", *folders).stdout.split("\0")))
        # the log of a long history costs a few tenths of a second: kept per HEAD and file list
        scope = f"git-units\0{real_root}\0{folders}"
        key = result_key(head, sorted(relative), sorted(tracked))
        stored = cached_result(scope, key) if use_cache else None
        if stored is not None:
            return {path: tuple(unit) for path, unit in zip(paths, stored) if unit is not None}
        # optional knowledge: a history git cannot walk in 15 s is checked without it
        out = _git(root, "log", "--no-show-signature", "--first-parent", "-m", "--diff-filter=A", "--no-renames", "--name-only", "-z", "--format=%x00%x01%H %ct", "--", *folders, timeout=15).stdout
    except (GitError, OSError, ValueError):
        return {}
    added: Dict[str, Tuple[str, int]] = {}
    unit = None
    for part in out.split("\0"):
        part = part.strip("\n")
        if part.startswith("\x01"):  # a commit: no file name starts with this byte
            commit, _, when = part[1:].partition(" ")
            # a time git would print for a forged commit (year 9999+) is no time
            unit = (commit, int(when)) if when.isdigit() and 0 < int(when) < 253402300800 else None
        elif part and unit is not None:
            added.setdefault(os.path.realpath(os.path.join(root, part)), unit)  # newest first: the latest add
    sizes: Dict[str, int] = {}
    for commit, _ in added.values():
        sizes[commit] = sizes.get(commit, 0) + 1
    new = [path for path, rel in zip(paths, relative) if rel not in tracked]
    units = {}
    if tracked and len(new) <= DEPLOY_UNIT_LIMIT:  # a versioned history, and a change of a few files
        units.update((path, ("worktree", 0)) for path in new)
    for path, rel in zip(paths, relative):
        found = added.get(os.path.realpath(path))
        if rel in tracked and found is not None and sizes[found[0]] <= DEPLOY_UNIT_LIMIT:
            units[path] = found
    if use_cache:
        store_result(scope, key, [units.get(path) for path in paths])
    return units


# a final release: 1.2, v1.2.3, release-1.2.3, 2.6.9.post1; not 2.0a1, 3.0.0rc1, 1.0-beta, 2.0.dev3
RELEASE_TAG = re.compile(r"(?:v|release[-_]?|version[-_]?)?\d+(?:\.\d+){1,3}(?:\.post\d+)?", re.I)


def _final_tags(root: Path, *selection: str) -> List[Tuple[str, int]]:
    """(tag, time of the commit it names) of the final-release tags, oldest first."""
    out = _git(root, "for-each-ref", *selection, "--format=%(refname:short)%00%(*committerdate:unix)%00%(committerdate:unix)", "refs/tags", timeout=15).stdout
    tags = []
    for line in out.splitlines():
        name, peeled, own = (line.split("\0") + ["", ""])[:3]
        when = peeled or own  # an annotated tag: the commit it names; a lightweight one: itself
        if RELEASE_TAG.fullmatch(name) and when.isdigit() and 0 < int(when) < 253402300800:
            tags.append((name, int(when)))
    return sorted(tags, key=lambda tag: tag[1])


def head_commit(paths: List[Path]) -> str:
    """HEAD's commit of the repository holding ``paths`` ('' when git does not say)."""
    try:
        return _git(repository_root(paths[0]), "rev-parse", "--verify", "--quiet", "HEAD", check=False).stdout.strip() if paths else ""
    except (GitError, OSError, ValueError):
        return ""


def release_tags(paths: List[Path]) -> Tuple[Tuple[str, int], ...]:
    """(tag, time) of every final release tag of the repository holding ``paths``, oldest first;
    () when git does not say (not a repository, a shallow clone, no tags)."""
    if not paths:
        return ()
    try:
        root = repository_root(paths[0])
        if _git(root, "rev-parse", "--is-shallow-repository", check=False).stdout.strip() != "false":
            return ()
        return tuple(_final_tags(root))
    except (GitError, OSError, ValueError):
        return ()


def first_release(paths: List[Path], start: int, use_cache: bool = True) -> Optional[Tuple[str, int]]:
    """(tag, time) of the first final release that holds this history, for a project that was
    already tagging releases when the history began (``start``: its first revision's time).
    Revisions written before that time were never in a user's database: tables they create and
    change again are new to every install.  None when git does not say: not a repository, no
    release tag before the history began (a project that tagged later may have deployed without
    tags) or none since.  Pre-releases (a, b, rc, dev) are not releases; a release cut from a
    branch never merged back counts when it holds work done since the history began."""
    if not paths or start <= 0:
        return None
    try:
        root = repository_root(paths[0])
        head = _git(root, "rev-parse", "--verify", "--quiet", "HEAD", check=False).stdout.strip()
        if not head or _git(root, "rev-parse", "--is-shallow-repository", check=False).stdout.strip() != "false":
            return None
        every = _final_tags(root)
        if not any(when < start for _, when in every):
            return None  # no release before the history: it may have shipped untagged
        scope = f"git-release\0{os.path.realpath(root)}"
        key = result_key(head, start, every)
        stored = cached_result(scope, key) if use_cache else None
        if stored is not None:
            return tuple(stored[0]) if stored else None
        # the first commit of HEAD's line since the history began: a release holds the history
        # exactly when it holds that commit (on HEAD's line or cut from a branch that left it later)
        since = _git(root, "rev-list", "--first-parent", "--reverse", f"--since=@{start}", "HEAD", timeout=15).stdout.split("\n", 1)[0].strip()
        holding = set(_git(root, "tag", "--list", "--contains", since, timeout=15).stdout.splitlines()) if since else set()  # (git tag walks this faster than for-each-ref)
        found = next(((name, when) for name, when in every if name in holding and when >= start), None)
    except (GitError, OSError, ValueError):
        return None
    if use_cache:
        store_result(scope, key, [list(found)] if found else [])
    return found


# Folders whose files are not the running application: revision files (of this history or of
# one that moved since), documentation.  A name found only there is a name the code stopped using.
NOT_RUNNING = frozenset({"migrations", "_migrations", "migration", "alembic", "alembic_migrations", "versions", "docs", "doc"})
NOT_RUNNING_SUFFIXES = (".md", ".rst", ".txt", ".mdx", ".adoc")
MENTION_LIMIT = 400  # names asked of one commit: beyond that, what git grep prints gets large and slow
REF_LIMIT = 60  # commits read per history (each a git grep of its Python)
# the code that queries the database: Python and SQL, and the server-side languages a service
# beside it may be written in (a name one of them holds keeps the finding)
CODE_FILES = ("*.py", "*.pyi", "*.sql", "*.go", "*.java", "*.kt", "*.rb", "*.rs", "*.cs", "*.php", "*.scala", "*.ex", "*.exs")


def running_code_mentions(wanted: Dict[Path, List[str]], units: Dict[Path, Tuple[str, int]], releases, use_cache: bool = True) -> Dict[Path, Tuple[str, frozenset, bool, str]]:
    """{revision file: (the code that runs while it migrates, the wanted names that code
    mentions, whether that code is the application's database code, the git ref of that code)}.

    The code that runs: with release tags, the latest final release the change that added the
    revision builds on (an ancestor of its parent), else that change's parent commit (a project
    that deploys every merge); for a file not committed yet, the latest release, else HEAD.  A
    name is mentioned when a Python or SQL file outside revision folders and documentation holds
    it as a whole word, in any case.  That code is the application's when a Python file there
    (not an env.py) uses an ORM (``ORM_MARKERS``) and none reflects the schema at run time
    (``REFLECTION_MARKERS``: automap, autoload): otherwise a name nobody mentions proves nothing.
    Files git says nothing about are left out; so is everything in a shallow or partial clone
    (a grep there could fetch from the network), or when there is too much to read."""
    wanted = {path: names for path, names in wanted.items() if names and path in units}
    if not wanted or len({units[path][0] for path in wanted}) > UNIT_LIMIT:
        return {}
    try:
        root = repository_root(next(iter(wanted)))
        head = _git(root, "rev-parse", "--verify", "--quiet", "HEAD", check=False).stdout.strip()
        if not head or _git(root, "rev-parse", "--is-shallow-repository", check=False).stdout.strip() != "false":
            return {}
        if _git(root, "config", "--get", "extensions.partialclone", check=False).stdout.strip():
            return {}
        final = {name: when for name, when in releases}
        newest_first = [t for t, _ in sorted(final.items(), key=lambda item: -item[1])]
        below = _releases_below(root, final) if final else {}
        refs: Dict[str, Tuple[str, str]] = {}  # unit commit -> (ref to read, how to name it)
        for path in wanted:
            commit = units[path][0]
            if commit in refs:
                continue
            base = "HEAD" if commit == "worktree" else f"{commit}^"
            if commit != "worktree" and not _git(root, "rev-parse", "--verify", "--quiet", f"{base}^{{commit}}", check=False).stdout.strip():
                refs[commit] = ("", "")  # the repository's first commit: nothing ran before it
                continue
            when = units[path][1] if commit != "worktree" else None
            key = "HEAD" if commit == "worktree" else commit
            if key in below:  # on HEAD's first-parent line: the nearest release below, read once
                tag = below[key]
            else:
                tag = _release_before(root, base, [t for t in newest_first if when is None or final[t] <= when], final)
            if tag is not None:
                refs[commit] = (f"refs/tags/{tag}", f"release {tag}")
            elif commit == "worktree":
                refs[commit] = ("HEAD", "HEAD")
            else:
                refs[commit] = (base, f"commit {commit[:10]}^ (the code before the change that added it)")
        by_ref: Dict[str, set] = {}
        for path, names in wanted.items():
            ref = refs[units[path][0]][0]
            if ref:
                by_ref.setdefault(ref, set()).update(names)
        if len(by_ref) > REF_LIMIT or any(len(v) > MENTION_LIMIT for v in by_ref.values()):
            return {}
        jobs = [(ref, sorted(names)) for ref, names in by_ref.items()]
        with ThreadPoolExecutor(max_workers=4) as pool:  # each a git process: threads only wait
            found = dict(zip((ref for ref, _ in jobs), pool.map(lambda job: _mentioned(root, job[0], job[1], use_cache), jobs)))
    except (GitError, OSError, ValueError):
        return {}
    out = {}
    for path, names in wanted.items():
        ref, shown = refs[units[path][0]]
        if ref:
            hits, application = found[ref]
            out[path] = (shown, frozenset(n for n in names if n in hits), application, ref)
    return out


UNIT_LIMIT = 400  # changes with drops per history: beyond that the per-change git calls cost too much
TAG_TRIES = 8  # (a change off HEAD's first-parent line) newest release tags tried one by one before asking git for every tag a commit holds


def _releases_below(root: Path, final: Dict[str, int]) -> Dict[str, Optional[str]]:
    """{commit on HEAD's first-parent line (and "HEAD"): the newest final release tag on a commit
    of that line before it (for HEAD: at or before it)}, from one walk of the line; a release
    cut on a branch the line never merged is not on it, as it is not an ancestor."""
    out = _git(root, "log", "--no-show-signature", "--first-parent", "--format=%H%x00%D", "HEAD", timeout=15).stdout
    line = []
    for item in out.splitlines():
        sha, _, decorations = item.partition("\0")
        tags = [d[len("tag: "):] for d in decorations.split(", ") if d.startswith("tag: ") and d[len("tag: "):] in final]
        line.append((sha, max(tags, key=lambda t: final[t]) if tags else None))
    result: Dict[str, Optional[str]] = {}
    nearest: Optional[str] = None
    for sha, tag in reversed(line):  # oldest first: what lies below each commit
        result[sha] = nearest
        if tag is not None:
            nearest = tag
    if line:
        result["HEAD"] = line[0][1] or result.get(line[0][0])
    return result


def _release_before(root: Path, base: str, candidates: List[str], final: Dict[str, int]) -> Optional[str]:
    """The newest final release tag that is an ancestor of ``base`` (a maintenance release of an
    older line is not, however new)."""
    for candidate in candidates[:TAG_TRIES]:
        if _git(root, "merge-base", "--is-ancestor", f"refs/tags/{candidate}", base, check=False).returncode == 0:
            return candidate
    if len(candidates) <= TAG_TRIES:
        return None
    merged = [t for t in _git(root, "tag", "--merged", base, timeout=15).stdout.splitlines() if t in final]
    return max(merged, key=lambda t: final[t]) if merged else None


ORM_MARKERS = ("import sqlalchemy", "from sqlalchemy", "import peewee", "from peewee", "from sqlmodel", "__tablename__", "from django.db")
# code that learns the columns from the database at run time names none of them
REFLECTION_MARKERS = ("automap_base", "autoload_with", "autoload", "metadata.reflect", "DeferredReflection")


def _grep(root: Path, args: List[str], ref: str, paths: Tuple[str, ...] = CODE_FILES) -> List[Tuple[str, str]]:
    """(path, match or '') of ``git grep`` over the code files of ``ref`` (``paths``: globs; empty
    for every tracked text file), whatever the user's grep settings (line numbers, columns), and
    never fetching a missing object.  The patterns are globs, so this call goes without
    --literal-pathspecs; nothing here comes from the checkout."""
    command = [a for a in GIT_SAFE if a != "--literal-pathspecs"]
    command += ["-c", "grep.lineNumber=false", "-c", "grep.column=false", "-c", "grep.fullName=false", "-c", "grep.fallbackToNoIndex=false"]
    command += ["grep", "--no-textconv", "-I", "-z", "--no-color", *args, ref, *(["--", *paths] if paths else [])]
    try:
        proc = subprocess.run(command, cwd=root, capture_output=True, timeout=GREP_SECONDS, encoding="utf-8", errors="surrogateescape", env={**os.environ, "GIT_NO_LAZY_FETCH": "1"})
    except (FileNotFoundError, subprocess.TimeoutExpired):
        raise GitError("git grep did not answer") from None
    if proc.returncode not in (0, 1):
        raise GitError("git grep failed")
    if "-l" in args:  # file names, each ended by NUL
        return [(item.partition(":")[2], "") for item in proc.stdout.split("\0") if item.strip("\n")]
    out = []
    for line in proc.stdout.split("\n"):
        if not line:
            continue
        # "<commit>:<path>" NUL [line NUL [column NUL]] match: the match is the last field
        fields = line.split("\0")
        out.append((fields[0].partition(":")[2], fields[-1] if len(fields) > 1 else ""))
    return out


GREP_SECONDS = 10


def _not_running(path: str) -> bool:
    parts = path.split("/")
    return any(p.lower() in NOT_RUNNING for p in parts[:-1]) or path.lower().endswith(NOT_RUNNING_SUFFIXES) or parts[-1] == "env.py"


def _mentioned(root: Path, ref: str, names: List[str], use_cache: bool) -> Tuple[set, bool]:
    """(the names some running-code file at ``ref`` holds as a whole word, whether that code is
    the application's database code and names its columns: an ORM used outside revision folders
    and env.py, and no reflection)."""
    commit = _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False).stdout.strip()
    if not commit:
        raise GitError(f"no commit {ref}")
    scope = f"git-mentions\0{os.path.realpath(root)}"
    key = result_key(commit, names, "v4: any case, python+sql, orm and reflection at the ref, one grep")
    stored = cached_result(scope, key) if use_cache else None
    if stored is not None:
        return set(stored[0]), bool(stored[1])
    # one grep for the names and the markers, any case: peewee and Django name tables after
    # classes (NamespaceGeoRestriction for namespacegeorestriction), and a wrong match only keeps
    # a finding
    args = ["-i", "-w", "-F", "-o"]
    for pattern in (*names, *ORM_MARKERS, *REFLECTION_MARKERS):
        args += ["-e", pattern]
    lower: Dict[str, List[str]] = {}
    for n in names:
        lower.setdefault(n.lower(), []).append(n)
    orm_markers = {marker.lower() for marker in ORM_MARKERS}
    reflection_markers = {marker.lower() for marker in REFLECTION_MARKERS}
    hits = set()
    orm = reflect = False
    for path, match in _grep(root, args, commit):
        if _not_running(path):
            continue
        found = match.lower()
        hits.update(lower.get(found, ()))
        orm = orm or found in orm_markers
        reflect = reflect or found in reflection_markers
    application = orm and not reflect
    if use_cache:
        store_result(scope, key, [sorted(hits), application])
    return hits, application


# -- the ORM model of a table, as the code at a commit declares it ----------------------------------

# base classes that declare no columns of their own, when the repository does not define them:
# declarative bases and library roots
PLAIN_BASES = frozenset({"Base", "Model", "DeclarativeBase", "DeclarativeBaseNoMeta", "SQLModel", "ModelBase", "BaseModel", "object", "Generic", "AsyncAttrs", "MappedAsDataclass"})
MODEL_FILE_BYTES = 2_000_000
MODEL_TABLE_LIMIT = 200  # tables asked about per commit
SQL_WORDS = re.compile(r"\b(select|update|insert|delete|where|from|join|set|returning|values|alter|into)\b", re.I)
# files that declare no model the application runs: tests and their fixtures
NOT_MODELS = ("tests", "test", "testing")


def _declaration_patterns(table: str) -> List[str]:
    quoted = rf"[\"']{re.escape(table)}[\"']"
    return [rf"__tablename__\s*(:[^=]*)?=\s*{quoted}", rf"\b(table_name|db_table)\s*=\s*{quoted}", rf"\bTable\(\s*{quoted}"]


def _class_words(node: ast.AST) -> Optional[set]:
    """Every name a class (or Table call) holds, lower-cased: attribute and argument names,
    identifiers, string constants (``Column("downloads", ...)``).  None when a column may be named
    by what cannot be read here: a column whose name is a constant (``Column(LEGACY, ...)``), or
    columns spliced in (``Table("t", md, *columns())``)."""
    words = set()
    for item in ast.walk(node):
        if isinstance(item, ast.Call) and _base_name(item.func) in ("Column", "mapped_column", "Field", "column"):
            first = item.args[0] if item.args else None
            if isinstance(first, ast.Name) and first.id.isupper() and len(first.id) > 1:
                return None
        if isinstance(item, ast.Call) and _base_name(item.func) == "Table" and any(isinstance(a, ast.Starred) for a in item.args):
            return None
        if isinstance(item, ast.Name):
            words.add(item.id.lower())
        elif isinstance(item, ast.Attribute):
            words.add(item.attr.lower())
        elif isinstance(item, ast.keyword) and item.arg:
            words.add(item.arg.lower())
        elif isinstance(item, ast.arg):
            words.add(item.arg.lower())
        elif isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
            words.add(item.name.lower())
        elif isinstance(item, ast.Constant) and isinstance(item.value, str) and len(item.value) < 200:
            words.add(item.value.lower())
    return words


def _base_name(expr: ast.AST) -> Optional[str]:
    if isinstance(expr, ast.Name):
        return expr.id
    if isinstance(expr, ast.Attribute):
        return expr.attr
    if isinstance(expr, ast.Subscript):  # Generic[T], Mapped[...]
        return _base_name(expr.value)
    return None


def _declares(node: ast.AST, table: str) -> bool:
    """A class whose __tablename__ (or Meta's table_name / db_table) is ``table``, or a
    ``Table("table", ...)`` call."""
    def constant(value) -> bool:
        return isinstance(value, ast.Constant) and value.value == table
    if isinstance(node, ast.Call):
        return _base_name(node.func) == "Table" and bool(node.args) and constant(node.args[0])
    if not isinstance(node, ast.ClassDef):
        return False
    for statement in node.body:
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target] if isinstance(statement, ast.AnnAssign) else []
        value = getattr(statement, "value", None)
        if any(isinstance(t, ast.Name) and t.id == "__tablename__" for t in targets) and constant(value):
            return True
        if isinstance(statement, ast.ClassDef) and statement.name == "Meta":
            for inner in statement.body:
                if isinstance(inner, ast.Assign) and any(isinstance(t, ast.Name) and t.id in ("table_name", "db_table") for t in inner.targets) and constant(inner.value):
                    return True
    return False


def _show(root: Path, commit: str, path: str) -> Optional[ast.Module]:
    size = _git(root, "cat-file", "-s", f"{commit}:{path}", check=False).stdout.strip()
    if not size.isdigit() or int(size) > MODEL_FILE_BYTES:
        return None
    proc = _git(root, "cat-file", "blob", f"{commit}:{path}", check=False, binary=True)
    if proc.returncode != 0:
        return None
    try:
        return ast.parse(proc.stdout)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None


def _model_file(path: str) -> bool:
    parts = path.split("/")
    return path.endswith((".py", ".pyi")) and not _not_running(path) and not any(p.lower() in NOT_MODELS for p in parts[:-1]) and not parts[-1].startswith(("test_", "conftest"))


def _imported_as(tree: ast.Module, name: str) -> Optional[Tuple[str, str]]:
    """(module, original name) when ``tree`` binds ``name`` by an import; None otherwise."""
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    return ("." * node.level + (node.module or ""), alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if (alias.asname or alias.name.split(".")[0]) == name:
                    return (alias.name, alias.name)
    return None


def model_columns(root: Path, commit: str, tables: List[str], use_cache: bool = True) -> Dict[str, Optional[frozenset]]:
    """{table: the names the ORM model that declares it at ``commit`` holds, with those of the
    base classes it inherits from; None when that is not known for sure}.  Read with ``ast``,
    never run.  Not known: git shows no declaration, or more than one (a class named as the
    table's ORM spelling counts: its name may make the table name); a subclass maps into the same
    table (single-table inheritance); the class gets attributes from outside (``Model.x = ...``,
    ``setattr``); a base class comes from a library (it may declare columns), is imported under
    another name, or is a declarative base made with ``cls=``."""
    tables = sorted(set(t for t in tables if t and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$]*", t)))[:MODEL_TABLE_LIMIT]
    if not tables:
        return {}
    scope = f"git-models\0{os.path.realpath(root)}"
    key = result_key(commit, tables, "v2: ast, one declaration, bases read, no subclass or outside attribute")
    stored = cached_result(scope, key) if use_cache else None
    if stored is not None:
        return {t: (frozenset(v) if v is not None else None) for t, v in stored}
    # fixed strings first (git grep is fast on them), the patterns in Python
    declaration = re.compile("|".join(f"(?:{p})" for t in tables for p in _declaration_patterns(t)))
    where: Dict[str, set] = {t: set() for t in tables}
    for path, line in _grep(root, ["-F", "-e", "__tablename__", "-e", "table_name", "-e", "db_table", "-e", "Table("], commit):
        if not _model_file(path):
            continue
        for match in declaration.finditer(line):
            quoted = re.search(r"[\"']([^\"']+)[\"']\s*$", match.group(0))
            if quoted and quoted.group(1) in where:
                where[quoted.group(1)].add(path)
    modules: Dict[str, Optional[ast.Module]] = {}

    def module(path: str) -> Optional[ast.Module]:
        if path not in modules:
            modules[path] = _show(root, commit, path)
        return modules[path]

    lines: List[Tuple[str, str]] = []  # every class line, and what the declaring classes need (below)

    def defined(name: str) -> List[Tuple[str, str]]:
        """(path, line) of each running-code line that defines ``name``: a class; for a plain base's
        name, an assignment too (Base = declarative_base(...))."""
        pattern = re.compile(rf"^\s*(class\s+{re.escape(name)}\b|{re.escape(name)}\s*(:[^=]*)?=[^=])")
        return [(p, line) for p, line in lines if pattern.match(line)]

    def words_of(cls: ast.ClassDef, tree: ast.Module, path: str, depth: int) -> Optional[set]:
        words = _class_words(cls)
        if words is None or depth > 3:
            return None
        for base in cls.bases:
            name = _base_name(base)
            if name is None:
                return None
            local = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == name]
            other_tree, other_path = tree, path
            if not local:
                imported = _imported_as(tree, name)
                if imported is not None and imported[1] != name.split(".")[-1] and not isinstance(base, ast.Attribute):
                    return None  # `import X as Timestamp`: another class than its name says
                places = defined(name)
                classes = [(p, line) for p, line in places if re.match(r"\s*class\s", line)]
                if not places:
                    if name in PLAIN_BASES:
                        continue  # a library's declarative root
                    return None  # a library class: it may declare columns
                if not classes:
                    # Base = declarative_base(...): plain unless it mixes a class in (cls=...)
                    if all(re.search(r"declarative_base\(|registry\(|SQLAlchemy\(", line) and "cls=" not in line for _, line in places) and name in PLAIN_BASES:
                        continue
                    return None
                if len(classes) != 1:
                    return None
                other_path = classes[0][0]
                if imported is not None and imported[0].lstrip(".") and not other_path.removesuffix(".py").removesuffix("/__init__").endswith(imported[0].lstrip(".").replace(".", "/")):
                    return None  # the name comes from another module than the class found
                other_tree = module(other_path)
                local = [n for n in (other_tree.body if other_tree else ()) if isinstance(n, ast.ClassDef) and n.name == name]
            if len(local) != 1:
                return None
            inherited = words_of(local[0], other_tree, other_path, depth + 1)
            if inherited is None:
                return None
            words |= inherited
        return words

    # the declaring classes, and in one grep whatever could map into their tables besides them:
    # classes named as a table's ORM spelling, subclasses, attributes set from outside
    declared: Dict[str, Tuple[str, ast.AST]] = {}
    for table in tables:
        if len(where[table]) != 1:
            continue
        path = next(iter(where[table]))
        tree = module(path)
        declaring = [n for n in ast.walk(tree) if _declares(n, table)] if tree is not None else []
        if len(declaring) == 1:
            declared[table] = (path, declaring[0])
    class_names = sorted({node.name for _, node in declared.values() if isinstance(node, ast.ClassDef)})
    # one grep: every class line (bases, subclasses, classes named as a table), assignments of the
    # plain base names, and attributes set on the declaring classes from outside
    around: List[Tuple[str, str]] = []
    if declared:
        wanted = ["class ", "setattr(", *sorted(PLAIN_BASES), *(f"{name}." for name in class_names)]
        args = ["-F"]
        for text in wanted:
            args += ["-e", text]
        keep = re.compile(
            rf"^\s*class\s+\w+|^\s*({'|'.join(sorted(PLAIN_BASES))})\s*(:[^=]*)?=[^=]"
            + (rf"|\b({'|'.join(map(re.escape, class_names))})\.\w+\s*=[^=]|setattr\(\s*({'|'.join(map(re.escape, class_names))})\b" if class_names else "")
        )
        around = [(p, line) for p, line in _grep(root, args, commit) if _model_file(p) and keep.search(line)]
        lines.extend(around)

    out: Dict[str, Optional[frozenset]] = {}
    for table in tables:
        out[table] = None
        if table not in declared:
            continue
        path, node = declared[table]
        tree = module(path)
        # a class named as the table's ORM spelling may be its model too (Flask-SQLAlchemy and
        # peewee derive the table's name from it); a subclass maps into the same table; attributes
        # set from outside the class are columns too
        own = node.name if isinstance(node, ast.ClassDef) else None
        others = {n for n in spellings(table) if n != table} - {own}
        clashes = [rf"^\s*class\s+({'|'.join(map(re.escape, sorted(others)))})\b"] if others else []
        if own:
            name = re.escape(own)
            clashes += [rf"^\s*class\s+\w+\s*\([^)]*\b{name}\b", rf"\b{name}\.\w+\s*=[^=]", rf"setattr\(\s*{name}\b"]
        clash = re.compile("|".join(clashes)) if clashes else None
        if clash is not None and any(clash.search(line) for _, line in around):
            continue
        words = _class_words(node) if isinstance(node, ast.Call) else words_of(node, tree, path, 0)
        out[table] = frozenset(words) if words is not None else None
    if use_cache:
        store_result(scope, key, [(t, sorted(v) if v is not None else None) for t, v in out.items()])
    return out


def used_in_sql(root: Path, commit: str, table: str, column: str) -> Optional[bool]:
    """Whether running code may use the column outside the ORM: it appears in a code file that is
    not Python, or in a Python string that reads as SQL and names the table too (``text("UPDATE
    account SET legacy_token ...")``).  None when git does not say or there is too much to read."""
    names = column_spellings(column)
    args = ["-l", "-i", "-w", "-F"]
    for name in names:
        args += ["-e", name]
    hits = [p for p, _ in _grep(root, args, commit) if not _not_running(p)]
    if any(not p.endswith((".py", ".pyi")) for p in hits):
        return True  # code in another language (or SQL) names it: Go's LegacyToken, report.sql
    if len(hits) > 30:
        return None
    word = re.compile(rf"\b{re.escape(column)}\b", re.I)
    names = re.compile(rf"\b({'|'.join(map(re.escape, spellings(table)))})\b", re.I)
    for path in hits:
        tree = _show(root, commit, path)
        if tree is None:
            return None
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and word.search(node.value) and SQL_WORDS.search(node.value) and names.search(node.value):
                return True
            if isinstance(node, ast.JoinedStr):
                text = "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
                if word.search(text) and SQL_WORDS.search(text):
                    return True  # an f-string's table may be a hole
    return False


def named_anywhere(root: Path, commit: str, names: List[str]) -> Optional[bool]:
    """Whether any tracked text file at ``commit`` (revision folders and docs aside) holds one of
    the names as a whole word, in any case: templates, other services' code, configuration."""
    args = ["-l", "-i", "-w", "-F"]
    for name in names:
        args += ["-e", name]
    try:
        return any(not _not_running(p) for p, _ in _grep(root, args, commit, paths=()))
    except GitError:
        return None


def named_at(start: Path, commit: str, names: List[str], use_cache: bool = True) -> Optional[set]:
    """The names running code at ``commit`` holds as whole words (any case); None when git does not
    say.  For a column: whether the code the change that added it left behind used it."""
    try:
        root = repository_root(start)
        return _mentioned(root, commit, sorted(set(names)), use_cache)[0]
    except (GitError, OSError, ValueError):
        return None


def sql_use_at(start: Path, ref: str, table: str, column: str) -> Optional[bool]:
    """``used_in_sql`` at a ref; None when git does not say."""
    try:
        root = repository_root(start)
        return used_in_sql(root, ref, table, column)
    except (GitError, OSError, ValueError):
        return None


def anywhere_at(start: Path, ref: str, names: List[str]) -> Optional[bool]:
    """``named_anywhere`` at a ref; None when git does not say."""
    try:
        return named_anywhere(repository_root(start), ref, names)
    except (GitError, OSError, ValueError):
        return None


def models_at(start: Path, ref: str, tables: List[str], use_cache: bool = True) -> Dict[str, Optional[frozenset]]:
    """``model_columns`` at a ref, {} when git does not say."""
    try:
        root = repository_root(start)
        commit = _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False).stdout.strip()
        return model_columns(root, commit, tables, use_cache) if commit else {}
    except (GitError, OSError, ValueError):
        return {}
