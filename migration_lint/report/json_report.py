"""JSON: {"findings": [...], "summary": {...}}; paths relative to the working directory."""

from __future__ import annotations

import json

from migration_lint.model import fingerprints
from migration_lint.report import summary


def finding_dict(finding, fp=None) -> dict:
    data = {
        "rule": finding.rule,
        "severity": finding.severity,
        "path": finding.path.replace("\\", "/"),
        "line": finding.line,
        "column": finding.column,
        "end_line": finding.end_line or finding.line,
        "revision": finding.revision,
        "phase": finding.phase,
        "message": finding.message,
        "help": finding.help,
        "environment": finding.environment,
    }
    if fp:
        data["fingerprint"] = fp
    return data


def render_json(result) -> str:
    findings = result.findings
    payload = {
        "findings": [finding_dict(f, fp) for f, fp in zip(findings, fingerprints(findings))],
        "summary": summary(result),
    }
    return json.dumps(payload, indent=2, ensure_ascii=False)
