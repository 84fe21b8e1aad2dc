"""incomplete-downgrade on triggers: the claim that a trigger left writing a dropped column breaks
every write after the downgrade, checked on real PostgreSQL and MariaDB, and the finding."""

from __future__ import annotations

import pytest

from conftest import revision_file
from test_advice import Scratch, run_alembic, write_history

from migration_lint.api import lint_sources

SETUP = 'op.create_table("projects", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("name", sa.String(100)))'

UPGRADE = {
    "postgresql": '''def upgrade():
    op.add_column("projects", sa.Column("normalized_name", sa.Text(), nullable=True))
    op.execute("CREATE OR REPLACE FUNCTION mlint_normalize() RETURNS TRIGGER AS $$ BEGIN NEW.normalized_name := lower(NEW.name); RETURN NEW; END; $$ LANGUAGE plpgsql")
    op.execute("CREATE TRIGGER projects_normalize BEFORE INSERT OR UPDATE OF name ON projects FOR EACH ROW EXECUTE PROCEDURE mlint_normalize()")''',
    "mysql": '''def upgrade():
    op.add_column("projects", sa.Column("normalized_name", sa.String(100), nullable=True))
    op.execute("CREATE TRIGGER projects_normalize BEFORE INSERT ON projects FOR EACH ROW SET NEW.normalized_name = LOWER(NEW.name)")''',
}
DOWNGRADE = '''def downgrade():
    op.drop_column("projects", "normalized_name")'''


@pytest.mark.parametrize("dialect", ["postgresql", "mysql"])
def test_a_trigger_left_writing_a_dropped_column_breaks_every_insert(dialect, tmp_path):
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    steps = [[UPGRADE[dialect], DOWNGRADE]]
    revisions = write_history(tmp_path / "h", SETUP, "", steps, {})
    scratch = Scratch(dialect, tmp_path)
    try:
        run_alembic(tmp_path / "h", scratch.url, revisions, steps)  # upgrade, then the downgrade: both run
        engine = sa.create_engine(scratch.url, poolclass=NullPool)
        try:
            with engine.connect() as connection, pytest.raises(sa.exc.DBAPIError) as caught:
                connection.exec_driver_sql("INSERT INTO projects (id, name) VALUES (1, 'A')")
        finally:
            engine.dispose()
    finally:
        scratch.drop()
    assert "normalized_name" in str(caught.value)

    source = revision_file("r1", upgrade="\n".join(line[4:] for line in UPGRADE[dialect].splitlines()[1:]), downgrade="op.drop_column(\"projects\", \"normalized_name\")")
    found = [f for f in lint_sources({"v.py": source}, dialect=dialect) if f.rule == "incomplete-downgrade"]
    assert len(found) == 1 and "projects_normalize" in found[0].message and "projects.normalized_name" in found[0].message


FN = "CREATE OR REPLACE FUNCTION mlint_check() RETURNS TRIGGER AS $$ BEGIN {body} RETURN NEW; END; $$ LANGUAGE plpgsql"
READS_FLAG = FN.format(body="IF NEW.flag THEN RAISE NOTICE 'x'; END IF;")
EMPTY = FN.format(body="")
CASES = [
    # (upgrade, downgrade, what PostgreSQL does, what the finding says: None for no finding)
    pytest.param(
        f'op.add_column("projects", sa.Column("flag", sa.Boolean()))\nop.execute("{READS_FLAG}")\n'
        'op.execute("CREATE OR REPLACE TRIGGER projects_check BEFORE INSERT ON projects FOR EACH ROW EXECUTE FUNCTION mlint_check()")',
        'op.drop_column("projects", "flag")',
        "insert fails", "which the trigger uses", id="reads-a-dropped-column",
    ),
    pytest.param(
        f'op.add_column("projects", sa.Column("flag", sa.Boolean()))\nop.execute("{READS_FLAG}")\n'
        'op.execute("CREATE OR REPLACE TRIGGER projects_check BEFORE INSERT ON projects FOR EACH ROW EXECUTE FUNCTION mlint_check()")',
        f'op.execute("{EMPTY}")\nop.drop_column("projects", "flag")',
        "ok", None, id="the-downgrade-restores-the-function",
    ),
    pytest.param(
        'op.add_column("projects", sa.Column("slug", sa.Text()))\n'
        f'op.execute("{EMPTY}")\n'
        'op.execute("CREATE TRIGGER projects_slug BEFORE UPDATE OF slug ON projects FOR EACH ROW EXECUTE FUNCTION mlint_check()")',
        'op.drop_column("projects", "slug")',
        "downgrade fails", "the downgrade's DROP COLUMN fails", id="update-of-a-dropped-column",
    ),
]


@pytest.mark.parametrize("upgrade,downgrade,truth,said", CASES)
def test_trigger_findings_match_what_postgresql_does(upgrade, downgrade, truth, said, tmp_path):
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    def function(name, body):
        return f"def {name}():\n" + "\n".join("    " + line for line in body.splitlines())

    steps = [[function("upgrade", upgrade), function("downgrade", downgrade)]]
    revisions = write_history(tmp_path / "h", SETUP, "", steps, {})
    scratch = Scratch("postgresql", tmp_path)
    try:
        try:
            run_alembic(tmp_path / "h", scratch.url, revisions, steps)
        except Exception as exc:  # noqa: BLE001 -- the database's refusal is the point
            outcome = "downgrade fails"
            assert "depends on" in str(exc) or "used in a trigger" in str(exc) or "trigger" in str(exc), str(exc)[:300]
        else:
            engine = sa.create_engine(scratch.url, poolclass=NullPool)
            try:
                with engine.connect() as connection:
                    connection.exec_driver_sql("INSERT INTO projects (id, name) VALUES (1, 'A')")
                    connection.commit()
                outcome = "ok"
            except sa.exc.DBAPIError:
                outcome = "insert fails"
            finally:
                engine.dispose()
    finally:
        scratch.drop()
    assert outcome == truth
    source = revision_file("r1", upgrade=upgrade, downgrade=downgrade)
    found = [f.message for f in lint_sources({"v.py": source}) if f.rule == "incomplete-downgrade"]
    if said is None:
        assert found == []
    else:
        assert len(found) == 1 and said in found[0], found
