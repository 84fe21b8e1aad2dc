"""Renderers: a CheckResult -> text for one output format.  They return strings; cli.py prints."""

from migration_lint.model import SEVERITIES, count_of
from migration_lint.settings import describe

FORMATS = ("text", "json", "github", "gitlab", "sarif", "markdown")


def render(result, fmt: str, catalogue, **options) -> str:
    # only the renderer asked for is imported (rich, for text, costs a fifth of a warm run)
    if fmt == "json":
        from migration_lint.report.json_report import render_json

        return render_json(result)
    if fmt == "github":
        from migration_lint.report.github import render_github

        return render_github(result)
    if fmt == "gitlab":
        from migration_lint.report.gitlab import render_gitlab

        return render_gitlab(result)
    if fmt == "markdown":
        from migration_lint.report.markdown import render_markdown

        return render_markdown(result, catalogue)
    if fmt == "sarif":
        from migration_lint.report.sarif import render_sarif

        return render_sarif(result, catalogue)
    from migration_lint.report.text import render_text

    return render_text(result, **options)


def environment_facts(env, set_dialect: str, set_version: str) -> str:
    """'N revisions, H head(s), checked for DIALECT VERSION (what decided each value)'."""
    settings = env.settings
    version = ".".join(str(p) for p in settings.server_version)
    decided = []
    for name, label, how in (("dialect", "dialect", set_dialect), ("server_version", "server version", set_version)):
        source = settings.source_of(name)
        decided.append(f"{label}: {source}" + (f", set {how}" if source == "default" else ""))
    if settings.dialect != "mysql":  # MySQL's default schema is the connection's database: nothing to say
        decided.append(f"unqualified names in {settings.default_schema or '?'} ({settings.source_of('default_schema')})")
    if settings.downgrades != "required":
        decided.append(f"downgrades {settings.downgrades} ({settings.source_of('downgrades')})")
    if settings.deploy == "offline":
        decided.append(f"lock rules off: deploy = offline ({settings.source_of('deploy')})")
    elif settings.offline_paths:
        decided.append(f"lock and running-code rules off for {', '.join(settings.offline_paths)} ({settings.source_of('offline_paths')})")
    elif settings.large_tables is not None:
        decided.append(f"lock rules only on the {count_of(len(settings.large_tables), 'large table')} the config lists")
    if settings.also_dialects:
        from migration_lint import dialects as _dialects

        decided.append(f"also checked for {' and '.join(_dialects.display(d) for d in settings.also_dialects)} (config also-dialects): findings only there say so")
    if settings.transient_tables:
        decided.append(f"{count_of(len(settings.transient_tables), 'table')} the config lists as transient (rows only in flight): few rows at any time")
    if settings.first_release:
        decided.append(f"revisions before its first release ({settings.first_release[0]}, from git tags) reach every install together, and their downgrades are not checked")
    return f"{count_of(env.revision_count, 'revision')}, {count_of(len(env.heads), 'head')}, checked for {settings.dialect} {version} ({'; '.join(decided)})"


def summary(result) -> dict:

    counts = {severity: 0 for severity in SEVERITIES}
    for finding in result.findings:
        counts[finding.severity] += 1
    extra = {"baseline": result.baseline} if getattr(result, "baseline", None) else {}
    return {
        **extra,
        "errors": counts["error"],
        "warnings": counts["warning"],
        "info": counts["info"],
        "files": sum(env.file_count for env in result.environments),
        "environments": [
            {
                "name": env.name,
                "kind": env.kind,
                "dialect": env.dialect,
                "dialect_source": env.dialect_source,
                "server_version": ".".join(str(p) for p in env.server_version),
                "server_version_source": env.version_source,
                "settings": describe(env.settings),
                "revisions": env.revision_count,
                "heads": env.heads,
                "notes": list(getattr(env, "notes", [])),
                **roundtrip_section(env),
            }
            for env in result.environments
        ],
    }


def roundtrip_section(env) -> dict:
    """``{"roundtrip": {...}}`` when the round trip ran for this environment (else nothing): the
    database, revisions tested and skipped, and with --trace each traced revision's lock trace."""
    trip = getattr(env, "roundtrip", None)
    if trip is None:
        return {}
    section = {
        "database": trip.database,
        "environment": trip.environment_mode,
        "tested": trip.tested,
        "skipped": [{"revision": revision, "why": why} for revision, why in trip.skipped],
        "traced": bool(getattr(trip, "traces", None)),
    }
    if section["traced"]:
        from migration_lint.roundtrip.tracing import report_section

        section["revisions"] = report_section(trip.traces)
    return {"roundtrip": section}
