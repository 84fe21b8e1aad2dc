"""The pre-commit hook (.pre-commit-hooks.yaml), run for real by pre-commit.

pre-commit installs hooks from a repository's *committed* state, so the working tree of this
checkout is copied to a temp dir and committed there; projects in other temp git repos use it.
The hook's environment (a virtualenv with migration-lint pip-installed from that copy, which needs
PyPI or a mirror) is built once for the module; every pre-commit file lives under a temp
PRE_COMMIT_HOME.  The tests skip when pre-commit or git is missing or the environment cannot be
built (no index reachable).
"""

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
MANIFEST = REPO / ".pre-commit-hooks.yaml"
COPY_IGNORE = shutil.ignore_patterns(".git", ".venv", "venv", "__pycache__", "*.pyc", ".pytest_cache", ".mypy_cache", "*.egg-info", "build", "dist", ".tox", ".nox")


def rev(revision, down, upgrade, downgrade):
    return textwrap.dedent(f'''\
        from alembic import op
        import sqlalchemy as sa

        revision = {revision!r}
        down_revision = {down!r}
        branch_labels = None
        depends_on = None


        def upgrade():
            {upgrade}


        def downgrade():
            {downgrade}
        ''')


A1 = rev("a1", None, 'op.create_table("post", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("title", sa.String(100), nullable=True))', 'op.drop_table("post")')
B2 = rev("b2", "a1", 'op.add_column("post", sa.Column("body", sa.Text(), nullable=True))', 'op.drop_column("post", "body")')
C3_DROP = rev("c3", "b2", 'op.drop_table("post")', "pass")
C3 = rev("c3", "b2", 'op.add_column("post", sa.Column("slug", sa.String(80), nullable=True))', 'op.drop_column("post", "slug")')
D3 = rev("d3", "b2", 'op.add_column("post", sa.Column("lead", sa.Text(), nullable=True))', 'op.drop_column("post", "lead")')
ENV_PY = "from alembic import context\n\nwith context.begin_transaction():\n    context.run_migrations()\n"


# -- the manifest itself (no pre-commit run needed) ------------------------------------------------


def test_manifest_declares_the_hook():
    (hook,) = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert hook["id"] == "migration-lint"
    assert hook["entry"] == "migration-lint check"
    assert hook["language"] == "python"
    assert hook["pass_filenames"] is False and hook["require_serial"] is True
    assert hook["name"] and hook["description"]


@pytest.mark.parametrize(
    "path, runs",
    [
        ("migrations/versions/a1b2c3_add_user.py", True),
        ("versions/a1.py", True),
        ("app/db/migrations/versions/2024/a1.py", True),
        ("migrations/env.py", True),
        ("alembic.ini", True),
        ("services/billing/alembic.ini", True),
        ("pyproject.toml", True),
        (".migration-lint.yaml", True),
        ("migrations/versions/README", False),
        ("migrations/script.py.mako", False),
        ("app/models.py", False),
        ("app/conversions/x.py", False),
        ("README.md", False),
    ],
)
def test_files_pattern(path, runs):
    (hook,) = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert bool(re.search(hook["files"], path)) is runs  # pre-commit uses re.search


def test_manifest_is_valid_for_pre_commit():
    clientlib = pytest.importorskip("pre_commit.clientlib", reason="pre-commit is not installed (pip install pre-commit)")
    (hook,) = clientlib.load_manifest(str(MANIFEST))
    assert hook["id"] == "migration-lint" and hook["files"]


# -- real pre-commit runs ---------------------------------------------------------------------------


def _git(cwd, *args, env):
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True)


@pytest.fixture(scope="module")
def pc(tmp_path_factory):
    """pre-commit with the hook environment built: yields a function running pre-commit in a dir."""
    pytest.importorskip("pre_commit", reason="pre-commit is not installed (pip install pre-commit)")
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    base = tmp_path_factory.mktemp("pre-commit")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PRE_COMMIT"))}
    env.update(
        PRE_COMMIT_HOME=str(base / "home"),  # hook repos and environments: nothing in ~/.cache
        VIRTUALENV_OVERRIDE_APP_DATA=str(base / "virtualenv"),
        PIP_CACHE_DIR=str(base / "pip"),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_RETRIES="1",
        MIGRATION_LINT_CACHE_DIR=str(base / "migration-lint-cache"),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_AUTHOR_NAME="test", GIT_AUTHOR_EMAIL="test@example.com",
        GIT_COMMITTER_NAME="test", GIT_COMMITTER_EMAIL="test@example.com",
        NO_COLOR="1",
        COLUMNS="120",
    )
    # the hook repository: this working tree, committed in a copy (pre-commit reads commits only)
    hook_repo = base / "migration-lint"
    shutil.copytree(REPO, hook_repo, ignore=COPY_IGNORE)
    _git(hook_repo, "init", "-q", env=env)
    _git(hook_repo, "add", "-A", env=env)
    _git(hook_repo, "-c", "commit.gpgsign=false", "commit", "-q", "-m", "working tree", env=env)
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=hook_repo, env=env, check=True, capture_output=True, text=True).stdout.strip()
    config = f"repos:\n- repo: {hook_repo}\n  rev: {sha}\n  hooks:\n  - id: migration-lint\n"

    def pre_commit(cwd, *args, timeout=120):
        return subprocess.run([sys.executable, "-m", "pre_commit", *args, "--color", "never"], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)

    # build the hook environment once (pip install of the copy and its dependencies)
    empty = base / "empty"
    empty.mkdir()
    (empty / ".pre-commit-config.yaml").write_text(config, encoding="utf-8")
    _git(empty, "init", "-q", env=env)
    _git(empty, "add", "-A", env=env)
    built = pre_commit(empty, "install-hooks", timeout=600)
    if built.returncode != 0:
        lines = [line.strip() for line in (built.stdout + built.stderr).splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith(("ERROR", "An unexpected error", "An error"))]
        pytest.skip(
            "cannot build the pre-commit hook environment (pip install of alembic-lint failed; package index unreachable?): "
            + " | ".join((errors or lines)[-2:])
            + f" (log: {env['PRE_COMMIT_HOME']}/pre-commit.log)"
        )

    class PreCommit:
        pass

    runner = PreCommit()
    runner.run = pre_commit
    runner.config = config
    runner.hook_repo = hook_repo
    runner.env = env
    return runner


def project(pc, root: Path, revisions: dict) -> Path:
    """A git repository with an Alembic project, everything staged, and a pre-commit config."""
    files = {
        "alembic.ini": "[alembic]\nscript_location = %(here)s/migrations\nsqlalchemy.url = postgresql://localhost/app\n",
        "migrations/env.py": ENV_PY,
        "README.md": "# app\n",
        ".pre-commit-config.yaml": pc.config,
    }
    files.update({f"migrations/versions/{name}": text for name, text in revisions.items()})
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    _git(root, "init", "-q", env=pc.env)
    _git(root, "add", "-A", env=pc.env)
    return root


def output(result):
    return result.stdout + result.stderr


def test_clean_history_passes(pc, tmp_path):
    project(pc, tmp_path, {"a1.py": A1, "b2.py": B2, "c3.py": C3})
    result = pc.run(tmp_path, "run", "--all-files")
    assert result.returncode == 0, output(result)
    assert re.search(r"^migration-lint\.+Passed$", result.stdout, re.M), output(result)


def test_dangerous_migration_fails(pc, tmp_path):
    project(pc, tmp_path, {"a1.py": A1, "b2.py": B2, "c3.py": C3_DROP})
    result = pc.run(tmp_path, "run", "--files", "migrations/versions/c3.py")
    assert result.returncode == 1, output(result)
    assert re.search(r"^migration-lint\.+Failed$", result.stdout, re.M)
    assert "drop-table" in result.stdout and "migrations/versions/c3.py" in result.stdout


def test_two_heads_fail_when_only_one_file_changed(pc, tmp_path):
    """The hook checks the whole history, not the files pre-commit names: a new revision whose
    parent another branch already used makes two heads."""
    project(pc, tmp_path, {"a1.py": A1, "b2.py": B2, "c3.py": C3, "d3.py": D3})
    result = pc.run(tmp_path, "run", "--files", "migrations/versions/d3.py")
    assert result.returncode == 1, output(result)
    assert "multiple-heads" in result.stdout


def test_unrelated_changes_skip_the_hook(pc, tmp_path):
    project(pc, tmp_path, {"a1.py": A1, "b2.py": B2, "c3.py": C3_DROP})
    result = pc.run(tmp_path, "run", "--files", "README.md")
    assert result.returncode == 0, output(result)
    assert re.search(r"^migration-lint\.+\(no files to check\)Skipped$", result.stdout, re.M), output(result)


def test_args_reach_the_cli(pc, tmp_path):
    """`args:` in the user's config are appended to `migration-lint check`."""
    project(pc, tmp_path, {"a1.py": A1, "b2.py": B2, "c3.py": C3_DROP})
    config = tmp_path / ".pre-commit-config.yaml"
    config.write_text(pc.config + "    args: [--ignore, drop-table]\n", encoding="utf-8")
    _git(tmp_path, "add", "-A", env=pc.env)
    result = pc.run(tmp_path, "run", "--all-files")
    assert result.returncode == 0, output(result)


def test_try_repo(pc, tmp_path):
    """`pre-commit try-repo` as the README shows it (builds its own environment: the slow one)."""
    project(pc, tmp_path, {"a1.py": A1, "b2.py": B2, "c3.py": C3, "d3.py": D3})
    (tmp_path / ".pre-commit-config.yaml").unlink()
    _git(tmp_path, "add", "-A", env=pc.env)
    result = pc.run(tmp_path, "try-repo", str(pc.hook_repo), "migration-lint", "--all-files", timeout=600)
    assert result.returncode == 1, output(result)
    assert "multiple-heads" in result.stdout
