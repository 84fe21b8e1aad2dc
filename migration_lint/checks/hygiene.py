"""Checks about how migrations are written rather than what they do to the database."""

from __future__ import annotations

import posixpath
import re

from migration_lint.model import LIST_LIMIT, Finding, listing

CHECKS = ("imports_application_code",)

NEVER_APPLICATION = {"alembic", "sqlalchemy", "sa", "typing", "__future__"}


MIGRATION_SUPPORT = re.compile(r"(?:^|[._])migrat(?:e|ion|ions)(?:$|[._])", re.I)


def _harmless(module: str, names, settings) -> bool:
    """Imports that do not tie an old migration to today's models: the project's SQLAlchemy types
    and SQL functions (autogenerate writes them), the module env.py names as user_module_prefix,
    and modules (or names) that exist for migrations (``neutron.db.migration``, ``util.migrate``)."""
    prefix = settings.env("user_module_prefix")
    if prefix and (module + ".").startswith(prefix.rstrip(".") + "."):
        return True
    if MIGRATION_SUPPORT.search(module) or (names and all(MIGRATION_SUPPORT.search(n) for n in names)):
        return True
    return bool(names) and all(f"{module}.{name}" in settings.project_types for name in names)


def _uses_only_types(module: str, paths, settings) -> bool:
    """``import prefect`` used only as ``prefect.server.utilities.database.UUID``: types (and the
    parameters given to them: ``...database.Pydantic(prefect.server.schemas.core.QueueFilter)``)."""
    def a_type(path: str) -> bool:  # the type itself or a member of it (guid.GUID.generate as a default)
        parts = path.split(".")
        return any(f"{module}.{'.'.join(parts[:n])}" in settings.project_types for n in range(len(parts), 0, -1))

    def typed(entry: str) -> bool:
        path, _, called = entry.partition("@")
        return a_type(path) or bool(called and a_type(called))

    return bool(paths) and all(typed(entry) for entry in paths)


def _submodules_of_types(module: str, names, members, settings) -> bool:
    """``from app.models import guid`` used only as ``guid.GUID``: each imported name is a type
    of the project, or a module whose members used here all are."""
    uses = dict(members)
    return bool(names) and all(
        f"{module}.{name}" in settings.project_types or _uses_only_types(f"{module}.{name}", uses.get(name) or (), settings)
        for name in names
    )


def imports_application_code(rule, run):
    """One finding per revision file, at its first import of the application, listing the others.
    A practice spread over the history (more than one revision, whole-history run) is one finding,
    at env.py, listing the revisions (as missing-lock-timeout does): reviewers of prefect (16
    revisions) and quay (8) read each as the project's convention, one finding per revision as
    noise (round 9 #72, round 10 #55, #56).  In changed-only mode each changed revision keeps its
    own, at its import: that is where the pull request adds one."""
    per_revision = []
    for item in _application_imports(rule, run):
        if isinstance(item, tuple):
            per_revision.append(item)
        else:
            yield item  # an import suppressed on its own line: reported (and suppressed) there
    env_py = run.settings.env_py
    if env_py and run.diff is None and len(per_revision) > 1:
        revisions = listing(f"{migration.revision or migration.path} (`{modules[0]}`{' and more' if len(modules) > 1 else ''})" for migration, _, _, modules in per_revision)
        # the folder says which history, where two share one env.py (prefect's postgresql/ and sqlite/)
        folder = posixpath.commonpath([str(migration.path).replace("\\", "/") for migration, *_ in per_revision])
        folder = posixpath.dirname(folder) if folder.endswith(".py") else folder
        where = f" in {folder}" if folder else ""  # version_locations with nothing in common: none
        message = (
            f"{len(per_revision)} revisions{where} import the application's code ({revisions}): when that code changes, "
            "these old migrations change meaning or break, and an upgrade from an old release runs them against "
            "today's code; in a pull request, each new one is reported at its import"
        )
        # the revisions are part of its identity: a baseline that recorded it does not hide a
        # revision that starts importing the application later
        concerned = sorted(str(migration.revision or migration.path) for migration, *_ in per_revision)
        yield Finding(rule.name, env_py, 1, message, subject=("import", "history", *concerned))
        return
    for migration, line, message, modules in per_revision:
        yield migration.finding(rule, line, message, subject=("import", *modules[:LIST_LIMIT]))


def _application_imports(rule, run):
    """(migration, line, message, modules) per revision file that imports the application; a
    Finding of its own for an import suppressed on its line."""
    packages = set(run.settings.project_packages) - NEVER_APPLICATION
    own = run.settings.own_packages  # dotted paths of the migrations folder itself: helpers there are fine
    if not packages:
        return
    for migration in run.migrations:
        found = []  # (line, module): one finding per file, at the first, listing them all
        for module, line, names, *benign in migration.file.imports:
            top = module.split(".", 1)[0]
            if _harmless(module, names, run.settings) or _uses_only_types(module, names, run.settings):
                continue
            if len(benign) > 1 and _submodules_of_types(module, names, benign[1], run.settings):
                continue
            if benign and names and set(names) <= set(benign[0]):
                continue  # only SQLAlchemy names through the app's db object, a logger, gettext
            if top in packages and not any(module == p or module.startswith(p + ".") for p in own):
                found.append((line, module))
        if not found:
            continue
        from migration_lint.engine import _suppressed  # the engine runs this check: it is loaded

        found.sort()
        # an import suppressed on its own line is reported alone (and suppressed there, its comment
        # used); the others form the file's one finding
        for line, module in [f for f in found if _suppressed(migration.file, rule.name, f[0])]:
            yield migration.finding(rule, line, f"imports `{module}` from the application; when that code changes, this old migration changes meaning or breaks", subject=("import", module))
        found = [f for f in found if not _suppressed(migration.file, rule.name, f[0])]
        if not found:
            continue
        modules = list(dict.fromkeys(module for _, module in found))
        if len(modules) == 1:
            message = f"imports `{modules[0]}` from the application; when that code changes, this old migration changes meaning or breaks"
        else:
            shown = listing(f"`{module}`" for module in modules)
            message = f"imports {len(modules)} modules of the application ({shown}; lines {listing(sorted({line for line, _ in found}))}); when that code changes, this old migration changes meaning or breaks"
        yield migration, found[0][0], message, modules
