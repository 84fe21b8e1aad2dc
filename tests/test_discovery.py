"""Finding Alembic environments in whole fixture projects on disk."""

from pathlib import Path

import pytest

from conftest import ENV_PY, revision_file, write_tree
from migration_lint.discovery import discover
from migration_lint.errors import DiscoveryError


def names(envs):
    return sorted(Path(e.script_location).name for e in envs)


def revs(env):
    return sorted(p.name for p in env.revision_files())


def test_alembic_ini_with_here_and_url(tmp_path):
    write_tree(tmp_path, {
        "alembic.ini": "[alembic]\nscript_location = %(here)s/db\nsqlalchemy.url = mysql+pymysql://u@h/db\n",
        "db/env.py": ENV_PY,
        "db/versions/a.py": revision_file("a"),
        "db/versions/notes.txt": "not a revision",
        "db/versions/__init__.py": "",
    })
    (env,) = discover(tmp_path)
    assert env.script_location == (tmp_path / "db").resolve()
    assert env.url_dialect == "mysql"
    assert revs(env) == ["a.py"]
    assert discover(tmp_path / "alembic.ini")[0].script_location == env.script_location


def test_version_locations_several_and_recursive(tmp_path):
    write_tree(tmp_path, {
        "alembic.ini": "[alembic]\nscript_location = migrations\nversion_locations = %(here)s/v1 %(here)s/v2\nrecursive_version_locations = true\n",
        "migrations/env.py": ENV_PY,
        "v1/a.py": revision_file("a"),
        "v2/nested/deeper/b.py": revision_file("b", "a"),
    })
    (env,) = discover(tmp_path)
    assert revs(env) == ["a.py", "b.py"]


def test_version_path_separator_os(tmp_path):
    write_tree(tmp_path, {
        "alembic.ini": "[alembic]\nscript_location = migrations\nversion_path_separator = os\nversion_locations = %(here)s/v1:%(here)s/v2\n",
        "migrations/env.py": ENV_PY,
        "v1/a.py": revision_file("a"),
        "v2/b.py": revision_file("b", "a"),
    })
    (env,) = discover(tmp_path)
    assert revs(env) == ["a.py", "b.py"]


def test_pyproject_tool_alembic(tmp_path):
    write_tree(tmp_path, {
        "pyproject.toml": '[tool.alembic]\nscript_location = "%(here)s/alembic"\n',
        "alembic/env.py": ENV_PY,
        "alembic/versions/a.py": revision_file("a"),
    })
    (env,) = discover(tmp_path)
    assert env.kind == "pyproject" and revs(env) == ["a.py"]
    assert discover(tmp_path / "pyproject.toml")[0].script_location == env.script_location


def test_flask_migrate_layout(tmp_path):
    write_tree(tmp_path, {
        "app/__init__.py": "",
        "migrations/alembic.ini": "[alembic]\n\n[loggers]\nkeys = root\n",
        "migrations/env.py": "from flask import current_app\nfrom alembic import context\nconfig = context.config\n",
        "migrations/versions/a.py": revision_file("a"),
    })
    (env,) = discover(tmp_path)
    assert env.kind == "flask-migrate" and revs(env) == ["a.py"]
    (env2,) = discover(tmp_path / "migrations")
    assert env2.script_location == env.script_location


def test_bare_folder_and_versions_folder(tmp_path):
    write_tree(tmp_path, {
        "db/env.py": ENV_PY,
        "db/versions/a.py": revision_file("a"),
    })
    assert revs(discover(tmp_path / "db")[0]) == ["a.py"]
    assert revs(discover(tmp_path / "db" / "versions")[0]) == ["a.py"]
    assert revs(discover(tmp_path)[0]) == ["a.py"]


def test_several_environments_in_one_repo(tmp_path):
    write_tree(tmp_path, {
        "core/alembic.ini": "[alembic]\nscript_location = %(here)s\n",
        "core/env.py": ENV_PY,
        "core/versions/a.py": revision_file("a"),
        "plugins/p1/alembic.ini": "[alembic]\nscript_location = %(here)s\n",
        "plugins/p1/env.py": ENV_PY,
        "plugins/p1/versions/b.py": revision_file("b"),
        "node_modules/x/alembic.ini": "[alembic]\nscript_location = %(here)s\n",
    })
    envs = discover(tmp_path)
    assert sorted(revs(e)[0] for e in envs) == ["a.py", "b.py"]


def test_dialect_named_version_folders_are_separate_histories(tmp_path):
    write_tree(tmp_path, {
        "migrations/env.py": ENV_PY,
        "migrations/versions/postgresql/a.py": revision_file("a"),
        "migrations/versions/sqlite/b.py": revision_file("b"),
    })
    envs = discover(tmp_path)
    assert sorted((e.url_dialect, revs(e)[0]) for e in envs) == [("postgresql", "a.py"), ("sqlite", "b.py")]


def test_nested_release_folders_read_recursively(tmp_path):
    write_tree(tmp_path, {
        "migrations/env.py": ENV_PY,
        "migrations/versions/kilo_initial.py": revision_file("kilo"),
        "migrations/versions/liberty/expand/e1.py": revision_file("e1", "kilo"),
        "migrations/versions/liberty/contract/c1.py": revision_file("c1", "kilo"),
        "migrations/versions/README": "text",
    })
    (env,) = discover(tmp_path)
    assert revs(env) == ["c1.py", "e1.py", "kilo_initial.py"]


def test_package_resource_script_location(tmp_path):
    write_tree(tmp_path, {
        "src/app/server/database/alembic.ini": "[alembic]\nscript_location = app:server:database:_migrations\n",
        "src/app/__init__.py": "",
        "src/app/server/database/_migrations/env.py": ENV_PY,
        "src/app/server/database/_migrations/versions/a.py": revision_file("a"),
    })
    (env,) = discover(tmp_path)
    assert revs(env) == ["a.py"]


def test_env_py_settings_read_statically(tmp_path):
    write_tree(tmp_path, {
        "migrations/env.py": ENV_PY.replace(
            "with context.begin_transaction():",
            "context.configure(transaction_per_migration=True)\n    connection.execute(text(\"SET lock_timeout = '4s'\"))\n    with context.begin_transaction():",
        ),
        "migrations/versions/a.py": revision_file("a"),
    })
    (env,) = discover(tmp_path)
    assert env.settings["lock_timeout"] and env.settings["transaction_per_migration"]
    assert not env.settings["flask"]


def test_errors(tmp_path):
    with pytest.raises(DiscoveryError, match="no such file"):
        discover(tmp_path / "missing")
    with pytest.raises(DiscoveryError, match="no Alembic environment"):
        discover(tmp_path)
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(DiscoveryError, match="expected a folder"):
        discover(tmp_path / "x.txt")
    (tmp_path / "broken.ini").write_text("[alembic\nscript_location = x\n")
    with pytest.raises(DiscoveryError, match="cannot read INI"):
        discover(tmp_path / "broken.ini")


def test_one_dialect_folder_given_directly(tmp_path):
    write_tree(tmp_path, {
        "migrations/env.py": ENV_PY,
        "migrations/versions/postgresql/a.py": revision_file("a"),
        "migrations/versions/sqlite/b.py": revision_file("b"),
    })
    (env,) = discover(tmp_path / "migrations/versions/postgresql")
    assert env.url_dialect == "postgresql" and revs(env) == ["a.py"]


def test_one_table_of_dialect_spellings():
    from migration_lint import dialects

    assert dialects.canonical("PG") == "postgresql" and dialects.canonical("postgresql+psycopg2") == "postgresql"
    assert dialects.canonical("mariadb") == "mysql" and dialects.canonical("oracle") is None
    assert dialects.from_sqlalchemy_name("postgres") == "postgresql" and dialects.from_sqlalchemy_name("pg") is None  # not a URL scheme
    assert set(dialects.DEFAULT_VERSIONS) == set(dialects.DIALECTS) == set(dialects.DISPLAY_NAMES)


def test_a_migrations_or_versions_folder_keeps_its_alembic_ini(tmp_path):
    write_tree(tmp_path, {
        "alembic.ini": "[alembic]\nscript_location = %(here)s/db\nsqlalchemy.url = sqlite:///app.db\n",
        "db/env.py": ENV_PY,
        "db/versions/a.py": revision_file("a"),
    })
    for given in (tmp_path / "db", tmp_path / "db" / "versions"):
        (env,) = discover(given)
        assert env.url_dialect == "sqlite" and env.config_file == tmp_path / "alembic.ini"
        assert revs(env) == ["a.py"]


def test_configured_folder_through_a_symlink_and_past_a_broken_ini(tmp_path, monkeypatch):
    write_tree(tmp_path, {
        "real/alembic.ini": "[alembic]\nscript_location = %(here)s/db\nsqlalchemy.url = mysql://u@h/x\n",
        "real/db/env.py": ENV_PY,
        "real/db/versions/a.py": revision_file("a"),
        "other/alembic.ini": "[alembic]\nscript_location = a\nscript_location = b\n",
        "other/svc/migrations/env.py": ENV_PY,
        "other/svc/migrations/versions/a.py": revision_file("a"),
    })
    (tmp_path / "link").symlink_to(tmp_path / "real")
    monkeypatch.chdir(tmp_path)
    (env,) = discover(Path("link/db"))  # relative, through a symlink
    assert env.url_dialect == "mysql"
    (env,) = discover(Path("other/svc/migrations"))  # an unrelated broken alembic.ini above
    assert revs(env) == ["a.py"] and env.url_dialect is None


def test_pinned_modules_reads_pins_and_lock_files_as_text(tmp_path):
    """Libraries the project fixes to one version (raw-sql-unanalyzed: a pinned library's SQL is
    its own): `==` pins in pyproject.toml and requirements files, every package of a lock file;
    ranges and wildcards are not pins."""
    from migration_lint.discovery import pinned_modules

    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "app"\ndependencies = ["sqlalchemy-searchable==1.2.0", "flask>=2", "celery[redis]==5.3.1 ; python_version > \'3.8\'"]\n'
        '[project.optional-dependencies]\ndev = ["pytest==8.0.0", "black==24.*"]\n'
        '[tool.poetry.dependencies]\nrequests = "2.31.0"\nurllib3 = "^2"\n'
    )
    (tmp_path / "requirements.txt").write_text("alembic==1.13.1 \\\n    --hash=sha256:abc\nsix~=1.16\n# psycopg2==2.9\n")
    (tmp_path / "requirements").mkdir()
    (tmp_path / "requirements" / "main.txt").write_text("Zope.Interface===6.0\n")
    (tmp_path / "uv.lock").write_text('version = 1\n\n[[package]]\nname = "pyyaml"\nversion = "6.0"\n\n[[package]]\nname = "typing-extensions"\nversion = "4.9"\n')
    (tmp_path / "notes.txt").write_text("ignored==1.0\n")  # not a requirements file
    # (celery's pin holds only under its environment marker: not taken)
    assert pinned_modules(tmp_path) == {"sqlalchemy_searchable", "pytest", "requests", "alembic", "zope_interface", "pyyaml", "typing_extensions"}
    assert pinned_modules(tmp_path / "missing") == frozenset()
    # a pyproject.toml that does not parse pins nothing, and says nothing (it is not ours to judge)
    (tmp_path / "pyproject.toml").write_text("[project\n")
    assert "sqlalchemy_searchable" not in pinned_modules(tmp_path)


def test_pinned_modules_leaves_out_the_project_and_its_neighbours_and_survives_hostile_files(tmp_path):
    """The review's cases: a lock file lists the project itself (editable) and code beside it (a
    path source): their SQL is the project's, not a pinned library's.  A malformed pyproject.toml,
    a long line that almost matches, a requirements folder linked outside the project: no
    traceback, no hang, nothing read from outside."""
    import time

    from migration_lint.discovery import pinned_modules

    (tmp_path / "pyproject.toml").write_text('[project]\nname = "myapp"\ndependencies = 5\n[project.optional-dependencies]\ndev = true\n')
    (tmp_path / "uv.lock").write_text(
        'version = 1\n\n[[package]]\nname = "myapp"\nversion = "0.1"\nsource = { editable = "." }\n\n'
        '[[package]]\nname = "shared"\nversion = "0.1"\nsource = { directory = "../shared" }\n\n'
        '[[package]]\nname = "sqlalchemy-utils"\nversion = "0.41"\nsource = { registry = "https://pypi.org/simple" }\n'
    )
    (tmp_path / "poetry.lock").write_text('[[package]]\nname = "localpkg"\nversion = "1"\ndevelop = true\n\n[package.source]\ntype = "directory"\nurl = "libs/localpkg"\n')
    (tmp_path / "requirements.txt").write_text("a" + " " * 200_000 + "x\n" + "b ==" + " " * 200_000 + "\n")
    outside = tmp_path.parent / (tmp_path.name + "-outside")
    outside.mkdir()
    (outside / "base.txt").write_text("leaked==1.0\n")
    (tmp_path / "requirements").symlink_to(outside)
    started = time.monotonic()
    assert pinned_modules(tmp_path) == {"sqlalchemy_utils"}
    assert time.monotonic() - started < 5
