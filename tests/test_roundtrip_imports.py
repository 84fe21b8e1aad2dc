"""A revision that cannot be imported is reported with its cause; the others still run."""

from pathlib import Path

from conftest import PG_URL, RUNNABLE_ENV_PY, needs_pg, runnable_revision as rev, write_tree
from migration_lint import api

needs_pg = needs_pg()

OK = 'op.create_table("post", sa.Column("id", sa.Integer(), primary_key=True))'

HISTORY = {
    "a1.py": rev("a1", None, OK, 'op.drop_table("post")'),
    "b2.py": rev("b2", "a1", 'op.add_column("post", sa.Column("a", sa.Integer()))', 'op.drop_column("post", "a")', imports="import funcy_not_installed"),
    "c3.py": rev("c3", "b2", 'op.add_column("post", sa.Column("b", sa.Integer()))', 'op.drop_column("post", "b")'),
    "d4.py": rev("d4", "a1", 'op.add_column("post", sa.Column("c", sa.Integer()))', 'op.drop_column("post", "c")', imports="import myapp.models"),
    "e5.py": rev("e5", "a1", 'op.add_column("post", sa.Column("d", sa.Integer()))', 'op.drop_column("post", "d")', imports="from myapp.settings import SECRET"),
    "f6.py": rev("f6", "a1", 'op.create_index("ix_post_id", "post", ["id"])', 'op.drop_index("ix_post_id", table_name="post")'),
}

PROJECT_CODE = {
    # what Flask says when a module reads current_app at import
    "myapp/__init__.py": "",
    "myapp/models.py": "raise RuntimeError('Working outside of application context.')\n",
    "myapp/settings.py": "import os\nSECRET = os.environ['MYAPP_SECRET_NOT_SET']\n",
}


def project(root: Path) -> Path:
    files = {"alembic.ini": "[alembic]\nscript_location = %(here)s/migrations\nsqlalchemy.url = sqlite:///unused.db\n", "migrations/env.py": RUNNABLE_ENV_PY, **PROJECT_CODE}
    files.update({f"migrations/versions/{name}": text for name, text in HISTORY.items()})
    return write_tree(root, files)


def _check(root, db, dialect):
    result = api.check([root], dialect=dialect, use_cache=False, roundtrip=api.RoundTripOptions(db=db))
    (env,) = result.environments
    failed = {f.revision: f for f in result.findings if f.rule == "roundtrip-upgrade-failed"}
    return env, failed


def _assert_each_cause(env, failed):
    assert set(failed) == {"b2", "d4", "e5"}
    assert "missing module 'funcy_not_installed'" in failed["b2"].message and Path(failed["b2"].path).name == "b2.py"
    assert failed["b2"].line == 3  # the import line
    assert "needs a Flask application context (pass --app" in failed["d4"].message
    assert "a settings error" in failed["e5"].message and "MYAPP_SECRET_NOT_SET" in failed["e5"].message
    trip = env.roundtrip
    assert trip.tested == 2  # a1 and f6; the three that cannot be imported were not run
    assert dict(trip.skipped) == {"c3": "an ancestor could not be imported (b2)"}
    assert not [f for f in failed.values() if "no revision was round-tripped" in f.message]
    # the fix is about the environment, not "fix the failing statement" of a broken migration
    assert all("dependencies are installed" in f.help and "failing statement" not in f.help for f in failed.values())


def test_each_revision_that_cannot_be_imported_is_reported_and_the_rest_run(in_tmp):
    project(in_tmp)
    _assert_each_cause(*_check(in_tmp, "sqlite", "sqlite"))


@needs_pg
def test_the_same_on_postgresql(in_tmp):
    project(in_tmp)
    _assert_each_cause(*_check(in_tmp, PG_URL, "postgresql"))


def test_skipped_revisions_are_one_note_per_reason(in_tmp):
    project(in_tmp)
    write_tree(in_tmp, {"migrations/versions/g7.py": rev("g7", "c3", OK.replace("post", "tag"), 'op.drop_table("tag")')})
    env, _ = _check(in_tmp, "sqlite", "sqlite")
    notes = [n for n in env.notes if "round trip skipped" in n]
    assert notes == ["round trip skipped 2 revisions (c3, g7): an ancestor could not be imported (b2)"]
