"""Reading revision files: parse cache keyed by content, parallel libcst parsing on a cold run,
headers only for revisions outside the checked scope.

The cache lives in the user cache dir (never in the repo) and is keyed by file content, the
code of migration-lint itself and the dialect (SQL in op.execute is parsed for it).  A warm run reads and hashes the
files, loads one pickle per environment and parses nothing.
"""

from __future__ import annotations

import copy
import hashlib
import os
import pickle
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Collection, Dict, List, Optional, Tuple

from migration_lint import __version__
from platformdirs import user_cache_dir

from migration_lint.model import MigrationFile, Problem
from migration_lint.process import quiet_gc
from migration_lint import rule_ids

PARALLEL_THRESHOLD = 48  # below this, starting workers costs more than it saves
CACHE_FORMAT = 1


def cache_dir() -> Path:
    override = os.environ.get("MIGRATION_LINT_CACHE_DIR")
    if override:
        return Path(override)
    return Path(user_cache_dir("migration-lint", appauthor=False))


_CODE_DIGEST: Optional[str] = None


def code_digest() -> str:
    """A digest of migration-lint's own source: caches written by other code (another commit of
    the same version, a local edit) are never read, whatever the version number says."""
    global _CODE_DIGEST
    if _CODE_DIGEST is None:
        digest = hashlib.sha1(f"{__version__}\0{CACHE_FORMAT}".encode())
        package = Path(__file__).resolve().parent
        for path in sorted(package.rglob("*.py")):
            try:
                digest.update(path.relative_to(package).as_posix().encode())
                digest.update(path.read_bytes())
            except OSError:  # pragma: no cover - an unreadable install: the version still keys it
                continue
        _CODE_DIGEST = digest.hexdigest()
    return _CODE_DIGEST


def _cache_file(scope: str, dialect: str) -> Path:
    """One parse cache per environment and dialect; the code that wrote it is recorded inside,
    so upgrades replace it instead of piling up files."""
    digest = hashlib.sha1(f"{scope}\0{dialect}".encode()).hexdigest()[:20]
    return cache_dir() / f"parse-{digest}.pickle"


def _trusted(path: Path) -> bool:
    """Caches are pickles: read only files this user owns and nobody else can write."""
    try:
        stat = path.stat()
    except OSError:
        return False
    if hasattr(os, "getuid") and stat.st_uid != os.getuid():
        return False
    return not stat.st_mode & 0o022


def _parse_one(item: Tuple[str, bytes, str, bool]) -> MigrationFile:
    from migration_lint.frontend.alembic_ops import parse_migration  # libcst: a warm run never loads it

    path, data, dialect, operations = item
    return parse_migration(data, path, dialect, operations=operations)


def _parse_chunk(items: List[Tuple[str, bytes, str, bool]]) -> List[MigrationFile]:
    with quiet_gc():
        return [_parse_one(item) for item in items]


# Memory the parsers of one run may use, all processes together, and what parsing costs: libcst
# builds about 1.1 GB of tree per MB of source it parses (the stdlib parser ~150 MB per MB).
PARSE_MEMORY_BUDGET = 850 * 1024 * 1024
PARSE_BYTES_PER_BYTE = 1100


def parse_all(items: List[Tuple[str, bytes, str, bool]], jobs: Optional[int] = None) -> List[MigrationFile]:
    """Parse every item, in parallel on a cold run of a long history.  Files whose parse could take
    more than a worker's share of the memory budget are parsed one at a time, after the workers
    have exited: the run stays under the budget whatever the files are."""
    jobs = jobs or min(os.cpu_count() or 1, 8)
    share = PARSE_MEMORY_BUDGET // max(jobs, 1)
    heavy = {i for i, item in enumerate(items) if item[3] and len(item[1]) * PARSE_BYTES_PER_BYTE > share}
    light = [item for i, item in enumerate(items) if i not in heavy]
    if jobs <= 1 or len(light) < PARALLEL_THRESHOLD:
        parsed = _parse_chunk(light)
    else:
        parsed = _parse_in_workers(light, jobs)
    done = iter(parsed)
    return [_parse_chunk([item])[0] if i in heavy else next(done) for i, item in enumerate(items)]


def _parse_in_workers(items: List[Tuple[str, bytes, str, bool]], jobs: int) -> List[MigrationFile]:
    import multiprocessing  # only a cold run of a long history starts workers
    from concurrent.futures import ProcessPoolExecutor

    # Import the parser before forking so that workers inherit it instead of importing it again.
    import migration_lint.frontend.alembic_ops  # noqa: F401

    try:
        context = multiprocessing.get_context("fork")
    except ValueError:  # pragma: no cover - platforms without fork
        context = None
    # Many small chunks rather than one per worker: results stream back and are unpickled here
    # while the workers go on parsing, and a worker that drew slow files does not hold up the end.
    size = max(8, len(items) // (jobs * 8))
    chunks = [items[i : i + size] for i in range(0, len(items), size)]
    results: List[MigrationFile] = []
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool, quiet_gc():
        for chunk in pool.map(_parse_chunk, chunks):
            results.extend(chunk)
    return results


DEFAULT_MAX_FILE_SIZE = 512 * 1024  # bytes; libcst needs about 1 GB of memory per MB it parses


@dataclass
class Sources:
    """The revision files of one history as read: contents by index (None for files too large to
    keep or unreadable), content digests, read errors, and the sizes of files too large to parse."""

    contents: List[Optional[bytes]]
    digests: List[Optional[str]]
    errors: Dict[int, str]
    too_large: Dict[int, int]  # index -> size in bytes


def read_sources(paths: List[Path], max_size: int = DEFAULT_MAX_FILE_SIZE) -> Sources:
    """Read every file once.  Anything but a regular file (a FIFO, a device) is an error, not a
    read that never ends; a file over ``max_size`` is digested as a stream and not kept."""
    contents: List[Optional[bytes]] = []
    digests: List[Optional[str]] = []
    errors: Dict[int, str] = {}
    too_large: Dict[int, int] = {}
    for index, path in enumerate(paths):
        content = digest = None
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO must not block the open
            try:
                info = os.fstat(fd)
                if not stat.S_ISREG(info.st_mode):
                    raise OSError(0, "not a regular file")
                with os.fdopen(os.dup(fd), "rb") as handle:
                    if info.st_size > max_size:
                        hasher = hashlib.sha1()
                        for block in iter(lambda: handle.read(1 << 20), b""):
                            hasher.update(block)
                        digest = hasher.hexdigest()
                        too_large[index] = info.st_size
                    else:
                        content = handle.read()
                        digest = hashlib.sha1(content).hexdigest()
            finally:
                os.close(fd)
        except OSError as exc:
            errors[index] = exc.strerror or str(exc)
            content = digest = None
        contents.append(content)
        digests.append(digest)
    return Sources(contents, digests, errors, too_large)


class FileLoader:
    """The revision files of one environment, parsed once each, from the parse cache where their
    content is unchanged.

    ``load(full)`` gives every file; those whose index is in ``full`` (all when None) with their
    operations, the others with headers only (``MigrationFile.headers_only``), which costs the
    stdlib parser alone.  A file read with headers only is read again in full when asked for
    later.  The cache keeps the most complete result per content digest.
    """

    def __init__(self, display: List[str], sources: Sources, paths: List[Path], dialect: str, scope: str, use_cache: bool = True, jobs: Optional[int] = None, max_size: int = DEFAULT_MAX_FILE_SIZE):
        self.display, self.paths = display, paths
        self.contents, self.digests, self.errors, self.too_large = sources.contents, sources.digests, sources.errors, sources.too_large
        self.dialect, self.use_cache, self.jobs, self.max_size = dialect, use_cache, jobs, max_size
        self.cache_path = _cache_file(scope, dialect)
        self.known: Dict[str, MigrationFile] = self._read_cache() if use_cache else {}
        self.changed = False

    def _read_cache(self) -> Dict[str, MigrationFile]:
        if not _trusted(self.cache_path):
            return {}
        try:
            with self.cache_path.open("rb") as handle, quiet_gc():
                written_by, files = pickle.load(handle)
            return files if written_by == code_digest() else {}
        except Exception:  # missing, stale or corrupt cache: parse again
            return {}

    def load(self, full: Optional[Collection[int]] = None) -> List[MigrationFile]:
        wanted = set(range(len(self.digests))) if full is None else set(full)
        todo, queued = [], set()
        for i, digest in enumerate(self.digests):
            if digest is None or digest in queued:
                continue
            if i in self.too_large:  # (a full parse cached under a larger max-file-size does not count)
                if digest not in self.known or not self.known[digest].too_large:
                    self.known[digest] = self._headers_of_too_large(i)
                    self.changed = True
                continue
            have = self.known.get(digest)
            if have is None or (have.headers_only and i in wanted):
                todo.append((digest, (self.display[i], self.contents[i], self.dialect, i in wanted)))
                queued.add(digest)
        if todo:
            for (digest, _), parsed in zip(todo, parse_all([item for _, item in todo], self.jobs)):
                self.known[digest] = parsed
            self.changed = True
        results = []
        for i, digest in enumerate(self.digests):
            if digest is None:
                broken = MigrationFile(path=self.display[i], syntax_error=True)
                broken.problems.append(Problem(rule_ids.SYNTAX_ERROR, 1, f"cannot read file: {self.errors.get(i, 'unreadable')}"))
                results.append(broken)
                continue
            parsed_file = self.known[digest]
            if parsed_file.path != self.display[i]:
                parsed_file = _with_path(parsed_file, self.display[i])
            results.append(parsed_file)
        return results

    def _headers_of_too_large(self, index: int) -> MigrationFile:
        from migration_lint.frontend.headers import too_large

        try:
            with open(self.paths[index], "rb") as handle:
                return too_large(handle, self.display[index], self.too_large[index], self.max_size)
        except OSError as exc:
            broken = MigrationFile(path=self.display[index], syntax_error=True)
            broken.problems.append(Problem(rule_ids.SYNTAX_ERROR, 1, f"cannot read file: {exc.strerror or exc}"))
            return broken

    def save(self) -> None:
        """Write the cache if anything was parsed: the files of this run, nothing older."""
        if not (self.use_cache and self.changed):
            return
        current = set(self.digests)
        _write_cache(self.cache_path, (code_digest(), {d: f for d, f in self.known.items() if d in current}))
        self.changed = False


# -- whole results: a warm run where nothing changed skips parsing and rule evaluation -----------


def result_key(*parts) -> str:
    digest = hashlib.sha1(code_digest().encode())
    for part in parts:
        digest.update(repr(part).encode("utf-8", "replace"))
        digest.update(b"\0")
    return digest.hexdigest()


def _result_file(scope: str) -> Path:
    return cache_dir() / f"result-{hashlib.sha1(scope.encode()).hexdigest()[:20]}.pickle"


def cached_result(scope: str, key: str):
    """The stored result of an environment if it was computed for exactly this key."""
    path = _result_file(scope)
    if not _trusted(path):
        return None
    try:
        with path.open("rb") as handle, quiet_gc():
            stored_key, value = pickle.load(handle)
    except Exception:  # missing or corrupt: compute again
        return None
    return value if stored_key == key else None


def store_result(scope: str, key: str, value) -> None:
    """One result per environment: the newest replaces the last."""
    _write_cache(_result_file(scope), (key, value))


def _with_path(parsed: MigrationFile, path: str) -> MigrationFile:
    clone = copy.copy(parsed)
    clone.path = path
    return clone


def _write_cache(path: Path, data) -> None:
    """Atomic write; a cache we cannot write is only a slower next run."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".pickle")
        try:
            with os.fdopen(fd, "wb") as handle:
                pickle.dump(data, handle, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        pass
