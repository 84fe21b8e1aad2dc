"""Checks about how migrations are written rather than what they do to the database."""

from __future__ import annotations

CHECKS = ("imports_application_code",)

NEVER_APPLICATION = {"alembic", "sqlalchemy", "sa", "typing", "__future__"}


def imports_application_code(rule, run):
    packages = set(run.settings.project_packages) - NEVER_APPLICATION
    own = run.settings.own_packages  # dotted paths of the migrations folder itself: helpers there are fine
    if not packages:
        return
    for migration in run.migrations:
        for module, line in migration.file.imports:
            top = module.split(".", 1)[0]
            if top in packages and not any(module == p or module.startswith(p + ".") for p in own):
                yield migration.finding(
                    rule,
                    line,
                    f"imports `{module}` from the application; when those models change, this old migration changes meaning or breaks",
                    subject=("import", module),
                )
