"""Knowing the project before judging it: the dialect from the history's own code, the downgrade
policy from script.py.mako and the revisions, the deploy model from the config."""

from pathlib import Path

from conftest import ENV_PY, revision_file, write_tree
from migration_lint import api
from migration_lint.config import config_from_mapping

INI = "[alembic]\nscript_location = %(here)s/migrations\n"


def project(root: Path, revisions: dict, ini: str = INI, env_py: str = ENV_PY, mako: str = None) -> Path:
    files = {"alembic.ini": ini, "migrations/env.py": env_py, **{f"migrations/versions/{n}": t for n, t in revisions.items()}}
    if mako is not None:
        files["migrations/script.py.mako"] = mako
    return write_tree(root, files)


def settings_of(root, **kwargs):
    (env,) = api.check([root], use_cache=False, **kwargs).environments
    return env


MYSQL = revision_file("m", upgrade='op.add_column("t", sa.Column("c", mysql.TINYINT(1)))', imports="from sqlalchemy.dialects import mysql")
MYSQL2 = revision_file("n", "m", upgrade='op.execute("ALTER TABLE `t` ADD COLUMN d int")')
PG = revision_file("p", "n", upgrade='op.create_index("ix", "t", ["c"], postgresql_concurrently=True)')
SQLITE = revision_file("s", "p", upgrade='with op.batch_alter_table("t") as b:\n    b.drop_column("c")')


def test_the_dialect_with_specific_code_in_most_revisions_wins_and_the_header_says_so(tmp_path):
    project(tmp_path, {"m.py": MYSQL, "n.py": MYSQL2, "p.py": PG})
    env = settings_of(tmp_path)
    assert env.dialect == "mysql"
    source = env.dialect_source
    assert source.startswith("inferred from 2 files with MySQL/MariaDB-specific code, e.g. ") and "m.py:" in source
    assert "also seen: PostgreSQL in 1" in source


def test_a_tie_goes_to_postgresql_and_no_evidence_is_the_default(tmp_path):
    project(tmp_path / "tie", {"m.py": MYSQL, "p.py": revision_file("p", "m", upgrade='op.create_index("ix", "t", ["c"], postgresql_concurrently=True)')})
    assert settings_of(tmp_path / "tie").dialect == "postgresql"
    project(tmp_path / "none", {"a.py": revision_file("a", upgrade='op.drop_table("t")')})
    env = settings_of(tmp_path / "none")
    assert (env.dialect, env.dialect_source) == ("postgresql", "default")


def test_batch_mode_is_sqlite_evidence(tmp_path):
    project(tmp_path, {"s.py": SQLITE.replace('"p"', "None")})
    assert settings_of(tmp_path).dialect == "sqlite"


def test_stated_dialects_beat_evidence_but_a_url_env_py_replaces_does_not(tmp_path):
    mysql_only = {"m.py": MYSQL, "n.py": MYSQL2}
    project(tmp_path / "a", mysql_only, ini=INI + "sqlalchemy.url = postgresql://u@h/db\n")
    assert settings_of(tmp_path / "a").dialect == "postgresql"  # alembic.ini says so
    assert settings_of(tmp_path / "a", config=config_from_mapping({"dialect": "sqlite"})).dialect == "sqlite"
    project(tmp_path / "b", mysql_only, ini=INI + "sqlalchemy.url = sqlite:///will/be/overridden\n")
    assert settings_of(tmp_path / "b").dialect == "mysql"  # a placeholder says nothing
    replaced = ENV_PY.replace("config = context.config\n", "config = context.config\nconfig.set_main_option('sqlalchemy.url', app_url())\n")
    project(tmp_path / "c", mysql_only, ini=INI + "sqlalchemy.url = postgresql://u@h/db\n", env_py=replaced)
    assert settings_of(tmp_path / "c").dialect == "mysql"  # env.py replaces it
    project(tmp_path / "d", {"a.py": revision_file("a")}, ini=INI + "sqlalchemy.url = postgresql://u@h/db\n", env_py=replaced)
    env = settings_of(tmp_path / "d")
    assert env.dialect == "postgresql" and "which env.py replaces at run time" in env.dialect_source  # the weakest hint still counts


def test_mysql_evidence_in_env_py_counts(tmp_path):
    env_py = ENV_PY.replace("config = context.config\n", "config = context.config\nMYSQL_ENGINE = dict(mysql_engine='InnoDB')\n")
    project(tmp_path, {"a.py": revision_file("a")}, env_py=env_py)
    assert settings_of(tmp_path).dialect == "mysql"


MAKO = '''revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}

def upgrade():
    ${upgrades if upgrades else "pass"}
'''


def test_downgrade_policy_from_script_py_mako_and_the_revisions(tmp_path, capsys):
    no_downgrade = {"a.py": "revision = 'a'\ndown_revision = None\ndef upgrade():\n    op.create_table('t', sa.Column('id', sa.Integer()))\n"}
    project(tmp_path / "mako", no_downgrade, mako=MAKO)
    env = settings_of(tmp_path / "mako")
    assert env.settings.downgrades == "optional" and "writes no downgrade()" in env.settings.source_of("downgrades")
    assert not [f for f in env.findings if f.rule == "missing-downgrade"]
    said = MAKO + '\n\ndef downgrade():\n    # pgAdmin only upgrades, downgrade not implemented.\n    ${downgrades if downgrades else "pass"}\n'
    project(tmp_path / "said", {"a.py": revision_file("a", upgrade='op.create_table("t", sa.Column("id", sa.Integer()))')}, mako=said)
    env = settings_of(tmp_path / "said")
    assert env.settings.downgrades == "optional" and "says downgrades are not written" in env.settings.source_of("downgrades")
    assert not [f for f in env.findings if f.rule == "empty-downgrade"]
    many = {f"r{i}.py": f"revision = 'r{i}'\ndown_revision = {repr(f'r{i-1}') if i else None}\ndef upgrade():\n    pass\n" for i in range(12)}
    project(tmp_path / "many", many)
    env = settings_of(tmp_path / "many")
    assert env.settings.downgrades == "optional" and "12 of 12 revisions have no downgrade()" in env.settings.source_of("downgrades")
    project(tmp_path / "kept", many, mako=MAKO)  # the config says otherwise: it wins
    env = settings_of(tmp_path / "kept", config=config_from_mapping({"downgrades": "required"}))
    assert env.settings.downgrades == "required" and [f for f in env.findings if f.rule == "missing-downgrade"]


LOCKS_AND_FAILURES = {
    "a.py": revision_file("a", upgrade='op.create_table("t", sa.Column("id", sa.Integer(), primary_key=True))'),
    "b.py": revision_file("b", "a", upgrade='op.create_index("ix", "t", ["id"])\nop.add_column("t", sa.Column("c", sa.Integer(), nullable=False))\nop.alter_column("t", "id", new_column_name="pk")'),
}


def test_deploy_offline_turns_lock_and_running_code_rules_off_and_keeps_failures(tmp_path, capsys):
    from migration_lint.cli import main

    project(tmp_path, LOCKS_AND_FAILURES)
    online = {f.rule for f in settings_of(tmp_path).findings}
    assert {"create-index-not-concurrently", "missing-lock-timeout", "rename-column", "add-column-not-null-without-default"} <= online
    offline = settings_of(tmp_path, config=config_from_mapping({"deploy": "offline"}))
    assert {f.rule for f in offline.findings} == online - {"create-index-not-concurrently", "missing-lock-timeout", "rename-column"}
    main(["check", str(tmp_path), "--deploy", "offline", "--no-cache", "--exit-zero"])
    out = " ".join(capsys.readouterr().out.split())
    assert "lock rules off: deploy = offline (--deploy)" in out
    main(["explain", "create-index-not-concurrently"])
    assert "a lock rule: off under deploy = offline" in capsys.readouterr().out


def test_sqlite_histories_are_taken_as_offline_unless_the_config_says_online(tmp_path, capsys):
    from migration_lint.cli import main

    body = 'op.alter_column("account", "name", new_column_name="full_name")'
    project(tmp_path, {"a.py": revision_file("a", upgrade=body, downgrade="pass")})
    assert not [f for f in settings_of(tmp_path, dialect="sqlite").findings if f.rule == "rename-column"]
    online = settings_of(tmp_path, dialect="sqlite", config=config_from_mapping({"deploy": "online"}))
    assert [f for f in online.findings if f.rule == "rename-column"]
    main(["check", str(tmp_path), "--dialect", "sqlite", "--no-cache", "--exit-zero"])
    out = " ".join(capsys.readouterr().out.split())
    assert "lock rules off: deploy = offline (inferred: SQLite is embedded" in out


def test_large_tables_limit_lock_rules_to_the_tables_listed(tmp_path, capsys):
    from migration_lint.cli import main

    body = """op.create_index("ix_country_code", "country", ["code"])
op.create_index("ix_order_user", "order", ["user_id"])
op.create_index("ix_event_at", "event_2024", ["at"], schema="audit")
op.execute(f"CREATE INDEX ix_{name} ON {name} (x)")
op.drop_column("country", "legacy")"""
    project(tmp_path, {"a.py": revision_file("a", upgrade=body, downgrade="pass", extra_header='name = compute()')})
    every = [f for f in settings_of(tmp_path).findings if f.rule == "create-index-not-concurrently"]
    assert len(every) == 4  # country, order, audit.event_2024 and the f-string's table
    listed = settings_of(tmp_path, config=config_from_mapping({"large-tables": ["order", "audit.event_*"]}))
    # country is not listed; a table whose name is not known statically is assumed large
    assert {f.line for f in listed.findings if f.rule == "create-index-not-concurrently"} == {f.line for f in every if "country" not in f.message}
    assert len([f for f in listed.findings if f.rule == "create-index-not-concurrently"]) == 3
    assert any(f.rule == "drop-column" for f in listed.findings)  # data loss is not a lock: still reported
    none_large = settings_of(tmp_path, config=config_from_mapping({"large-tables": ["nothing_here"]}))
    assert [f.line for f in none_large.findings if f.rule == "create-index-not-concurrently"] == [15]  # only the unknown table (line 4 of upgrade())
    (tmp_path / ".migration-lint.yaml").write_text("large-tables: [order]\n")
    main(["check", str(tmp_path), "--no-cache", "--exit-zero"])
    out = " ".join(capsys.readouterr().out.split())
    assert "lock rules only on the 1 large table the config lists" in out
    (tmp_path / ".migration-lint.yaml").write_text("large-tables: 3\n")
    assert main(["check", str(tmp_path), "--no-cache"]) == 2
    assert "large-tables must be a list of table names" in capsys.readouterr().err


def test_transient_tables_are_small_and_their_in_flight_rows_fail_no_downgrade(tmp_path, capsys):
    """quay's blobupload (rows deleted when the upload is done): its downgrade's narrowing and a
    UNIQUE it restores are not reported, nor its locks; a NOT NULL column without a default still
    is (any row in flight makes it fail), and so is the same on another table."""
    from migration_lint.cli import main

    upgrade = """op.alter_column("blobupload", "byte_count", existing_type=sa.Integer(), type_=sa.BigInteger())
op.drop_constraint("uq_upload_uuid", "blobupload", type_="unique")
op.create_index("ix_blobupload_repo", "blobupload", ["repository_id"])
op.add_column("blobupload", sa.Column("region", sa.String(20), nullable=False))"""
    downgrade = """op.alter_column("blobupload", "byte_count", existing_type=sa.BigInteger(), type_=sa.Integer())
op.create_unique_constraint("uq_upload_uuid", "blobupload", ["uuid"])"""
    project(tmp_path, {"a.py": revision_file("a", upgrade=upgrade, downgrade=downgrade)})
    wanted = {"narrow-column-type", "downgrade-restores-unique", "create-index-not-concurrently", "add-column-not-null-without-default"}
    every = {f.rule for f in settings_of(tmp_path).findings} & wanted
    assert every == wanted
    transient = {f.rule for f in settings_of(tmp_path, config=config_from_mapping({"transient-tables": ["blob*"]})).findings} & wanted
    assert transient == {"add-column-not-null-without-default"}
    (tmp_path / ".migration-lint.yaml").write_text("transient-tables: [blobupload, uploadedblob]\n")
    main(["check", str(tmp_path), "--no-cache", "--exit-zero"])
    out = " ".join(capsys.readouterr().out.split())
    assert "2 tables the config lists as transient" in out
    (tmp_path / ".migration-lint.yaml").write_text("transient-tables: {blobupload: 1}\n")
    assert main(["check", str(tmp_path), "--no-cache"]) == 2
    assert "transient-tables must be a list of table names" in capsys.readouterr().err


def test_also_dialects_checks_the_other_databases_a_project_supports(tmp_path, capsys):
    """CTFd f73a96c97449 (round 11, a miss): a NOT NULL column without a default is fine on MySQL
    (strict mode fills the implicit default) and fails on PostgreSQL, which CTFd supports too.
    With also-dialects the PostgreSQL failure is reported, saying so; what both databases report
    is reported once; each finding keeps its own identity."""
    from migration_lint.cli import main

    body = 'op.add_column("challenges", sa.Column("logic", sa.String(80), nullable=False))\nop.drop_column("challenges", "legacy")'
    project(tmp_path, {"a.py": revision_file("a", upgrade=body, downgrade="pass")})
    mysql = settings_of(tmp_path, dialect="mysql")
    assert "add-column-not-null-without-default" not in {f.rule for f in mysql.findings}
    both = settings_of(tmp_path, dialect="mysql", config=config_from_mapping({"also-dialects": ["postgresql", "mysql"]}))
    assert both.settings.also_dialects == ("postgresql",)  # the history's own dialect is not repeated
    (added,) = [f for f in both.findings if f.rule == "add-column-not-null-without-default"]
    assert added.message.startswith("on PostgreSQL: adds NOT NULL column challenges.logic")
    assert [f.rule for f in both.findings].count("drop-column") == 1  # both report it: once, unprefixed
    assert not [f for f in both.findings if f.rule == "drop-column"][0].message.startswith("on ")
    assert "dialect" in added.subject and len({f.fingerprint for f in both.findings}) == len(both.findings)
    # the fix for one database of several comes inside a guard
    (timeout,) = [f for f in both.findings if f.rule == "missing-lock-timeout"]
    assert "dialect guard" in timeout.help
    (tmp_path / ".migration-lint.yaml").write_text("dialect: mysql\nalso-dialects: [postgresql, sqlite]\n")
    main(["check", str(tmp_path), "--no-cache", "--exit-zero"])
    out = " ".join(capsys.readouterr().out.split())
    assert "also checked for PostgreSQL and SQLite (config also-dialects)" in out
    # PostgreSQL-only SQL left unguarded, in a history that also runs on MySQL (quay e8ed3fb547da's downgrade)
    sequence = revision_file("b", "a", upgrade='op.execute("ALTER SEQUENCE manifestblob_id_seq AS BIGINT")', downgrade="pass")
    project(tmp_path, {"a.py": revision_file("a", upgrade=body, downgrade="pass"), "b.py": sequence})
    (tmp_path / ".migration-lint.yaml").unlink()
    pg = settings_of(tmp_path, dialect="postgresql", config=config_from_mapping({"also-dialects": ["mysql"]}))
    (unread,) = [f for f in pg.findings if f.rule == "raw-sql-unanalyzed"]
    assert unread.message.startswith("on MySQL/MariaDB: ") and "the migration fails there" in unread.message
    (tmp_path / ".migration-lint.yaml").write_text("also-dialects: [oracle]\n")
    assert main(["check", str(tmp_path), "--no-cache"]) == 2
    assert "also-dialects: unknown dialect 'oracle'" in capsys.readouterr().err


# --- reading what is written ----------------------------------------------------------------------


def lint(body, **kwargs):
    from migration_lint.api import lint_sources

    return lint_sources({"v.py": revision_file("r", upgrade=body, downgrade="pass")}, **kwargs)


def test_dialect_branches_written_through_helpers_variables_and_urls():
    from migration_lint.frontend.alembic_ops import parse_migration

    source = b'''from alembic import op
revision = "a"
down_revision = None

def is_postgres():
    return op.get_context().dialect.name == "postgresql"

def upgrade():
    bind = op.get_bind()
    url = str(bind.engine.url)
    dialect = bind.dialect.name
    if url.startswith("mysql"):
        op.drop_table("a")
    if is_postgres():
        op.drop_table("b")
    else:
        op.drop_table("c")
    if dialect == "sqlite":
        op.drop_table("d")
    if "mariadb" in str(op.get_bind().engine.url):
        op.drop_table("e")
    if not context.is_offline_mode():
        op.drop_table("f")
'''
    ops = {o.table: o for o in parse_migration(source, "v.py").operations}
    assert ops["a"].dialects == ("mysql",) and ops["b"].dialects == ("postgresql",)
    assert ops["c"].not_dialects == ("postgresql",) and ops["d"].dialects == ("sqlite",) and ops["e"].dialects == ("mysql",)
    assert "offline" not in ops["f"].context
    from migration_lint.api import lint_sources

    (dropped,) = [f for f in lint_sources({"v.py": source.decode()}, dialect="sqlite") if f.rule == "drop-table"]
    # one finding for the revision's drops: c (not PostgreSQL), d (SQLite), f; MySQL's and PostgreSQL's branches do not run
    assert dropped.line == 17 and dropped.message.startswith("drops 3 tables (c, d, f)")


def test_what_a_helper_does_is_reported_at_its_call_in_upgrade_in_call_order():
    from migration_lint.api import lint_sources

    source = '''from alembic import op
import sqlalchemy as sa
revision = "r"
down_revision = None

def upgrade():
    backfill()
    op.alter_column("account", "status", nullable=False)

def backfill():
    op.execute("UPDATE account SET status = 'active' WHERE status IS NULL")
'''
    findings = lint_sources({"v.py": source}, config=config_from_mapping({"ignore": ["set-not-null"]}))
    (backfill,) = [f for f in findings if f.rule == "backfill-with-ddl"]
    assert backfill.line == 7  # the call, not the helper's line 11
    assert "runs before `op.alter_column` on account (line 8)" in backfill.message
    # with set-not-null on, one lock window: its finding names the backfill at the call
    (window,) = [f for f in lint_sources({"v.py": source}) if f.rule == "set-not-null"]
    assert "the rows changed before it in the same transaction (backfill-with-ddl at line 7)" in window.message
    # (after an ADD COLUMN: after a SET NOT NULL, the backfill would be named in that finding, one lock window)
    after = lint('op.add_column("account", sa.Column("status", sa.String()))\nop.execute("UPDATE account SET status = \'x\'")')
    (finding,) = [f for f in after if f.rule == "backfill-with-ddl"]
    assert "runs after `op.add_column` on account" in finding.message and "stays locked for the whole backfill" in finding.message
    committed = lint('op.add_column("account", sa.Column("status", sa.String()))\nop.get_bind().commit()\nop.execute("UPDATE account SET status = \'x\'")')
    assert not [f for f in committed if f.rule == "backfill-with-ddl"]


def test_missing_lock_timeout_is_reported_once_at_env_py_for_the_whole_history(tmp_path):
    revisions = {f"r{i}.py": revision_file(f"r{i}", f"r{i - 1}" if i else None, upgrade=f'op.create_index("ix_{i}", "t", ["c{i}"])') for i in range(3)}
    project(tmp_path, revisions)
    (finding,) = [f for f in api.check([tmp_path], use_cache=False).findings if f.rule == "missing-lock-timeout"]
    assert Path(finding.path).name == "env.py" and "3 revisions take strong locks with no lock_timeout set (r0, r1, r2)" in finding.message
    assert 'connect_args={"options": "-c lock_timeout=5s"}' in finding.help
    # the finding points where the fix goes: the online configure (given a connection), not the offline one
    env_py = """from alembic import context


def run_migrations_offline():
    context.configure(url="postgresql://x/y", literal_binds=True)


def run_migrations_online():
    with engine.connect() as conn:
        context.configure(
            target_metadata=None,
            connection=conn,
        )
"""
    (tmp_path / "migrations" / "env.py").write_text(env_py)
    (finding,) = [f for f in api.check([tmp_path], use_cache=False).findings if f.rule == "missing-lock-timeout"]
    assert finding.line == 10  # the online context.configure(
    # an asyncio engine (prefect): asyncpg ignores libpq's options; the fix says server_settings
    async_env = env_py.replace("with engine.connect() as conn:", "async with engine.connect() as conn:\n        await conn.run_sync(do_run)\n    with engine.connect() as conn:")
    (tmp_path / "migrations" / "env.py").write_text(async_env)
    (finding,) = [f for f in api.check([tmp_path], use_cache=False).findings if f.rule == "missing-lock-timeout"]
    assert 'connect_args={"server_settings": {"lock_timeout": "5s"}}' in finding.help and "run_sync()" in finding.help


def test_one_operation_gives_one_finding_per_rule_and_no_question_marks():
    findings = lint('for t in TABLES:\n    op.execute(f"CREATE INDEX ON {t} (created_at)")\nop.create_index(None, "post", ["title"])')
    messages = [f.message for f in findings]
    assert not any("?" in m or "None" in m for m in messages), messages
    assert any("creates an unnamed index over title on existing table post" in m for m in messages)
    assert any("(table named at run time)" in m for m in messages)


def test_pg_only_advice_comes_inside_a_dialect_guard_when_the_dialect_is_uncertain(tmp_path):
    project(tmp_path, {"a.py": revision_file("a", upgrade='op.alter_column("t", "c", nullable=False)')})
    (finding,) = [f for f in settings_of(tmp_path).findings if f.rule == "set-not-null"]
    assert finding.help.startswith('Inside `if op.get_bind().dialect.name == "postgresql":`')  # PostgreSQL by default only
    (stated,) = [f for f in settings_of(tmp_path, dialect="postgresql").findings if f.rule == "set-not-null"]
    assert stated.help.startswith("Add CHECK (col IS NOT NULL) NOT VALID")


def test_a_dropped_column_whose_values_were_copied_is_said_so_and_quiet_offline():
    body = 'op.add_column("user", sa.Column("display_name", sa.String(100)))\nop.execute(\'UPDATE "user" SET display_name = nickname\')\nop.drop_column("user", "nickname")'
    (finding,) = [f for f in lint(body) if f.rule == "drop-column"]
    assert "after this migration copied its values" in finding.message and "data is lost" not in finding.message
    from migration_lint.config import config_from_mapping as cfg

    assert not [f for f in lint(body, config=cfg({"deploy": "offline"})) if f.rule == "drop-column"]
    plain = [f for f in lint('op.drop_column("user", "nickname")', config=cfg({"deploy": "offline"})) if f.rule == "drop-column"]
    assert plain and "its data is lost" in plain[0].message  # data loss is no lock: offline changes nothing


def test_start_after_of_one_history_in_a_repository_of_several(tmp_path):
    """A repository with several environments (an app and its plugins): start-after names a
    revision of one of them; the others are checked whole and say so. A revision none has is an error."""
    import pytest

    from migration_lint.errors import ConfigError

    lock = 'op.create_index("ix_t_c", "t", ["c"])'
    write_tree(tmp_path, {
        "core/alembic.ini": INI,
        "core/migrations/env.py": ENV_PY,
        "core/migrations/versions/a.py": revision_file("a", upgrade=lock),
        "core/migrations/versions/b.py": revision_file("b", "a", upgrade=lock.replace("ix_t_c", "ix_t_d")),
        "plugin/alembic.ini": INI,
        "plugin/migrations/env.py": ENV_PY,
        "plugin/migrations/versions/p.py": revision_file("p", upgrade=lock.replace("ix_t_c", "ix_t_p")),
    })
    result = api.check([tmp_path], use_cache=False, config=config_from_mapping({"start-after": "a"}))
    core, plugin = sorted(result.environments, key=lambda e: e.name)
    assert {f.revision for f in core.findings if f.rule == "create-index-not-concurrently"} == {"b"}
    assert {f.revision for f in plugin.findings if f.rule == "create-index-not-concurrently"} == {"p"}
    assert any("start-after a is not a revision of this history: all its revisions are checked" in n for n in plugin.notes)
    with pytest.raises(ConfigError, match="is in none of the 2 histories"):
        api.check([tmp_path], use_cache=False, config=config_from_mapping({"start-after": "zzz"}))


def test_an_opt_in_rule_runs_only_when_named():
    from migration_lint.api import lint_sources

    source = {"v.py": revision_file("r", upgrade='op.drop_index("ix_user_email", table_name="user")', downgrade="pass")}
    assert not [f for f in lint_sources(source) if f.rule == "drop-index-not-concurrently"]
    assert not [f for f in lint_sources(source, config=config_from_mapping({"select": ["ALL"]})) if f.rule == "drop-index-not-concurrently"]
    assert [f for f in lint_sources(source, config=config_from_mapping({"select": ["drop-index-not-concurrently"]})) if f.rule == "drop-index-not-concurrently"]


def test_offline_projects_are_not_told_that_running_code_fails():
    from migration_lint.api import lint_sources

    source = {"v.py": revision_file("r", upgrade='op.drop_column("user", "legacy")\nop.drop_table("old_a")\nop.drop_table("old_b")', downgrade="pass")}
    online = {f.rule: f.message for f in lint_sources(source)}
    offline = {f.rule: f.message for f in lint_sources(source, config=config_from_mapping({"deploy": "offline"}))}
    assert online["drop-column"] == "drops column user.legacy: its data is lost; running code that still uses the old schema fails"
    assert offline["drop-column"] == "drops column user.legacy: its data is lost"
    assert offline["drop-table"] == "drops 2 tables (old_a, old_b): their data is lost for good"


def expand_contract(root: Path, extra: dict = None) -> Path:
    """OpenStack's layout: versions/<release>/expand and versions/<release>/contract."""
    expand = revision_file("e1", upgrade='op.add_column("port", sa.Column("project_id", sa.String(255)))\nop.create_index("ix_port_project_id", "port", ["project_id"])')
    contract = revision_file("c1", "e1", upgrade='op.alter_column("port", "tenant_id", new_column_name="owner_id", existing_type=sa.String(255))\nop.rename_table("ml2_segments", "network_segments")')
    files = {"alembic.ini": INI, "migrations/env.py": ENV_PY, "migrations/versions/newton/expand/e1.py": expand, "migrations/versions/newton/contract/c1.py": contract, **(extra or {})}
    return write_tree(root, files)


def test_contract_revisions_of_an_expand_contract_history_run_with_the_old_release_stopped(tmp_path, capsys):
    from migration_lint.cli import main

    expand_contract(tmp_path)
    result = api.check([tmp_path], use_cache=False)
    (env,) = result.environments
    assert env.settings.offline_paths == ("*/contract/*",)
    assert env.settings.source_of("offline_paths").startswith("inferred: the history has expand/ and contract/ folders")
    found = {(f.rule, f.path.rsplit("/", 2)[-2]) for f in result.findings}
    assert ("create-index-not-concurrently", "expand") in found  # expand runs while the old release serves
    assert not {rule for rule, folder in found if folder == "contract"} & {"rename-column", "rename-table"}
    assert main(["check", str(tmp_path), "--no-cache", "--exit-zero"]) == 0
    assert "lock and running-code rules off for */contract/* (inferred:" in capsys.readouterr().out.splitlines()[0]


def test_offline_paths_from_the_config_and_deploy_offline_over_them(tmp_path):
    expand_contract(tmp_path)

    def found(**config):
        result = api.check([tmp_path], use_cache=False, config=config_from_mapping(config))
        return {(f.rule, f.path.rsplit("/", 2)[-2]) for f in result.findings}, result.environments[0].settings

    rules, settings = found(**{"offline-paths": ["*/expand/*"]})
    assert ("rename-table", "contract") in rules and ("create-index-not-concurrently", "expand") not in rules
    assert settings.source_of("offline_paths").startswith("config")
    rules, settings = found(deploy="offline")
    assert settings.offline_paths == () and ("create-index-not-concurrently", "expand") not in rules  # all offline already
    rules, _ = found(**{"offline-paths": "contract"})
    assert ("rename-table", "contract") in rules  # a glob that matches no path turns nothing off
    rules, settings = found(**{"offline-paths": []})  # the inference switched off
    assert settings.offline_paths == () and ("rename-table", "contract") in rules


def test_offline_paths_must_be_globs():
    import pytest

    from migration_lint.errors import ConfigError

    for bad in (3, [""], [["*/contract/*"]]):
        with pytest.raises(ConfigError, match="offline-paths must be a list of globs"):
            config_from_mapping({"offline-paths": bad})


def test_offline_paths_are_matched_below_the_history_not_above_it(tmp_path, monkeypatch):
    # a project that itself sits in a folder named "contract": only the versions/.../contract
    # revisions are offline, and env.py's lock_timeout summary leaves them out
    root = tmp_path / "contract"
    expand_contract(root)
    monkeypatch.chdir(tmp_path)
    result = api.check([root], use_cache=False)
    (env,) = result.environments
    assert {p.rsplit("/", 2)[-2] for p in env.settings.offline_files} == {"contract"} and len(env.settings.offline_files) == 1
    found = {(f.rule, f.path.rsplit("/", 2)[-2]) for f in result.findings}
    assert ("create-index-not-concurrently", "expand") in found


def test_offline_paths_from_a_config_are_relative_to_its_folder(tmp_path, monkeypatch, capsys):
    import json

    from migration_lint.cli import main

    root = tmp_path / "project"
    expand_contract(root, {"pyproject.toml": '[tool.migration-lint]\noffline-paths = ["migrations/versions/newton/expand/*"]\n'})
    monkeypatch.chdir(tmp_path)  # the config's globs do not depend on where migration-lint runs
    assert main(["check", "project", "--no-cache", "--format", "json", "--exit-zero"]) == 0
    found = {(f["rule"], f["path"].rsplit("/", 2)[-2]) for f in json.loads(capsys.readouterr().out)["findings"]}
    assert ("create-index-not-concurrently", "expand") not in found and ("rename-table", "contract") in found


def test_contract_revisions_leave_the_lock_timeout_summary(tmp_path):
    expand_contract(tmp_path)
    write_tree(tmp_path, {"migrations/versions/newton/contract/c2.py": revision_file("c2", "c1", upgrade='op.create_index("ix_port_owner", "port", ["owner_id"])')})
    findings = api.check([tmp_path], use_cache=False).findings
    timeouts = [f for f in findings if f.rule == "missing-lock-timeout"]
    assert timeouts and all("c1" not in f.message and "c2" not in f.message for f in timeouts)
