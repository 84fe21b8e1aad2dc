"""What ships in one deploy, from git: revisions one first-parent commit added (a merge, a squashed
pull request), or not committed yet.  A table such a revision created is empty and unknown to the
running code when the next one runs."""

import os
import shutil
import subprocess

import pytest

from migration_lint import api
from migration_lint.gitdiff import deploy_units
from migration_lint.report import environment_facts

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")

ENV_PY = "from alembic import context\n"


def revision(rev: str, down, body: str) -> str:
    return (
        f'"""{rev}\n\nRevision ID: {rev}\n"""\nfrom alembic import op\nimport sqlalchemy as sa\n\n'
        f'revision = "{rev}"\ndown_revision = {down!r}\n\n\ndef upgrade():\n{body}\n\n\ndef downgrade():\n    pass\n'
    )


MAKE = '    op.create_table("{t}", sa.Column("id", sa.Integer(), primary_key=True))'
NOT_NULL = '    op.add_column("{t}", sa.Column("org_id", sa.Integer(), nullable=False))'


def git(root, *args, date="2026-01-01T10:00:00"):
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, env=env)


def commit(root, message, date="2026-01-01T10:00:00"):
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message, date=date)


def write(root, name, text):
    (root / "migrations" / "versions" / name).write_text(text)


@pytest.fixture
def project(tmp_path):
    (tmp_path / "migrations" / "versions").mkdir(parents=True)
    (tmp_path / "migrations" / "env.py").write_text(ENV_PY)
    git(tmp_path, "init", "-q", "-b", "main")
    commit(tmp_path, "env")
    return tmp_path


def not_null_findings(root):
    result = api.check([root / "migrations"], use_cache=False)
    return sorted(os.path.basename(f.path) for f in result.findings if f.rule == "add-column-not-null-without-default")


def test_a_table_made_by_the_same_commit_is_new_and_one_made_long_before_is_not(project):
    write(project, "r1.py", revision("r1", None, MAKE.format(t="team")))
    commit(project, "team", date="2025-01-01T10:00:00")
    # one pull request, squashed: a table and a NOT NULL column on it, and one on the old table
    write(project, "r2.py", revision("r2", "r1", MAKE.format(t="favorites")))
    write(project, "r3.py", revision("r3", "r2", NOT_NULL.format(t="favorites") + "\n" + NOT_NULL.format(t="team")))
    commit(project, "favorites", date="2026-01-01T10:00:00")
    result = api.check([project / "migrations"], use_cache=False)
    found = [(os.path.basename(f.path), f.message) for f in result.findings if f.rule == "add-column-not-null-without-default"]
    assert len(found) == 1 and "team.org_id" in found[0][1]


def test_revisions_not_committed_yet_ship_together(project):
    write(project, "r0.py", revision("r0", None, MAKE.format(t="team")))
    commit(project, "start", date="2025-01-01T10:00:00")
    write(project, "r1.py", revision("r1", "r0", MAKE.format(t="favorites")))
    write(project, "r2.py", revision("r2", "r1", NOT_NULL.format(t="favorites")))
    assert not_null_findings(project) == []
    units = deploy_units(sorted((project / "migrations" / "versions").glob("*.py")), use_cache=False)
    assert {path.name: unit for path, (unit, _) in units.items() if unit == "worktree"}.keys() == {"r1.py", "r2.py"}


def test_untracked_files_of_a_history_git_does_not_version_are_not_one_change(project):
    # a project inside a repository that tracks none of its revisions (a dotfiles $HOME, an
    # ignored folder): nothing says they ship together
    write(project, "r1.py", revision("r1", None, MAKE.format(t="favorites")))
    write(project, "r2.py", revision("r2", "r1", NOT_NULL.format(t="favorites")))
    assert deploy_units(sorted((project / "migrations" / "versions").glob("*.py")), use_cache=False) == {}
    assert not_null_findings(project) == ["r2.py"]


def test_a_folder_named_like_gits_own_markers_is_read(tmp_path):
    root = tmp_path / "@app"
    (root / "migrations" / "versions").mkdir(parents=True)
    (root / "migrations" / "env.py").write_text(ENV_PY)
    git(root, "init", "-q", "-b", "main")
    write(root, "r0.py", revision("r0", None, MAKE.format(t="team")))
    commit(root, "start", date="2025-01-01T10:00:00")
    write(root, "r1.py", revision("r1", "r0", NOT_NULL.format(t="team")))
    commit(root, "column", date="2026-01-01T10:00:00")
    units = deploy_units(sorted((root / "migrations" / "versions").glob("*.py")), use_cache=False)
    assert sorted(unit != "worktree" for unit, _ in units.values()) == [True, True]
    assert not_null_findings(root) == ["r1.py"]


def test_a_signed_commit_runs_no_program_the_repository_names(project):
    marker = project / "ran"
    gpg = project / "gpg.sh"
    gpg.write_text(f"#!/bin/sh\ntouch {marker}\n")
    gpg.chmod(0o755)
    git(project, "config", "log.showSignature", "true")
    git(project, "config", "gpg.program", str(gpg))
    write(project, "r0.py", revision("r0", None, MAKE.format(t="team")))
    commit(project, "start")
    # a commit carrying a signature (forged: only its presence matters), made the branch's head
    body = subprocess.run(["git", "cat-file", "-p", "HEAD"], cwd=project, check=True, capture_output=True, text=True).stdout
    head, _, message = body.partition("\n\n")
    signed = head + "\ngpgsig -----BEGIN PGP SIGNATURE-----\n \n iQEzBAABCAAdFiEE\n -----END PGP SIGNATURE-----\n\n" + message
    forged = subprocess.run(["git", "hash-object", "-t", "commit", "-w", "--stdin"], cwd=project, input=signed, check=True, capture_output=True, text=True).stdout.strip()
    git(project, "update-ref", "HEAD", forged)
    assert subprocess.run(["git", "log", "-1"], cwd=project, capture_output=True).returncode == 0 and marker.exists()  # the trap works
    marker.unlink()
    api.check([project / "migrations"], use_cache=False)
    assert not marker.exists()


def test_a_merge_commit_is_one_deploy(project):
    write(project, "r0.py", revision("r0", None, MAKE.format(t="team")))
    commit(project, "start", date="2025-01-01T10:00:00")
    git(project, "checkout", "-q", "-b", "feature")
    write(project, "r1.py", revision("r1", "r0", MAKE.format(t="favorites")))
    commit(project, "table", date="2025-06-01T10:00:00")
    write(project, "r2.py", revision("r2", "r1", NOT_NULL.format(t="favorites")))
    commit(project, "column", date="2025-07-01T10:00:00")  # a month later, same PR
    git(project, "checkout", "-q", "main")
    git(project, "merge", "-q", "--no-ff", "-m", "merge", "feature", date="2025-07-02T10:00:00")
    assert not_null_findings(project) == []


def test_separate_merges_are_separate_deploys(project):
    write(project, "r1.py", revision("r1", None, MAKE.format(t="favorites")))
    commit(project, "table", date="2025-06-01T10:00:00")
    write(project, "r2.py", revision("r2", "r1", NOT_NULL.format(t="favorites")))
    commit(project, "column", date="2025-07-01T10:00:00")
    assert not_null_findings(project) == ["r2.py"]


def test_a_shallow_clone_says_nothing(project, tmp_path_factory):
    write(project, "r1.py", revision("r1", None, MAKE.format(t="favorites")))
    commit(project, "table", date="2025-06-01T10:00:00")
    write(project, "r2.py", revision("r2", "r1", NOT_NULL.format(t="favorites")))
    commit(project, "column", date="2025-07-01T10:00:00")
    clone = tmp_path_factory.mktemp("shallow") / "repo"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{project}", str(clone)], check=True, capture_output=True)
    # its one commit seems to add every file: trusting it would call every table new
    assert deploy_units(sorted((clone / "migrations" / "versions").glob("*.py")), use_cache=False) == {}
    assert not_null_findings(clone) == ["r2.py"]


def test_an_import_of_many_revisions_is_not_one_deploy(project):
    write(project, "r0.py", revision("r0", None, MAKE.format(t="favorites")))
    for number in range(1, 12):
        write(project, f"r{number}.py", revision(f"r{number}", f"r{number - 1}", "    pass"))
    write(project, "r12.py", revision("r12", "r11", NOT_NULL.format(t="favorites")))
    commit(project, "import the history", date="2025-06-01T10:00:00")
    assert not_null_findings(project) == ["r12.py"]


def test_the_repositorys_fsmonitor_hook_never_runs(project):
    marker = project / "ran"
    hook = project / "hook.sh"
    hook.write_text(f"#!/bin/sh\ntouch {marker}\n")
    hook.chmod(0o755)
    git(project, "config", "core.fsmonitor", str(hook))
    write(project, "r1.py", revision("r1", None, MAKE.format(t="favorites")))
    deploy_units(sorted((project / "migrations" / "versions").glob("*.py")), use_cache=False)
    api.check([project / "migrations"], use_cache=False, diff_base="main")
    assert not marker.exists()


def test_the_commit_that_started_the_history_is_not_one_change(project):
    # a history imported (or begun) in one commit: its revisions were written and deployed apart,
    # and the commit's time is not theirs
    write(project, "r1.py", revision("r1", None, MAKE.format(t="favorites")))
    write(project, "r2.py", revision("r2", "r1", NOT_NULL.format(t="favorites")))
    commit(project, "import", date="2025-06-01T10:00:00")
    assert not_null_findings(project) == ["r2.py"]


def test_a_table_seeded_by_the_change_is_not_empty(project):
    write(project, "r0.py", revision("r0", None, MAKE.format(t="team")))
    commit(project, "start", date="2025-01-01T10:00:00")
    seed = '\n    op.bulk_insert(sa.table("plan", sa.column("id")), [{"id": 1}])'
    write(project, "r1.py", revision("r1", "r0", MAKE.format(t="plan") + seed))
    write(project, "r2.py", revision("r2", "r1", NOT_NULL.format(t="plan")))
    commit(project, "plans", date="2026-01-01T10:00:00")
    assert not_null_findings(project) == ["r2.py"]


# Release tags: a project that tagged releases before its history began ships the revisions
# written before the history's first release to every install together.

def dated(rev, down, body, created):
    return revision(rev, down, body).replace(f"Revision ID: {rev}\n", f"Revision ID: {rev}\nCreate Date: {created}\n")


def released_project(project, *, tag_before=True, beta_between=False):
    (project / "app.py").write_text("VERSION = 1\n")
    commit(project, "app", date="2024-01-01T10:00:00")
    if tag_before:
        git(project, "tag", "v1.0")
    write(project, "r1.py", dated("r1", None, MAKE.format(t="blocks"), "2024-06-01 10:00:00"))
    commit(project, "blocks", date="2024-06-01T10:00:00")
    if beta_between:
        git(project, "tag", "2.0b1")  # a pre-release: its users expect to start over
    write(project, "r2.py", dated("r2", "r1", NOT_NULL.format(t="blocks"), "2024-07-01 10:00:00"))
    commit(project, "org on blocks", date="2024-07-01T10:00:00")
    git(project, "tag", "-a", "-m", "2.0", "2.0.0", date="2024-08-01T10:00:00")
    (project / "app.py").write_text("VERSION = 2\n")
    commit(project, "after the release", date="2024-08-02T10:00:00")


def test_a_table_made_and_changed_before_the_first_release_is_new(project):
    released_project(project, beta_between=True)
    assert not_null_findings(project) == []
    result = api.check([project / "migrations"], use_cache=False)
    assert "revisions before its first release (2.0.0, from git tags)" in environment_facts(result.environments[0], "", "")
    # released with rows since: a NOT NULL column without a default now fails
    write(project, "r3.py", dated("r3", "r2", NOT_NULL.format(t="blocks").replace("org_id", "team_id"), "2024-09-01 10:00:00"))
    commit(project, "team on blocks", date="2024-09-01T10:00:00")
    assert not_null_findings(project) == ["r3.py"]


def test_without_a_release_tag_before_the_history_nothing_is_assumed(project):
    released_project(project, tag_before=False)  # it may have deployed untagged
    assert not_null_findings(project) == ["r2.py"]


def test_a_release_cut_from_a_branch_never_merged_back_counts(project):
    released_project(project)
    # rewrite: a maintenance release 1.1 cut after r1 on its own branch, holding the table
    git(project, "checkout", "-q", "-b", "stable", "HEAD~2")
    (project / "app.py").write_text("VERSION = 1.1\n")
    commit(project, "fix", date="2024-06-15T10:00:00")
    git(project, "tag", "v1.1")
    git(project, "checkout", "-q", "main")
    assert not_null_findings(project) == ["r2.py"]


def test_downgrades_of_revisions_before_the_first_release_are_not_checked(project):
    # nobody downgrades a released database back into its development history (prefect's 2.0
    # alphas, round 8 #52); after the release, a downgrade's faults count again
    released_project(project)
    lost = '    op.drop_index("ix_blocks_org", table_name="blocks")\n'
    restore = 'def downgrade():\n    op.create_index("ix_blocks_org", "blocks", ["org_id"], unique=True)\n'
    for name, rev, down, created, when in (("r0b.py", "r0b", "r2", "2024-07-15 10:00:00", "2024-07-15T10:00:00"), ("r3.py", "r3", "r0b", "2024-09-01 10:00:00", "2024-09-01T10:00:00")):
        text = dated(rev, down, lost, created).replace("def downgrade():\n    pass\n", restore)
        write(project, name, text)
        git(project, "add", "-A")
        git(project, "commit", "-q", "-m", rev, date=when)
        if rev == "r0b":
            git(project, "tag", "-d", "2.0.0")
            git(project, "tag", "-a", "-m", "2.0", "2.0.0", date="2024-08-01T10:00:00")
    result = api.check([project / "migrations"], use_cache=False)
    found = sorted(os.path.basename(f.path) for f in result.findings if f.rule == "downgrade-restores-unique")
    assert found == ["r3.py"]
    assert "their downgrades are not checked" in environment_facts(result.environments[0], "", "")


# What the code running beside a revision still names (git grep of the release before it, or of
# the parent of the change that added it): a column it no longer names was given up before.

MODELS_BEFORE = '''class Account(Base):
    __tablename__ = "account"
    id = Column(Integer, primary_key=True)
    nickname = Column(String)
    legacy_token = Column(String)
'''


def drop_findings(root):
    result = api.check([root / "migrations"], use_cache=False)
    return sorted((os.path.basename(f.path), f.rule) for f in result.findings if f.rule in ("drop-column", "drop-table"))


def test_a_column_the_code_stopped_naming_before_the_change_is_not_reported(project):
    (project / "app").mkdir()
    (project / "app" / "models.py").write_text(MODELS_BEFORE)
    write(project, "r1.py", revision("r1", None, MAKE.format(t="account")))
    commit(project, "account", date="2025-01-01T10:00:00")
    # release N stops using legacy_token; release N+1 drops it (the two steps the fix asks for)
    (project / "app" / "models.py").write_text(MODELS_BEFORE.replace("    legacy_token = Column(String)\n", ""))
    commit(project, "stop using legacy_token", date="2025-02-01T10:00:00")
    write(project, "r2.py", revision("r2", "r1", '    op.drop_column("account", "legacy_token")'))
    commit(project, "drop legacy_token", date="2025-03-01T10:00:00")
    assert drop_findings(project) == []
    # the same drop in the change that stops using it: the code before that change still maps it
    (project / "app" / "models.py").write_text(MODELS_BEFORE.replace("    legacy_token = Column(String)\n", "").replace("    nickname = Column(String)\n", ""))
    write(project, "r3.py", revision("r3", "r2", '    op.drop_column("account", "nickname")'))
    commit(project, "drop nickname with the model change", date="2025-05-01T10:00:00")
    assert drop_findings(project) == [("r3.py", "drop-column")]


def test_a_repository_without_the_application_code_concludes_nothing(project):
    # only migrations here: nothing names account, so a missing name proves nothing
    write(project, "r1.py", revision("r1", None, MAKE.format(t="account") + '\n    op.create_table("audit", sa.Column("id", sa.Integer(), primary_key=True))'))
    commit(project, "tables", date="2025-01-01T10:00:00")
    write(project, "r2.py", revision("r2", "r1", '    op.drop_column("account", "legacy_token")\n    op.drop_table("audit")'))
    commit(project, "drops", date="2025-03-01T10:00:00")
    assert drop_findings(project) == [("r2.py", "drop-column"), ("r2.py", "drop-table")]


def _given_up(project, models_before, models_after, drop):
    (project / "app").mkdir(exist_ok=True)
    (project / "app" / "models.py").write_text(models_before)
    write(project, "r1.py", revision("r1", None, MAKE.format(t="account")))
    commit(project, "account", date="2025-01-01T10:00:00")
    if models_after != models_before:
        (project / "app" / "models.py").write_text(models_after)
        commit(project, "the model changes", date="2025-02-01T10:00:00")
    write(project, "r2.py", revision("r2", "r1", drop))
    commit(project, "the drop", date="2025-03-01T10:00:00")
    return drop_findings(project)


def test_the_users_grep_settings_do_not_change_what_is_read(project):
    git(project, "config", "grep.lineNumber", "true")
    git(project, "config", "grep.column", "true")
    after = MODELS_BEFORE.replace("    legacy_token = Column(String)\n", "")
    assert _given_up(project, MODELS_BEFORE, after, '    op.drop_column("account", "legacy_token")') == []


def test_code_that_reflects_the_schema_names_no_column_and_proves_nothing(project):
    reflecting = "from sqlalchemy.ext.automap import automap_base\nBase = automap_base()\nBase.prepare(autoload_with=engine)\naccount = Base.classes.account\n"
    assert _given_up(project, reflecting, reflecting, '    op.drop_column("account", "legacy_token")') == [("r2.py", "drop-column")]


def test_a_foreign_key_column_named_by_its_attribute_is_still_used(project):
    peewee = 'from peewee import Model, ForeignKeyField\nclass Account(Model):\n    owner = ForeignKeyField(User)\n'
    assert _given_up(project, peewee, peewee, '    op.drop_column("account", "owner_id")') == [("r2.py", "drop-column")]


def test_an_alembic_env_py_outside_a_migrations_folder_is_not_the_application(project):
    # `alembic init db`: env.py imports sqlalchemy, and nothing else here is the application
    (project / "db").mkdir()
    (project / "db" / "env.py").write_text("from sqlalchemy import engine_from_config\nfrom alembic import context\n")
    write(project, "r1.py", revision("r1", None, MAKE.format(t="account")))
    commit(project, "account", date="2025-01-01T10:00:00")
    write(project, "r2.py", revision("r2", "r1", '    op.drop_column("account", "legacy_token")'))
    commit(project, "drop", date="2025-03-01T10:00:00")
    assert drop_findings(project) == [("r2.py", "drop-column")]


# Given up on other evidence: the table's ORM model no longer maps the column although the word
# lives on elsewhere (warehouse e82c3a017d60 `downloads`), or no code names the column any more
# while the code that added it did (warehouse 4a0276f260c7: event tables a mixin names).

FILES_MODEL = '''from sqlalchemy import Column, Integer, String
from app.db import Model
from app.mixins import HasEvents


class File(HasEvents, Model):
    __tablename__ = "release_files"
    id = Column(Integer, primary_key=True)
    filename = Column(String)
    downloads = Column(Integer)
'''
MIXINS = '''from sqlalchemy import Column, String


class HasEvents:
    events_enabled = True
'''
LEGACY_API = 'def project_json(project):\n    return {"downloads": -1, "name": project.name}\n'


def _model_project(project, model_after, mixins=MIXINS):
    (project / "app").mkdir(exist_ok=True)
    (project / "app" / "models.py").write_text(FILES_MODEL)
    (project / "app" / "mixins.py").write_text(mixins)
    (project / "app" / "db.py").write_text("from sqlalchemy.orm import declarative_base\nModel = declarative_base()\n")
    (project / "app" / "legacy.py").write_text(LEGACY_API)
    write(project, "r1.py", revision("r1", None, '    op.create_table("release_files", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("downloads", sa.Integer()))'))
    commit(project, "files", date="2025-01-01T10:00:00")
    (project / "app" / "models.py").write_text(model_after)
    commit(project, "the model changes", date="2025-02-01T10:00:00")
    write(project, "r2.py", revision("r2", "r1", '    op.drop_column("release_files", "downloads")'))
    commit(project, "the drop", date="2025-03-01T10:00:00")
    return drop_findings(project)


def test_a_column_the_tables_model_no_longer_maps_is_not_reported_however_common_the_word(project):
    # "downloads" lives on as a JSON key; the model of release_files no longer maps it
    assert _model_project(project, FILES_MODEL.replace("    downloads = Column(Integer)\n", "")) == []


def test_a_column_the_model_still_maps_is_reported(project):
    assert _model_project(project, FILES_MODEL.replace("    filename = Column(String)\n", "")) == [("r2.py", "drop-column")]


def test_a_column_a_mixin_in_the_repository_declares_is_still_mapped(project):
    mixins = MIXINS + "\n\nclass Counted:\n    downloads = Column(String)\n"
    model = FILES_MODEL.replace("    downloads = Column(Integer)\n", "").replace("class File(HasEvents, Model)", "class File(HasEvents, Counted, Model)").replace("from app.mixins import HasEvents", "from app.mixins import HasEvents, Counted")
    assert _model_project(project, model, mixins) == [("r2.py", "drop-column")]


def test_a_base_class_from_a_library_may_declare_it_and_proves_nothing(project):
    model = FILES_MODEL.replace("    downloads = Column(Integer)\n", "").replace("class File(HasEvents, Model)", "class File(HasEvents, Timestamp, Model)")
    assert _model_project(project, "from sqlalchemy_utils import Timestamp\n" + model) == [("r2.py", "drop-column")]


def test_a_column_declared_by_its_database_name_is_mapped(project):
    model = FILES_MODEL.replace("    downloads = Column(Integer)\n", '    download_count = Column("downloads", Integer)\n')
    assert _model_project(project, model) == [("r2.py", "drop-column")]


EVENTS_MODEL = '''from sqlalchemy import Column, String
from sqlalchemy.orm import declared_attr


class HasEvents:
    @declared_attr
    def __tablename__(cls):
        return f"{cls.__name__.lower()}_events"

    ip_address_string = Column(String)
'''


def test_a_column_the_code_named_when_it_was_added_and_names_no_more_was_given_up(project):
    (project / "app").mkdir()
    (project / "app" / "events.py").write_text("from sqlalchemy import Column\n\nclass HasEvents:\n    pass\n")
    write(project, "r1.py", revision("r1", None, '    op.create_table("user_events", sa.Column("id", sa.Integer(), primary_key=True))'))
    commit(project, "events", date="2025-01-01T10:00:00")
    (project / "app" / "events.py").write_text(EVENTS_MODEL)
    write(project, "r2.py", revision("r2", "r1", '    op.add_column("user_events", sa.Column("ip_address_string", sa.String()))'))
    commit(project, "add ip_address_string", date="2025-02-01T10:00:00")
    (project / "app" / "events.py").write_text(EVENTS_MODEL.replace("    ip_address_string = Column(String)\n", ""))
    commit(project, "stop using ip_address_string", date="2025-03-01T10:00:00")
    write(project, "r3.py", revision("r3", "r2", '    op.drop_column("user_events", "ip_address_string")'))
    commit(project, "drop it", date="2025-04-01T10:00:00")
    assert drop_findings(project) == []


def test_a_column_the_code_never_named_proves_nothing_when_its_table_is_not_named(project):
    (project / "app").mkdir()
    (project / "app" / "events.py").write_text("from sqlalchemy import Column\n\nclass HasEvents:\n    pass\n")
    write(project, "r1.py", revision("r1", None, '    op.create_table("user_events", sa.Column("id", sa.Integer(), primary_key=True))'))
    commit(project, "events", date="2025-01-01T10:00:00")
    write(project, "r2.py", revision("r2", "r1", '    op.add_column("user_events", sa.Column("ip_address_string", sa.String()))'))
    commit(project, "add ip_address_string (used by another service)", date="2025-02-01T10:00:00")
    write(project, "r3.py", revision("r3", "r2", '    op.drop_column("user_events", "ip_address_string")'))
    commit(project, "drop it", date="2025-04-01T10:00:00")
    assert drop_findings(project) == [("r3.py", "drop-column")]


# What still maps a column the model class no longer names, or uses it outside the ORM: each keeps
# the finding (cases from a hostile review of the first version, each a drop that breaks running
# code).  The model first maps legacy_token; the change before the drop moves it as shown.
HEAD = "from sqlalchemy import Column, Integer, String, Table, text\nfrom sqlalchemy.orm import declarative_base\nBase = declarative_base()\n"


def _account(body="    name = Column(String)\n", bases="Base", cls="Account"):
    return f'class {cls}({bases}):\n    __tablename__ = "account"\n    id = Column(Integer, primary_key=True)\n{body}'


STILL_USED = {
    "assigned-after-the-class": {"app/models.py": HEAD + _account() + "\nAccount.legacy_token = Column(String)\n"},
    "single-table-inheritance": {"app/models.py": HEAD + _account() + "\n\nclass Admin(Account):\n    legacy_token = Column(String)\n"},
    "a-base-the-repository-defines": {"app/models.py": HEAD.replace("Base = declarative_base()\n", "class Base:\n    legacy_token = Column(String)\n") + _account()},
    "declarative-base-with-cls": {"app/models.py": HEAD.replace("Base = declarative_base()\n", "class Common:\n    legacy_token = Column(String)\nBase = declarative_base(cls=Common)\n") + _account()},
    "a-constant-names-the-column": {"app/models.py": HEAD + "LEGACY = 'legacy_token'\n" + _account("    token = Column(LEGACY, String)\n")},
    "raw-sql-in-python": {"app/models.py": HEAD + _account(), "app/jobs.py": "from sqlalchemy import text\nPURGE = text('UPDATE account SET legacy_token = NULL')\n"},
    "an-sql-file": {"app/models.py": HEAD + _account(), "sql/report.sql": "SELECT id, legacy_token FROM account;\n"},
    "a-go-service-in-camel-case": {"app/models.py": HEAD + _account(), "svc/main.go": 'package main\n\ntype Account struct{ LegacyToken string }\n'},
    "a-class-named-as-the-table-besides-a-table-call": {
        "app/models.py": "from flask_sqlalchemy import SQLAlchemy\ndb = SQLAlchemy()\n\nclass Account(db.Model):\n    id = db.Column(db.Integer, primary_key=True)\n    legacy_token = db.Column(db.String)\n",
        "app/reports.py": "import sqlalchemy as sa\naccount = sa.Table('account', sa.MetaData(), sa.Column('id', sa.Integer))\n",
    },
    "a-base-imported-under-another-name": {
        "app/models.py": HEAD + "from app.mixins import Stamped as Timestamp\n" + _account(bases="Timestamp, Base"),
        "app/mixins.py": "from sqlalchemy import Column, String\n\nclass Stamped:\n    legacy_token = Column(String)\n\nclass Timestamp:\n    pass\n",
    },
}


@pytest.mark.parametrize("files", list(STILL_USED.values()), ids=list(STILL_USED))
def test_what_still_maps_or_uses_the_column_keeps_the_finding(project, files):
    before = {"app/models.py": HEAD + _account("    legacy_token = Column(String)\n")}
    for rel, text in before.items():
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_text(text)
    write(project, "r1.py", revision("r1", None, '    op.create_table("account", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("legacy_token", sa.String()))'))
    commit(project, "account", date="2025-01-01T10:00:00")
    for rel, text in files.items():
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_text(text)
    commit(project, "the model changes", date="2025-02-01T10:00:00")
    write(project, "r2.py", revision("r2", "r1", '    op.drop_column("account", "legacy_token")'))
    commit(project, "the drop", date="2025-03-01T10:00:00")
    assert drop_findings(project) == [("r2.py", "drop-column")]
