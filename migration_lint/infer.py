"""What a history says about itself when nothing else does: its dialect and its downgrade policy.

Read as text, like everything in static mode.  ``settings.resolve`` places these below flags,
config and URLs: they decide only what nobody stated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from migration_lint.model import count_of

# Code that only makes sense on one dialect: (pattern, what it is).  Patterns run over source
# text with comments removed.
EVIDENCE: Dict[str, List[Tuple[re.Pattern, str, str]]] = {
    # (pattern, what it is, a lower-case text every match contains: files without it are skipped
    # without running the pattern, which keeps a warm run over a large history fast)
    "mysql": [
        (re.compile(r"\bmysql\.[A-Z]\w*"), "a MySQL type", "mysql."),
        (re.compile(r"\bmysql_\w+\s*="), "a mysql_ keyword", "mysql_"),
        (re.compile(r"ENGINE\s*=\s*InnoDB", re.I), "ENGINE=InnoDB", "innodb"),
        (re.compile(r"\w+_ibfk_\d+"), "an InnoDB foreign key name", "_ibfk_"),
        (re.compile(r"""["']PRIMARY["']"""), "MySQL's PRIMARY index name", "primary"),
        (re.compile(r"\bAUTO_INCREMENT\b", re.I), "AUTO_INCREMENT", "auto_increment"),
        (re.compile(r"""["'][^"'\n]*\b(?:ALTER|CREATE|UPDATE|INSERT|SELECT|DROP|TABLE|FROM|INTO)\b[^"'\n]*`\w+`""", re.I), "backticks in SQL", "`"),
        (re.compile(r"mysql\+\w+://|mariadb\+\w+://|\bmysql://"), "a MySQL URL", "://"),
    ],
    "postgresql": [
        (re.compile(r"\bpostgresql\.[A-Z]\w*"), "a PostgreSQL type", "postgresql."),
        (re.compile(r"\bpostgresql_\w+\s*="), "a postgresql_ keyword", "postgresql_"),
        (re.compile(r"\bCONCURRENTLY\b"), "CONCURRENTLY", "concurrently"),
        (re.compile(r"""(["']).*?::(?:jsonb|json|text|uuid|integer|int|timestamp\w*|regclass|\w+\[\])\b.*?\1""", re.I), "a :: cast in SQL", "::"),
        (re.compile(r"\bplpgsql\b", re.I), "PL/pgSQL", "plpgsql"),
        (re.compile(r"postgres(?:ql)?\+\w+://|\bpostgres(?:ql)?://"), "a PostgreSQL URL", "://"),
    ],
    "sqlite": [
        (re.compile(r"\bsqlite\.[A-Z]\w*"), "a SQLite type", "sqlite."),
        (re.compile(r"\bsqlite_\w+\s*="), "a sqlite_ keyword", "sqlite_"),
        (re.compile(r"\bPRAGMA\b"), "PRAGMA", "pragma"),
        (re.compile(r"sqlite\+?\w*:///"), "a SQLite URL", ":///"),
        # batch mode is SQLite's way to alter a table (copy and move); other databases need none
        (re.compile(r"\bbatch_alter_table\("), "batch mode", "batch_alter_table("),
        (re.compile(r"\brender_as_batch\s*=\s*True"), "render_as_batch=True", "render_as_batch"),
    ],
}
_COMMENT = re.compile(r"(?m)^\s*#.*$")  # whole-line comments: evidence in them is no code

# A URL in alembic.ini that is only a placeholder, or that env.py replaces: not evidence.
PLACEHOLDER_URL = re.compile(r"overridden|driver://|changeme|example|placeholder|dummy|xxx", re.I)


@dataclass(frozen=True)
class Evidence:
    dialect: str
    where: str  # path:line
    what: str


def _code(text: str) -> str:
    return _COMMENT.sub("", text)


def dialect_evidence(texts: Sequence[Tuple[str, str]]) -> Dict[str, List[Evidence]]:
    """Per dialect, the first piece of evidence in each file that has some: (path, text) pairs."""
    found: Dict[str, List[Evidence]] = {}
    for path, text in texts:
        code = _code(text)
        lower = code.lower()
        for dialect, patterns in EVIDENCE.items():
            for pattern, what, needle in patterns:
                if needle not in lower:
                    continue
                match = pattern.search(code)
                if match:
                    line = code.count("\n", 0, match.start()) + 1
                    found.setdefault(dialect, []).append(Evidence(dialect, f"{path}:{line}", what))
                    break
    return found


def history_evidence(revisions: Sequence[Tuple[str, str]], env_py: Optional[Tuple[str, str]]) -> Dict[str, List[Evidence]]:
    """dialect_evidence of a history's revisions and its env.py: read once, asked twice (which
    dialect to infer, which dialects the history has code for)."""
    return dialect_evidence(list(revisions) + ([env_py] if env_py else []))


def dialects_seen(revisions: Sequence[Tuple[str, str]], env_py: Optional[Tuple[str, str]], found: Optional[Dict[str, List[Evidence]]] = None) -> Tuple[str, ...]:
    """Every dialect with specific code in the history or env.py (``found``: history_evidence of them, when already read)."""
    return tuple(sorted(found if found is not None else history_evidence(revisions, env_py)))


def infer_dialect(revisions: Sequence[Tuple[str, str]], env_py: Optional[Tuple[str, str]], found: Optional[Dict[str, List[Evidence]]] = None) -> Optional[Tuple[str, str]]:
    """(dialect, how it was inferred) from dialect-specific code: the dialect with such code in the
    most files (revisions, and env.py) wins; on a tie, PostgreSQL.  None without evidence."""
    found = found if found is not None else history_evidence(revisions, env_py)
    if not found:
        return None
    order = ["postgresql", "mysql", "sqlite"]
    best = max(found, key=lambda d: (len(found[d]), -order.index(d)))
    first = found[best][0]
    how = f"inferred from {count_of(len(found[best]), 'file')} with {_display(best)}-specific code, e.g. {first.where} ({first.what})"
    others = [f"{_display(d)} in {len(found[d])}" for d in order if d in found and d != best]
    if others:
        how += f"; also seen: {', '.join(others)} -- set `dialect` to check for another"
    return best, how


def _display(dialect: str) -> str:
    from migration_lint.dialects import display

    return display(dialect)


_DOWNGRADE_BODY = re.compile(r"^def downgrade\([^)]*\)[^:]*:\n((?:[ \t]+.*\n|\s*\n)*)", re.M)
_NO_DOWNGRADES = re.compile(r"not\s+(?:be\s+)?(?:implemented|supported)|only\s+upgrades?|no\s+downgrades?|irreversible|cannot\s+be\s+downgraded", re.I)


EMPTY_CONVENTION = (5, 0.25)  # this many revisions, and this share, with an empty downgrade(): a convention


def infer_downgrades(mako: Optional[Tuple[str, str]], with_downgrade: int, revisions: int, empty: int = 0) -> Optional[Tuple[str, str]]:
    """('optional', why) when the project does not write downgrades: its script.py.mako has no
    downgrade(), or one that says so (or only raises); or at least 90 % of its revisions have none;
    or at least a quarter of them (five or more) have one that does nothing (``pass``): a team
    that leaves that many empty does not keep downgrades (redash: 9 of 27)."""
    if mako is not None:
        path, text = mako
        body = _DOWNGRADE_BODY.search(text + "\n")
        if "def downgrade" not in text:
            return "optional", f"inferred: {path} writes no downgrade()"
        if body is not None:
            content = body.group(1)
            if _NO_DOWNGRADES.search(content):
                line = text.count("\n", 0, body.start()) + 1
                return "optional", f"inferred: {path}:{line} says downgrades are not written"
            code = _code(content).strip()
            if code.startswith("raise"):
                return "optional", f"inferred: {path}'s downgrade() raises"
    if revisions >= 10 and revisions - with_downgrade >= 0.9 * revisions:
        return "optional", f"inferred: {revisions - with_downgrade} of {revisions} revisions have no downgrade()"
    least, share = EMPTY_CONVENTION
    if empty >= least and empty >= share * revisions:
        return "optional", f"inferred: {empty} of {revisions} revisions have a downgrade() that does nothing"
    return None


def url_is_placeholder(url: Optional[str], env_settings: dict) -> bool:
    """alembic.ini's sqlalchemy.url says nothing when it is a placeholder or env.py sets its own."""
    return bool(url and PLACEHOLDER_URL.search(url)) or bool(env_settings.get("url_overridden"))


def read_mako(script_location: Path) -> Optional[Tuple[str, str]]:
    from migration_lint.discovery import display_path
    from migration_lint.errors import MigrationLintError
    from migration_lint.safeio import read_text

    path = script_location / "script.py.mako"
    if not path.is_file():
        return None
    try:
        return display_path(path), read_text(path, "script.py.mako")
    except MigrationLintError:
        return None


def infer_offline_paths(paths: Sequence[str]) -> Optional[Tuple[Tuple[str, ...], str]]:
    """(('*/contract/*',), why) for a history split into expand/ and contract/ folders (OpenStack's
    layout): contract revisions remove what the old release still uses, so that layout runs them
    only after every server of the old release is stopped (neutron's alembic_migrations docs).
    ``paths``: the revision files below their version location (folders above it do not count)."""
    folders = {part for path in paths for part in path.replace("\\", "/").split("/")[:-1]}
    if {"expand", "contract"} <= folders:
        return ("*/contract/*",), "inferred: the history has expand/ and contract/ folders; contract revisions run with the old release stopped"
    return None


# Reading the project around a history (bounded: a project larger than this is not read)
SCAN_SKIP = frozenset({".git", ".hg", "node_modules", ".venv", "venv", "__pycache__", "dist", "build", ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache", "site-packages", "vendor", "third_party"})
SCAN_SUFFIXES = frozenset({".py", ".md", ".rst", ".txt", ".yml", ".yaml", ".toml", ".cfg", ".ini", ".sh", ".json", ".mdx", ".mk"})
SCAN_NAMES = frozenset({"Makefile", "justfile", "Justfile", "Taskfile", "Procfile", "tox.ini", "noxfile.py"})
SCAN_FILES, SCAN_BYTES, SCAN_FILE_BYTES = 5000, 30 * 1024 * 1024, 1024 * 1024
_MENTIONS_DOWNGRADE = re.compile(rb"downgrad", re.I)
# the word counts where the file is about migrations: "downgrade" also names a plan, a TLS version
# or an older release (CTFd's tests/utils/test_updates.py: test_update_check_ignores_downgrades)
_ABOUT_MIGRATIONS = re.compile(rb"alembic|migrat|revision|database|schema|\bdb\b", re.I)
_REVISION_FILE = re.compile(rb"^down_revision\s*(?::[^=\n]*)?=", re.M)
_DEFINES_PHASE = re.compile(rb"^def\s+(?:up|down)grade\s*\(", re.M)
_RUNS_UPGRADE = re.compile(rb"\bcommand\.upgrade\s*\(|\bflask_migrate\.upgrade\s*\(")
# Flask-Migrate's upgrade(), imported by name and called (CTFd/__init__.py: `from flask_migrate
# import upgrade`, then `upgrade()` at start-up)
_FROM_FLASK_MIGRATE = re.compile(rb"^[ \t]*from[ \t]+flask_migrate[ \t]+import\b", re.M)
_UPGRADE_NAME = re.compile(rb"\bupgrade\b")


def _imports_flask_upgrade(data: bytes) -> bool:
    """``from flask_migrate import upgrade`` (or a parenthesised list holding it).  Read with
    find(), not one regex spanning the list: a file the pull request controls must not make it
    backtrack for ever."""
    for found in _FROM_FLASK_MIGRATE.finditer(data):
        rest = data[found.end():found.end() + 4096]
        stripped = rest.lstrip(b" \t")
        end = stripped.find(b")") if stripped.startswith(b"(") else stripped.find(b"\n")
        if _UPGRADE_NAME.search(stripped if end < 0 else stripped[:end]):
            return True
    return False
_CALLS_UPGRADE = re.compile(rb"(?<![\w.])upgrade\s*\(")


def _upgrade_call(data: bytes):
    """Where a Python file runs the migrations: Alembic's command.upgrade(...), or Flask-Migrate's
    upgrade(...) (imported by name); None when it does not."""
    found = _RUNS_UPGRADE.search(data)
    if found or not _imports_flask_upgrade(data):
        return found
    for call in _CALLS_UPGRADE.finditer(data):
        line_start = data.rfind(b"\n", 0, call.start()) + 1
        if not re.match(rb"\s*(?:async\s+)?def\s", data[line_start:call.start()]):
            return call
    return None


def _project_files(root: Path, skip: Sequence[Path]):
    """(path, size, mtime) of the project's text files that can say how it migrates, or None when
    there are more than SCAN_FILES of them."""
    import os

    skipped = {os.path.realpath(p) for p in skip}
    found, stack = [], [str(root)]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name not in SCAN_SKIP and os.path.realpath(entry.path) not in skipped:
                        stack.append(entry.path)
                elif entry.is_file(follow_symlinks=False) and (os.path.splitext(entry.name)[1] in SCAN_SUFFIXES or entry.name in SCAN_NAMES or entry.name.startswith("Dockerfile")):
                    stat = entry.stat(follow_symlinks=False)
                    found.append((entry.path, stat.st_size, stat.st_mtime_ns))
            except OSError:
                continue
            if len(found) > SCAN_FILES:
                return None
    return found


def infer_downgrades_unused(project_root: Optional[Path], script_location: Path, use_cache: bool = True) -> Optional[Tuple[str, str]]:
    """('unused', why) when the application runs its migrations itself (Alembic's
    ``command.upgrade(...)`` or Flask-Migrate's ``upgrade()`` in its own code, outside the
    migrations folder: at start-up, as mealie, CTFd and other self-hosted applications do) and
    nothing else in the project (its code, tests, docs, scripts, CI files) mentions a downgrade
    where it speaks of migrations: nobody runs downgrade(), and findings about it are noise.  None
    when the project is not read (too large, or no root), or says otherwise."""
    from migration_lint.discovery import display_path
    from migration_lint.loader import cached_result, result_key, store_result

    if project_root is None or not project_root.is_dir():
        return None
    files = _project_files(project_root, [script_location])
    if not files:
        return None
    scope = f"downgrades-unused\0{project_root.resolve()}\0{script_location.resolve()}"
    key = result_key(files)
    stored = cached_result(scope, key) if use_cache else None
    if stored is not None:
        return tuple(stored[0]) if stored else None
    runner, total, result = None, 0, None
    for path, size, _ in files:
        if size > SCAN_FILE_BYTES:
            continue
        total += size
        if total > SCAN_BYTES:
            runner = None
            break
        try:
            with open(path, "rb") as handle:
                data = handle.read(SCAN_FILE_BYTES)
        except OSError:
            continue
        if path.endswith(".py") and _REVISION_FILE.search(data) and _DEFINES_PHASE.search(data):
            continue  # another history's revision (CTFd's plugins keep their own): its downgrade() is no mention
        if _MENTIONS_DOWNGRADE.search(data) and _ABOUT_MIGRATIONS.search(data):
            runner = None
            break
        if runner is None and path.endswith(".py"):
            found = _upgrade_call(data)
            if found:
                line = data.count(b"\n", 0, found.start()) + 1
                runner = f"{display_path(Path(path))}:{line}"
    else:
        if runner is not None:
            result = ("unused", f"inferred: the application migrates itself ({runner}) and nothing in the project runs a downgrade")
    if use_cache:
        store_result(scope, key, [list(result)] if result else [])
    return result
