"""Settings, decided once per history and handed down.

Everything downstream (the front end, the scope, the engine, the round trip, the reports) reads
one frozen :class:`Settings`; nothing re-derives a value.  Each value remembers the step that
decided it, and every output's header says so.

The one precedence, for every value that more than one place can give:

    1. a command-line flag (or the same keyword of ``api.check``)
    2. the config file (``[tool.migration-lint]`` / ``.migration-lint.yaml``)
    3. the ``--db`` URL of the round trip (its dialect) -- except for a history kept in a
       ``versions/<dialect>/`` folder, which is that dialect's history whatever the server
    4. the environment's own files: the ``sqlalchemy.url`` of alembic.ini, ``search_path`` set
       in env.py
    5. inferred from the history itself (``infer.py``: dialect-specific code, downgrade policy)
    6. the default
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

from migration_lint import dialects
from migration_lint.config import Config, normalise_dialect, parse_version
from migration_lint.discovery import display_path
from migration_lint.errors import ConfigError
from migration_lint.infer import url_is_placeholder

DEFAULT = "default"
SQLITE_OFFLINE = "inferred: SQLite is embedded, migrated by the application that opens it; set deploy = online if old code keeps running"
FOLDER_HINT = "versions folder name"  # discovery's dialect_hint for versions/<dialect>/ histories

# Where unqualified names live when nothing says otherwise.  PostgreSQL's real default is the
# search_path "$user", public (settable per role); MySQL's is the connection's database, which
# no file names; SQLite's is the main database.
DEFAULT_SCHEMAS = {"postgresql": "public", "mysql": "", "sqlite": "main"}


@dataclass(frozen=True)
class Invocation:
    """What whoever runs migration-lint asked for (flags, ``api.check`` keywords): the top of the
    precedence.  None means "not given"."""

    dialect: Optional[str] = None
    server_version: Optional[str] = None
    select: Tuple[str, ...] = ()
    ignore: Tuple[str, ...] = ()
    start_after: Optional[str] = None
    fail_on: Optional[str] = None
    default_schema: Optional[str] = None
    deploy: Optional[str] = None
    db_url_dialect: Optional[str] = None  # the dialect of a --db URL, when the round trip runs on one
    # rule packs may name Python checks: only ever from here (a flag, the workflow's environment),
    # never from a file in the checkout
    trust_rule_packs: bool = False


@dataclass(frozen=True)
class Settings:
    """One history's settings.  ``sources`` says, per value, the step that decided it."""

    environment: str
    dialect: str
    server_version: Tuple[int, ...]
    default_schema: str
    downgrades: str  # 'required' | 'optional' (not written) | 'unused' (never run: downgrade() code is not judged)
    deploy: str = "online"  # 'online' (the old code runs while it migrates) | 'offline' (stopped first)
    also_dialects: Tuple[str, ...] = ()  # other databases the project supports (config also-dialects): checked too
    large_tables: Optional[Tuple[str, ...]] = None  # lock rules look only at these tables (None: all)
    transient_tables: Tuple[str, ...] = ()  # rows only live while work is in flight: few at any time
    offline_paths: Tuple[str, ...] = ()  # revision paths migrated with the application stopped (under deploy = online)
    offline_files: frozenset = frozenset()  # the revision files (as shown) those globs matched (history.py)
    offline_sql: bool = False  # the project runs `alembic upgrade --sql` (config offline-sql)
    # (revision file as shown, the first-parent commit that added it, its time): what ships in one
    # deploy, from git (history.py; empty outside git or in a shallow clone)
    deploy_units: Tuple[Tuple[str, str, int], ...] = ()
    # (tag, commit time) of the first final release holding the history, for a project that
    # tagged releases before the history began (gitdiff.first_release); () when git does not say
    first_release: Tuple[Any, ...] = ()
    # (tag, time) of every final release tag, oldest first (gitdiff.release_tags); () when git does not say
    releases: Tuple[Tuple[str, int], ...] = ()
    git_head: str = ""  # HEAD's commit when git says (part of the cache key: see code_mentions)
    # (file as shown, the code that runs while it migrates, names asked about, those of them that
    # code mentions, whether that code is the application's: it names most of the tables the
    # history keeps): gitdiff.running_code_mentions; () when git does not say
    code_mentions: Tuple[Tuple[str, str, Tuple[str, ...], Tuple[str, ...], bool, Tuple[str, ...]], ...] = ()
    select: Tuple[str, ...] = ()
    ignore: Tuple[str, ...] = ()
    severity: Tuple[Tuple[str, str], ...] = ()  # (rule, severity) overrides
    fail_on: str = "error"
    start_after: Optional[str] = None
    exclude: Tuple[str, ...] = ()
    rule_packs: Tuple[str, ...] = ()  # absolute paths
    trust_rule_packs: bool = False
    # what env.py says, read as text: lock_timeout, transaction_per_migration, version_table...
    env_settings: Tuple[Tuple[str, Any], ...] = ()
    project_packages: frozenset = frozenset()  # top-level packages of the project (imports-application-code)
    own_packages: frozenset = frozenset()  # the package(s) holding the migrations themselves
    project_types: frozenset = frozenset()  # "module.Name": SQLAlchemy types and SQL functions the project defines
    pinned_modules: frozenset = frozenset()  # import names of libraries the project pins to one version (discovery.pinned_modules)
    merge_command: str = "alembic merge"  # Flask-Migrate projects merge with `flask db merge`
    env_py: str = ""  # the environment's env.py, as shown ("" when there is none)
    dialects_seen: Tuple[str, ...] = ()  # dialects with specific code in the history (infer.py)
    config_file: str = ""  # the config file the settings came from, as shown
    sources: Tuple[Tuple[str, str], ...] = ()  # (value name, what decided it)
    notes: Tuple[str, ...] = ()  # what was assumed, ignored or replaced, for the output's header

    def mentions_of(self, path: str) -> Optional[Tuple[str, Tuple[str, ...], Tuple[str, ...], bool, Tuple[str, ...]]]:
        """(the running code, names asked about, names it mentions, it is the application's,
        "table\0column" of dropped columns it had given up on other evidence: its ORM model no
        longer maps them, or it names them no more while the code that added them did) for a
        revision file, or None."""
        for shown, where, asked, mentioned, anchored, given_up in self.code_mentions:
            if shown == path:
                return where, asked, mentioned, anchored, given_up
        return None

    def is_large(self, schema: Optional[str], table: Optional[str]) -> bool:
        """Whether a lock on this table matters: every table does unless the config lists the large
        ones; a table whose name is not known is assumed large."""
        if table and self.is_transient(schema, table):
            return False  # however busy, it holds few rows at any time
        if self.large_tables is None or not table:
            return True
        return _listed_in(self.large_tables, schema, table)

    def is_transient(self, schema: Optional[str], table: Optional[str]) -> bool:
        """The config says this table's rows only live while work is in flight (transient-tables)."""
        return bool(self.transient_tables and table) and _listed_in(self.transient_tables, schema, table)

    def unit_of(self, path: str) -> Optional[Tuple[str, int]]:
        """(commit, time) of the change that added this revision file, when git says."""
        if not self.deploy_units:
            return None
        units = getattr(self, "_units", None)  # built once per Settings (frozen: set around it)
        if units is None:
            units = {shown: (unit, when) for shown, unit, when in self.deploy_units}
            object.__setattr__(self, "_units", units)
        return units.get(path)

    def offline_at(self, path: str) -> bool:
        """A revision migrated with the application stopped: deploy = offline, or its file is one
        of offline-paths (a contract branch)."""
        return self.deploy == "offline" or path in self.offline_files

    def for_dialect(self, dialect: str) -> "Settings":
        """These settings for another database the project supports (also-dialects): its default
        version and schema, the rest as decided for the history."""
        return dataclasses.replace(
            self, dialect=dialect, server_version=dialects.DEFAULT_VERSIONS[dialect], default_schema=DEFAULT_SCHEMAS[dialect], also_dialects=(),
            # one project, several databases: advice for one of them comes inside a guard
            dialects_seen=tuple(sorted({*self.dialects_seen, self.dialect, dialect})),
            sources=tuple((k, v) for k, v in self.sources if k not in ("dialect", "server_version")) + (("dialect", "config also-dialects"), ("server_version", DEFAULT)),
        )

    def source_of(self, name: str) -> str:
        return dict(self.sources).get(name, DEFAULT)

    def env(self, name: str, default: Any = None) -> Any:
        return dict(self.env_settings).get(name, default)

    @property
    def dialect_uncertain(self) -> bool:
        """The dialect was assumed or inferred, or the history has code for several: advice that
        works on one dialect only should come inside a guard."""
        source = self.source_of("dialect")
        return source == DEFAULT or source.startswith("inferred") or "env.py replaces" in source or len(set(self.dialects_seen) | {self.dialect} | set(self.also_dialects)) > 1

    def severity_of(self, rule: str, default: str) -> str:
        return dict(self.severity).get(rule, default)

    def fingerprint(self) -> str:
        """Everything that can change a finding, for the result cache's key.  Sets are written
        sorted: their order follows string hashes, which differ from one process to the next, and
        a key that did would miss the cache on most runs."""
        return repr(tuple((f.name, _stable(getattr(self, f.name))) for f in fields(self) if f.name not in ("sources", "notes")))


def _listed_in(patterns, schema: Optional[str], table: str) -> bool:
    import fnmatch

    names = (table, f"{schema}.{table}") if schema else (table,)
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns for name in names)


def _stable(value: Any) -> Any:
    """``value`` with every set and frozenset made a sorted tuple (by repr), recursively."""
    if isinstance(value, (set, frozenset)):
        return ("set", tuple(sorted((_stable(v) for v in value), key=repr)))
    if isinstance(value, (tuple, list)):
        return type(value)(_stable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted(((k, _stable(v)) for k, v in value.items()), key=repr))
    return value


def _first(*candidates: Tuple[Any, str]) -> Tuple[Any, str]:
    for value, source in candidates:
        if value is not None:
            return value, source
    raise AssertionError("the last candidate is the default")  # pragma: no cover


def resolve(
    env,
    config: Config,
    invocation: Invocation,
    *,
    inferred_dialect: Optional[Tuple[str, str]] = None,
    inferred_downgrades: Optional[Tuple[str, str]] = None,
    inferred_offline_paths: Optional[Tuple[Tuple[str, ...], str]] = None,
    dialects_seen: Sequence[str] = (),
    project_packages: Sequence[str] = (),
    own_packages: Sequence[str] = (),
    project_types: Sequence[str] = (),
    pinned_modules: Sequence[str] = (),
) -> Settings:
    """The settings of one history (``env``: a discovered Environment).  The precedence is the
    module docstring's, in this one function."""
    notes = list(config.warnings)
    config_source = f"config ({_display(config.source)})" if config.source else "config"
    env_settings = dict(env.settings)

    from_folder = env.url_dialect if env.dialect_hint == FOLDER_HINT else None
    from_url = env.url_dialect if env.dialect_hint != FOLDER_HINT else None
    placeholder = from_url is not None and url_is_placeholder(getattr(env, "url", None), env_settings)
    dialect, dialect_source = _first(
        (normalise_dialect(invocation.dialect, "--dialect") if invocation.dialect else None, "--dialect"),
        (config.dialect, config_source),
        (from_folder, FOLDER_HINT),
        (invocation.db_url_dialect, "--db URL"),
        (from_url if not placeholder else None, env.dialect_hint),
        inferred_dialect or (None, ""),
        # a URL env.py replaces (or a placeholder) is the weakest hint, below the code's own evidence
        (from_url, f"{env.dialect_hint}, which env.py replaces at run time: set `dialect`"),
        ("postgresql", DEFAULT),
    )
    given_version = parse_version(invocation.server_version, "--server-version") if invocation.server_version else None
    version, version_source = _first(
        (given_version, "--server-version"),
        (config.server_version, config_source),
        (dialects.DEFAULT_VERSIONS[dialect], DEFAULT),
    )
    if not dialects.plausible_version(dialect, version):
        # e.g. server-version = 15 in a repository whose other history targets SQLite
        shown = ".".join(map(str, version))
        version, version_source = dialects.DEFAULT_VERSIONS[dialect], DEFAULT
        notes.append(f"server version {shown} ({'--server-version' if given_version else 'config'}) is not a {dialects.display(dialect)} version; assumed {'.'.join(map(str, version))}")
    search_path = env_settings.get("search_path")
    schema, schema_source = _first(
        (invocation.default_schema, "--default-schema"),
        (config.default_schema, config_source),
        (search_path if dialect == "postgresql" and search_path else None, "env.py search_path"),
        (DEFAULT_SCHEMAS[dialect], DEFAULT),
    )
    downgrades, downgrades_source = _first(
        (config.downgrades, config_source),
        inferred_downgrades or (None, ""),
        ("required", DEFAULT),
    )
    deploy, deploy_source = _first(
        (invocation.deploy, "--deploy"),
        (config.deploy, config_source),
        # SQLite is embedded: the application that opens the file migrates it, at start-up, before
        # it serves; no old release keeps running against the new schema
        # (only when SQLite is stated -- flag, config, URL, folder -- not inferred from batch mode,
        # which PostgreSQL projects use too: two inferences in a row would turn rules off on a guess)
        ("offline", SQLITE_OFFLINE) if dialect == "sqlite" and not dialect_source.startswith("inferred") else (None, ""),
        ("online", DEFAULT),
    )
    offline_paths, offline_paths_source = _first(
        (config.offline_paths, config_source),
        inferred_offline_paths or (None, ""),
        ((), DEFAULT),
    )
    select = tuple(invocation.select) or tuple(config.select)
    ignore = tuple(config.ignore) + tuple(invocation.ignore)
    start_after = invocation.start_after or config.start_after
    return Settings(
        environment=env.name,
        dialect=dialect,
        server_version=tuple(version),
        default_schema=schema,
        downgrades=downgrades,
        deploy=deploy,
        also_dialects=tuple(d for d in config.also_dialects if d != dialect),
        large_tables=config.large_tables,
        transient_tables=tuple(config.transient_tables or ()),
        offline_paths=tuple(offline_paths) if deploy == "online" else (),
        offline_sql=bool(config.offline_sql),
        select=select,
        ignore=ignore,
        severity=tuple(sorted(config.severity.items())),
        fail_on=invocation.fail_on or config.fail_on,
        start_after=start_after,
        exclude=tuple(config.exclude),
        rule_packs=tuple(pack_paths(config)),
        trust_rule_packs=invocation.trust_rule_packs,
        env_settings=tuple(sorted(env_settings.items())),
        project_packages=frozenset(project_packages),
        own_packages=frozenset(own_packages),
        project_types=frozenset(project_types),
        pinned_modules=frozenset(pinned_modules),
        merge_command="flask db merge" if env.kind == "flask-migrate" else "alembic merge",
        env_py=display_path(env.env_py) if getattr(env, "env_py", None) is not None else "",
        dialects_seen=tuple(dialects_seen),
        config_file=config.source or "",
        sources=(
            ("dialect", dialect_source),
            ("server_version", version_source),
            ("default_schema", schema_source),
            ("downgrades", downgrades_source),
            ("deploy", deploy_source),
            ("offline_paths", offline_paths_source),
        ),
        notes=tuple(notes),
    )


def for_sources(
    *,
    dialect: str = "postgresql",
    server_version: Tuple[int, ...] = (14,),
    config: Optional[Config] = None,
    env_settings: Optional[Mapping[str, Any]] = None,
    project_packages: Sequence[str] = (),
    project_types: Sequence[str] = (),
    pinned_modules: Sequence[str] = (),
) -> Settings:
    """Settings for sources held in memory (tests, rule examples): the same resolution, with the
    dialect and version given as if by flags."""

    class _Memory:
        name = "<memory>"
        url_dialect = None
        dialect_hint = ""
        kind = "memory"
        settings = dict(env_settings or {})

    invocation = Invocation(dialect=dialect, server_version=".".join(map(str, server_version)))
    return resolve(_Memory(), config or Config(), invocation, project_packages=project_packages, project_types=project_types, pinned_modules=pinned_modules)


def pack_paths(config: Config) -> Tuple[str, ...]:
    """Rule-pack folders of a config, relative to the config file's folder."""
    packs = []
    for pack in config.rule_packs:
        path = Path(pack)
        if not path.is_absolute() and config.root:
            path = Path(config.root) / path
        packs.append(str(path))
    return tuple(packs)


def describe(settings: Settings) -> Dict[str, Dict[str, Any]]:
    """The decided values and their sources, for the JSON summary."""
    values = {
        "dialect": settings.dialect,
        "server_version": ".".join(map(str, settings.server_version)),
        "default_schema": settings.default_schema,
        "downgrades": settings.downgrades,
        "deploy": settings.deploy,
    }
    return {name: {"value": value, "source": settings.source_of(name)} for name, value in values.items()}


def _display(path: Optional[str]) -> str:
    return display_path(Path(path)) if path else ""


def check_rule_names(settings: Settings, catalogue) -> None:
    """Every rule a setting names exists (or is a former name of one)."""
    where = settings.config_file or "config"
    for name in (*settings.select, *settings.ignore):
        if name not in catalogue and name != "ALL":
            raise ConfigError(f"{where}: unknown rule {name!r}")
    for name, _ in settings.severity:  # ALL selects every rule, but a severity is given rule by rule
        if name not in catalogue:
            raise ConfigError(f"{where}: severity: unknown rule {name!r}")
