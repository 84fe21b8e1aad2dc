"""JSON: {"findings": [...], "summary": {...}}; paths relative to the working directory."""

from __future__ import annotations

import json

from migration_lint.report import summary


def finding_dict(finding) -> dict:
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
    if finding.fingerprint:
        data["fingerprint"] = finding.fingerprint
    if finding.trace:  # --roundtrip --trace: what the lock trace saw at a static locking finding
        data["trace"] = finding.trace
    return data


def render_json(result) -> str:
    """One finding per line inside an indented document: as readable as ``indent=2`` and written
    by the C encoder (``indent`` forces the pure-Python one, slow on thousands of findings)."""
    findings = result.findings
    rows = [json.dumps(finding_dict(f), ensure_ascii=False) for f in findings]
    summary_text = json.dumps(summary(result), indent=2, ensure_ascii=False).replace("\n", "\n  ")
    body = ",\n    ".join(rows)
    findings_text = f"[\n    {body}\n  ]" if rows else "[]"
    return f'{{\n  "findings": {findings_text},\n  "summary": {summary_text}\n}}'
