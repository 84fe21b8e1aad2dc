"""The check as a library call: paths in, result objects out.  No printing, no exit codes.

This module finds the histories and owns what they share -- the throwaway databases of the round
trip, git, the catalogue -- and loops over them; ``history.py`` checks one.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from migration_lint import discovery
from migration_lint.baseline import apply_baseline, configured_baseline
from migration_lint.catalogue import Catalogue, load_catalogue
from migration_lint.config import Config, find_config, load_config
from migration_lint.engine import lint, problem_findings
from migration_lint.errors import ConfigError
from migration_lint.gitdiff import Diffs
from migration_lint.history import History, check_history, resolve_history
from migration_lint.model import Finding
from migration_lint.results import CheckResult, EnvironmentResult
from migration_lint.roundtrip.drift import DriftOptions, validate_metadata_spec
from migration_lint.roundtrip.plan import RoundTripOptions, skips, url_dialect
from migration_lint.scope import START_AFTER_ELSEWHERE, build_scope
from migration_lint.settings import Invocation, for_sources, pack_paths

__all__ = ["check", "lint_sources", "resolve_config", "catalogue_for", "RoundTripOptions", "DriftOptions", "CheckResult", "EnvironmentResult"]


def resolve_config(paths: Sequence[Path], config_path: Optional[Path]) -> Config:
    if config_path is not None:
        if not os.path.lexists(config_path):
            raise ConfigError(f"{config_path}: config file not found")
        return load_config(config_path)  # anything but a regular file is refused there, in one line
    start = paths[0] if paths else Path.cwd()
    return load_config(find_config(Path(os.path.abspath(start))))


def catalogue_for(config: Config, trust: bool = False) -> Catalogue:
    """The catalogue a config asks for: built-in rules plus its rule packs."""
    return load_catalogue(pack_paths(config), trust=trust)


class _Lazy:
    """A value made when first asked for."""

    def __init__(self, make):
        self.make, self.value = make, None

    def __call__(self):
        if self.value is None:
            self.value = self.make()
        return self.value


class _Resources:
    """What histories of one run share, owned here for the length of the run."""

    def __init__(self, stack: contextlib.ExitStack, config: Config, invocation: Invocation, *, use_cache: bool, jobs: Optional[int], roundtrip: Optional[RoundTripOptions], diffs: Dict[int, object], drift: Optional[DriftOptions] = None):
        self.stack, self.config, self.invocation = stack, config, invocation
        self.use_cache, self.jobs, self.roundtrip = use_cache, jobs, roundtrip
        self.drift = drift
        # where the throwaway databases come from: the round trip's options, else --drift's
        self.database_options = roundtrip if roundtrip is not None else drift
        self.diffs = diffs
        self.skips: Dict[int, str] = {}
        self.several_histories = False  # start-after may then name a revision of another history
        self._databases: dict = {}

    def diff_for(self, env):
        return self.diffs.get(id(env))

    def roundtrip_for(self, history: History) -> Optional[RoundTripOptions]:
        return None if self.roundtrip is None or id(history) in self.skips else self.roundtrip

    def drift_for(self, history: History) -> Optional[DriftOptions]:
        return None if self.drift is None or id(history) in self.skips else self.drift

    def dialect_of(self, env) -> str:
        """The dialect another environment (one a history requires) is checked for."""
        return resolve_history(env, self.config, self.invocation).settings.dialect

    def database_for(self, dialect: str, version, notes: list, version_assumed: bool = False, reuse: bool = False):
        """The throwaway database of a dialect: opened once per run, emptied for each history
        (``reuse``: as the history's round trip left it, for --drift after it)."""
        from migration_lint.roundtrip.databases import open_database  # SQLAlchemy: round trips only

        if dialect in self._databases:
            if not reuse:
                self._databases[dialect].reset()
        else:
            options = self.database_options
            self._databases[dialect] = self.stack.enter_context(
                open_database(options.db, dialect, server_version=version, image=options.image, notes=notes, version_assumed=version_assumed)
            )
        return self._databases[dialect]


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
    select: Sequence[str] = (),
    ignore: Sequence[str] = (),
    start_after: Optional[str] = None,
    fail_on: Optional[str] = None,
    default_schema: Optional[str] = None,
    deploy: Optional[str] = None,
    trust_rule_packs: bool = False,
    drift: Optional[DriftOptions] = None,
) -> CheckResult:
    """Check every history under ``paths``; with ``roundtrip``, also run the round trip; with
    ``drift``, compare the models with the schema at the heads (on the round trip's database when
    both are given).  The keywords are the command line's flags: they come first in the
    settings' precedence.

    Throwaway databases are opened once per dialect and always cleaned up, whatever happens.
    """
    config = config or Config()
    if drift is not None:
        validate_metadata_spec(drift.metadata)
    database_options = roundtrip if roundtrip is not None else drift
    invocation = Invocation(
        dialect=dialect,
        server_version=server_version,
        select=tuple(select),
        ignore=tuple(ignore),
        start_after=start_after,
        fail_on=fail_on,
        default_schema=default_schema,
        deploy=deploy,
        db_url_dialect=url_dialect(database_options.db.strip()) if database_options is not None else None,
        trust_rule_packs=trust_rule_packs,
    )
    environments: List[discovery.Environment] = []
    for path in paths or [Path.cwd()]:
        for env in discovery.discover(Path(path)):
            if all(env.script_location != e.script_location or env.version_locations != e.version_locations for e in environments):
                environments.append(env)
    diffs: Dict[int, object] = {}
    if diff_base:
        repositories = Diffs(diff_base)
        for env in environments:  # every environment's repository, before any work: bad input fails fast
            diffs[id(env)] = repositories.for_path(_history_folder(env))
    histories = [resolve_history(env, config, invocation, use_cache=use_cache) for env in environments]
    catalogue = _Lazy(lambda: catalogue_for(config, trust_rule_packs))  # a warm run reads no rule file
    result = CheckResult()
    with contextlib.ExitStack() as stack:
        resources = _Resources(stack, config, invocation, use_cache=use_cache, jobs=jobs, roundtrip=roundtrip, diffs=diffs, drift=drift)
        if database_options is not None:
            resources.skips = skips(histories, database_options)
            if roundtrip is None:  # --drift alone: say which check was skipped
                resources.skips = {key: note.replace("round trip skipped", "models-drift not checked", 1) for key, note in resources.skips.items()}
        resources.several_histories = len(histories) > 1
        for history in histories:
            checked = check_history(history, catalogue, resources)
            if id(history) in resources.skips:
                checked.notes.append(resources.skips[id(history)])
            result.environments.append(checked)
    start_after = next((h.settings.start_after for h in histories if h.settings.start_after), None)
    if start_after and len(histories) > 1 and all(any(n.startswith(START_AFTER_ELSEWHERE) for n in r.notes) for r in result.environments):
        raise ConfigError(f"start_after: revision {start_after!r} is in none of the {len(histories)} histories checked")
    # what the round trip could not remove (each database's cleanup ran as the stack closed)
    for dialect, database in resources._databases.items():
        result.cleanup_failures += database.cleanup_failures
        for checked in result.environments:
            if (checked.roundtrip is not None or checked.drift is not None) and checked.dialect == dialect:
                checked.notes += [f for f in database.cleanup_failures if f not in checked.notes]
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


# -- in-memory use: tests, rule examples ---------------------------------------------------------


def lint_sources(
    sources: Dict[str, str],
    *,
    dialect: str = "postgresql",
    server_version: Tuple[int, ...] = (14,),
    config: Optional[Config] = None,
    env_settings: Optional[dict] = None,
    catalogue: Optional[Catalogue] = None,
    project_packages: Sequence[str] = (),
    project_types: Sequence[str] = (),
    trust_rule_packs: bool = False,
    pinned_modules: Sequence[str] = (),
) -> List[Finding]:
    """Lint migration sources held in memory (file name -> text)."""
    from migration_lint.frontend.alembic_ops import parse_migration  # libcst: only when parsing
    from migration_lint.frontend.headers import too_large
    from migration_lint.loader import DEFAULT_MAX_FILE_SIZE

    config = config or Config()
    settings = for_sources(dialect=dialect, server_version=server_version, config=config, env_settings=env_settings, project_packages=project_packages, project_types=project_types, pinned_modules=pinned_modules)
    limit = config.max_file_size or DEFAULT_MAX_FILE_SIZE
    files = []
    for name, text in sources.items():
        data = text.encode("utf-8")
        files.append(too_large(io.BytesIO(data), name, len(data), limit) if len(data) > limit else parse_migration(data, name, settings.dialect))
    scope = build_scope(files, settings)
    return lint(files, scope, settings, catalogue or catalogue_for(config, trust_rule_packs), problem_findings(files))
