"""What the round trip sees, on real servers: every schema, the objects migrations create beside
tables, names the engine chose itself, which side of a diff is which, stable fingerprints."""

from pathlib import Path

from conftest import MYSQL_URL, PG_URL, RUNNABLE_ENV_PY, needs_mysql, needs_pg, runnable_revision as rev, write_tree
from migration_lint import api

needs_pg = needs_pg()
needs_mysql = needs_mysql()

BASE = rev("a1", None, 'op.create_table("post", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("title", sa.String(100)))', 'op.drop_table("post")')


def project(root: Path, revisions: dict) -> Path:
    files = {"alembic.ini": "[alembic]\nscript_location = %(here)s/migrations\nsqlalchemy.url = sqlite:///unused.db\n", "migrations/env.py": RUNNABLE_ENV_PY}
    files.update({f"migrations/versions/{name}": text for name, text in revisions.items()})
    return write_tree(root, files)


def roundtrip(root, db, dialect):
    return api.check([root], dialect=dialect, use_cache=False, roundtrip=api.RoundTripOptions(db=db))


TRIP = ("roundtrip-upgrade-failed", "roundtrip-downgrade-failed", "reupgrade-failed", "downgrade-leaves-trace", "reupgrade-differs")


def traces(result):
    return {f.revision: f.message for f in result.findings if f.rule == "downgrade-leaves-trace"}


def trip(result):
    return sorted((f.rule, f.revision) for f in result.findings if f.rule in TRIP)


def sql(statement: str) -> str:
    return f"op.execute({statement!r})"


# -- PostgreSQL: every schema, and what lives beside tables ---------------------------------------

PG_LEFTOVERS = {
    "a1.py": BASE,
    # a table in a schema of its own; the downgrade drops the table, not the schema
    "b2.py": rev("b2", "a1", sql("CREATE SCHEMA audit") + '\nop.create_table("log", sa.Column("id", sa.Integer(), primary_key=True), schema="audit")',
                 'op.drop_table("log", schema="audit")'),
    # a table in another schema that the downgrade forgets
    "c3.py": rev("c3", "b2", 'op.create_table("entry", sa.Column("id", sa.Integer(), primary_key=True), schema="audit")', "pass"),
    # a trigger and its function; the downgrade drops the trigger only
    "d4.py": rev("d4", "c3",
                 sql("CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.title := upper(NEW.title); RETURN NEW; END $$")
                 + "\n" + sql("CREATE TRIGGER post_touch BEFORE INSERT ON post FOR EACH ROW EXECUTE FUNCTION touch()"),
                 sql("DROP TRIGGER post_touch ON post")),
    # a trigger left behind (its function is one the upgrade of d4 made)
    "e5.py": rev("e5", "d4", sql("CREATE TRIGGER post_touch_update BEFORE UPDATE ON post FOR EACH ROW EXECUTE FUNCTION touch()"), "pass"),
    # an extension, its functions and types are the extension's: one line
    "f6.py": rev("f6", "e5", sql("CREATE EXTENSION IF NOT EXISTS hstore"), "pass"),
    # a view, a sequence owned by a column, a comment and a grant, all left behind
    "g7.py": rev("g7", "f6",
                 sql("CREATE VIEW titles AS SELECT title FROM post") + "\n" + sql("CREATE SEQUENCE post_rank_seq OWNED BY post.id")
                 + "\n" + sql("COMMENT ON TABLE post IS 'posts shown on the front page'") + "\n" + sql("GRANT SELECT ON post TO PUBLIC"),
                 "pass"),
    # a clean revision in the other schema: nothing to report
    "h8.py": rev("h8", "g7", 'op.add_column("entry", sa.Column("note", sa.Text()), schema="audit")', 'op.drop_column("entry", "note", schema="audit")'),
}


@needs_pg
def test_leftovers_in_other_schemas_and_beside_tables_are_reported(in_tmp):
    project(in_tmp, PG_LEFTOVERS)
    result = roundtrip(in_tmp, PG_URL, "postgresql")
    found = traces(result)
    assert set(found) == {"b2", "c3", "d4", "e5", "f6", "g7"}, trip(result)
    assert "only before upgrade: schema audit" not in found["b2"] and "only after downgrade: schema audit" in found["b2"]
    assert "only after downgrade: table audit.entry" in found["c3"]
    assert "only after downgrade: function touch()" in found["d4"] and "returns trigger, language plpgsql" in found["d4"]
    assert "only after downgrade: trigger post_touch_update on post: (before update on public.post for each row execute function touch())" in found["e5"]
    assert found["f6"].splitlines()[1:] == ["  only after downgrade: extension hstore"]  # not its functions or types
    g7 = found["g7"]
    assert "only after downgrade: view titles" in g7
    assert "only after downgrade: sequence post_rank_seq" in g7
    assert "only after downgrade: comment on table post posts shown on the front page" in g7
    assert "privileges on table post" in g7 and "=r/" in g7
    # the trace is the finding; re-upgrading over it fails for most of them (already exists)
    assert ("roundtrip-upgrade-failed", "h8") not in trip(result)


@needs_pg
def test_a_change_names_both_sides(in_tmp):
    project(in_tmp, {
        "a1.py": BASE,
        "b2.py": rev("b2", "a1", 'op.alter_column("post", "title", existing_type=sa.String(100), server_default="untitled")', "pass"),
    })
    (message,) = traces(roundtrip(in_tmp, PG_URL, "postgresql")).values()
    assert message.splitlines()[1:] == [
        "  ~ column post.title: default",
        "      before upgrade:  none",
        "      after downgrade: 'untitled'::character varying",
    ] or message.splitlines()[1:] == [
        "  ~ column post.title: default",
        "      before upgrade:  none",
        "      after downgrade: 'untitled'",
    ]
    assert "->" not in message


@needs_pg
def test_reupgrade_differs_says_first_and_second_upgrade(in_tmp):
    # the upgrade adds a column whose default depends on whether it ran before (a table the
    # downgrade leaves); told apart from a trace because the downgrade itself restores the schema
    upgrade = (
        'bind = op.get_bind()\n'
        'seen = bind.exec_driver_sql("SELECT count(*) FROM pg_class WHERE relname = \'upgrade_marker\'").scalar()\n'
        'op.add_column("post", sa.Column("body", sa.String(20 if not seen else 40)))\n'
        'if not seen:\n'
        '    op.execute("CREATE TEMPORARY TABLE upgrade_marker (id integer) ON COMMIT PRESERVE ROWS")'
    )
    project(in_tmp, {"a1.py": BASE, "b2.py": rev("b2", "a1", upgrade, 'op.drop_column("post", "body")')})
    result = roundtrip(in_tmp, PG_URL, "postgresql")
    differs = [f.message for f in result.findings if f.rule == "reupgrade-differs"]
    assert len(differs) == 1, trip(result)
    assert "first upgrade:  varchar(20)" in differs[0] and "second upgrade: varchar(40)" in differs[0]


@needs_pg
def test_implicit_postgresql_names_numbered_on_a_clash_are_not_a_trace(in_tmp):
    # the downgrade recreates an unnamed unique constraint while the old one still exists for a
    # moment: PostgreSQL calls the new one post_title_key1, the schema is the same
    project(in_tmp, {
        "a1.py": BASE,
        "b2.py": rev("b2", "a1", sql("ALTER TABLE post ADD UNIQUE (title)"), sql("ALTER TABLE post DROP CONSTRAINT post_title_key")),
        "c3.py": rev("c3", "b2", sql("ALTER TABLE post ADD COLUMN body text"),
                     sql("ALTER TABLE post ADD UNIQUE (title)") + "\n" + sql("ALTER TABLE post DROP CONSTRAINT post_title_key") + "\n" + sql("ALTER TABLE post DROP COLUMN body")),
    })
    result = roundtrip(in_tmp, PG_URL, "postgresql")
    assert trip(result) == []


@needs_pg
def test_fingerprints_and_messages_are_the_same_in_two_runs(in_tmp):
    project(in_tmp, {
        **{k: PG_LEFTOVERS[k] for k in ("a1.py", "b2.py")},
        "c3.py": rev("c3", "b2", sql("INSERT INTO nowhere VALUES (1)"), "pass"),
        "d4.py": rev("d4", "b2", "raise RuntimeError(repr(object()))", "pass"),  # an address in the text
    })
    first, second = (roundtrip(in_tmp, PG_URL, "postgresql") for _ in range(2))
    key = lambda result: sorted((f.rule, f.revision, f.fingerprint, f.message) for f in result.findings if f.rule in TRIP)  # noqa: E731
    assert key(first) == key(second) and len(key(first)) == 4  # b2: a trace and its echo
    failed = {f.revision: f.message for f in first.findings if f.rule == "roundtrip-upgrade-failed"}
    assert "0x" not in failed["d4"] and "<object object>" in failed["d4"]
    assert 'relation "nowhere" does not exist' in failed["c3"] and "the statement: INSERT INTO nowhere VALUES (1)" in failed["c3"]


# -- MariaDB ---------------------------------------------------------------------------------------

@needs_mysql
def test_mariadb_index_renamed_by_the_engine_for_a_foreign_key_is_not_a_trace(in_tmp):
    """CTFd's b295b033364d: the foreign key is dropped and added again with ON DELETE CASCADE;
    MariaDB renames the implicit index behind it (team_id -> awards_ibfk_1)."""
    project(in_tmp, {
        "a1.py": rev("a1", None,
                     'op.create_table("teams", sa.Column("id", sa.Integer(), primary_key=True))\n'
                     'op.create_table("awards", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("team_id", sa.Integer(), sa.ForeignKey("teams.id")))',
                     'op.drop_table("awards")\nop.drop_table("teams")'),
        "b2.py": rev("b2", "a1",
                     'op.drop_constraint("awards_ibfk_1", "awards", type_="foreignkey")\n'
                     'op.create_foreign_key("awards_ibfk_1", "awards", "teams", ["team_id"], ["id"], ondelete="CASCADE")',
                     'op.drop_constraint("awards_ibfk_1", "awards", type_="foreignkey")\n'
                     'op.create_foreign_key("awards_ibfk_1", "awards", "teams", ["team_id"], ["id"])'),
    })
    result = roundtrip(in_tmp, MYSQL_URL, "mysql")
    assert trip(result) == []
    assert result.environments[0].roundtrip.tested == 2


@needs_mysql
def test_mariadb_trigger_routine_and_event_left_behind_are_reported(in_tmp):
    project(in_tmp, {
        "a1.py": BASE,
        "b2.py": rev("b2", "a1", sql("CREATE TRIGGER post_upper BEFORE INSERT ON post FOR EACH ROW SET NEW.title = upper(NEW.title)"), "pass"),
        "c3.py": rev("c3", "b2", sql("CREATE FUNCTION twice(x INT) RETURNS INT DETERMINISTIC RETURN x * 2"), "pass"),
        "d4.py": rev("d4", "c3", sql("CREATE EVENT purge_posts ON SCHEDULE EVERY 1 DAY DO DELETE FROM post WHERE id < 0"), "pass"),
        "e5.py": rev("e5", "d4", sql("CREATE VIEW titles AS SELECT title FROM post"), "pass"),
    })
    found = traces(roundtrip(in_tmp, MYSQL_URL, "mysql"))
    assert set(found) == {"b2", "c3", "d4", "e5"}
    assert "only after downgrade: trigger post_upper on post" in found["b2"] and "before insert" in found["b2"]
    assert "only after downgrade: function twice returns int" in found["c3"]
    assert "only after downgrade: event purge_posts recurring, every 1 day" in found["d4"].lower()
    assert "only after downgrade: view titles" in found["e5"]
