"""Running the valid/invalid examples of a rule file (ours and users' rule packs alike).

An example is a migration body, or a mapping with ``code`` or ``files`` and options::

    invalid:
      - |
        def upgrade():
            op.create_index("ix_user_email", "user", ["email"])  # expect
      - code: ...
        dialect: mysql            # also: server_version, config, env, project_packages
    valid:
      - files: {a.py: ..., b.py: ...}

A file without a ``revision =`` header gets one (a base revision).  In an invalid example, lines
that end with ``# expect`` are exactly the lines the rule must report; with no marker, at least one
finding is required.  A valid example must give no finding of the rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from migration_lint.catalogue import Catalogue, Rule
from migration_lint.config import config_from_mapping, parse_version

HEADER = '''from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "{revision}"
down_revision = None
branch_labels = None
depends_on = None

'''
EXPECT = re.compile(r"#\s*expect\b")


@dataclass
class ExampleResult:
    ok: bool
    detail: str


def example_sources(item) -> Tuple[Dict[str, str], dict]:
    if isinstance(item, str):
        item = {"code": item}
    if "files" in item:
        files = dict(item["files"])
    else:
        files = {"example.py": item["code"]}
    sources = {}
    for index, (name, code) in enumerate(files.items()):
        if not re.search(r"^revision\s*(:[^=]*)?=", code, re.M):
            code = HEADER.format(revision=f"rev{index:03d}") + code
        sources[name] = code
    return sources, item


def run_example(rule: Rule, item, valid: bool, catalogue: Optional[Catalogue] = None) -> ExampleResult:
    from migration_lint.api import lint_sources

    sources, options = example_sources(item)
    dialect = options.get("dialect") or (rule.dialects[0] if rule.dialects else "postgresql")
    version = parse_version(options["server_version"]) if options.get("server_version") else None
    config = config_from_mapping(options.get("config") or {}, f"{rule.name} example")
    kwargs = {"dialect": dialect, "config": config, "env_settings": options.get("env") or {}, "catalogue": catalogue, "project_packages": options.get("project_packages") or ()}
    if version:
        kwargs["server_version"] = version
    findings = [f for f in lint_sources(sources, **kwargs) if f.rule == rule.name]
    got = sorted((f.path, f.line) for f in findings)
    if valid:
        if findings:
            return ExampleResult(False, f"valid example gave {len(findings)} finding(s): " + "; ".join(f"{f.path}:{f.line} {f.message}" for f in findings))
        return ExampleResult(True, "")
    expected = sorted(
        (name, number)
        for name, code in sources.items()
        for number, line in enumerate(code.splitlines(), start=1)
        if EXPECT.search(line)
    )
    if not findings:
        return ExampleResult(False, "invalid example gave no finding")
    if expected and got != expected:
        return ExampleResult(False, f"expected findings at {expected}, got {got}: " + "; ".join(f.message for f in findings))
    return ExampleResult(True, "")


def all_examples(catalogue: Catalogue) -> List[Tuple[Rule, str, int, object]]:
    cases = []
    for rule in catalogue:
        for kind in ("invalid", "valid"):
            for index, item in enumerate(rule.examples.get(kind) or []):
                cases.append((rule, kind, index, item))
    return cases
