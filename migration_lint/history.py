"""One history, from its revision files to its findings, in one straight line:

    resolve  the history's files and settings          (resolve_history)
    read     parse the files (cache, parallel)          (check_history from here on)
    scope    graph and scope, once
    trip     the round trip, when asked for
    lint     rules over the scope
    result

``api.py`` loops over histories and owns what they share (databases, git, the catalogue).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import fnmatch
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Tuple

from migration_lint import dialects, discovery
from migration_lint import model as m
from migration_lint.facts import column_spellings, spellings
from migration_lint.discovery import ENV_PY_LIMIT
from migration_lint.catalogue import catalogue_signature
from migration_lint.config import Config
from migration_lint.engine import lint, problem_findings
from migration_lint.errors import DiscoveryError
from migration_lint.gitdiff import anywhere_at, changes_for, deploy_units, first_release, head_commit, models_at, named_at, release_tags, running_code_mentions, sql_use_at
from migration_lint.infer import dialects_seen, history_evidence, infer_dialect, infer_downgrades, infer_downgrades_unused, infer_offline_paths, read_mako
from migration_lint.loader import DEFAULT_MAX_FILE_SIZE, FileLoader, Sources, cached_result, read_sources, result_key, store_result
from migration_lint.model import Finding
from migration_lint.process import quiet_gc
from migration_lint.results import EnvironmentResult
from migration_lint.roundtrip.drift import models_drift
from migration_lint.roundtrip.plan import round_trip
from migration_lint.scope import build_scope
from migration_lint.settings import Invocation, Settings, resolve


@dataclass
class History:
    """A history whose settings are decided and whose files are read (not parsed)."""

    env: discovery.Environment
    settings: Settings
    paths: List[Path]
    display: List[str]
    sources: Sources
    excluded: frozenset  # paths as shown
    notes: Tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.env.name

    @property
    def cache_scope(self) -> str:
        return str(self.env.script_location) + "|" + "|".join(str(p) for p in self.env.version_locations)


def display_path(path: Path) -> str:
    return discovery.display_path(path)


def _in_versions(path: Path, locations) -> str:
    """The path below the version location that holds it ('newton/contract/x.py'), '/'-separated."""
    for location in locations:
        try:
            return os.path.relpath(path, location).replace(os.sep, "/")
        except ValueError:  # pragma: no cover - another drive
            continue
    return path.name


def _offline(path: Path, shown: str, inner: str, settings, config: Config) -> bool:
    """Whether a revision file is one of offline-paths.  The inferred value means the contract
    folders below the version location; globs from the config match the path as shown, below the
    config's folder, or below the version location."""
    if settings.source_of("offline_paths").startswith("inferred"):
        return "contract" in inner.split("/")[:-1]
    candidates = {shown.replace(os.sep, "/"), inner}
    if config.root:
        with contextlib.suppress(ValueError):
            candidates.add(os.path.relpath(path, config.root).replace(os.sep, "/"))
    return any(fnmatch.fnmatch(c, pattern) for c in candidates for pattern in settings.offline_paths)


DOWNGRADE_BODY = re.compile(r"^def downgrade\([^)]*\)[^\n]*:[^\n]*\n((?:[ \t]+[^\n]*\n?|[ \t]*\n)*)", re.M)
LEADING_STRING = re.compile(r"^[rRuU]?(?:\"\"\"[\s\S]*?\"\"\"|'''[\s\S]*?'''|\"[^\"\n]*\"|'[^'\n]*')")


def _empty_downgrade(text: str) -> bool:
    """downgrade() holds nothing but pass, ``...``, comments and a docstring."""
    found = DOWNGRADE_BODY.search(text)
    if found is None:
        return False
    body = "\n".join(line.strip() for line in found.group(1).splitlines() if line.strip() and not line.strip().startswith("#"))
    body = LEADING_STRING.sub("", body, count=1)  # a docstring
    return all(line.strip() in ("pass", "...", "") for line in body.splitlines())


CREATE_DATE = re.compile(r"^\s*Create Date:\s*(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d)", re.M)


def _history_began(texts, units) -> int:
    """When the history's first revision was written (unix time, 0 when nothing says): the
    earliest Create Date header (read as UTC) or commit that added a revision file."""
    times = [when for _, when in units.values() if when]
    for _, text in texts:
        found = CREATE_DATE.search(text[:4000])
        if found:
            with contextlib.suppress(ValueError, OverflowError, OSError):
                times.append(int(datetime.datetime.fromisoformat(f"{found.group(1)}T{found.group(2)}").replace(tzinfo=datetime.timezone.utc).timestamp()))
    return min((t for t in times if t > 0), default=0)


def is_excluded(path: Path, config: Config) -> bool:
    if not config.exclude:
        return False
    candidates = {display_path(path).replace(os.sep, "/")}
    if config.root:
        try:
            candidates.add(os.path.relpath(path, config.root).replace(os.sep, "/"))
        except ValueError:  # pragma: no cover
            pass
    return any(fnmatch.fnmatch(c, pattern) or fnmatch.fnmatch(c, pattern.rstrip("/") + "/*") for c in candidates for pattern in config.exclude)


def own_modules(env: discovery.Environment) -> frozenset:
    """Dotted paths of the migrations folder itself (helpers kept there are not application code)."""
    root = env.project_root
    if root is None:
        return frozenset()
    try:
        relative = env.script_location.resolve().relative_to(root.resolve())
    except ValueError:
        return frozenset()
    parts = [p for p in relative.parts if p not in ("src",)]
    return frozenset({".".join(parts)}) if parts else frozenset()


def resolve_history(env: discovery.Environment, config: Config, invocation: Invocation, use_cache: bool = True) -> History:
    """Read a history's revision files and decide its settings (once; everything after receives
    them)."""
    paths = env.revision_files()
    notes: Tuple[str, ...] = ()
    if not paths:
        folders = ", ".join(display_path(p) for p in env.version_locations)
        if env.named:  # pointed at, and nothing to check: an error, never a silent pass
            raise DiscoveryError(f"{env.name}: no revision files in {folders}")
        notes = (f"no revision files yet in {folders}",)
    display = [display_path(p) for p in paths]
    # Excluded files report nothing, but their revisions still link the graph (else every child
    # of one would have a missing parent and an extra head would appear).
    excluded = frozenset(shown for path, shown in zip(paths, display) if is_excluded(path, config))
    max_size = config.max_file_size or DEFAULT_MAX_FILE_SIZE
    sources = read_sources(paths, max_size)
    errors = {i: why for i, why in sources.errors.items() if display[i] not in excluded}  # excluded: not our business
    if errors:  # an unreadable revision file is an environment problem, not a finding
        index, reason = next(iter(errors.items()))
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise DiscoveryError(f"{display[index]}: cannot read: {reason}{more}")
    texts = [(shown, data.decode("utf-8", errors="replace")) for shown, data in zip(display, sources.contents) if data is not None]
    env_py = (display_path(env.env_py), env.env_py.read_bytes().decode("utf-8", errors="replace")) if env.env_py is not None and env.env_py.stat().st_size <= ENV_PY_LIMIT else None
    with_downgrade = sum(1 for _, text in texts if re.search(r"^def downgrade\b", text, re.M))
    empty_downgrades = sum(1 for _, text in texts if _empty_downgrade(text))
    packages = discovery.project_packages(env.project_root)
    imported = {module for _, text in texts for module in re.findall(r"^\s*from\s+([\w.]+)\s+import\b", text, re.M) if module.split(".")[0] in packages}
    # and submodules imported by name (from app.models import guid; guid.GUID)
    imported |= {
        f"{module}.{name.strip()}"
        for _, text in texts
        for module, names in re.findall(r"^\s*from\s+([\w.]+)\s+import\s+\(?([\w ,]+)", text, re.M)
        if module.split(".")[0] in packages
        for name in names.split(",") if name.strip().isidentifier()
    }
    # and modules used by their dotted path after `import package`: package.sub.module.Name
    imported |= {path.rsplit(".", 1)[0] for _, text in texts for path in re.findall(r"\b((?:%s)(?:\.\w+)+)" % "|".join(map(re.escape, packages)), text) if "." in path} if packages else set()
    in_versions = [_in_versions(path, env.version_locations) for path in paths]
    evidence = history_evidence(texts, env_py)  # the dialect-specific code, read once
    settings = resolve(
        env,
        config,
        invocation,
        inferred_dialect=infer_dialect(texts, env_py, evidence),
        inferred_downgrades=infer_downgrades(read_mako(env.script_location), with_downgrade, len(texts), empty_downgrades)
        or (None if config.downgrades else infer_downgrades_unused(env.project_root, env.script_location, use_cache=use_cache)),
        inferred_offline_paths=infer_offline_paths(in_versions),
        dialects_seen=dialects_seen(texts, env_py, evidence),
        project_packages=packages,
        own_packages=own_modules(env),
        project_types=discovery.project_type_names(env.project_root, imported),
        pinned_modules=discovery.pinned_modules(env.project_root),
    )
    # what ships in one deploy: the revisions one merge added (git's first-parent history)
    units = deploy_units(list(paths), use_cache=use_cache)
    if units:
        settings = dataclasses.replace(settings, deploy_units=tuple(sorted((shown, *units[path]) for path, shown in zip(paths, display) if path in units)))
    # the first release that holds the history: revisions written before it reach every install together
    began = _history_began(texts, units)
    release = first_release(list(paths), began, use_cache=use_cache) if began else None
    if release:
        settings = dataclasses.replace(settings, first_release=tuple(release))
    if units:  # the releases, for a change that needs the application stopped: its release is upgraded offline
        # (and HEAD: what the code running beside a revision not committed yet mentions depends on it)
        worktree = any(unit == "worktree" for unit, _ in units.values())  # only then does HEAD decide what runs beside a revision
        settings = dataclasses.replace(settings, releases=release_tags(list(paths)), git_head=head_commit(list(paths)) if worktree else "")
    if settings.offline_paths:  # decided here, where the files and the config's folder are known
        offline = frozenset(
            shown for path, shown, inner in zip(paths, display, in_versions)
            if _offline(path, shown, inner, settings, config)
        )
        settings = dataclasses.replace(settings, offline_files=offline)
    return History(env, settings, paths, display, sources, excluded, notes)


def _with_code_mentions(settings, history: History, files, scope, use_cache: bool):
    """Settings with ``code_mentions``: for each revision in scope that drops columns or tables,
    whether the code running while it migrates (the release before it, from git) still names
    them (a table in the spellings an ORM gives it, a column with its table, and a foreign-key
    column also as the attribute peewee names it by).  Decided here, once, with git; the engine
    only reads it."""
    if not settings.deploy_units:
        return settings
    by_shown = dict(zip(history.display, history.paths))
    units = {by_shown[shown]: (unit, when) for shown, unit, when in settings.deploy_units if shown in by_shown}
    identifier = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
    wanted = {}
    for file in files:
        if file.headers_only or not scope.is_checked(file.path) or file.path not in by_shown:
            continue
        names = set()
        for op in file.operations:
            if op.phase != m.UPGRADE or not op.table:
                continue
            if op.kind == m.DROP_COLUMN and op.columns and op.columns[0]:
                names.update((*column_spellings(str(op.columns[0])), *spellings(str(op.table))))
            elif op.kind == m.DROP_TABLE:
                names.update(spellings(str(op.table)))
        names = {n for n in names if identifier.fullmatch(n)}
        if names:
            wanted[by_shown[file.path]] = sorted(names)
    # anchored: that code is the application's and names its columns (else an absent name says nothing)
    found = running_code_mentions(wanted, units, settings.releases, use_cache=use_cache)
    given_up = _given_up_columns(files, by_shown, units, found, use_cache)
    shown_of = {path: shown for shown, path in by_shown.items()}
    mentions = [
        (shown_of[path], where, tuple(wanted[path]), tuple(sorted(hit)), anchored, tuple(sorted(given_up.get(path, ()))))
        for path, (where, hit, anchored, _ref) in found.items()
    ]
    return dataclasses.replace(settings, code_mentions=tuple(sorted(mentions))) if mentions else settings


BIRTH_LIMIT = 40  # commits read for where a dropped column came from, per history


def _given_up_columns(files, by_shown, units, found, use_cache: bool) -> Dict[Path, set]:
    """{revision file: "table\0column" of the columns it drops that the code running beside it
    had given up, on evidence beyond a word's absence next to its table's name}: the ORM model
    that declares the table there no longer maps the column (its name is not in the class, nor in
    the classes it inherits from in the repository), however common the word is elsewhere
    (warehouse e82c3a017d60 ``downloads``); or no running code names the column any more while
    the code that the change adding it left did (warehouse 4a0276f260c7: tables named by a
    mixin, never written out).  Only where that code is the application's (``anchored``)."""
    out: Dict[Path, set] = {}
    drops: Dict[Path, list] = {}
    for file in files:
        path = by_shown.get(file.path)
        if path not in found or not found[path][2]:
            continue
        for op in file.operations:
            if op.phase == m.UPGRADE and op.kind == m.DROP_COLUMN and op.table and op.columns and op.columns[0]:
                drops.setdefault(path, []).append((str(op.table), str(op.columns[0]), op.schema))
    if not drops:
        return out
    # the ORM model of each table, per ref read
    by_ref: Dict[str, set] = {}
    for path, pairs in drops.items():
        # only where the column's name is still found somewhere: else absence decides already
        hits_lower = {h.lower() for h in found[path][1]}
        by_ref.setdefault(found[path][3], set()).update(
            t for t, c, schema in pairs if not schema and {n.lower() for n in column_spellings(c)} & hits_lower
        )
    start = next(iter(drops))
    jobs = [(ref, sorted(tables)) for ref, tables in by_ref.items() if tables]
    with ThreadPoolExecutor(max_workers=4) as pool:  # git processes: threads only wait
        models = dict(zip((ref for ref, _ in jobs), pool.map(lambda job: models_at(start, job[0], job[1], use_cache), jobs)))
    # where each column came from: the latest revision before the drop that added it (or renamed
    # a column to it, or created its table with it)
    births: Dict[Tuple[str, str], List[Tuple[int, str]]] = {}
    for file in files:
        path = by_shown.get(file.path)
        if path not in units or units[path][0] == "worktree":
            continue
        for op in file.operations:
            if op.phase != m.UPGRADE or not op.table:
                continue
            names = []
            if op.kind == m.ADD_COLUMN and op.column is not None and op.column.name:
                names = [op.column.name]
            elif op.kind == m.CREATE_TABLE:
                names = [c.name for c in op.table_columns if c.name]
            elif op.kind == m.RENAME_COLUMN and op.get("new_name"):
                names = [op.get("new_name")]
            for name in names:
                births.setdefault((str(op.table).lower(), str(name).lower()), []).append((units[path][1], units[path][0]))
    asked = 0
    for path, pairs in drops.items():
        _where, hits, _anchored, ref = found[path]
        hits_lower = {h.lower() for h in hits}
        when = units[path][1] if units[path][0] != "worktree" else None
        for table, column, schema in pairs:
            spelled = {c.lower() for c in column_spellings(column)}
            # the table's model no longer maps it, and no SQL or other code names it with the table
            # (a model in another schema than the drop's is not this table's: not compared)
            model = models.get(ref, {}).get(table) if not schema else None
            if model is not None and "schema" not in model and not (spelled & model):
                if asked < BIRTH_LIMIT and sql_use_at(path, ref, table, column) is False:
                    out.setdefault(path, set()).add(f"{table}\0{column}")
                asked += 1
                continue
            if spelled & hits_lower or {s.lower() for s in spellings(table)} & hits_lower:
                continue  # still named; or its table is, and the plain rule decides
            earlier = [b for b in births.get((table.lower(), column.lower()), ()) if when is None or b[0] < when]
            if not earlier or asked >= BIRTH_LIMIT:
                continue
            asked += 1
            # no text file at all names it any more (templates, other services), while the code
            # the change that added it left behind did
            if anywhere_at(path, ref, sorted(spelled)) is not False:
                continue
            born = named_at(path, max(earlier)[1], list(column_spellings(column)), use_cache)
            if born and spelled & {b.lower() for b in born}:
                out.setdefault(path, set()).add(f"{table}\0{column}")
    return out


def _lint_as(dialect: str, history: History, settings, scope, changes, narrow: bool, roundtrip: bool, resources, catalogue) -> list:
    """The history linted as if it targeted ``dialect``: read again with that dialect's SQL
    parser and branches, the same scope, no findings produced elsewhere (those are the history's)."""
    other = settings.for_dialect(dialect)
    loader = FileLoader(history.display, history.sources, history.paths, dialect, history.cache_scope, use_cache=resources.use_cache, jobs=resources.jobs, max_size=resources.config.max_file_size or DEFAULT_MAX_FILE_SIZE)
    files = loader.load(full=[i for i, shown in enumerate(history.display) if shown in scope.full_read] if narrow else None)
    loader.save()
    its_scope = build_scope(files, other, excluded=history.excluded, changes=changes, roundtrip=roundtrip, start_after_elsewhere=resources.several_histories)
    return lint(files, its_scope, other, catalogue(), ())


UNANALYZED_RULE = "raw-sql-unanalyzed"
PARSER_FAILED = "parser could not read"  # (the literal SQL the other database's parser rejects)
_UNREADABLE_THERE = " (written for another database? if it is not valid {shown} SQL, the migration fails there: run it only where it is meant to, inside a dialect check)"


def _with_dialect(findings: list, others: list, dialect: str) -> list:
    """``findings`` and those of ``others`` (the same history linted for another database) that
    say something new: a rule at a place it did not report, prefixed with the database, its
    identity naming it (a baseline of one dialect's finding does not hide the other's)."""
    seen = {(f.rule, f.path, f.line) for f in findings}
    shown = dialects.display(dialect)
    extra = [
        dataclasses.replace(f, message=f"on {shown}: {f.message}" + (_UNREADABLE_THERE.format(shown=shown) if f.rule == UNANALYZED_RULE and PARSER_FAILED in f.message else ""), subject=(*f.subject, "dialect", dialect))
        for f in others
        if (f.rule, f.path, f.line) not in seen
    ]
    if not extra:
        return findings
    return sorted([*findings, *extra], key=Finding.sort_key)


def check_history(history: History, catalogue, resources) -> EnvironmentResult:
    """read -> scope -> [round trip] -> lint -> result, for one history.  ``catalogue()`` gives
    the rule catalogue (loaded only when a result must be computed)."""
    settings = history.settings
    diff = resources.diff_for(history.env)
    trip_options = resources.roundtrip_for(history)
    drift_options = resources.drift_for(history)
    # everything the result depends on besides the files: the settings, the catalogue, the size
    # cap (a file over it is read for its headers only), and whether start-after may name another
    # history's revision (with one history that is an error, with several a note)
    key = result_key(
        history.cache_scope, settings.fingerprint(), catalogue_signature(settings.rule_packs), list(zip(history.display, history.sources.digests)),
        resources.config.max_file_size or DEFAULT_MAX_FILE_SIZE, bool(settings.start_after) and resources.several_histories,
    )
    reusable = trip_options is None and drift_options is None and diff is None and resources.use_cache  # they depend on more than the files
    stored = cached_result(history.cache_scope, key) if reusable else None
    notes = [*settings.notes, *history.notes]
    trip = drift = None
    if stored is None:
        # read: with a scope narrower than the history, revisions outside it are read for their
        # headers only (the graph needs them; libcst is paid for the rest alone)
        loader = FileLoader(history.display, history.sources, history.paths, settings.dialect, history.cache_scope, use_cache=resources.use_cache, jobs=resources.jobs, max_size=resources.config.max_file_size or DEFAULT_MAX_FILE_SIZE)
        narrow = bool(settings.start_after) or diff is not None or bool(history.excluded)
        files = loader.load(full=() if narrow else None)
        # scope
        changes = None
        if diff is not None:
            changes = changes_for(diff, history.paths, history.display, list(history.env.version_locations), display_path, lambda p: is_excluded(p, resources.config))
        scope = build_scope(files, settings, excluded=history.excluded, changes=changes, roundtrip=trip_options is not None, start_after_elsewhere=resources.several_histories)
        if narrow:
            files = loader.load(full=[i for i, shown in enumerate(history.display) if shown in scope.full_read])
            scope = scope.with_files(files)
        loader.save()
        notes.extend(scope.notes)
        # what the code that runs while each revision migrates still mentions of what it drops
        settings = _with_code_mentions(settings, history, files, scope, resources.use_cache)
        produced = [*scope.produced, *problem_findings(files)]
        # round trip
        if trip_options is not None:
            trip = round_trip(history, files, scope, trip_options, resources, notes)
            produced.extend(trip.hits)
        # models vs migrations, on the same database (after the round trip, when it ran)
        if drift_options is not None:
            drift = models_drift(history, files, scope, drift_options, resources, notes, trip)
            produced.extend(drift.hits)
        # lint: thousands of findings and facts and no cycles among them, unless a trusted rule
        # pack's own Python makes some: then the collector stays on
        with quiet_gc() if not settings.trust_rule_packs else contextlib.nullcontext():
            findings = lint(files, scope, settings, catalogue(), produced)
            # the other databases the project supports (also-dialects): what fails or locks there
            # that the history's own dialect did not report, said as such
            for other in settings.also_dialects:
                findings = _with_dialect(findings, _lint_as(other, history, settings, scope, changes, narrow, trip_options is not None, resources, catalogue), other)
        if trip is not None and trip.traces:  # --trace: verdicts on the static locking findings
            from migration_lint.roundtrip.tracing import judge

            findings = judge(findings, trip.traces, catalogue(), files)
        stored = (findings, scope.graph.heads, sum(1 for f in files if f.revision), list(notes))
        if reusable:
            store_result(history.cache_scope, key, stored)
    findings, heads, revision_count, notes = stored
    return EnvironmentResult(
        name=history.name,
        kind=history.env.kind,
        settings=settings,
        file_count=len(history.paths) - len(history.excluded),
        revision_count=revision_count,
        heads=heads,
        findings=findings,
        notes=list(notes),
        roundtrip=trip,
        drift=drift,
    )
