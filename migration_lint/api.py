"""The check as a library call: paths in, result objects out.  No printing, no exit codes."""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from migration_lint import dialects, discovery
from migration_lint.catalogue import Catalogue, load_catalogue
from migration_lint.config import Config, find_config, load_config, normalise_dialect, parse_version
from migration_lint.engine import Target, build_graph, lint, scoped
from migration_lint.model import Finding, MigrationFile
from migration_lint import rule_ids



@dataclass
class RoundTripOptions:
    db: str = "auto"  # auto | docker | local | sqlite | a SQLAlchemy URL
    env: str = "auto"  # auto | project | builtin
    image: Optional[str] = None  # container image for --db docker
    revisions: Optional[set] = None  # only these revisions (changed-only mode); None: all in scope
    progress: Optional[Callable] = None  # progress(environment, revision, index, total)


@dataclass
class EnvironmentResult:
    name: str
    kind: str
    dialect: str
    dialect_source: str
    server_version: Tuple[int, ...]
    version_source: str
    file_count: int
    revision_count: int
    heads: List[str]
    findings: List[Finding]
    notes: List[str] = field(default_factory=list)  # what was assumed or fell back
    roundtrip: Optional[object] = None  # RoundTripResult when --roundtrip ran


@dataclass
class CheckResult:
    environments: List[EnvironmentResult] = field(default_factory=list)
    config: Optional[Config] = None
    baseline: Optional[dict] = None  # {'path', 'matched', 'gone'} when a baseline was applied
    cleanup_failures: List[str] = field(default_factory=list)  # what the round trip could not remove (also in notes)

    @property
    def findings(self) -> List[Finding]:
        return [f for env in self.environments for f in env.findings]


def resolve_config(paths: Sequence[Path], config_path: Optional[Path]) -> Config:
    if config_path is not None:
        if not config_path.is_file():
            from migration_lint.errors import ConfigError

            raise ConfigError(f"{config_path}: config file not found")
        return load_config(config_path)
    start = paths[0] if paths else Path.cwd()
    return load_config(find_config(Path(os.path.abspath(start))))


def _display(path: Path) -> str:
    return discovery.display_path(path)


def _excluded(path: Path, config: Config) -> bool:
    if not config.exclude:
        return False
    candidates = {_display(path).replace(os.sep, "/")}
    if config.root:
        try:
            candidates.add(os.path.relpath(path, config.root).replace(os.sep, "/"))
        except ValueError:  # pragma: no cover
            pass
    return any(fnmatch.fnmatch(c, pattern) or fnmatch.fnmatch(c, pattern.rstrip("/") + "/*") for c in candidates for pattern in config.exclude)


def _own_modules(env: discovery.Environment) -> frozenset:
    root = env.project_root
    if root is None:
        return frozenset()
    try:
        relative = env.script_location.resolve().relative_to(root.resolve())
    except ValueError:
        return frozenset()
    parts = [p for p in relative.parts if p not in ("src",)]
    return frozenset({".".join(parts)}) if parts else frozenset()


def check(
    paths: Sequence[Path],
    *,
    dialect: Optional[str] = None,
    server_version: Optional[str] = None,
    config: Optional[Config] = None,
    use_cache: bool = True,
    jobs: Optional[int] = None,
    roundtrip: Optional[RoundTripOptions] = None,
    diff_base: Optional[str] = None,
    baseline: Optional[Path] = None,
) -> CheckResult:
    """Check every environment under ``paths``; with ``roundtrip``, also run the round trip.

    Throwaway databases are opened once per dialect and always cleaned up, whatever happens.
    """
    config = config or Config()
    packs = tuple(pack_paths(config))
    result = CheckResult(config=config)
    environments: List[discovery.Environment] = []
    for path in paths or [Path.cwd()]:
        for env in discovery.discover(Path(path)):
            if all(env.script_location != e.script_location or env.version_locations != e.version_locations for e in environments):
                environments.append(env)
    diffs: Dict[int, object] = {}
    if diff_base:
        from migration_lint.gitdiff import Diffs

        repositories = Diffs(diff_base)
        for env in environments:  # every environment's repository, before any work: bad input fails fast
            diffs[id(env)] = repositories.for_path(_history_folder(env))
    with contextlib.ExitStack() as stack:
        databases: dict = {}

        def database_for(dialect_name: str, version, notes: list):
            from migration_lint.roundtrip.databases import open_database

            if dialect_name in databases:
                databases[dialect_name].reset()
            else:
                databases[dialect_name] = stack.enter_context(
                    open_database(roundtrip.db, dialect_name, server_version=version, image=roundtrip.image, notes=notes)
                )
            return databases[dialect_name]

        skips = _roundtrip_plan(environments, config, dialect, roundtrip) if roundtrip is not None else {}
        for env in environments:
            trip = None if id(env) in skips else roundtrip
            checked = _check_environment(env, config, packs, dialect, server_version, use_cache, jobs, trip, database_for, diffs.get(id(env)))
            if id(env) in skips:
                checked.notes.append(skips[id(env)])
            result.environments.append(checked)
    result.cleanup_failures = [failure for database in databases.values() for failure in database.cleanup_failures]
    if config.warnings and result.environments:
        result.environments[0].notes[:0] = list(config.warnings)
    from migration_lint.baseline import apply_baseline, configured_baseline

    baseline_path = configured_baseline(config, baseline)  # --baseline, else the config's
    if baseline_path is not None:
        apply_baseline(result, baseline_path)
    return result


def _history_folder(env: discovery.Environment) -> Path:
    """Where an environment's revision files live (the repository --diff-base compares them in:
    a versions folder may be a submodule of the repository that holds env.py)."""
    for folder in env.version_locations:
        if folder.is_dir():
            return folder
    return env.script_location


def _target_dialect(env, config: Config, dialect: Optional[str]) -> Tuple[str, str]:
    """The dialect an environment is checked for, and where that came from."""
    if dialect:
        return normalise_dialect(dialect, "--dialect"), "--dialect"
    if config.dialect:
        return config.dialect, f"config ({_display(Path(config.source))})" if config.source else "config"
    if env.url_dialect:
        return env.url_dialect, env.dialect_hint
    return "postgresql", "default"


def _roundtrip_plan(environments, config: Config, dialect: Optional[str], options: RoundTripOptions) -> Dict[int, str]:
    """Environments the round trip leaves out, with the note saying why.

    A server URL serves only histories of its own dialect (SQLite ones get a temporary file); an
    explicit ``--db sqlite`` serves the SQLite histories when there are some.  When nothing is
    left, the database layer says what is wrong (exit 2) instead of a silent skip.
    """
    from migration_lint.discovery import url_dialect

    spec = options.db.strip()
    targets = {id(env): _target_dialect(env, config, dialect)[0] for env in environments}
    skips: Dict[int, str] = {}
    if "://" in spec:
        server = url_dialect(spec)
        for env in environments:
            if targets[id(env)] not in (server, "sqlite"):
                skips[id(env)] = f"round trip skipped: --db is a {server} server and this history targets {targets[id(env)]}"
    elif spec.lower() == "sqlite" and any(t == "sqlite" for t in targets.values()):
        for env in environments:
            if targets[id(env)] != "sqlite":
                skips[id(env)] = f"round trip skipped: --db sqlite, and this history targets {targets[id(env)]}"
    if len(skips) == len(environments):
        return {}
    return skips


def catalogue_for(config: Config) -> Catalogue:
    """The catalogue a config asks for: built-in rules plus its rule packs."""
    return load_catalogue(tuple(pack_paths(config)), trust=config.trust_rule_packs)


def pack_paths(config: Config) -> List[str]:
    packs = []
    for pack in config.rule_packs:
        path = Path(pack)
        if not path.is_absolute() and config.root:
            path = Path(config.root) / path
        packs.append(str(path))
    return packs


def _check_environment(env, config: Config, packs, dialect, server_version, use_cache, jobs, roundtrip=None, database_for=None, diff=None) -> EnvironmentResult:
    from migration_lint.catalogue import catalogue_signature
    from migration_lint.loader import FileLoader, cached_result, quiet_gc, read_sources, result_key, store_result

    chosen, source = _target_dialect(env, config, dialect)
    if server_version:
        version, version_source = parse_version(server_version, "--server-version"), "--server-version"
    elif config.server_version:
        version, version_source = config.server_version, "config"
    else:
        version, version_source = dialects.DEFAULT_VERSIONS[chosen], "default"
    notes: List[str] = []
    if not dialects.plausible_version(chosen, version):
        # e.g. server-version = 15 in a repository whose other history targets SQLite
        shown = ".".join(map(str, version))
        version, version_source = dialects.DEFAULT_VERSIONS[chosen], "default"
        notes.append(f"server version {shown} ({'--server-version' if server_version else 'config'}) is not a {dialects.display(chosen)} version; assumed {'.'.join(map(str, version))}")
    paths = env.revision_files()
    display = [_display(p) for p in paths]
    # Excluded files report nothing, but their revisions still link the graph (else every child
    # of one would have a missing parent and an extra head would appear).
    excluded = frozenset(shown for path, shown in zip(paths, display) if _excluded(path, config))
    contents, digests, errors = read_sources(paths)
    errors = {i: why for i, why in errors.items() if display[i] not in excluded}  # excluded: not our business
    if errors:  # an unreadable revision file is an environment problem, not a finding
        from migration_lint.errors import DiscoveryError

        index, reason = next(iter(errors.items()))
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise DiscoveryError(f"{display[index]}: cannot read: {reason}{more}")
    target = Target(
        name=env.name,
        dialect=chosen,
        server_version=version,
        env_settings=dict(env.settings),
        project_packages=frozenset(discovery.project_packages(env.project_root)),
        own_packages=_own_modules(env),
        merge_command="flask db merge" if env.kind == "flask-migrate" else "alembic merge",
    )
    scope = str(env.script_location) + "|" + "|".join(str(p) for p in env.version_locations)
    key = result_key(scope, target, config.fingerprint(), catalogue_signature(packs), list(zip(display, digests)), sorted(errors.items()))
    trip = None
    reusable = roundtrip is None and diff is None  # both depend on more than the files' content
    stored = cached_result(scope, key) if use_cache and reusable else None
    if stored is None:
        loader = FileLoader(display, contents, digests, errors, chosen, scope, use_cache=use_cache, jobs=jobs)
        reported: list = []
        only_paths = diff_context = None
        # With start_after, changed-only or exclude, revisions outside the scope give only the
        # graph: their headers are read with the stdlib parser, and libcst is paid for the rest
        # alone.  (The round trip reads the operations of what it runs, so it keeps the full read.)
        narrow = roundtrip is None and (bool(config.start_after) or diff is not None or bool(excluded))
        parsed = loader.load(full=() if narrow else None)
        if diff is not None:
            only_paths, diff_context = _changed_only(env, paths, display, parsed, diff, chosen, reported, notes, excluded, config)
        if narrow:
            wanted = {f.path for f in scoped(parsed, build_graph(parsed), config, target, only_paths, excluded)}
            parsed = loader.load(full=[i for i, shown in enumerate(display) if shown in wanted])
        loader.save()
        if roundtrip is not None:
            if diff_context is not None:
                changed = {f.revision for f in parsed if f.path in only_paths and f.revision}
                roundtrip = dataclasses.replace(roundtrip, revisions=changed if roundtrip.revisions is None else roundtrip.revisions & changed)
            trip = _round_trip(env, parsed, config, chosen, version, roundtrip, database_for, notes)
            reported.extend(trip.hits)
        # thousands of findings and facts and no cycles among them, unless a trusted rule pack's
        # own Python makes some: then the collector stays on
        with quiet_gc() if not config.trust_rule_packs else contextlib.nullcontext():
            findings = lint(parsed, target, config, catalogue_for(config), reported=reported, only_paths=only_paths, diff=diff_context, excluded=excluded)
        stored = (findings, build_graph(parsed).heads, sum(1 for f in parsed if f.revision))
        if use_cache and reusable:
            store_result(scope, key, stored)
    findings, heads, revision_count = stored
    return EnvironmentResult(
        name=env.name,
        kind=env.kind,
        dialect=chosen,
        dialect_source=source,
        server_version=version,
        version_source=version_source,
        file_count=len(paths) - len(excluded),
        revision_count=revision_count,
        heads=heads,
        findings=findings,
        notes=notes,
        roundtrip=trip,
    )


def _changed_only(env, paths, display, parsed, diff, dialect: str, reported: list, notes: List[str], excluded: frozenset = frozenset(), config: Optional[Config] = None):
    """Changed-only mode: which files per-migration rules look at, and what git says about the
    history (modified or deleted revisions, the heads at the base)."""
    from migration_lint.engine import DiffContext, Reported
    from migration_lint.frontend.alembic_ops import parse_migration
    from migration_lint.gitdiff import first_changed_line
    from migration_lint.graph import Revision, RevisionGraph

    by_display = {f.path: f for f in parsed}
    only_paths = set()
    new_revisions = set()
    base_files = []
    for path, shown in zip(paths, display):
        status = diff.status_of(path)
        file = by_display.get(shown)
        if status in ("added", "modified"):
            only_paths.add(shown)
        if status == "added":
            if file is not None and file.revision:
                new_revisions.add(file.revision)
            continue
        if status == "modified" and _same_code(diff.base_text(path), path):
            # reformatted or re-commented only (black, a docstring): the same program
            only_paths.discard(shown)
            status = None
            if shown not in excluded:
                notes.append(f"{shown}: changed since {diff.ref} in formatting or comments only")
        if status == "modified":
            line = first_changed_line(diff, path)
            revision = file.revision if file is not None else None
            reported.append(Reported(rule_ids.MODIFIED_MERGED_MIGRATION, shown, line, revision or "", f"revision {revision or shown} already exists at {diff.ref} and this change edits it: databases that ran it will not run it again"))
            text = diff.base_text(path)
            if text is not None:
                base_files.append(parse_migration(text, shown, dialect, operations=False))
                continue
        if file is not None:
            base_files.append(file)
    for change in diff.deleted_under(list(env.version_locations)):
        shown = _display(change.path)
        text = diff.base_text(change.path)
        old = parse_migration(text, shown, dialect, operations=False) if text is not None else None
        revision = old.revision if old is not None else None
        if old is not None:
            base_files.append(old)
        if config is not None and _excluded(change.path, config):
            continue  # an excluded file reports nothing, its deletion included
        reported.append(Reported(rule_ids.DELETED_MIGRATION, shown, 1, revision or "", f"revision {revision or shown} exists at {diff.ref} and this change deletes it: databases at or after it can no longer be upgraded or downgraded"))
    base_graph = RevisionGraph.build(Revision(f.revision, f.down_revision, f.branch_labels, f.depends_on, f.path) for f in base_files if f.revision)
    notes.append(f"changed-only: {len(only_paths - excluded)} revision file(s) added or modified since {diff.ref} ({diff.base[:10]})")
    return only_paths, DiffContext(ref=diff.ref, new_revisions=frozenset(new_revisions), base_heads=tuple(base_graph.heads))


def _same_code(base: Optional[bytes], path: Path) -> bool:
    """True when two versions of a file differ only in formatting and comments (same syntax tree)."""
    import ast

    if base is None:
        return False
    try:
        return ast.dump(ast.parse(base)) == ast.dump(ast.parse(path.read_bytes()))
    except (SyntaxError, ValueError, OSError):
        return False


def _required_environments(env, config: Config, dialect: str) -> Tuple[List[discovery.Environment], Optional[str]]:
    """The environments config ``roundtrip-requires`` says ``env`` builds on, what they build on
    first, and why the round trip cannot use them (a history for another dialect), if so."""
    from migration_lint.errors import ConfigError, MigrationLintError

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
        theirs, _ = _target_dialect(required, config, None)
        if theirs != dialect:
            return ordered, f"roundtrip-requires: {required.name} targets {theirs}, this history {dialect}"
    return ordered, None


def _round_trip(env, parsed, config: Config, dialect: str, version, options: RoundTripOptions, database_for, notes: List[str]):
    from migration_lint.graph import after
    from migration_lint.roundtrip.runner import run_roundtrip

    graph = build_graph(parsed)
    if graph.missing_parents or graph.cycles or graph.duplicates:
        # Alembic cannot load a broken graph: the structure rules say what is wrong
        notes.append("round trip not run: the revision graph is broken (see missing-parent / revision-cycle / duplicate-revision)")
        from migration_lint.roundtrip.runner import RoundTripResult

        return RoundTripResult(database="(not started)", notes=[])
    try:
        scope = after(graph, config.start_after) if config.start_after else None
    except KeyError:
        from migration_lint.errors import ConfigError

        raise ConfigError(f"start_after: revision {config.start_after!r} is not in this history ({env.name})") from None
    if options.revisions is not None:
        scope = set(options.revisions) if scope is None else scope & set(options.revisions)
    requires, unusable = _required_environments(env, config, dialect)
    if unusable:
        from migration_lint.roundtrip.runner import RoundTripResult

        notes.append(f"round trip not run: {unusable}")
        return RoundTripResult(database="(not started)", notes=[])
    database = database_for(dialect, version, notes)
    progress = None
    if options.progress is not None:
        progress = lambda revision, index, total: options.progress(env.name, revision, index, total)  # noqa: E731
    trip = run_roundtrip(
        env,
        database,
        revisions=scope,
        mode=options.env,
        static_files={f.revision: f for f in parsed if f.revision},
        display_path=lambda p: _display(Path(p)),
        requires=requires,
        progress=progress,
    )
    notes.append(f"round trip: {trip.tested} revision(s) on {trip.database}, {trip.environment_mode or 'no'} environment, {trip.seconds:.1f} s")
    notes.extend(trip.notes)
    for revision, why in trip.skipped:
        notes.append(f"round trip skipped {revision}: {why}")
    return trip


# -- in-memory use: tests, rule examples, the pytest plugin ------------------------------------


def lint_sources(
    sources: Dict[str, str],
    *,
    dialect: str = "postgresql",
    server_version: Tuple[int, ...] = (14,),
    config: Optional[Config] = None,
    env_settings: Optional[dict] = None,
    catalogue: Optional[Catalogue] = None,
    project_packages: Sequence[str] = (),
) -> List[Finding]:
    """Lint migration sources held in memory (file name -> text)."""
    from migration_lint.frontend.alembic_ops import parse_migration

    config = config or Config()
    files = [parse_migration(text.encode("utf-8"), name, dialect) for name, text in sources.items()]
    target = Target(
        name="<memory>",
        dialect=dialect,
        server_version=server_version,
        env_settings=env_settings or {},
        project_packages=frozenset(project_packages),
    )
    return lint(files, target, config, catalogue or load_catalogue(tuple(config.rule_packs), trust=config.trust_rule_packs))
