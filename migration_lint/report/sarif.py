"""SARIF 2.1.0 with rule metadata and stable fingerprints (for GitHub code scanning)."""

from __future__ import annotations

import json
from pathlib import Path

from migration_lint import __version__

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"error": "error", "warning": "warning", "info": "note"}


def _rule_descriptor(rule) -> dict:
    docs = rule.docs
    markdown = [f"**{rule.summary}**", "", str(docs.get("what", "")).strip(), "", "**Why is this bad?**", str(docs.get("why", "")).strip()]
    if docs.get("use_instead"):
        markdown += ["", "**Use instead:**", "```python", str(docs["use_instead"]).rstrip(), "```"]
    return {
        "id": rule.name,
        "name": "".join(part.capitalize() for part in rule.name.split("-")),
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": " ".join(str(docs.get("what", rule.summary)).split())},
        **({"helpUri": rule.docs_url()} if rule.docs_url() else {}),
        "help": {"text": rule.fix or rule.summary, "markdown": "\n".join(markdown)},
        "defaultConfiguration": {"level": LEVELS[rule.severity]},
        "properties": {"tags": [rule.category] + list(rule.dialects or [])},
    }


def render_sarif(result, catalogue) -> str:
    findings = result.findings
    rule_names = [r.name for r in catalogue]
    index = {name: i for i, name in enumerate(rule_names)}
    rules = [_rule_descriptor(catalogue.get(name)) for name in rule_names]
    results = []
    for finding in findings:
        region = {"startLine": finding.line, "startColumn": max(finding.column, 1)}
        if finding.end_line and finding.end_line >= finding.line:
            region["endLine"] = finding.end_line
        text = _sentence(finding.message) + (f" [{finding.trace}]" if finding.trace else "") + (f" Fix: {_sentence(finding.help)}" if finding.help else "")
        reference = {"ruleIndex": index[finding.rule]} if finding.rule in index else {}  # unknown rules: id only
        results.append(
            {
                "ruleId": finding.rule,
                **reference,
                "level": LEVELS[finding.severity],
                "message": {"text": text},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": finding.path.replace("\\", "/"), "uriBaseId": "%SRCROOT%"},
                            "region": region,
                        }
                    }
                ],
                **({"partialFingerprints": {"migrationLint/v2": finding.fingerprint}} if finding.fingerprint else {}),
                "properties": {"revision": finding.revision, "phase": finding.phase, "environment": finding.environment},
            }
        )
    log = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "migration-lint",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": "https://github.com/migration-lint/migration-lint",
                        "rules": rules,
                    }
                },
                # Paths are relative to where migration-lint ran (``../`` when it ran inside the
                # project): the base's absolute URI lets a viewer resolve every one of them.
                "originalUriBaseIds": {"%SRCROOT%": {"uri": Path.cwd().as_uri().rstrip("/") + "/", "description": {"text": "The directory migration-lint ran in"}}},
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2, ensure_ascii=False)


def _sentence(text: str) -> str:
    """Messages and fixes are written without a final full stop; joined into one SARIF text they
    need one, or the fix reads as part of the message."""
    text = text.rstrip()
    return text if not text or text[-1] in ".!?:)]`'\"" else text + "."
