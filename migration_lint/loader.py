"""Reading revision files: parse cache keyed by content, parallel libcst parsing on a cold run.

The cache lives in the user cache dir (never in the repo) and is keyed by file content, tool
version and the dialect (SQL in op.execute is parsed for it).  A warm run reads and hashes the
files, loads one pickle per environment and parses nothing.
"""

from __future__ import annotations

import gc
import hashlib
import os
import pickle
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from migration_lint import __version__
from migration_lint.model import MigrationFile
from migration_lint import rule_ids

PARALLEL_THRESHOLD = 48  # below this, starting workers costs more than it saves
CACHE_FORMAT = 1


def cache_dir() -> Path:
    override = os.environ.get("MIGRATION_LINT_CACHE_DIR")
    if override:
        return Path(override)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("migration-lint", appauthor=False))


def _cache_file(scope: str, dialect: str) -> Path:
    digest = hashlib.sha1(f"{scope}\0{dialect}\0{__version__}\0{CACHE_FORMAT}".encode()).hexdigest()[:20]
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


def _parse_one(item: Tuple[str, bytes, str]) -> MigrationFile:
    from migration_lint.frontend.alembic_ops import parse_migration

    path, data, dialect = item
    return parse_migration(data, path, dialect)


def _parse_chunk(items: List[Tuple[str, bytes, str]]) -> List[MigrationFile]:
    with quiet_gc():
        return [_parse_one(item) for item in items]


@contextmanager
def quiet_gc():
    """No cyclic garbage collection while building or unpickling many small objects.

    Parsing and unpickling a history allocate hundreds of thousands of objects that stay alive;
    every collection would walk all of them again, for nothing: libcst trees and our model hold no
    reference cycles, so reference counting frees what is dropped.  The collector is restored
    (not run) afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def parse_all(items: List[Tuple[str, bytes, str]], jobs: Optional[int] = None) -> List[MigrationFile]:
    jobs = jobs or min(os.cpu_count() or 1, 8)
    if jobs <= 1 or len(items) < PARALLEL_THRESHOLD:
        return _parse_chunk(items)
    import multiprocessing
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


def read_sources(paths: List[Path]) -> Tuple[List[Optional[bytes]], List[Optional[str]], Dict[int, str]]:
    """File contents, their digests, and read errors by index."""
    contents: List[Optional[bytes]] = []
    errors: Dict[int, str] = {}
    for index, path in enumerate(paths):
        try:
            with open(path, "rb") as handle:
                contents.append(handle.read())
        except OSError as exc:
            contents.append(None)
            errors[index] = exc.strerror or str(exc)
    digests = [hashlib.sha1(data).hexdigest() if data is not None else None for data in contents]
    return contents, digests, errors


def load_files(
    display: List[str],
    contents: List[Optional[bytes]],
    digests: List[Optional[str]],
    errors: Dict[int, str],
    dialect: str,
    scope: str,
    use_cache: bool = True,
    jobs: Optional[int] = None,
) -> List[MigrationFile]:
    """Parse revision files (from the parse cache where their content is unchanged)."""
    cached: Dict[str, MigrationFile] = {}
    cache_path = _cache_file(scope, dialect)
    if use_cache and _trusted(cache_path):
        try:
            with cache_path.open("rb") as handle, quiet_gc():
                cached = pickle.load(handle)
        except Exception:  # missing, stale or corrupt cache: parse again
            cached = {}
    todo = [(i, (display[i], contents[i], dialect)) for i, d in enumerate(digests) if d is not None and d not in cached]
    parsed = parse_all([item for _, item in todo], jobs) if todo else []
    fresh = {digests[i]: result for (i, _), result in zip(todo, parsed)}
    results = []
    for i, digest in enumerate(digests):
        if digest is None:
            from migration_lint.model import Problem

            broken = MigrationFile(path=display[i], syntax_error=True)
            broken.problems.append(Problem(rule_ids.SYNTAX_ERROR, 1, f"cannot read file: {errors.get(i, 'unreadable')}"))
            results.append(broken)
            continue
        parsed_file = fresh.get(digest) or cached[digest]
        if parsed_file.path != display[i]:
            parsed_file = _with_path(parsed_file, display[i])
        results.append(parsed_file)
    if use_cache and fresh:
        keep = {d: r for d, r in zip(digests, results) if d is not None}
        _write_cache(cache_path, keep)
    return results


# -- whole results: a warm run where nothing changed skips parsing and rule evaluation -----------


def result_key(*parts) -> str:
    digest = hashlib.sha1(f"{__version__}\0{CACHE_FORMAT}".encode())
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
    import copy

    clone = copy.copy(parsed)
    clone.path = path
    return clone


def _write_cache(path: Path, data: Dict[str, MigrationFile]) -> None:
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
