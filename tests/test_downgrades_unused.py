"""A project whose application runs its migrations itself and that never mentions a downgrade
writes downgrade() code nobody runs: downgrades = "unused", nothing said about that code."""

from migration_lint import api
from migration_lint.config import config_from_mapping
from migration_lint.infer import infer_downgrades_unused
from migration_lint.report import environment_facts

REVISION = '''"""shopping lists

Revision ID: a1
"""
from alembic import op
import sqlalchemy as sa

revision = "a1"
down_revision = None


def upgrade():
    op.add_column("shopping_lists", sa.Column("user_id", sa.Integer(), nullable=True))


def downgrade():
    op.drop_constraint(None, "shopping_lists", type_="foreignkey")
    op.drop_column("shopping_lists", "user_id")
'''

APP = '''from alembic import command
from alembic.config import Config


def init_db():
    command.upgrade(Config("alembic.ini"), "head")
'''


def project(tmp_path, app=APP, extra=None):
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'app'\n")
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "db.py").write_text(app)
    versions = tmp_path / "alembic" / "versions"
    versions.mkdir(parents=True)
    (tmp_path / "alembic" / "env.py").write_text("from alembic import context\n")
    (tmp_path / "alembic" / "script.py.mako").write_text("def upgrade():\n    ${upgrades}\n\ndef downgrade():\n    ${downgrades}\n")
    (versions / "a1.py").write_text(REVISION)
    for name, text in (extra or {}).items():
        (tmp_path / name).write_text(text)
    return tmp_path


def findings(root, **config):
    result = api.check([root / "alembic"], dialect="postgresql", use_cache=False, config=config_from_mapping(config) if config else None)
    return result, sorted(f.rule for f in result.findings)


def test_an_application_that_migrates_itself_and_never_downgrades(tmp_path):
    root = project(tmp_path)
    result, rules = findings(root)
    assert "unnamed-constraint" not in rules
    header = environment_facts(result.environments[0], "", "")
    assert "downgrades unused (inferred: the application migrates itself (" in header and "app/db.py:6) and nothing in the project runs a downgrade" in header


def test_a_mention_of_downgrade_anywhere_keeps_them_judged(tmp_path):
    root = project(tmp_path, extra={"README.md": "Roll back with `alembic downgrade -1`.\n"})
    assert "unnamed-constraint" in findings(root)[1]
    assert infer_downgrades_unused(root, root / "alembic", use_cache=False) is None


def test_without_the_application_running_migrations_nothing_is_inferred(tmp_path):
    root = project(tmp_path, app="def init_db():\n    pass\n")
    assert "unnamed-constraint" in findings(root)[1]


def test_the_config_decides_first(tmp_path):
    root = project(tmp_path)
    assert "unnamed-constraint" in findings(root, downgrades="required")[1]
    # and the value can be set by hand
    assert "unnamed-constraint" not in findings(project(tmp_path / "b"), downgrades="unused")[1]


def test_the_migrations_folder_itself_does_not_count(tmp_path):
    # every revision has a downgrade(): that is not a mention of running one
    root = project(tmp_path)
    assert infer_downgrades_unused(root, root / "alembic", use_cache=False)[0] == "unused"


def test_a_cached_answer_follows_the_files(tmp_path):
    root = project(tmp_path)
    assert infer_downgrades_unused(root, root / "alembic")[0] == "unused"
    (root / "Makefile").write_text("rollback:\n\talembic downgrade -1\n")
    assert infer_downgrades_unused(root, root / "alembic") is None


FLASK_APP = '''from flask_migrate import upgrade


def create_app():
    upgrade()  # the schema is brought up to date at start-up
'''


def test_flask_migrate_upgrade_at_start_up_is_the_application_migrating_itself(tmp_path):
    # CTFd/__init__.py: `from flask_migrate import upgrade`, then upgrade() before serving
    root = project(tmp_path, app=FLASK_APP)
    assert infer_downgrades_unused(root, root / "alembic", use_cache=False)[0] == "unused"
    # defining a function of that name is not calling it
    defined = project(tmp_path / "b", app="from flask_migrate import upgrade\n\n\ndef upgrade(x):\n    pass\n")
    assert infer_downgrades_unused(defined, defined / "alembic", use_cache=False) is None


def test_downgrade_in_another_sense_is_not_a_mention(tmp_path):
    # CTFd's tests/utils/test_updates.py: an update check that ignores older versions
    other = {"test_updates.py": "def test_update_check_ignores_downgrades():\n    assert check('3.1') is None\n"}
    root = project(tmp_path, extra=other)
    assert infer_downgrades_unused(root, root / "alembic", use_cache=False)[0] == "unused"
    # where the file speaks of migrations, the word keeps them judged
    for text in ("Roll back with `flask db downgrade`.\n", "def test_migrations_downgrade():\n    pass\n"):
        kept = project(tmp_path / str(abs(hash(text))), extra={"NOTES.md": text})
        assert infer_downgrades_unused(kept, kept / "alembic", use_cache=False) is None


def test_another_historys_revisions_are_not_mentions(tmp_path):
    # CTFd's plugins keep their own migrations folders: their downgrade() functions run nothing
    root = project(tmp_path)
    (root / "app" / "plugin_migrations").mkdir()
    (root / "app" / "plugin_migrations" / "p1.py").write_text(REVISION.replace('"a1"', '"p1"'))
    assert infer_downgrades_unused(root, root / "alembic", use_cache=False)[0] == "unused"


def test_a_document_quoting_a_revision_still_counts(tmp_path):
    # a fenced example in the docs, then the command: a mention (only .py revision files are skipped)
    doc = "```python\nrevision = \"abc\"\ndown_revision = \"def\"\n```\nThen `alembic upgrade head && alembic downgrade -1`.\n"
    root = project(tmp_path, extra={"CONTRIBUTING.md": doc})
    assert infer_downgrades_unused(root, root / "alembic", use_cache=False) is None
