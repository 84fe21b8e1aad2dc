"""Which histories the round trip runs, on which database, after which others: the round trip's
part of one history's check (``history.check_history`` calls :func:`round_trip`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

from migration_lint import discovery
from migration_lint.errors import ConfigError, MigrationLintError
from migration_lint.model import count_of
from migration_lint.settings import DEFAULT


@dataclass(frozen=True)
class RoundTripOptions:
    db: str = "auto"  # auto | docker | local | sqlite | a SQLAlchemy URL
    env: str = "auto"  # auto | project | builtin
    image: Optional[str] = None  # container image for --db docker
    revisions: Optional[frozenset] = None  # only these revisions; None: all in scope
    progress: Optional[Callable] = None  # progress(environment, revision, index, total)
    trace: bool = False  # trace the locks and rewrites of each first upgrade (PostgreSQL; see tracing.py)
    base_schema: Optional[str] = None  # --base-schema: a .sql file or module:attribute (base_schema.py)
    base_stamp: Optional[str] = None  # --base-stamp: the revision that schema is
    app: Optional[str] = None  # --app module:factory (app.py)
    app_url_env: Tuple[str, ...] = ()  # --app-url-env: variables set to the scratch URL first


def url_dialect(spec: str) -> Optional[str]:
    """The dialect of a --db URL (None for auto/docker/local/sqlite)."""
    return discovery.url_dialect(spec) if "://" in spec else None


def skips(histories, options: RoundTripOptions) -> Dict[int, str]:
    """Histories the round trip leaves out (by id), with the note saying why.

    A server URL serves only histories of its own dialect (SQLite ones get a temporary file); an
    explicit ``--db sqlite`` serves the SQLite histories when there are some.  When nothing is
    left, the database layer says what is wrong (exit 2) instead of a silent skip.
    """
    spec = options.db.strip()
    out: Dict[int, str] = {}
    if "://" in spec:
        server = url_dialect(spec)
        for history in histories:
            if history.settings.dialect not in (server, "sqlite"):
                out[id(history)] = f"round trip skipped: --db is a {server} server and this history targets {history.settings.dialect}"
    elif spec.lower() == "sqlite" and any(h.settings.dialect == "sqlite" for h in histories):
        for history in histories:
            if history.settings.dialect != "sqlite":
                out[id(history)] = f"round trip skipped: --db sqlite, and this history targets {history.settings.dialect}"
    if len(out) == len(histories):
        return {}
    return out


def required_environments(history, config, resolve_dialect) -> Tuple[List[discovery.Environment], Optional[str]]:
    """The environments config ``roundtrip-requires`` says the history builds on, what they build
    on first, and why the round trip cannot use them (a history for another dialect), if so."""
    env = history.env
    base = Path(config.root) if config.root else Path.cwd()
    needs_of = {(base / folder).resolve(): needs for folder, needs in config.roundtrip_requires.items()}
    ordered: List[discovery.Environment] = []
    seen = {env.script_location.resolve()}

    def visit(location: Path) -> None:
        for need in needs_of.get(location, ()):
            try:
                found = discovery.discover(base / need)
            except MigrationLintError as exc:
                raise ConfigError(f"roundtrip-requires: {need}: {exc}") from None
            for required in found:
                where = required.script_location.resolve()
                if where in seen:
                    continue
                seen.add(where)
                visit(where)  # what it builds on comes first
                ordered.append(required)

    visit(env.script_location.resolve())
    for required in ordered:
        theirs = resolve_dialect(required)
        if theirs != history.settings.dialect:
            return ordered, f"roundtrip-requires: {required.name} targets {theirs}, this history {history.settings.dialect}"
    return ordered, None


def starting_points(options: RoundTripOptions, config):
    """The base schema and the --app application, each from the command line, else the config."""
    from migration_lint.roundtrip import app as app_module, base_schema

    if options.base_schema:
        base = base_schema.parse(options.base_schema, options.base_stamp, None, "--base-schema")
    elif config.roundtrip_base_schema or options.base_stamp or config.roundtrip_base_stamp:
        source = f"{config.source or 'config'}: roundtrip-base-schema" if config.roundtrip_base_schema else "--base-stamp"
        base = base_schema.parse(config.roundtrip_base_schema, options.base_stamp or config.roundtrip_base_stamp, config.root, source)
    else:
        base = None
    if options.app:
        app = app_module.parse(options.app, options.app_url_env, "--app")
    elif options.app_url_env:
        app = app_module.parse(None, options.app_url_env, "--app-url-env")
    else:
        app = app_module.parse(config.roundtrip_app, config.roundtrip_app_url_env, f"{config.source or 'config'}: roundtrip-app")
    return base, app


def round_trip(history, files, scope, options: RoundTripOptions, resources, notes: List[str]):
    """Run the round trip of one history on its scope; its findings are in ``.hits``."""
    from migration_lint.roundtrip.runner import RoundTripResult, run_roundtrip

    graph = scope.graph
    if graph.missing_parents or graph.cycles or graph.duplicates:
        # Alembic cannot load a broken graph: the structure rules say what is wrong
        notes.append("round trip not run: the revision graph is broken (see missing-parent / revision-cycle / duplicate-revision)")
        return RoundTripResult(database="(not started)", notes=[])
    revisions = scope.roundtrip
    if options.revisions is not None:
        revisions = frozenset(options.revisions) if revisions is None else revisions & frozenset(options.revisions)
    base, app = starting_points(options, resources.config)  # bad values: exit 2 before any database starts
    requires, unusable = required_environments(history, resources.config, resources.dialect_of)
    if unusable:
        notes.append(f"round trip not run: {unusable}")
        return RoundTripResult(database="(not started)", notes=[])
    settings = history.settings
    assumed = settings.source_of("server_version") == DEFAULT  # not asked for: notes must not say it was
    database = resources.database_for(settings.dialect, settings.server_version, notes, version_assumed=assumed)
    trace = options.trace
    if trace and database.dialect != "postgresql":  # a note, never an error: the round trip itself ran
        from migration_lint.roundtrip.tracing import NEEDS_POSTGRESQL

        notes.append(NEEDS_POSTGRESQL.format(database=database.description))
        trace = False
    progress = None
    if options.progress is not None:
        progress = lambda revision, index, total: options.progress(history.name, revision, index, total)  # noqa: E731
    trip = run_roundtrip(
        history.env,
        database,
        revisions=revisions,
        mode=options.env,
        static_files={f.revision: f for f in files if f.revision},
        display_path=lambda p: discovery.display_path(Path(p)),
        requires=requires,
        progress=progress,
        trace=trace,
        base=base,
        app=app,
    )
    notes.append(f"round trip: {count_of(trip.tested, 'revision')} on {trip.database}, {trip.environment_mode or 'no'} environment, {trip.seconds:.1f} s")
    notes.extend(trip.notes)
    if trace:
        from migration_lint.roundtrip import tracing

        paths = {f.revision: f.path for f in files if f.revision}
        tracing.for_display(trip.traces, paths, lambda p: discovery.display_path(Path(p)))
        trip.hits.extend(tracing.trace_findings(trip.traces, paths, settings))
        if trip.traces:  # nothing when the round trip could not run at all (it says why)
            notes.extend(tracing.summary_notes(trip.traces))
    notes.extend(skipped_notes(trip.skipped))
    return trip


def skipped_notes(skipped) -> List[str]:
    """One note per reason: "round trip skipped 3 revisions (c3, e5, f6): an ancestor ..."."""
    by_reason: Dict[str, List[str]] = {}
    named: Dict[str, List[str]] = {}  # "an ancestor failed to upgrade (b2, c3)": the ancestors, merged
    for revision, why in skipped:
        head, paren, rest = why.partition(" (")
        key = head if paren and rest.endswith(")") and "ancestor" in head else why
        by_reason.setdefault(key, []).append(revision)
        if key != why:
            names = named.setdefault(key, [])
            names.extend(n for n in rest[:-1].split(", ") if n not in names)
    notes = []
    for why, revisions in by_reason.items():
        if why in named:
            why = f"{why} ({', '.join(sorted(named[why]))})"
        if len(revisions) == 1:
            notes.append(f"round trip skipped {revisions[0]}: {why}")
        else:
            shown = ", ".join(revisions[:10]) + (f", and {len(revisions) - 10} more" if len(revisions) > 10 else "")
            notes.append(f"round trip skipped {count_of(len(revisions), 'revision')} ({shown}): {why}")
    return notes
