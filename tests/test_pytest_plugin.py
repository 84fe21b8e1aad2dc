"""The pytest plugin (migration_lint/pytest_plugin.py), run for real inside pytester."""

pytest_plugins = ["pytester"]

import os
import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path

import pytest

from conftest import PG_URL, RUNNABLE_ENV_PY as ENV_PY, needs_pg, runnable_revision as rev

REPO = Path(__file__).resolve().parent.parent


def _import_everything():
    """pytester's in-process runs drop the modules they imported once they end, so a class the
    next run re-imports is another object than the one a kept module holds (pickling the cache
    fails).  Importing migration-lint whole here keeps one copy for every run."""
    import importlib
    import pkgutil

    import migration_lint

    for module in pkgutil.walk_packages(migration_lint.__path__, "migration_lint."):
        if module.name != "migration_lint.__main__":
            importlib.import_module(module.name)
    import alembic.command  # noqa: F401  (the round trip runs env.py in-process)
    import sqlalchemy  # noqa: F401


_import_everything()


A1 = rev("a1", None, 'op.create_table("post", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("title", sa.String(100), nullable=True))', 'op.drop_table("post")')
B2 = rev("b2", "a1", 'op.add_column("post", sa.Column("body", sa.Text(), nullable=True))', 'op.drop_column("post", "body")')
CLEAN = {"a1.py": A1, "b2.py": B2}
# drop-table (error, every dialect) on line 11 of c3.py
DANGEROUS = {**CLEAN, "c3.py": rev("c3", "b2", 'op.drop_table("post")', "pass")}
# the downgrade leaves the column behind: statically incomplete-downgrade, in the round trip
# downgrade-leaves-trace (+ reupgrade-failed)
LEAVES_COLUMN = {**CLEAN, "c3.py": rev("c3", "b2", 'op.add_column("post", sa.Column("slug", sa.String(80), nullable=True))', 'op.execute("SELECT 1")')}


def _plugin_autoloaded() -> bool:
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        return False
    return any(ep.value == "migration_lint.pytest_plugin" for ep in metadata.entry_points(group="pytest11"))


# Installed (pip install -e .), the entry point loads the plugin; from a bare checkout, -p does.
PLUGIN = [] if _plugin_autoloaded() else ["-p", "migration_lint.pytest_plugin"]


@pytest.fixture(autouse=True)
def _inner_cache(tmp_path_factory, monkeypatch):
    """The inner pytest runs inherit this: nothing is written to the user's cache directory."""
    monkeypatch.setenv("MIGRATION_LINT_CACHE_DIR", str(tmp_path_factory.mktemp("inner-cache")))
    monkeypatch.delenv("MIGRATION_LINT_DEBUG", raising=False)


def project(root: Path, revisions: dict, folder: str = "", migration_lint: str = "", pytest_ini: str = "") -> Path:
    """An Alembic project (alembic.ini + migrations/) in ``root/folder``; pyproject.toml at root."""
    base = root / folder if folder else root
    files = {
        base / "alembic.ini": "[alembic]\nscript_location = %(here)s/migrations\nsqlalchemy.url = sqlite:///app.db\n",
        base / "migrations" / "env.py": ENV_PY,
    }
    for name, text in revisions.items():
        files[base / "migrations" / "versions" / name] = text
    pyproject = root / "pyproject.toml"
    if not pyproject.exists() or pytest_ini or migration_lint:
        text = "[tool.pytest.ini_options]\n" + textwrap.dedent(pytest_ini)
        if migration_lint:
            text += "\n[tool.migration-lint]\n" + textwrap.dedent(migration_lint)
        files[pyproject] = text
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def run(pytester, *args):
    return pytester.runpytest(*PLUGIN, "-p", "no:cacheprovider", *args)


def test_clean_history_passes(pytester):
    project(pytester.path, CLEAN)
    result = run(pytester, "--migration-lint", "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*migration-lint::migrations PASSED*"])


def test_dangerous_migration_fails_and_lists_the_finding(pytester):
    project(pytester.path, DANGEROUS)
    result = run(pytester, "--migration-lint")
    result.assert_outcomes(failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([
        "*_ migration-lint::migrations _*",
        "migrations: 1 error, 0 warnings, 0 info; 1 at or above fail-on (error)",
        "*3 revisions, 1 head, checked for sqlite*",
        "migrations/versions/c3.py:11:5: error drop-table (revision c3, upgrade)",
        "    drops table post*",
        "    fix: *",
        "FAILED migration-lint::migrations*",  # pytest 9 adds the first line of the report
    ])
    out = result.stdout.str()
    assert "Traceback" not in out and "def runtest" not in out and "\x1b[" not in out  # plain, no colours


def test_round_trip_on_sqlite_finds_the_column_left_behind(pytester):
    # incomplete-downgrade ignored: the static checks pass, only the round trip sees the problem
    project(pytester.path, LEAVES_COLUMN, migration_lint='ignore = ["incomplete-downgrade"]\n')
    run(pytester, "--migration-lint").assert_outcomes(passed=1)
    result = run(pytester, "--migration-lint-roundtrip", "--migration-lint-db", "sqlite")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*round trip: 3 revisions on *SQLite*",
        "migrations/versions/c3.py:14:1: error downgrade-leaves-trace (revision c3, downgrade)",
        "*only after downgrade: column post.slug*",
    ])
    assert "incomplete-downgrade" not in result.stdout.str()


def test_round_trip_from_the_ini_options(pytester):
    project(pytester.path, LEAVES_COLUMN, pytest_ini='migration_lint_roundtrip = true\nmigration_lint_db = "sqlite"\n')
    result = run(pytester)
    result.assert_outcomes(failed=1)
    assert "downgrade-leaves-trace" in result.stdout.str()


def test_options_off_add_nothing(pytester):
    project(pytester.path, DANGEROUS)
    pytester.makepyfile(test_app="def test_app():\n    assert True\n")
    result = run(pytester, "-v")
    result.assert_outcomes(passed=1)
    assert "migration-lint::" not in result.stdout.str()


def test_options_off_import_nothing_heavy(pytester):
    """Off, the plugin costs nothing: neither migration-lint's checker nor libcst is imported."""
    heavy = ("libcst", "sqlalchemy", "alembic", "migration_lint.api", "migration_lint.discovery", "migration_lint.engine")
    code = f"import sys, migration_lint.pytest_plugin; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"
    # in a real pytest process too (other plugins may import SQLAlchemy; ours must not import itself)
    project(pytester.path, DANGEROUS)
    pytester.makepyfile(test_light='''
        import sys

        def test_light():
            assert "migration_lint.pytest_plugin" in sys.modules
            loaded = [m for m in ("libcst", "migration_lint.api", "migration_lint.discovery", "migration_lint.engine") if m in sys.modules]
            assert not loaded
    ''')
    result = pytester.runpytest_subprocess(*PLUGIN, "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_ini_option_turns_it_on_and_items_join_the_tests(pytester):
    project(pytester.path, DANGEROUS, pytest_ini="migration_lint = true\n")
    pytester.makepyfile(test_app="def test_app():\n    assert True\n")
    result = run(pytester, "--collect-only", "-q")
    result.stdout.fnmatch_lines(["test_app.py::test_app", "migration-lint::migrations", "2 tests collected*"])
    run(pytester).assert_outcomes(passed=1, failed=1)
    # the items carry the migration_lint marker, so -m (and -k) select them like any test
    run(pytester, "-m", "not migration_lint").assert_outcomes(passed=1, deselected=1)
    run(pytester, "-m", "migration_lint").assert_outcomes(failed=1, deselected=1)


def test_one_item_per_environment(pytester):
    project(pytester.path, CLEAN, folder="billing")
    project(pytester.path, DANGEROUS, folder="shop")
    result = run(pytester, "--migration-lint", "-v")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*migration-lint::billing/migrations PASSED*", "*migration-lint::shop/migrations FAILED*"])
    assert "shop/migrations/versions/c3.py:11:5: error drop-table" in result.stdout.str()
    # --migration-lint-path narrows the search
    only = run(pytester, "--migration-lint", "--migration-lint-path", "billing", "-v")
    only.assert_outcomes(passed=1)
    only.stdout.fnmatch_lines(["*migration-lint::billing/migrations PASSED*"])


@pytest.mark.parametrize(
    "settings, passes",
    [
        ('ignore = ["drop-table"]\n', True),
        ('severity = { drop-table = "warning" }\n', True),
        ('severity = { drop-table = "warning" }\nfail-on = "warning"\n', False),
        ('start-after = "c3"\n', True),
    ],
)
def test_config_from_pyproject_is_respected(pytester, settings, passes):
    project(pytester.path, DANGEROUS, migration_lint=settings)
    result = run(pytester, "--migration-lint")
    result.assert_outcomes(**({"passed": 1} if passes else {"failed": 1}))


def test_findings_below_fail_on_show_with_rP(pytester):
    project(pytester.path, DANGEROUS, migration_lint='severity = { drop-table = "warning" }\n')
    result = run(pytester, "--migration-lint", "-rP")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*migration-lint*", "migrations/versions/c3.py:11:5: warning drop-table (revision c3, upgrade)"])


def test_yaml_config_given_explicitly(pytester):
    project(pytester.path, DANGEROUS)
    pytester.path.joinpath("lint.yaml").write_text("ignore: [drop-table]\n", encoding="utf-8")
    run(pytester, "--migration-lint", "--migration-lint-config", "lint.yaml").assert_outcomes(passed=1)


@pytest.mark.parametrize(
    "args, settings, message",
    [
        (["--migration-lint-path", "nope"], "", "*migration-lint: *nope: no such file or directory"),
        (["--migration-lint-config", "missing.toml"], "", "*migration-lint: *missing.toml: config file not found"),
        ([], 'fail-on = "sometimes"\n', "*migration-lint: *pyproject.toml: fail-on must be one of info, warning, error"),
        ([], 'colour = "blue"\n', "*migration-lint: *pyproject.toml: unknown setting 'colour'"),
    ],
)
def test_bad_path_or_config_is_a_usage_error(pytester, args, settings, message):
    project(pytester.path, CLEAN, migration_lint=settings)
    result = run(pytester, "--migration-lint", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}"])
    assert "Traceback" not in result.stderr.str() + result.stdout.str()


def test_no_environment_is_a_usage_error(pytester):
    pytester.makepyfile(test_app="def test_app():\n    assert True\n")
    result = run(pytester, "--migration-lint")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: migration-lint: *no Alembic environment found*"])


def test_error_while_checking_fails_the_item_in_one_line(pytester):
    """An environment problem found while checking (an unreadable file, a database that cannot be
    started) fails the items with the one-line message the CLI prints, not a traceback."""
    project(pytester.path, CLEAN)
    pytester.makeconftest('''
        from migration_lint import api
        from migration_lint.errors import DiscoveryError


        def pytest_configure(config):
            def check(*args, **kwargs):
                raise DiscoveryError("migrations/versions/b2.py: cannot read: Permission denied")

            api.check = check
    ''')
    result = pytester.runpytest_subprocess(*PLUGIN, "-p", "no:cacheprovider", "--migration-lint")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["migration-lint: error: migrations/versions/b2.py: cannot read: Permission denied"])
    assert "Traceback" not in result.stdout.str()


def test_syntax_error_is_a_finding(pytester):
    project(pytester.path, {**CLEAN, "c3.py": "revision = 'c3'\ndown_revision = 'b2'\ndef upgrade(:\n"})
    result = run(pytester, "--migration-lint")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["migrations/versions/c3.py:*: error syntax-error*"])


def test_entry_point_is_declared():
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    data = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert data["project"]["entry-points"]["pytest11"] == {"migration_lint": "migration_lint.pytest_plugin"}


def test_path_from_the_ini_options(pytester):
    project(pytester.path, CLEAN, folder="billing")
    project(pytester.path, DANGEROUS, folder="shop", pytest_ini='migration_lint = true\nmigration_lint_path = ["billing"]\n')
    result = run(pytester, "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*migration-lint::billing/migrations PASSED*"])


@needs_pg()
def test_trace_option_runs_the_round_trip_with_the_lock_trace(pytester):
    """--migration-lint-trace implies the round trip; the failing item shows the trace's verdict."""
    index = rev("b2", "a1", 'op.create_index("ix_post_title", "post", ["title"])', 'op.drop_index("ix_post_title", table_name="post")')
    project(pytester.path, {"a1.py": A1, "b2.py": index})
    result = run(pytester, "--migration-lint-trace", "--migration-lint-db", PG_URL)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*lock trace: 2 revisions*",
        "migrations/versions/b2.py:11:5: error create-index-not-concurrently (revision b2, upgrade)",
        "*creates index ix_post_title*",
        "    confirmed by trace: SHARE on public.post (blocks writes), held * ms",
    ])
