"""One finding per table and transaction window (PostgreSQL holds every lock until the commit):
the statements after the first that locks a table are named in its finding, not reported apart."""

from conftest import revision_file

from migration_lint.api import lint_sources

LOCKS = ("create-index-not-concurrently", "add-check-constraint", "set-not-null", "add-foreign-key", "add-unique-constraint")


def lock_findings(body, dialect="postgresql"):
    source = revision_file("r1", upgrade=body)
    return [f for f in lint_sources({"v.py": source}, dialect=dialect) if f.rule in LOCKS]


INDEX_THEN_CHECK = '''op.add_column("macaroons", sa.Column("oidc_id", sa.Integer()))
op.create_index("ix_macaroons_oidc", "macaroons", ["oidc_id"])
op.create_check_constraint("ck_one_owner", "macaroons", "(user_id IS NULL) <> (oidc_id IS NULL)")'''


def test_statements_under_one_lock_are_one_finding_naming_the_others():
    found = lock_findings(INDEX_THEN_CHECK)
    assert [f.rule for f in found] == ["create-index-not-concurrently"]
    assert "add-check-constraint at line" in found[0].message and "one lock window" in found[0].message
    # the ADD COLUMN took ACCESS EXCLUSIVE first: the window blocks reads too, and says so
    assert "ACCESS EXCLUSIVE from line 12 on, so reads wait too" in found[0].message
    assert "postgresql_not_valid=True" in found[0].help  # the folded statement's own fix comes along


def test_the_window_takes_the_highest_severity():
    # the warning (a foreign key on an empty new column, to the same table) first, the error (a
    # validated CHECK) after
    body = '''op.add_column("task_run", sa.Column("state_id", sa.Integer()))
op.create_foreign_key("fk_task_run_parent", "task_run", "task_run", ["state_id"], ["id"])
op.create_check_constraint("ck_task_run_total", "task_run", "total >= 0")'''
    found = lock_findings(body)
    assert len(found) == 1 and found[0].rule == "add-foreign-key" and found[0].severity == "error"


def test_a_commit_or_another_table_starts_a_new_window():
    committed = INDEX_THEN_CHECK.replace('\nop.create_check', '\nop.execute("COMMIT")\nop.create_check')
    assert sorted(f.rule for f in lock_findings(committed)) == ["add-check-constraint", "create-index-not-concurrently"]
    other = INDEX_THEN_CHECK.replace('"ck_one_owner", "macaroons"', '"ck_one_owner", "users"')
    assert sorted(f.rule for f in lock_findings(other)) == ["add-check-constraint", "create-index-not-concurrently"]


def test_mysql_commits_each_ddl_and_keeps_them_apart():
    body = '''op.alter_column("account", "name", existing_type=sa.String(100), type_=sa.Text())
op.create_index("ix_account_email", "account", ["email"], mysql_using="btree", postgresql_using="btree")'''
    source = revision_file("r1", upgrade=body + '\nop.create_index("ix_account_name", "account", ["name"])')
    # whatever MySQL reports stays per statement: DDL commits by itself there
    mysql = [f for f in lint_sources({"v.py": source}, dialect="mysql") if "one lock window" in f.message]
    assert mysql == []


def test_a_foreign_key_to_another_table_that_matters_stays_apart():
    # it blocks the writers of the table it references too
    body = INDEX_THEN_CHECK + '\nop.create_foreign_key("fk_macaroons_user", "macaroons", "users", ["user_id"], ["id"])'
    assert sorted(f.rule for f in lock_findings(body)) == ["add-foreign-key", "create-index-not-concurrently"]


def test_a_foreign_key_to_a_table_the_migration_created_joins_the_window():
    # prefect 2882cd2df463 (round 9 #13): the referenced table is new, nobody writes to it yet;
    # what is left is the scan of task_run_state inside the window its index build already holds
    body = '''op.create_table("artifact", sa.Column("id", sa.Integer(), primary_key=True))
op.add_column("task_run_state", sa.Column("result_artifact_id", sa.Integer(), nullable=True))
op.create_index("ix_task_run_state__result_artifact_id", "task_run_state", ["result_artifact_id"])
op.create_foreign_key("fk_task_run_state__result_artifact_id__artifact", "task_run_state", "artifact", ["result_artifact_id"], ["id"])'''
    found = lock_findings(body)
    assert [f.rule for f in found] == ["create-index-not-concurrently"]
    assert "add-foreign-key at line" in found[0].message
    # in another schema it is another table, which may matter: apart again
    other = body.replace('["result_artifact_id"], ["id"])', '["result_artifact_id"], ["id"], referent_schema="archive")')
    assert sorted(f.rule for f in lock_findings(other)) == ["add-foreign-key", "create-index-not-concurrently"]


def test_transactional_ddl_false_still_holds_locks_to_the_end_of_the_revision():
    """Since Alembic 1.5, transactional_ddl=False runs each revision in a transaction of its own
    (MigrationContext.begin_transaction), so the window is the revision's: quay's env.py, whose
    own comment at 34c8ef052ec9 says add_column's lock stays held.  (Before, every statement was
    taken to commit by itself and each was reported apart.)"""
    source = revision_file("r1", upgrade=INDEX_THEN_CHECK)
    found = [f for f in lint_sources({"v.py": source}, dialect="postgresql", env_settings={"transactional_ddl": False}) if f.rule in LOCKS]
    assert [f.rule for f in found] == ["create-index-not-concurrently"] and "one lock window" in found[0].message


def test_a_backfill_joins_the_lock_window_of_its_table_in_either_order():
    """warehouse 9ca7d5668af4 (round 10 #6): a foreign key on a new column, then an UPDATE of every
    row under the ADD COLUMN's lock: the UPDATE is the long part of one window, not a second
    problem.  And an UPDATE before SET NOT NULL on the same table: the row locks it takes are held
    into the SET NOT NULL's window (prefect 5d03c01be85e, round 10 #22)."""
    rules = LOCKS + ("backfill-with-ddl",)
    after = '''op.create_table("release_descriptions", sa.Column("id", sa.Integer(), primary_key=True))
op.add_column("releases", sa.Column("description_id", sa.Integer(), nullable=True))
op.create_foreign_key(None, "releases", "release_descriptions", ["description_id"], ["id"])
op.execute("UPDATE releases SET description_id = id")'''
    found = [f for f in lint_sources({"v.py": revision_file("r1", upgrade=after)}, dialect="postgresql") if f.rule in rules]
    assert [f.rule for f in found] == ["add-foreign-key"]
    assert "backfill-with-ddl at line 15" in found[0].message and "one lock window" in found[0].message
    before = '''op.execute("UPDATE artifact_collection SET latest_id = id WHERE latest_id IS NULL")
op.alter_column("artifact_collection", "latest_id", existing_type=sa.Integer(), nullable=False)'''
    found = [f for f in lint_sources({"v.py": revision_file("r1", upgrade=before)}, dialect="postgresql") if f.rule in rules]
    # the lock finding carries the window (its rule and fix in front), naming the backfill before it
    assert [f.rule for f in found] == ["set-not-null"]
    assert "the rows changed before it in the same transaction (backfill-with-ddl at line 12) stay locked through it" in found[0].message
    # a COMMIT between them: two windows, two findings
    apart = before.replace("\nop.alter_column", '\nop.execute("COMMIT")\nop.alter_column')
    found = [f for f in lint_sources({"v.py": revision_file("r1", upgrade=apart)}, dialect="postgresql") if f.rule in rules]
    assert sorted(f.rule for f in found) == ["set-not-null"]  # and the backfill no longer shares a transaction with it


def test_a_backfill_paired_with_another_tables_ddl_stays_out_of_this_tables_window():
    """The review's case: a CHECK on a, an UPDATE of b, an index on b.  The backfill is about a's
    lock held through it, not b's window; and two statements of one op.execute on different
    tables share a line, so nothing there is folded by position."""
    rules = LOCKS + ("backfill-with-ddl",)
    body = '''op.create_check_constraint("ck_a", "a", "x > 0")
op.execute("UPDATE b SET y = 1")
op.create_index("ix_b", "b", ["y"])'''
    found = [f for f in lint_sources({"v.py": revision_file("r1", upgrade=body)}, dialect="postgresql") if f.rule in rules]
    (index,) = [f for f in found if f.rule == "create-index-not-concurrently"]
    assert "backfill-with-ddl" not in index.message and "writes to b are blocked" in index.message
    shared = '''op.add_column("b", sa.Column("y", sa.Integer()))
op.create_foreign_key("fk_b_y", "b", "b", ["y"], ["id"])
op.execute("CREATE INDEX ix_a ON a (x); UPDATE b SET y = 1")'''
    found = [f for f in lint_sources({"v.py": revision_file("r1", upgrade=shared)}, dialect="postgresql") if f.rule in rules]
    assert not any("backfill-with-ddl at line" in f.message for f in found if f.rule == "create-index-not-concurrently")


def test_a_window_that_gains_a_statement_is_a_new_finding_for_a_baseline():
    # the folded finding's identity names what it holds
    one = lint_sources({"v.py": revision_file("r1", upgrade=INDEX_THEN_CHECK)}, dialect="postgresql")
    two = lint_sources({"v.py": revision_file("r1", upgrade=INDEX_THEN_CHECK + '\nop.execute("UPDATE macaroons SET oidc_id = 1")')}, dialect="postgresql")
    (a,) = [f for f in one if f.rule == "create-index-not-concurrently"]
    (b,) = [f for f in two if f.rule == "create-index-not-concurrently"]
    assert "backfill-with-ddl at line" in b.message and a.fingerprint != b.fingerprint
