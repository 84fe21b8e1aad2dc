"""Bugs a fresh-eyes review found in the precision work, each reproduced as it was reported."""

import subprocess
import sys

import pytest

from conftest import ENV_PY, revision_file, write_tree
from migration_lint import api
from migration_lint.api import lint_sources
from migration_lint.config import config_from_mapping
from migration_lint.frontend.alembic_ops import parse_migration

INI = "[alembic]\nscript_location = %(here)s/migrations\n"


def rules(findings, rule):
    return [f for f in findings if f.rule == rule]


def one(upgrade, **kwargs):
    return lint_sources({"v.py": revision_file("r", upgrade=upgrade, downgrade="pass")}, **kwargs)


# --- suppressions and grouped findings ------------------------------------------------------------


def test_a_suppression_on_one_member_keeps_the_group_of_the_others():
    findings = one('op.drop_column("t", "a")\n# migration-lint: ignore[drop-column] unused since 4.2\nop.drop_column("t", "b")\nop.drop_column("t", "c")')
    (group,) = rules(findings, "drop-column")
    assert group.message.startswith("drops 2 columns of t (a, c)")
    assert not rules(findings, "unused-suppression")  # the comment suppressed b's own finding


def test_a_suppressed_import_does_not_hide_the_files_other_imports():
    source = revision_file("r", upgrade="pass", imports="# migration-lint: ignore[imports-application-code] constants only\nfrom myapp.constants import X\nfrom myapp.models import User")
    findings = lint_sources({"v.py": source}, project_packages=("myapp",))
    (finding,) = rules(findings, "imports-application-code")
    assert "myapp.models" in finding.message and "myapp.constants" not in finding.message
    assert not rules(findings, "unused-suppression")


def test_a_drop_in_two_branches_is_one_drop():
    findings = one('if context.is_offline_mode():\n    op.drop_table("t")\nelse:\n    op.drop_table("t")')
    (finding,) = rules(findings, "drop-table")
    assert finding.message.startswith("drops table t:")


# --- what counts as a copy -----------------------------------------------------------------------------


def history(tmp_path, revisions):
    files = {"alembic.ini": INI, "migrations/env.py": ENV_PY}
    previous = None
    for index, body in enumerate(revisions):
        files[f"migrations/versions/r{index}.py"] = revision_file(f"r{index}", previous, upgrade=body, downgrade="pass")
        previous = f"r{index}"
    write_tree(tmp_path, files)
    return api.check([tmp_path], use_cache=False).findings


def test_a_backfill_of_the_column_itself_is_not_a_copy_of_it(tmp_path):
    findings = history(tmp_path, [
        'op.add_column("t", sa.Column("a", sa.Integer()))\nop.execute("UPDATE t SET a = 0 WHERE a IS NULL")',
        'op.drop_column("t", "a")',
    ])
    assert rules(findings, "drop-column")


def test_a_copy_into_another_column_in_an_earlier_revision_is_a_contract_step(tmp_path):
    findings = history(tmp_path, [
        'op.add_column("t", sa.Column("full_name", sa.String(100)))\nop.execute("UPDATE t SET full_name = name")',
        'op.drop_column("t", "name")',
    ])
    assert not rules(findings, "drop-column")


def test_a_table_named_in_a_string_literal_is_not_read():
    findings = one("op.execute(\"INSERT INTO audit (what) VALUES ('users')\")\nop.drop_table(\"users\")")
    assert rules(findings, "drop-table")


def test_a_comment_on_the_column_is_not_a_copy():
    findings = one('op.execute("COMMENT ON COLUMN t.a IS NULL")\nop.drop_column("t", "a")', config=config_from_mapping({"deploy": "offline"}))
    assert rules(findings, "drop-column")


def test_a_table_created_again_and_seeded_has_lost_its_rows():
    findings = one('op.drop_table("t")\nop.create_table("t", sa.Column("id", sa.Integer(), primary_key=True))\nop.execute("INSERT INTO t (id) VALUES (1)")')
    (finding,) = rules(findings, "drop-table")
    assert "creates it again, empty" in finding.message


# --- the front end's names -------------------------------------------------------------------------------


def tables_of(source: str):
    return [(o.kind, o.table) for o in parse_migration(source.encode(), "v.py").operations if o.table]


HEAD = 'from alembic import op\nrevision = "r"\ndown_revision = None\n'


def test_an_argument_named_like_the_parameter_keeps_its_value():
    source = HEAD + 'def _drop(table):\n    op.drop_table(table)\n\ndef upgrade():\n    table = "users"\n    _drop(table)\n'
    assert tables_of(source) == [("drop_table", "users")]


def test_keyword_only_and_positional_only_parameters():
    source = HEAD + (
        'table_name = "users"\n\n'
        'def _kw(*, table_name):\n    op.drop_column(table_name, "a")\n\n'
        'def _pos(t, /):\n    op.drop_column(t, "b")\n\n'
        'def upgrade():\n    _kw(table_name="orders")\n    _pos("items")\n    op.drop_column(table_name, "c")\n'
    )
    assert tables_of(source) == [("drop_column", "orders"), ("drop_column", "items"), ("drop_column", "users")]


def test_loop_variables_and_reassignment_forget_a_literal():
    source = HEAD + (
        'def upgrade():\n'
        '    table = "users"\n'
        '    for table in get_tables():\n'
        '        op.drop_column(table, "legacy")\n'
        '    name = "users"\n'
        '    name = compute()\n'
        '    op.drop_table(name)\n\n'
        'def downgrade():\n'
        '    op.drop_table(name)\n'
    )
    assert tables_of(source) == []


def test_a_statement_variable_reassigned_is_what_it_was_last_set_to():
    source = HEAD + (
        'import sqlalchemy as sa\nT = sa.table("t", sa.column("a"))\n\n'
        'def upgrade():\n'
        '    conn = op.get_bind()\n'
        '    stmt = sa.select(T.c.a)\n'
        '    stmt = sa.text("DROP TABLE t")\n'
        '    conn.execute(stmt)\n'
    )
    assert ("drop_table", "t") in tables_of(source)


def test_two_backfills_on_one_line_keep_both_findings():
    findings = one('op.execute("UPDATE t SET a=1; ALTER TABLE t ADD COLUMN b int; UPDATE t SET b=2")')
    messages = sorted(f.message for f in rules(findings, "backfill-with-ddl"))
    assert len(messages) == 2 and any("runs after" in m for m in messages) and any("runs before" in m for m in messages)


# --- caching, command line --------------------------------------------------------------------------------


def test_the_result_cache_knows_the_size_cap_and_the_other_histories(tmp_path, monkeypatch):
    monkeypatch.setenv("MIGRATION_LINT_CACHE_DIR", str(tmp_path / "cache"))
    big = revision_file("a", upgrade="pass") + "\n# " + "x" * 3000 + "\n"
    write_tree(tmp_path / "p", {"alembic.ini": INI, "migrations/env.py": ENV_PY, "migrations/versions/a.py": big})
    small = config_from_mapping({"max-file-size": "1KB"})
    large = config_from_mapping({"max-file-size": "1MB"})
    assert rules(api.check([tmp_path / "p"], config=small).findings, "file-too-large")
    assert not rules(api.check([tmp_path / "p"], config=large).findings, "file-too-large")
    assert rules(api.check([tmp_path / "p"], config=small).findings, "file-too-large")


def test_start_after_of_another_history_is_not_taken_from_the_cache(tmp_path, monkeypatch):
    from migration_lint.errors import ConfigError

    monkeypatch.setenv("MIGRATION_LINT_CACHE_DIR", str(tmp_path / "cache"))
    for name, revision in (("a", "a0001"), ("b", "b0001")):
        write_tree(tmp_path / name, {"alembic.ini": INI, "migrations/env.py": ENV_PY, f"migrations/versions/{revision}.py": revision_file(revision)})
    config = config_from_mapping({"start-after": "a0001"})
    with pytest.raises(ConfigError):
        api.check([tmp_path / "b"], config=config)
    api.check([tmp_path / "a", tmp_path / "b"], config=config)
    with pytest.raises(ConfigError):
        api.check([tmp_path / "b"], config=config)


def test_a_closed_pipe_keeps_the_exit_code(tmp_path):
    body = "\n".join(f'op.create_index("ix_{i}", "t{i}", ["c"])' for i in range(300))
    write_tree(tmp_path, {"alembic.ini": INI, "migrations/env.py": ENV_PY, "migrations/versions/a.py": revision_file("a", upgrade=body)})
    proc = subprocess.run(f"{sys.executable} -m migration_lint check --no-cache {tmp_path} | head -c 10; exit ${{PIPESTATUS[0]}}", shell=True, executable="/bin/bash", capture_output=True, text=True)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr


def test_sqlite_inferred_from_batch_mode_does_not_also_make_the_project_offline(tmp_path):
    body = 'with op.batch_alter_table("t") as b:\n    b.alter_column("a", new_column_name="b")\nop.create_index("ix_t_c", "t", ["c"])'
    write_tree(tmp_path, {"alembic.ini": INI, "migrations/env.py": ENV_PY, "migrations/versions/a.py": revision_file("a", upgrade=body)})
    (env,) = api.check([tmp_path], use_cache=False).environments
    assert env.settings.dialect == "sqlite" and env.settings.deploy == "online"


def test_a_first_revision_failing_for_its_own_reasons_is_a_failure_not_a_schema_made_elsewhere(tmp_path):
    from conftest import RUNNABLE_ENV_PY, runnable_revision

    body = (
        'meta = sa.MetaData()\n'
        'sa.Table("users", meta, sa.Column("id", sa.Integer, primary_key=True))\n'
        'meta.create_all(op.get_bind())\n'
        'op.add_column("users", sa.Column("x", sa.Integer()))\n'
        'op.execute("INSERT INTO not_there (id) VALUES (1)")'
    )
    write_tree(tmp_path, {"alembic.ini": INI, "migrations/env.py": RUNNABLE_ENV_PY, "migrations/versions/a1.py": runnable_revision("a1", None, body, "pass")})
    result = api.check([tmp_path], dialect="sqlite", use_cache=False, roundtrip=api.RoundTripOptions(db="sqlite"))
    (failed,) = rules(result.findings, "roundtrip-upgrade-failed")
    assert "not_there" in failed.message
    assert not any("starts from a schema made elsewhere" in n for n in result.environments[0].notes)


def test_an_interrupt_keeps_logging_silenced_past_the_round_trips_restore():
    """The CLI silences logging when a signal lands (connections cut mid-statement make the pool
    log tracebacks as they close); the round trip's logging restore must not undo that."""
    import logging

    from migration_lint.roundtrip.runner import _logging_restored

    before = logging.root.manager.disable
    try:
        with _logging_restored():
            logging.disable(logging.CRITICAL)  # what cli._terminate does
        assert logging.root.manager.disable == logging.CRITICAL
        logging.disable(before)
        with _logging_restored():
            assert logging.root.manager.disable >= logging.INFO
        assert logging.root.manager.disable == before  # a normal run restores what it found
    finally:
        logging.disable(before)
