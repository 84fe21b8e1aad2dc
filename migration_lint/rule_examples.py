"""Running the valid/invalid examples of a rule file (ours and users' rule packs alike).

An example is a migration body, or a mapping with ``code`` or ``files`` and options::

    invalid:
      - |
        def upgrade():
            op.create_index("ix_user_email", "user", ["email"])  # expect
      - code: ...
        dialect: mysql            # also: server_version, config, env, project_packages, pinned_modules
    valid:
      - files: {a.py: ..., b.py: ...}
      - env_py: ...               # the environment's env.py (its lines may carry # expect), with
        code: ...                 # optional revision files beside it

An example with ``models`` (Python source defining ``metadata``) is a project whose env.py
passes that metadata (and ``configure``: more keywords for ``context.configure``) to Alembic, checked
with ``--drift``; ``# expect`` may mark its lines too.

A file without a ``revision =`` header gets one (a base revision).  In an invalid example, lines
that end with ``# expect`` are exactly the lines the rule must report; with no marker, at least one
finding is required.  ``# expect: warning, words`` also claims the finding's severity and a part of
its message (either may be left out: ``# expect: words``), and the example fails when it does not
hold.  A valid example must give no finding of the rule.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from migration_lint import api
from migration_lint.api import lint_sources
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


EXAMPLE_ENV_PY = """from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config
connection = config.attributes.get("connection")
if connection is not None:
    context.configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = engine_from_config(config.get_section(config.config_ini_section), prefix="sqlalchemy.", poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
"""


SERVER_DIALECTS = ("postgresql", "mysql")


def needs_server(item) -> Optional[str]:
    """The dialect of the server an example runs on (``db: postgresql`` / ``db: mysql``), if any."""
    db = item.get("db") if isinstance(item, dict) else None
    return db if db in SERVER_DIALECTS else None


DRIFT_ENV_PY = """from alembic import context
from sqlalchemy import engine_from_config, pool

import {module} as models

config = context.config
options = dict(target_metadata=models.metadata, compare_server_default=True, **{configure!r})


def run(connection):
    context.configure(connection=connection, **options)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    engine = engine_from_config(config.get_section(config.config_ini_section), prefix="sqlalchemy.", poolclass=pool.NullPool)
    with engine.connect() as connection:
        run(connection)
"""


def _drift_findings(rule: Rule, sources: Dict[str, str], options: dict) -> list:
    """models-drift: the example's migrations and models become a project, checked with --drift."""
    import sys
    import uuid

    module = "example_models_" + uuid.uuid4().hex[:12]  # a module name of its own: imports are cached
    with tempfile.TemporaryDirectory(prefix="migration-lint-example-") as tmp:
        root = Path(tmp)
        (root / "migrations" / "versions").mkdir(parents=True)
        (root / "migrations" / "env.py").write_text(DRIFT_ENV_PY.format(module=module, configure=dict(options.get("configure") or {})), encoding="utf-8")
        (root / f"{module}.py").write_text(options["models"], encoding="utf-8")
        for name, code in sources.items():
            (root / "migrations" / "versions" / name).write_text(code, encoding="utf-8")
        drift = api.DriftOptions(db=options.get("db", "sqlite"))
        try:
            result = api.check([root / "migrations"], dialect=options.get("dialect", "sqlite"), use_cache=False, drift=drift, config=config_from_mapping({"select": [rule.name]}))
        finally:
            sys.modules.pop(module, None)
        return [(Path(f.path).name.replace(module, "models"), f) for f in result.findings if f.rule == rule.name]


def _roundtrip_findings(rule: Rule, sources: Dict[str, str], options: dict, catalogue, servers: Optional[Dict[str, str]] = None) -> list:
    """Round-trip rules: the example becomes a project and really runs (on SQLite by default).
    ``db: postgresql`` runs it on the server ``servers['postgresql']`` names (else ``auto``);
    ``trace: true`` adds the lock trace."""
    with tempfile.TemporaryDirectory(prefix="migration-lint-example-") as tmp:
        root = Path(tmp)
        (root / "migrations" / "versions").mkdir(parents=True)
        (root / "migrations" / "env.py").write_text(EXAMPLE_ENV_PY, encoding="utf-8")
        for name, code in sources.items():
            (root / "migrations" / "versions" / name).write_text(code, encoding="utf-8")
        db = options.get("db", "sqlite")
        if db in SERVER_DIALECTS:
            db = (servers or {}).get(db) or "auto"
        trip = api.RoundTripOptions(db=db, env=options.get("env_mode", "auto"), trace=bool(options.get("trace")))
        result = api.check([root / "migrations"], dialect=options.get("dialect", "sqlite"), use_cache=False, roundtrip=trip, config=config_from_mapping({"select": [rule.name]}))
        return [(Path(f.path).name, f) for f in result.findings if f.rule == rule.name]


def _change_findings(rule: Rule, item: dict) -> Tuple[Dict[str, str], list]:
    """Changed-only rules: ``base`` files are committed to a scratch git repository, ``head``
    files (null deletes one) are the working tree, and the check runs with --diff-base HEAD."""
    with tempfile.TemporaryDirectory(prefix="migration-lint-example-") as tmp:
        root = Path(tmp)
        versions = root / "migrations" / "versions"
        versions.mkdir(parents=True)
        (root / "migrations" / "env.py").write_text(EXAMPLE_ENV_PY, encoding="utf-8")
        base, _ = example_sources({"files": item["base"]})
        for name, code in base.items():
            (versions / name).write_text(code, encoding="utf-8")
        git = ["git", "-c", "user.name=example", "-c", "user.email=example@example.invalid", "-c", "commit.gpgsign=false"]
        for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "base"]):
            subprocess.run(git + args, cwd=root, check=True, capture_output=True)
        head = {}
        for name, code in (item.get("head") or {}).items():
            if code is None:
                (versions / name).unlink()
                continue
            full, _ = example_sources({"files": {name: code}})
            head.update(full)
            (versions / name).write_text(full[name], encoding="utf-8")
        result = api.check([root / "migrations"], use_cache=False, diff_base="HEAD", config=config_from_mapping({"select": [rule.name]}))
        return head, [(Path(f.path).name, f) for f in result.findings if f.rule == rule.name]


def _env_findings(rule: Rule, sources: Dict[str, str], options: dict) -> list:
    """Rules that read env.py: the example's ``env_py`` becomes the environment's env.py (read, as
    always, without running it), beside its revision files."""
    with tempfile.TemporaryDirectory(prefix="migration-lint-example-") as tmp:
        root = Path(tmp)
        (root / "migrations" / "versions").mkdir(parents=True)
        (root / "migrations" / "env.py").write_text(options["env_py"], encoding="utf-8")
        for name, code in sources.items():
            (root / "migrations" / "versions" / name).write_text(code, encoding="utf-8")
        config = config_from_mapping({**(options.get("config") or {}), "select": [rule.name]}, f"{rule.name} example")
        dialect = options.get("dialect") or (rule.dialects[0] if rule.dialects else "postgresql")
        result = api.check([root / "migrations"], dialect=dialect, use_cache=False, config=config)
        return [(Path(f.path).name, f) for f in result.findings if f.rule == rule.name]


def run_example(rule: Rule, item, valid: bool, catalogue: Optional[Catalogue] = None, servers: Optional[Dict[str, str]] = None) -> ExampleResult:
    if isinstance(item, dict) and "base" in item:
        head, named = _change_findings(rule, item)
        return _judge(head, [f for _, f in named], sorted((name, f.line) for name, f in named), valid)
    if isinstance(item, dict) and "env_py" in item:
        sources, options = example_sources(item if "code" in item or "files" in item else {**item, "code": "def upgrade():\n    pass\n"})
        named = _env_findings(rule, sources, options)
        return _judge({**sources, "env.py": options["env_py"]}, [f for _, f in named], sorted((name, f.line) for name, f in named), valid)
    sources, options = example_sources(item)
    if "models" in options:
        named = _drift_findings(rule, sources, options)
        judged = {**sources, "models.py": options["models"]}
        return _judge(judged, [f for _, f in named], sorted((name, f.line) for name, f in named), valid)
    if rule.category == "roundtrip" or rule.produced_by == "roundtrip":
        named = _roundtrip_findings(rule, sources, options, catalogue, servers)
        return _judge(sources, [f for _, f in named], sorted((name, f.line) for name, f in named), valid)
    dialect = options.get("dialect") or (rule.dialects[0] if rule.dialects else "postgresql")
    version = parse_version(options["server_version"]) if options.get("server_version") else None
    settings = dict(options.get("config") or {})
    if rule.opt_in:  # an opt-in rule runs when selected
        settings["select"] = [*settings.get("select", []), rule.name]
    config = config_from_mapping(settings, f"{rule.name} example")
    kwargs = {"dialect": dialect, "config": config, "env_settings": options.get("env") or {}, "catalogue": catalogue, "project_packages": options.get("project_packages") or (), "project_types": options.get("project_types") or (), "pinned_modules": options.get("pinned_modules") or ()}
    if version:
        kwargs["server_version"] = version
    findings = [f for f in lint_sources(sources, **kwargs) if f.rule == rule.name]
    return _judge(sources, findings, sorted((f.path, f.line) for f in findings), valid)


def _judge(sources: Dict[str, str], findings: list, got: list, valid: bool) -> ExampleResult:
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
    # `# expect: warning, words of the message`: the severity and a part of the message are
    # claims the finding on that line must bear out
    for name, code in sources.items():
        for number, line in enumerate(code.splitlines(), start=1):
            said = EXPECT_SAID.search(line)
            if not said:
                continue
            severity, words = _expectation(said.group(1))
            here = [f for f in findings if (f.path, f.line) == (name, number)]
            if severity and not any(f.severity == severity for f in here):
                return ExampleResult(False, f"line {number}: expected a {severity}, got " + "; ".join(f"{f.severity}: {f.message}" for f in here))
            if words and not any(words in f.message for f in here):
                return ExampleResult(False, f"line {number}: expected a message with {words!r}, got " + "; ".join(f.message for f in here))
    return ExampleResult(True, "")


EXPECT_SAID = re.compile(r"#\s*expect:\s*(.+?)\s*$")


def _expectation(text: str) -> Tuple[str, str]:
    """('error' | 'warning' | 'info' | '', the words the message must contain) of an expect note."""
    first, _, rest = text.partition(",")
    if first.strip() in ("error", "warning", "info"):
        return first.strip(), rest.strip()
    return "", text.strip()


def all_examples(catalogue: Catalogue) -> List[Tuple[Rule, str, int, object]]:
    cases = []
    for rule in catalogue:
        for kind in ("invalid", "valid"):
            for index, item in enumerate(rule.examples.get(kind) or []):
                cases.append((rule, kind, index, item))
    return cases
