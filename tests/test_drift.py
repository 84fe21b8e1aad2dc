"""models-drift (--drift): the driftapp fixture (tests/fixtures/driftapp) on real SQLite and
PostgreSQL.  Its models differ from its migrations in a column, an index, a server default and an
enum; everything else is the same schema spelt another way and must stay silent."""

import json
import shutil
import sys
from pathlib import Path

import pytest

from conftest import PG_URL, needs_pg, runnable_revision, with_driver, write_tree
from migration_lint import api
from migration_lint.cli import main

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "driftapp"
PG = with_driver(PG_URL)

# the four differences, by object: (subject, what the message must show)
DIFFERENCES = {
    ("column", "user", "phone"): "op.add_column('user', sa.Column('phone', sa.String(length=32), nullable=True))",
    ("column", "account", "credits"): "server_default='10'",
    ("index", "ix_post_title"): "op.create_index(op.f('ix_post_title'), 'post', ['title'], unique=False)",
}


@pytest.fixture
def app(tmp_path, monkeypatch):
    """A copy of the fixture app (its SQLite URL and caches stay out of the repository), with the
    modules it imports forgotten afterwards."""
    root = tmp_path / "driftapp"
    shutil.copytree(FIXTURE, root, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DRIFTAPP_BROKEN", raising=False)
    monkeypatch.delenv("DRIFTAPP_METADATA", raising=False)
    monkeypatch.delenv("DRIFTAPP_HOOK", raising=False)
    yield root
    for name in [n for n in sys.modules if n == "driftapp" or n.startswith("driftapp.")]:
        del sys.modules[name]


def drift(root, db="sqlite", **kwargs):
    roundtrip = kwargs.pop("roundtrip", None)
    return api.check([root], use_cache=False, drift=api.DriftOptions(db=db, **kwargs), roundtrip=roundtrip)


def key(finding):
    subject = finding.subject
    if subject[0] == "column":
        return ("column", subject[2], subject[3])
    if subject[0] == "index":
        return ("index", subject[2])
    return subject[0], subject[-1]


def assert_the_four_differences(result, enum_code):
    findings = [f for f in result.findings if f.rule == "models-drift"]
    by_key = {key(f): f for f in findings}
    assert len(findings) == 4, [f.message for f in findings]
    for wanted, code in DIFFERENCES.items():
        assert code in by_key[wanted].message, by_key[wanted].message
    (enum,) = [f for f in findings if key(f) not in DIFFERENCES]
    assert "'archived'" in enum.message and enum_code in enum.message
    # each points at the model's line
    models = (FIXTURE / "driftapp" / "models.py").read_text().splitlines()
    for finding in findings:
        assert finding.path.endswith("driftapp/models.py")
        line = models[finding.line - 1]
        assert any(word in line for word in ("phone", "credits", "title", "status")), (finding.line, line)
    return findings


def test_fixture_app_on_sqlite(app):
    result = drift(app)
    assert_the_four_differences(result, 'batch_op.create_check_constraint("post_status", "status IN (\'draft\', \'published\', \'archived\')")')
    normalised = "\n".join(result.environments[0].drift.normalised)
    # autogenerate reports these; they are one schema spelt two ways
    assert "account.active server default: (true) and 1" in normalised
    assert "account.note server default" in normalised
    assert "user.bio type: VARCHAR and TEXT" in normalised
    assert not [f for f in result.findings if "legacy_audit" in f.message]  # env.py's include_object
    notes = result.environments[0].notes
    assert any(n.startswith("models-drift: the models of env.py's target_metadata compared with the schema at the heads on throwaway SQLite file") and "4 difference(s); 3 autogenerate" in n for n in notes), notes


@needs_pg()
def test_fixture_app_on_postgresql(app):
    result = drift(app, db=PG)
    assert_the_four_differences(result, "op.execute(\"ALTER TYPE post_status ADD VALUE 'archived'\")")
    normalised = "\n".join(result.environments[0].drift.normalised)
    assert "table spatial_ref_sys: owned by the extension hstore" in normalised
    # a volatile default: autogenerate's SELECT random() = random() says they differ
    assert "account.lucky server default: ((random() * (1000)::double precision))::integer and CAST(random() * 1000 AS INTEGER)" in normalised
    assert "CHECK constraint post_status on post: SQLAlchemy's own CHECK for the Enum type" in normalised
    assert "user.bio type: VARCHAR and TEXT" in normalised
    assert "PostgreSQL 15" in result.environments[0].drift.database or "PostgreSQL" in result.environments[0].drift.database


def test_after_the_round_trip_on_the_same_database(app):
    result = drift(app, roundtrip=api.RoundTripOptions(db="sqlite"))
    env = result.environments[0]
    assert env.roundtrip.tested == 2 and env.roundtrip.clean_end
    assert env.drift.database == env.roundtrip.database  # the same throwaway database
    assert_the_four_differences(result, "batch_op.create_check_constraint")


@needs_pg()
def test_after_the_round_trip_on_postgresql(app):
    result = drift(app, db=PG, roundtrip=api.RoundTripOptions(db=PG))
    env = result.environments[0]
    assert env.roundtrip.tested == 2 and env.drift.database == env.roundtrip.database
    assert not [f for f in result.findings if f.rule != "models-drift" and f.severity == "error" and f.rule.startswith(("roundtrip", "reupgrade", "downgrade"))], [f.message for f in result.findings]
    assert_the_four_differences(result, "ALTER TYPE post_status ADD VALUE")


def test_a_dirty_round_trip_is_rebuilt_before_the_comparison(app):
    """A revision whose downgrade fails leaves the database in no state production has: the
    drift check starts again from an empty database."""
    write_tree(app, {"migrations/versions/0003_bad.py": runnable_revision("0003", "0002", 'op.add_column("user", sa.Column("phone", sa.String(32), nullable=True))', 'op.execute("SELECT * FROM no_such_table")')})
    result = drift(app, roundtrip=api.RoundTripOptions(db="sqlite"))
    env = result.environments[0]
    assert not env.roundtrip.clean_end
    assert "roundtrip-downgrade-failed" in {f.rule for f in result.findings}
    drifted = {key(f) for f in result.findings if f.rule == "models-drift"}
    assert ("column", "user", "phone") not in drifted and len(drifted) == 3  # 0003 adds it


def test_the_command_line(app, capsys):
    assert main(["check", str(app), "--drift", "--db", "sqlite", "--format", "json", "--no-cache"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert sum(1 for f in report["findings"] if f["rule"] == "models-drift") == 4
    assert main(["check", str(app), "--drift", "--db", "sqlite", "--ignore", "models-drift", "--no-cache"]) == 0
    capsys.readouterr()
    assert main(["check", str(app), "--metadata", "driftapp.models:Base.metadata"]) == 2
    assert "--metadata is for --drift" in capsys.readouterr().err
    assert main(["check", str(app), "--drift", "--metadata", "driftapp.models"]) == 2
    assert "expected module:attribute" in capsys.readouterr().err


def test_metadata_given_where_env_py_cannot_run(app, monkeypatch):
    monkeypatch.setenv("DRIFTAPP_BROKEN", "1")
    result = drift(app, metadata="driftapp.models:Base.metadata")
    env = result.environments[0]
    assert env.drift.source.startswith("--metadata driftapp.models:Base.metadata with Alembic's default settings")
    kinds = {key(f) for f in result.findings if f.rule == "models-drift"}
    # Alembic's defaults compare no server defaults; the rest is found (legacy_audit too: no include_object)
    assert ("column", "user", "phone") in kinds and ("index", "ix_post_title") in kinds
    assert ("column", "account", "credits") not in kinds
    assert any("legacy_audit" in f.message for f in result.findings)


def test_env_py_that_cannot_run_and_no_metadata_is_a_note(app, monkeypatch, capsys):
    monkeypatch.setenv("DRIFTAPP_BROKEN", "1")
    assert main(["check", str(app), "--drift", "--db", "sqlite", "--no-cache"]) == 0
    out = capsys.readouterr().out
    assert "models-drift not checked: it needs the project's env.py for target_metadata and its settings, and env.py could not run on its own (RuntimeError: this env.py needs the application's settings)" in " ".join(out.split())
    assert "--metadata module:attr" in out


def test_env_py_process_revision_directives_applies_as_in_alembic_check(app, monkeypatch):
    monkeypatch.setenv("DRIFTAPP_HOOK", "skip-post")
    kinds = {key(f) for f in drift(app).findings if f.rule == "models-drift"}
    assert ("index", "ix_post_title") not in kinds and ("column", "user", "phone") in kinds
    monkeypatch.setenv("DRIFTAPP_HOOK", "raise")
    result = drift(app)
    assert ("index", "ix_post_title") in {key(f) for f in result.findings}
    assert any("process_revision_directives raised RuntimeError" in n and "compared without it" in n for n in result.environments[0].notes)


def test_no_target_metadata_is_a_note(app, monkeypatch):
    monkeypatch.setenv("DRIFTAPP_METADATA", "none")
    result = drift(app)
    assert not result.findings
    assert any("env.py passes no target_metadata to context.configure" in n for n in result.environments[0].notes)


def test_a_project_that_cannot_be_imported_is_one_line_and_exit_2(app, capsys):
    assert main(["check", str(app), "--drift", "--db", "sqlite", "--metadata", "nosuchapp.models:metadata", "--no-cache"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("migration-lint: error: --metadata nosuchapp.models:metadata: cannot import nosuchapp.models: ModuleNotFoundError")
    assert "project must be importable" in err and "\n" not in err
    assert main(["check", str(app), "--drift", "--db", "sqlite", "--metadata", "driftapp.models:Nothing", "--no-cache"]) == 2
    assert "driftapp.models has no Nothing" in capsys.readouterr().err
    assert main(["check", str(app), "--drift", "--db", "sqlite", "--metadata", "driftapp.models:CONVENTION", "--no-cache"]) == 2
    assert "is a dict, not a SQLAlchemy MetaData" in capsys.readouterr().err


def test_an_upgrade_that_fails_without_the_round_trip_is_a_finding(app):
    write_tree(app, {"migrations/versions/0003_bad.py": runnable_revision("0003", "0002", 'op.execute("INSERT INTO no_such_table VALUES (1)")', "pass")})
    result = drift(app)
    (failed,) = [f for f in result.findings if f.rule == "roundtrip-upgrade-failed"]
    assert failed.path.endswith("0003_bad.py") and failed.revision == "0003"
    assert "while the models-drift check brought the database to its heads" in failed.message
    assert not [f for f in result.findings if f.rule == "models-drift"]
    assert any(n.startswith("models-drift not checked: upgrading to the heads failed") for n in result.environments[0].notes)


def test_pytest_plugin_option(app):
    """--migration-lint-drift: the environment's item fails with the drift findings."""
    import subprocess

    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--migration-lint-drift", "--migration-lint-db", "sqlite", "--migration-lint-path", str(app), "-q", "--rootdir", str(app), str(app)],
        capture_output=True, text=True, cwd=app, timeout=120,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "models-drift" in proc.stdout and "op.add_column('user'" in proc.stdout
    assert "1 failed" in proc.stdout
