"""Drives Alembic through upgrade -> downgrade -> upgrade of each revision and compares schemas.

Runs the project's own revision files (this is the one part of migration-lint that executes user
code, and only against the throwaway database it is given).  Returns result objects; prints
nothing.  The ScriptDirectory is loaded once; each step is exactly one revision (Alembic's
``RevisionStep``), so branches and merges are stepped precisely.
"""

from __future__ import annotations

import os
import re
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from migration_lint.errors import ConfigError, MigrationLintError
from migration_lint.model import count_of

from migration_lint.rule_ids import (  # noqa: E402
    DOWNGRADE_LEAVES_TRACE as LEAVES_TRACE,
    REUPGRADE_DIFFERS,
    REUPGRADE_FAILED,
    ROUNDTRIP_DOWNGRADE_FAILED as DOWNGRADE_FAILED,
    ROUNDTRIP_IRREVERSIBLE as IRREVERSIBLE,
    ROUNDTRIP_UPGRADE_FAILED as UPGRADE_FAILED,
)


from migration_lint.model import Finding  # noqa: E402
from migration_lint.process import project_importable  # noqa: E402


def RoundTripHit(rule: str, path: str, line: int, revision: str, message: str, phase: Optional[str] = None, help: str = "") -> Finding:
    """A round-trip finding: about its revision as a whole (the object is the revision).  ``help``
    replaces the rule's fix when the finding's cause needs another one."""
    return Finding(rule, path, line, message, revision=revision or None, phase=phase, subject=("revision", revision or ""), help=help)


# an import failure is not a broken migration: the rule's fix (fix the failing statement) is wrong for it
NOT_IMPORTED_HELP = (
    "The round trip imports every revision file: run migration-lint where the project's dependencies "
    "are installed and its configuration is set (the environment its tests run in), or pass --app for "
    "a Flask app; the README's 'The round trip' says more"
)


@dataclass
class RoundTripResult:
    hits: List[Finding] = field(default_factory=list)
    environment_mode: str = ""  # 'project' | 'builtin'
    database: str = ""
    notes: List[str] = field(default_factory=list)
    tested: int = 0
    skipped: List[Tuple[str, str]] = field(default_factory=list)  # (revision, why)
    seconds: float = 0.0
    # the database ended in a state production could have (every step after the last failure
    # went through): --drift goes on from it instead of rebuilding
    clean_end: bool = False
    traces: List[object] = field(default_factory=list)  # trace.RevisionTrace of each first upgrade, with trace=True


class EnvironmentUnusable(MigrationLintError):
    """env.py could not run against the throwaway database (--env project; exit 2)."""


from migration_lint.roundtrip.guard import WrongDatabase as _WrongDatabase  # noqa: E402


_SECRETS: List[str] = []  # passwords of the databases in use (userinfo and query string): never in a message


_ADDRESS = re.compile(r"\s+at\s+0x[0-9a-fA-F]+|0x[0-9a-fA-F]{6,}")  # "<object at 0x7f...>": differs every run
_SCRATCH = re.compile(r"migration_lint_[0-9a-f]{12}")  # the scratch database's random name


def _first_line(exc: BaseException) -> str:
    """The exception's own text (the driver's, for SQL errors), and the statement that failed:
    one line, no password, no memory address, no random scratch name."""
    from migration_lint.roundtrip.db.redact import scrub

    orig = getattr(exc, "orig", None)  # SQLAlchemy DBAPIError: the driver's message, without the SQL
    text = str(orig if orig is not None else exc).strip() or type(exc).__name__
    first = text.splitlines()[0].strip()
    name = type(orig).__name__ if orig is not None else type(exc).__name__
    statement = getattr(exc, "statement", None) if orig is not None else None
    if statement:
        first += f" -- the statement: {' '.join(str(statement).split())[:200]}"
    first = _SCRATCH.sub("(the scratch database)", _ADDRESS.sub("", scrub(first, _SECRETS)))
    return f"{name}: {first}"[:500]


def _line_in(exc: BaseException, path: Path, default: int) -> int:
    """The line of the revision file where the exception came from (innermost frame there)."""
    target = os.path.realpath(path)
    line = None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if os.path.realpath(frame.f_code.co_filename) == target:
            line = lineno
    return line or default


def _url_string(url) -> str:
    return url.render_as_string(hide_password=False).replace("%", "%%")


def _same_database(url_a, url_b) -> bool:
    def key(url):
        database = url.database or ""
        if url.get_backend_name() == "sqlite" and database not in ("", ":memory:"):
            database = os.path.realpath(database)
        return (url.get_backend_name(), database, url.host or "", url.port, url.username or "", url.query.get("host", ""), url.query.get("unix_socket", ""))

    return key(url_a) == key(url_b)


class AlembicDriver:
    """One loaded ScriptDirectory and a way to run single steps against one database."""

    def __init__(self, env, database, *, mode: str = "auto", locate: Optional[Callable[[str], object]] = None):
        self.engine = None
        self._importable = None
        self.locate = locate  # real path of a revision file -> its static MigrationFile (loading.py)
        self.import_failures: Dict[str, object] = {}  # revision -> loading.ImportFailure
        from migration_lint.roundtrip.guard import Guard, target_of_url

        # what project code may connect to while it runs: the scratch database only (guard.py)
        self.guard = Guard(target_of_url(database.url))
        try:
            self._setup(env, database, mode)
        except BaseException:
            self.dispose()  # no pooled connection or sys.path entry outlives a failed start
            raise

    def _setup(self, env, database, mode: str) -> None:
        from alembic.config import Config
        from alembic.script import ScriptDirectory
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool, QueuePool

        self.env = env
        self.database = database
        # one pooled connection, reused by every step and digest (connecting costs more than a
        # digest); SQLite files get no pool, so that a reset can delete the file
        pooled = database.url.get_backend_name() != "sqlite"
        self.engine = create_engine(database.url, poolclass=QueuePool, pool_size=1, max_overflow=4) if pooled else create_engine(database.url, poolclass=NullPool)
        self.notes: List[str] = []
        self._parents: Dict[str, Tuple[str, ...]] = {}  # revision -> parents, see parents()
        # revision files import the project (undone in dispose)
        self._importable = project_importable(str(env.project_root) if env.project_root else None)
        self._importable.__enter__()
        if env.config_file is not None and env.config_file.suffix == ".ini":
            cfg = Config(str(env.config_file))
        else:
            cfg = Config()
        cfg.set_main_option("script_location", str(env.script_location))
        cfg.set_main_option("path_separator", "os")
        cfg.set_main_option("version_path_separator", "os")
        cfg.set_main_option("version_locations", os.pathsep.join(str(p) for p in env.version_locations))
        if env.recursive:
            cfg.set_main_option("recursive_version_locations", "true")
        cfg.set_main_option("sqlalchemy.url", _url_string(database.url))
        self.cfg = cfg
        self.script = ScriptDirectory.from_config(cfg)
        self.version_table = (env.settings or {}).get("version_table") or "alembic_version"
        self.injection: Optional[str] = "connection"
        self._load_revisions()
        self.mode = self._choose_mode(mode)

    def _load_revisions(self) -> None:
        """Import every revision file now (Alembic would on first use), each on its own: one that
        cannot be imported gets a stand-in and a record in ``import_failures`` (loading.py)."""
        from migration_lint.roundtrip.loading import tolerant_loading

        with self.guarded(), tolerant_loading(self.locate or (lambda path: None), _first_line, self.import_failures):
            self.script.revision_map.heads  # noqa: B018 - the property loads the map

    # -- running ------------------------------------------------------------------------------
    def guarded(self):
        """The window in which project code runs: SQLAlchemy connects to the scratch database only."""
        from migration_lint.roundtrip.guard import only

        return only(self.database.url, self.guard)

    def _run(self, steps_for: Callable, mode: Optional[str] = None) -> None:
        refused = self.guard.refusals
        try:
            with self.guarded():
                self._run_guarded(steps_for, mode)
        except (KeyboardInterrupt, _WrongDatabase):
            raise
        except BaseException as exc:
            if self.guard.refusals > refused:  # the refusal, wrapped or answered by another error
                raise _WrongDatabase(self._refusal()) from exc
            raise
        if self.guard.refusals > refused:  # env.py caught the refusal and went on: still a refusal
            raise _WrongDatabase(self._refusal())

    def _refusal(self) -> str:
        return f"refused a connection to {self.guard.last}: project code may only reach the throwaway database"

    def _run_guarded(self, steps_for: Callable, mode: Optional[str] = None) -> None:
        EnvironmentContext = _guarded_environment(self.guard)

        from migration_lint.roundtrip.db.redact import safe_url

        expected = self.database.url

        def fn(heads, context):
            connection = getattr(context, "connection", None)
            if connection is None or not _same_database(connection.engine.url, expected):
                raise _WrongDatabase(
                    "env.py connected to another database than the throwaway one "
                    f"({safe_url(connection.engine.url) if connection is not None else 'none'})"
                )
            return steps_for(heads)

        mode = mode or self.mode
        if mode == "project":
            connection = self.engine.connect()
            try:
                # what env.py accepts in config.attributes["connection"]: a Connection (Alembic's
                # cookbook), an Engine (pytest-alembic), or nothing (it reads sqlalchemy.url)
                offered = {"connection": connection, "engine": self.engine}.get(self.injection)
                if offered is not None:
                    self.cfg.attributes["connection"] = offered
                with EnvironmentContext(self.cfg, self.script, fn=fn, as_sql=False, starting_rev=None, destination_rev=None, tag=None):
                    self.script.run_env()
                if connection.in_transaction():
                    connection.commit()
            finally:
                self.cfg.attributes.pop("connection", None)
                connection.close()
            return
        with EnvironmentContext(self.cfg, self.script, fn=fn, as_sql=False) as env_ctx:
            with self.engine.connect() as connection:
                env_ctx.configure(
                    connection=connection,
                    version_table=self.version_table,
                    version_table_schema=(self.env.settings or {}).get("version_table_schema"),
                    transaction_per_migration=True,
                )
                with env_ctx.begin_transaction():
                    env_ctx.run_migrations()
                if connection.in_transaction():
                    connection.commit()

    def _choose_mode(self, mode: str) -> str:
        if mode == "builtin":
            return "builtin"
        if self.script.env_py_location is None or not os.path.exists(self.script.env_py_location):
            if mode == "project":
                raise EnvironmentUnusable("there is no env.py to run")
            self.notes.append("no env.py: used the built-in environment")
            return "builtin"
        reason = ""
        for injection in ("connection", "engine", None):
            self.injection = injection
            try:
                self._run(lambda heads: [], mode="project")  # a probe: env.py runs, no migration does
                return "project"
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # env.py may raise anything (ImportError, RuntimeError, SystemExit...)
                if isinstance(exc, _WrongDatabase):
                    reason = f"env.py connects to another database than the throwaway one: {exc}; nothing was written there"
                    break  # env.py ignores what it is given: trying other ways will not help
                reason = reason or _first_line(exc)
        if mode == "project":
            raise EnvironmentUnusable(f"env.py cannot run against the throwaway database: {reason}")
        self.notes.append(f"env.py could not run on its own ({reason}); used the built-in environment")
        return "builtin"

    def heads(self) -> Tuple[str, ...]:
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"version_table": self.version_table})
            return tuple(context.get_current_heads())

    def parents(self, revision: str) -> Tuple[str, ...]:
        """down_revision and depends_on of a revision, labels resolved (public Alembic API only).
        Kept per revision: ancestry() walks them again for every revision after a failure."""
        cache = self._parents
        if revision not in cache:
            from alembic.util import to_tuple

            script = self.script.get_revision(revision)
            depends = tuple(self.script.get_revision(d).revision for d in to_tuple(script.dependencies, default=()))
            cache[revision] = tuple(to_tuple(script.down_revision, default=())) + depends
        return cache[revision]

    def ancestry(self, revision: str) -> List[str]:
        """The revision and everything it needs, parents before children."""
        order: List[str] = []
        seen: set = set()
        stack = [(revision, False)]
        while stack:  # iterative post-order: histories are thousands of revisions deep
            current, expanded = stack.pop()
            if expanded:
                order.append(current)
                continue
            if current in seen:
                continue
            seen.add(current)
            stack.append((current, True))
            stack.extend((parent, False) for parent in reversed(self.parents(current)) if parent not in seen)
        return order

    def upgrade_to(self, target: str) -> None:
        """Apply what ``target`` needs and the database lacks, one step per revision, in order."""
        from alembic.runtime.migration import MigrationStep

        def steps(heads):
            applied = {r for head in heads for r in self.ancestry(head)}
            return [
                MigrationStep.upgrade_from_script(self.script.revision_map, self.script.get_revision(r))
                for r in self.ancestry(target)
                if r not in applied
            ]

        self._run(steps)

    def step(self, revision: str, up: bool) -> None:
        from alembic.runtime.migration import MigrationStep

        script = self.script.get_revision(revision)
        make = MigrationStep.upgrade_from_script if up else MigrationStep.downgrade_from_script
        self._run(lambda heads: [make(self.script.revision_map, script)])

    def snapshot(self):
        from migration_lint.roundtrip.snapshot import take_snapshot

        with self.engine.connect() as connection:
            return take_snapshot(connection, version_table=self.version_table)

    def checkpoint(self, name: str) -> Optional[str]:
        """A copy of a SQLite database file (cheap), to snapshot a past state only if needed."""
        database = self.database.url.database
        if self.database.url.get_backend_name() != "sqlite" or not database or database == ":memory:":
            return None
        import shutil

        self.engine.dispose()
        target = f"{database}.{name}"
        shutil.copyfile(database, target)
        return target

    def restore(self, path: str) -> None:
        import shutil

        self.engine.dispose()
        shutil.copyfile(path, self.database.url.database)

    def snapshot_of(self, path: str):
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        from migration_lint.roundtrip.snapshot import take_snapshot

        engine = create_engine(self.database.url.set(database=path), poolclass=NullPool)
        try:
            with engine.connect() as connection:
                return take_snapshot(connection, version_table=self.version_table)
        finally:
            engine.dispose()

    def digest(self):
        from migration_lint.roundtrip.snapshot import schema_digest

        with self.engine.connect() as connection:
            return schema_digest(connection, version_table=self.version_table)

    def order(self) -> List[str]:
        """Every revision, parents before children (loading them runs them: guarded)."""
        with self.guarded():
            return [s.revision for s in reversed(list(self.script.walk_revisions("base", "heads")))]

    def dispose(self) -> None:
        if self.engine is not None:
            self.engine.dispose()
        if self._importable is not None:
            self._importable.__exit__(None, None, None)
            self._importable = None


def _guarded_environment(guard):
    """Alembic's EnvironmentContext whose ``configure`` refuses a connection to another database
    before Alembic sees it (``run_migrations`` creates the version table before any step).  The
    check is put on the instance: Alembic's ``alembic.context`` proxy is set up per class, so a
    subclass would have none."""
    from alembic.runtime.environment import EnvironmentContext

    from migration_lint.roundtrip.guard import check_connection

    def make(*args, **kwargs):
        context = EnvironmentContext(*args, **kwargs)
        configure = context.configure

        def guarded_configure(*cargs, **ckwargs):
            connection = ckwargs.get("connection", cargs[0] if cargs else None)
            if connection is not None:
                check_connection(guard, connection)
            return configure(*cargs, **ckwargs)

        context.configure = guarded_configure
        return context

    return make


def _interruptible_wait(connection) -> None:
    """psycopg2 wait callback: Ctrl-C / SIGTERM cancel the running statement, then interrupt.

    Without it, libpq blocks signals' effect until the statement ends (a 30 s pg_sleep keeps the
    run alive for 30 s after Ctrl-C).
    """
    import select

    from psycopg2 import extensions

    try:
        while True:
            state = connection.poll()
            if state == extensions.POLL_OK:
                return
            if state == extensions.POLL_READ:
                select.select([connection.fileno()], [], [])
            elif state == extensions.POLL_WRITE:
                select.select([], [connection.fileno()], [])
    except KeyboardInterrupt:
        connection.cancel()
        try:
            while connection.poll() != extensions.POLL_OK:
                select.select([connection.fileno()], [], [], 1.0)
        except Exception:  # the cancelled statement's error: the interrupt is what matters
            pass
        raise


class _interruptible:
    """Install the psycopg2 wait callback for the duration of the round trip."""

    def __enter__(self):
        self.previous = None
        try:
            from psycopg2 import extensions
        except ImportError:
            self.extensions = None
            return self
        self.extensions = extensions
        self.previous = extensions.get_wait_callback()
        extensions.set_wait_callback(_interruptible_wait)
        return self

    def __exit__(self, *exc):
        if self.extensions is not None:
            self.extensions.set_wait_callback(self.previous)
        return False


def run_roundtrip(
    env,
    database,
    *,
    revisions: Optional[Sequence[str]] = None,
    mode: str = "auto",
    static_files: Optional[Dict[str, object]] = None,
    display_path: Callable[[str], str] = lambda p: p,
    progress: Optional[Callable[[str, int, int], None]] = None,
    requires: Sequence = (),
    trace: bool = False,
    base=None,
    app=None,
) -> RoundTripResult:
    """Round-trip ``revisions`` (all when None) of ``env`` on ``database``.

    ``static_files`` maps revision id -> MigrationFile from the static parse, used to know which
    downgrades are declared irreversible (they raise on purpose, or do not exist).  ``requires``:
    environments upgraded to their heads on every fresh database before ``env`` runs (a plugin's
    history that builds on the core schema).  ``base``: a ``base_schema.BaseSchema``, the schema
    every fresh database starts from (config ``roundtrip-base-schema``).  ``app``: an
    ``app.AppSpec``, a Flask application built against ``database`` whose context wraps the run.
    ``trace``: record the locks and rewrites of each revision's first upgrade (PostgreSQL;
    ``trace.py``) in ``RoundTripResult.traces``.
    """
    import warnings

    from migration_lint.roundtrip.db.redact import url_secrets

    _SECRETS.extend(secret for secret in url_secrets(database.url) if secret not in _SECRETS)
    with _interruptible(), _logging_restored(), warnings.catch_warnings():
        # reflection warnings (unsupported index expressions...) are about the project's schema,
        # not actionable here; the snapshot records what it can
        warnings.simplefilter("ignore", category=Warning)
        with _application(env, database, app):
            return _run_roundtrip(env, database, revisions, mode, static_files, display_path, progress, tuple(requires), trace, base)


def _application(env, database, app):
    """The --app application's context (the project importable first), or nothing."""
    import contextlib

    if app is None:
        return contextlib.nullcontext()
    from migration_lint.roundtrip.app import app_context

    stack = contextlib.ExitStack()
    try:
        stack.enter_context(project_importable(str(env.project_root) if env.project_root else None))
        stack.enter_context(app_context(app, database.url, _first_line))
    except BaseException:
        stack.close()
        raise
    return stack


class _logging_restored:
    """env.py files configure logging (fileConfig); leave the next history and the CLI as they were.

    While the round trip runs, records below WARNING are dropped: an env.py's fileConfig turns on
    Alembic's INFO lines ("Running upgrade ..."), three per revision and leg, which would bury the
    report; warnings and errors still show."""

    def __enter__(self):
        import logging

        self.disabled = logging.root.manager.disable
        logging.disable(max(self.disabled, logging.INFO))
        self.root = (logging.root.level, list(logging.root.handlers))
        self.loggers = {
            name: (logger.level, list(logger.handlers), logger.disabled, logger.propagate)
            for name, logger in logging.Logger.manager.loggerDict.items()
            if isinstance(logger, logging.Logger)
        }
        return self

    def __exit__(self, *exc):
        import logging

        logging.root.setLevel(self.root[0])
        logging.root.handlers[:] = self.root[1]
        for name, logger in logging.Logger.manager.loggerDict.items():
            if not isinstance(logger, logging.Logger):
                continue
            if name in self.loggers:
                logger.level, handlers, logger.disabled, logger.propagate = self.loggers[name]
                logger.handlers[:] = handlers
            else:  # created by env.py: quiet again
                logger.handlers[:] = []
                logger.setLevel(logging.NOTSET)
                logger.disabled = False
        # an interrupt silenced everything while the run unwinds (connections cut mid-statement
        # log tracebacks from the pool as they are closed): the CLI restores that level, not us
        if logging.root.manager.disable < logging.CRITICAL:
            logging.disable(self.disabled)
        return False


def _known_version_table(env, mode: str) -> Optional[str]:
    """The version table an environment's runs use, if it can be known: the built-in environment
    uses a literal ``version_table`` or Alembic's default; an env.py that computes it is trusted
    to keep its own (None)."""
    settings = env.settings or {}
    if mode != "builtin" and settings.get("version_table_computed"):
        return None
    return settings.get("version_table") or "alembic_version"


class RequirementFailed(Exception):
    """A history in roundtrip-requires could not be brought to its heads."""


class _Requirements:
    """The environments a history builds on (config ``roundtrip-requires``), brought to their
    heads on every fresh database before the history itself runs.  Histories that would share a
    version table with another get the built-in environment and a table of their own."""

    def __init__(self, envs, database, mode: str, driver: "AlembicDriver", base=None):
        self.envs, self.database, self.mode = tuple(envs), database, mode
        self.driver, self.base = driver, base
        self.applied: set = set()  # revisions of this history a fresh database starts with (a base stamp)
        self.own_tables: Dict[int, str] = {}  # requirement index -> version table we give it
        used = set()
        for index, env in enumerate(self.envs):
            # unless --env project, a requirement may end up in the built-in environment: assume so
            table = _known_version_table(env, "project" if mode == "project" else "builtin")
            if table is not None and table in used:
                table = self.own_tables[index] = f"migration_lint_required_{index}"
            if table is not None:
                used.add(table)
        mine = _known_version_table(driver.env, driver.mode) if driver.mode == "project" else driver.version_table
        if mine is not None and mine in used:
            if mode == "project":
                raise EnvironmentUnusable(
                    f"{driver.env.name}: its env.py keeps versions in {mine!r}, like a history it requires "
                    "(roundtrip-requires); give one of them another version_table"
                )
            if driver.mode == "project":
                driver.notes.append(f"env.py keeps versions in {mine!r} like a history this one requires; used the built-in environment")
                driver.mode = "builtin"
            driver.version_table = "migration_lint_version"  # our own environment: any table not theirs

    def apply(self) -> None:
        for index, env in enumerate(self.envs):
            required = None
            try:
                own = self.own_tables.get(index)
                required = AlembicDriver(env, self.database, mode="builtin" if own else self.mode)
                if own:
                    required.version_table = own
                for head in required.script.get_heads():
                    required.upgrade_to(head)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:
                raise RequirementFailed(f"{env.name}, which this history requires, could not be upgraded to its heads first: {_first_line(exc)}") from None
            finally:
                if required is not None:
                    required.dispose()
        if self.base is not None:
            try:
                self._build_base()
            except KeyboardInterrupt:
                raise
            except BaseException as exc:
                raise RequirementFailed(f"the base schema ({self.base.describe()}, from {self.base.source}) could not be built: {_first_line(exc)}") from None

    def _build_base(self) -> None:
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        from migration_lint.roundtrip.base_schema import metadata_of, run_sql

        base, url = self.base, self.database.url
        if base.sql is not None:
            run_sql(url, base.sql)
        else:
            with self.driver.guarded():  # importing the metadata runs project code
                metadata = metadata_of(base.target)
                engine = create_engine(url, poolclass=NullPool)
                try:
                    with engine.begin() as connection:
                        metadata.create_all(connection)
                finally:
                    engine.dispose()
        if base.stamp:
            from alembic.runtime.migration import MigrationContext

            with self.driver.engine.connect() as connection:
                context = MigrationContext.configure(connection, opts={"version_table": self.driver.version_table})
                context.stamp(self.driver.script, base.stamp)
                if connection.in_transaction():
                    connection.commit()


def _run_roundtrip(env, database, revisions, mode, static_files, display_path, progress, requires=(), trace=False, base=None) -> RoundTripResult:
    start = time.perf_counter()
    result = RoundTripResult(database=database.description)
    driver = None
    try:
        by_path = {file.path: file for file in (static_files or {}).values() if getattr(file, "path", None)}
        driver = AlembicDriver(env, database, mode=mode, locate=lambda path: by_path.get(display_path(path)))
        order = driver.order()  # Alembic imported every revision file it could
        setup = _Requirements(requires, database, mode, driver, base)
    except (EnvironmentUnusable, KeyboardInterrupt):
        if driver is not None:
            driver.dispose()
        raise
    except BaseException as exc:
        # Loading the revision files runs them: an import error that no revision file can be
        # blamed for alone (env.py's, or a file whose headers are computed) stops them all.
        if driver is not None:
            driver.dispose()
        path, line = _origin(exc, env)
        where = display_path(path) if path else ""
        revision = _revision_at(static_files, where)
        result.hits.append(RoundTripHit(UPGRADE_FAILED, where, line, revision, f"cannot import the revision files, so no revision was round-tripped: {_first_line(exc)} (the round trip runs them: install what they import)", "upgrade", help=NOT_IMPORTED_HELP))
        result.notes.append(f"round trip not run: importing the revision files failed ({_first_line(exc)})")
        result.seconds = time.perf_counter() - start
        return result
    try:
        result.environment_mode = driver.mode
        result.notes.extend(driver.notes)
        wanted = set(revisions) if revisions is not None else None
        scope = [r for r in order if wanted is None or r in wanted]
        if base is not None and base.stamp:
            try:
                stamped = set(driver.ancestry(driver.script.get_revision(base.stamp).revision))
            except Exception:  # noqa: BLE001 - Alembic's unknown / ambiguous revision errors
                raise ConfigError(f"{base.source}: the base stamp {base.stamp!r} is not a revision of {env.name}") from None
            setup.applied = stamped
            inside = [r for r in scope if r in stamped]
            if inside:
                result.notes.append(f"round trip: {count_of(len(inside), 'revision')} up to {base.stamp} are the base schema ({base.describe()}): not round-tripped")
            scope = [r for r in scope if r not in stamped]
        for revision in scope:  # each revision that cannot be imported, with its cause
            failure = driver.import_failures.get(revision)
            if failure is not None:
                result.hits.append(RoundTripHit(
                    UPGRADE_FAILED, display_path(failure.path), failure.line, revision,
                    f"cannot import {revision}, so it was not round-tripped: {failure.cause}: {failure.error}", "upgrade", help=NOT_IMPORTED_HELP))
        try:
            setup.apply()
        except RequirementFailed as exc:  # nothing of this history can run: say so, per revision
            result.notes.append(f"round trip not run: {exc}")
            result.skipped.extend((revision, "a history it requires could not be upgraded") for revision in scope)
            result.seconds = time.perf_counter() - start
            return result
        trip = _RoundTrip(driver, database, setup, static_files, display_path, result)
        trip.trace = trace
        for index, revision in enumerate(scope):
            if progress:
                progress(revision, index, len(scope))
            trip.revision(revision)
        if progress:
            progress("", len(scope), len(scope))
        result.clean_end = not trip.dirty
    finally:
        driver.dispose()
    result.seconds = time.perf_counter() - start
    return result


class _RoundTrip:
    """The round trip of one revision after another, as named steps over one database.

    What it knows of the database between steps: ``applied`` (the revisions applied, as far as
    it knows), ``dirty`` (the state is not one production could have: rebuild before going on),
    ``clean`` (a SQLite checkpoint of the last good state) and ``known`` (the digest of a state
    it already took, to save a query).  Digests (one catalog query on PostgreSQL) decide
    equality; full snapshots are taken only to describe a difference.
    """

    def __init__(self, driver: "AlembicDriver", database, setup: "_Requirements", static_files, display_path, result: RoundTripResult):
        self.driver, self.database, self.setup = driver, database, setup
        self.static_files, self.display_path, self.result = static_files, display_path, result
        self.not_imported = set(driver.import_failures)  # reported before the first step
        self.failed: set = set(self.not_imported)  # revisions whose upgrade failed: their descendants cannot be reached
        self.dirty = False
        self.applied: set = set(setup.applied)
        self.elsewhere: set = set()  # first revisions that start from a schema made elsewhere
        self.clean = None  # (applied, path) of a SQLite checkpoint after a successful first upgrade
        self.known = None  # (applied revisions, digest) of the last state whose digest was taken
        self.trace = False  # trace the first upgrade's locks and rewrites (result.traces)

    def ancestry(self, revision: str) -> set:
        return set(self.driver.ancestry(revision))

    def hit(self, rule: str, revision: str, line: int, message: str, phase: str) -> None:
        path = self.display_path(str(Path(self.driver.script.get_revision(revision).path)))
        self.result.hits.append(RoundTripHit(rule, path, line, revision, message, phase))

    # -- one revision ----------------------------------------------------------------------------
    def revision(self, revision: str) -> None:
        script = self.driver.script.get_revision(revision)
        path = Path(script.path)
        parents = self.driver.parents(revision)
        if revision in self.not_imported or self.blocked(revision) or not self.reach_parents(revision, parents):
            return
        self.result.tested += 1
        upgrade_line = _def_line(self.static_files, revision, "upgrade_line")
        downgrade_line = _def_line(self.static_files, revision, "downgrade_line")
        before_digest = self.known[1] if self.known is not None and self.known[0] == self.applied else self.driver.digest()
        before_copy = self.driver.checkpoint("before")
        after = self.first_upgrade(revision, path, upgrade_line)
        if after is None:
            return
        after_digest, after_copy = after
        if _irreversible(self.static_files, revision, script):
            self.hit(IRREVERSIBLE, revision, downgrade_line or upgrade_line, f"downgrade() of {revision} is declared irreversible; the round trip stops its down leg here", "downgrade")
            return
        restored = self.downgrade(revision, path, downgrade_line, before_digest)
        if restored is False:
            return
        again = self.second_upgrade(revision, path, upgrade_line, after_digest)
        if restored is None and again is None:
            return
        self.describe(revision, parents, (before_copy, after_copy, after_digest), restored, again, upgrade_line, downgrade_line)

    def blocked(self, revision: str) -> bool:
        """An ancestor failed to upgrade: this revision cannot be reached."""
        ancestors = self.ancestry(revision) if self.failed else set()
        blocked = [a for a in ancestors if a in self.failed and a != revision]
        if any(a in self.elsewhere for a in blocked):
            return True  # the note about the starting schema says it for the whole history
        if blocked:
            unimported = sorted(a for a in blocked if a in self.not_imported)
            if unimported:
                why = f"an ancestor could not be imported ({', '.join(unimported)})"
            else:
                why = f"an ancestor failed to upgrade ({', '.join(sorted(blocked))})"
            self.result.skipped.append((revision, why))
        return bool(blocked)

    def reach_parents(self, revision: str, parents) -> bool:
        """Bring the database to the revision's parents: from a checkpoint, a fresh database, or
        by plain upgrades (no per-step checks)."""
        try:
            if self.dirty and self.clean is not None and set(parents) <= self.clean[0]:
                self.driver.restore(self.clean[1])  # a SQLite checkpoint of a good state: no replay needed
                self.dirty, self.applied, self.known = False, set(self.clean[0]), None
            elif self.dirty:
                self.fresh_database()
            for parent in parents:
                if parent not in self.applied:
                    self.driver.upgrade_to(parent)
                    self.applied |= self.ancestry(parent)
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            self.result.skipped.append((revision, f"could not reach its parent: {_first_line(exc)}"))
            self.dirty = True
            return False
        return True

    def fresh_database(self) -> None:
        self.driver.engine.dispose()  # a reset drops the database: no connection may stay open
        self.database.reset()
        self.setup.apply()
        self.dirty, self.applied, self.known = False, set(self.setup.applied), None

    def first_upgrade(self, revision: str, path: Path, upgrade_line: int):
        """(digest, SQLite copy) of the state after the first upgrade; None when it fails.
        With ``trace``, the step runs under the lock tracer (its trace joins ``result.traces``,
        a failed upgrade's too: the locks taken before the failure were real)."""
        if self.trace:
            from migration_lint.roundtrip.trace import Tracer  # pglast and the listeners: --trace only

            with Tracer(self.database.dialect) as tracer:
                tracer.begin(revision, path)
                try:
                    exc = _attempt(self.driver.step, revision, up=True)
                finally:
                    self.result.traces.append(tracer.end())
        else:
            exc = _attempt(self.driver.step, revision, up=True)
        if exc is not None and self.starts_elsewhere(revision, exc):
            return None
        if exc is not None:
            self.hit(UPGRADE_FAILED, revision, _line_in(exc, path, upgrade_line), f"upgrade() of {revision} failed: {_first_line(exc)}", "upgrade")
            self.failed.add(revision)
            self.dirty = True
            return None
        self.applied.add(revision)
        after_digest = self.driver.digest()
        after_copy = self.driver.checkpoint("after")
        self.known = (set(self.applied), after_digest)
        if after_copy:  # stays valid until the next successful upgrade replaces it
            self.clean = (set(self.applied), after_copy)
        return after_digest, after_copy

    def starts_elsewhere(self, revision: str, exc: BaseException) -> bool:
        """A first revision (no parents) that fails and alters a table no revision creates: the
        history starts from a schema made elsewhere (``db.create_all()``).  One note for the history
        instead of an error here and a skipped note for every revision after it."""
        if self.driver.parents(revision) or self.setup.base is not None or self.setup.envs:
            return False
        created = _created_tables(self.static_files)
        missing = _missing_table(exc)
        file = (self.static_files or {}).get(revision)
        # the operations it writes (not a raw SQL's mention) must alter a table no revision makes
        touched = sorted({
            op.table for op in file.ops("upgrade")
            if op.table and op.kind in _ALTERS_A_TABLE and op.table.lower() not in created
        }) if file is not None else []
        if not touched:
            return False
        # and it must have failed for want of one of them: any other failure is the revision's own.
        # An error the revision swallowed (PostgreSQL then refuses every later statement) names no
        # table: then none of them may exist in the database
        if missing is not None:
            if missing.lower() not in {t.lower() for t in touched}:
                return False
            table = missing
        else:
            present = self.existing_tables()
            if present is None or any(t.lower() in present for t in touched):
                return False
            table = touched[0]
        self.elsewhere.add(revision)
        self.failed.add(revision)
        self.dirty = True
        self.result.tested -= 1
        self.result.notes.append(
            f"round trip not run from {revision}: this first revision alters table {table!r}, which no revision creates, "
            f"so the history starts from a schema made elsewhere (db.create_all() in many Flask apps) and nothing after it can run; "
            f"say where that schema comes from: --base-schema (a .sql file, or module:metadata) and --base-stamp, "
            f"roundtrip-base-schema in the config, or roundtrip-requires when another history makes it (README, 'The round trip')"
        )
        return True

    def existing_tables(self) -> Optional[set]:
        """Lower-cased names of the tables in the scratch database's default schema; None when they
        cannot be read."""
        import sqlalchemy as sa

        try:
            with self.driver.engine.connect() as connection:
                return {name.lower() for name in sa.inspect(connection).get_table_names()}
        except Exception:
            return None

    def downgrade(self, revision: str, path: Path, downgrade_line: int, before_digest):
        """False when the downgrade fails; else the snapshot after it when it differs from the
        state before the upgrade, or None when it does not."""
        exc = _attempt(self.driver.step, revision, up=False)
        if exc is not None:
            self.hit(DOWNGRADE_FAILED, revision, _line_in(exc, path, downgrade_line), f"downgrade() of {revision} failed: {_first_line(exc)}", "downgrade")
            self.dirty = True
            return False
        self.applied.discard(revision)
        self.known = None
        return self.driver.snapshot() if self.driver.digest() != before_digest else None

    def second_upgrade(self, revision: str, path: Path, upgrade_line: int, after_digest):
        """The snapshot after upgrading again when it differs from the first upgrade's; None when
        it does not, or when it fails (reported)."""
        try:
            self.driver.step(revision, up=True)
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            self.hit(REUPGRADE_FAILED, revision, _line_in(exc, path, upgrade_line), f"upgrade() of {revision} fails after its downgrade: {_first_line(exc)}", "upgrade")
            self.dirty = True  # a fresh database reaches this revision again: its first upgrade works
            return None
        self.applied.add(revision)
        again_digest = self.driver.digest()
        self.known = (set(self.applied), again_digest)
        return self.driver.snapshot() if again_digest != after_digest else None

    def describe(self, revision: str, parents, states, restored, again, upgrade_line: int, downgrade_line: int) -> None:
        """Something differs: snapshot the states compared against, from their checkpoint copies
        (SQLite) or by rebuilding them on a fresh database, which also leaves it clean here."""
        from migration_lint.roundtrip.snapshot import diff

        before_copy, after_copy, after_digest = states
        if before_copy and after_copy:
            before, after = self.driver.snapshot_of(before_copy), self.driver.snapshot_of(after_copy)
            # go on from the state production would have (upgrades only), not the round trip's
            self.driver.restore(after_copy)
            self.applied = self.applied | {revision}
            self.known, self.dirty = (set(self.applied), after_digest), False
        else:
            before, after = self.rebuild(revision, parents)
        trace = []
        if restored is not None:
            trace = diff(before, restored, sides=("before upgrade", "after downgrade")) if before is not None else ["(the states could not be rebuilt to list the differences)"]
            if trace:
                hint = _batch_hint(self.static_files, revision, self.database.dialect, trace)
                self.hit(LEAVES_TRACE, revision, downgrade_line or 1, f"downgrade() of {revision} does not restore the schema before its upgrade:\n" + _indented(trace) + hint, "downgrade")
        if again is not None and not trace:  # after a trace, a different second upgrade is its echo
            differs = diff(after, again, sides=("first upgrade", "second upgrade")) if after is not None else ["(the states could not be rebuilt to list the differences)"]
            if differs:
                self.hit(REUPGRADE_DIFFERS, revision, upgrade_line or 1, f"upgrading {revision} again gives another schema than the first time:\n" + _indented(differs), "upgrade")

    def rebuild(self, revision: str, parents):
        """Snapshots of a revision's parent state and of its first upgrade, rebuilt on a fresh
        database; (None, None) when that fails."""
        before = after = None
        try:
            self.fresh_database()
            self.dirty = True
            for parent in parents:
                self.driver.upgrade_to(parent)
                self.applied |= self.ancestry(parent)
            before = self.driver.snapshot()
            self.driver.step(revision, up=True)
            self.applied.add(revision)
            after = self.driver.snapshot()
            self.known, self.dirty = (set(self.applied), self.driver.digest()), False
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            self.result.notes.append(f"could not rebuild the states of {revision} to list its differences: {_first_line(exc)}")
        return before, after


def _indented(lines: List[str]) -> str:
    return "\n".join("  " + line.replace("\n", "\n  ") for line in lines)


def _attempt(function, *args, **kwargs) -> Optional[BaseException]:
    """Run a step of the project's code; its exception (anything but an interrupt) is the result."""
    try:
        function(*args, **kwargs)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # migrations raise anything, SystemExit included
        return exc
    return None


def _batch_hint(static_files, revision: str, dialect: str, trace: List[str]) -> str:
    """SQLite's batch mode recreates tables from reflection, which loses index details."""
    file = (static_files or {}).get(revision)
    if dialect != "sqlite" or file is None or not any("batch" in op.context for op in file.operations):
        return ""
    if not any(" index " in line or " constraint " in line or " key " in line for line in trace):
        return ""
    return (
        "\n  (on SQLite, batch_alter_table recreates the table from reflection, which drops DESC, COLLATE, "
        "expression indexes and some constraint options; restate them in the batch operation, e.g. "
        "batch_alter_table(..., table_args=...) / reflect_args=)"
    )


_MISSING_TABLE = (
    re.compile(r'relation "(?:[^"]+\.)?([^".]+)" does not exist'),  # PostgreSQL
    re.compile(r"Table '(?:[^'.]+\.)?([^'.]+)' doesn't exist"),  # MySQL / MariaDB
    re.compile(r"no such table: (?:\w+\.)?([\w$]+)"),  # SQLite
)


def _alters_a_table() -> frozenset:
    from migration_lint import model as m

    return frozenset({
        m.DROP_TABLE, m.RENAME_TABLE, m.ADD_COLUMN, m.DROP_COLUMN, m.RENAME_COLUMN, m.ALTER_COLUMN_TYPE,
        m.SET_NOT_NULL, m.DROP_NOT_NULL, m.SET_DEFAULT, m.DROP_DEFAULT, m.CREATE_INDEX, m.DROP_INDEX,
        m.CREATE_FOREIGN_KEY, m.CREATE_UNIQUE_CONSTRAINT, m.CREATE_CHECK_CONSTRAINT, m.CREATE_PRIMARY_KEY,
        m.CREATE_EXCLUDE_CONSTRAINT, m.DROP_CONSTRAINT,
    })


_ALTERS_A_TABLE = _alters_a_table()  # DDL on an existing table (not data: a missing table there is a bug)


def _missing_table(exc: BaseException) -> Optional[str]:
    """The table an error says does not exist, if it says so (the exception or what it wraps)."""
    from sqlalchemy.exc import NoSuchTableError

    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, NoSuchTableError):
            return str(exc).strip().rsplit(".", 1)[-1] or None
        text = str(getattr(exc, "orig", None) or exc)
        for pattern in _MISSING_TABLE:
            match = pattern.search(text)
            if match:
                return match.group(1)
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


def _created_tables(static_files) -> set:
    """Tables some revision of the history creates (or renames into), lower-cased."""
    from migration_lint import model as m

    created = set()
    for file in (static_files or {}).values():
        for op in file.operations:
            if op.phase != m.UPGRADE:
                continue
            if op.kind == m.CREATE_TABLE and op.table:
                created.add(op.table.lower())
            elif op.kind == m.RENAME_TABLE and (op.attrs or {}).get("new_name"):
                created.add(str(op.attrs["new_name"]).lower())
    return created


def _revision_at(static_files, shown_path: str) -> str:
    for revision, file in (static_files or {}).items():
        if file.path == shown_path:
            return revision
    return ""


def _def_line(static_files, revision: str, attribute: str) -> int:
    file = (static_files or {}).get(revision)
    return getattr(file, attribute, 0) or 0 if file is not None else 0


def _irreversible(static_files, revision: str, script) -> bool:
    file = (static_files or {}).get(revision)
    if file is not None:
        if not file.has_downgrade:
            return True
        from migration_lint import model as m

        # a raise that runs online (``if not context.is_offline_mode(): raise``) stops the round trip too
        return any(op.kind == m.RAISE and op.phase == m.DOWNGRADE and not set(op.context) - {"online"} for op in file.operations)
    return not hasattr(script.module, "downgrade")


def _origin(exc: BaseException, env) -> Tuple[Optional[str], int]:
    """The revision file (and line) an exception raised while loading scripts came from."""
    locations = [os.path.realpath(p) for p in env.version_locations]
    found = (None, 1)
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        filename = os.path.realpath(frame.f_code.co_filename)
        if any(filename.startswith(location + os.sep) for location in locations):
            found = (filename, lineno)
    if found[0] is None and isinstance(exc, SyntaxError) and exc.filename:
        found = (exc.filename, exc.lineno or 1)
    return found
