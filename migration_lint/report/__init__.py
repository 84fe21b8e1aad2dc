"""Renderers: a CheckResult -> text for one output format.  They return strings; cli.py prints."""

FORMATS = ("text", "json", "github", "gitlab", "sarif", "markdown")


def render(result, fmt: str, catalogue, **options) -> str:
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
    """'N revisions, H head(s), checked for DIALECT VERSION (what was assumed)'."""
    version = ".".join(str(p) for p in env.server_version)
    assumed = []
    if env.dialect_source == "default":
        assumed.append(f"dialect assumed; set {set_dialect}")
    if env.version_source == "default":
        assumed.append(f"server version assumed; set {set_version}")
    note = f" ({'; '.join(assumed)})" if assumed else ""
    return f"{env.revision_count} revisions, {len(env.heads)} head(s), checked for {env.dialect} {version}{note}"


def summary(result) -> dict:
    from migration_lint.model import SEVERITIES

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
                "revisions": env.revision_count,
                "heads": env.heads,
                "notes": list(getattr(env, "notes", [])),
            }
            for env in result.environments
        ],
    }
