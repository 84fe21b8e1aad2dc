"""The release as users get it.

The sdist and the wheel are built (`python -m build`: the wheel is built from the sdist, so a file
the sdist forgets breaks it), their metadata checked (`twine check`), the wheel installed in a fresh
virtual environment, and every command the README shows is run from that environment on a copy of
the bundled example, outside this checkout. The pytest plugin is run from it too, and the no-deps
copy the GitHub Action's comment step installs is imported on its own.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import PG_URL, REPO, require_server

from migration_lint import DISTRIBUTION, __version__


INDEX_TROUBLE = ("Could not find a version", "connection", "Temporary failure in name resolution", "No matching distribution")


def _run(args, **kwargs):
    return subprocess.run(args, capture_output=True, text=True, **kwargs)


def _clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "PYTHONSTARTUP")}
    env.update(extra)
    return env


def _index_unreachable(proc) -> bool:
    return proc.returncode != 0 and any(t in proc.stderr for t in INDEX_TROUBLE)


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """Build, check and install the release once for this module."""
    base = tmp_path_factory.mktemp("release")
    dist = base / "dist"
    built = _run([sys.executable, "-m", "build", "--outdir", str(dist), str(REPO)], env=_clean_env())
    if _index_unreachable(built):
        pytest.skip(f"cannot fetch the build backend from the package index: {built.stderr.strip().splitlines()[-1]}")
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    (wheel,) = dist.glob("*.whl")
    (sdist,) = dist.glob("*.tar.gz")
    checked = _run([sys.executable, "-m", "twine", "check", "--strict", str(wheel), str(sdist)], env=_clean_env())
    assert checked.returncode == 0, checked.stdout + checked.stderr

    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    bindir = venv / "bin"
    # the extras of the README's round-trip install line, and pytest for the plugin
    installed = _run([str(bindir / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", f"{wheel}[postgresql,mysql]", "pytest<9.2"], env=_clean_env())
    if _index_unreachable(installed):
        pytest.skip(f"cannot install the wheel's dependencies from the package index: {installed.stderr.strip().splitlines()[-1]}")
    assert installed.returncode == 0, installed.stderr[-3000:]

    project = base / "blog"  # the bundled example, outside the checkout, as a git repository
    shutil.copytree(REPO / "examples" / "blog", project)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-C", str(project)]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "example"], ["update-ref", "refs/remotes/origin/main", "HEAD"]):
        subprocess.run(git + args, check=True, capture_output=True)
    cache = base / "cache"
    return SimpleNamespace(base=base, wheel=wheel, sdist=sdist, venv=venv, bindir=bindir, project=project, env=_clean_env(MIGRATION_LINT_CACHE_DIR=str(cache), NO_COLOR="1"))


def tool(release, *args, cwd=None, timeout=300):
    return _run([str(release.bindir / "migration-lint"), *args], cwd=cwd or release.project, env=release.env, timeout=timeout)


def test_wheel_metadata_names_the_distribution_and_version(release):
    names = zipfile.ZipFile(release.wheel).namelist()
    metadata = zipfile.ZipFile(release.wheel).read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert f"\nName: {DISTRIBUTION}\n" in metadata and f"\nVersion: {__version__}\n" in metadata
    assert "Requires-Python: >=3.10" in metadata
    assert release.wheel.name == f"alembic_lint-{__version__}-py3-none-any.whl"
    packaged = sorted(n.rsplit("/", 1)[1] for n in names if n.startswith("migration_lint/rules/") and n.endswith(".yaml"))
    assert packaged == sorted(p.name for p in (REPO / "rules").glob("*.yaml"))
    entry_points = zipfile.ZipFile(release.wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "migration-lint = migration_lint.cli:main" in entry_points
    assert "migration_lint = migration_lint.pytest_plugin" in entry_points


def test_the_installed_tool_is_the_wheel_not_this_checkout(release):
    where = _run([str(release.bindir / "python"), "-c", "import migration_lint; print(migration_lint.__file__)"], cwd=release.base, env=release.env)
    assert where.returncode == 0 and Path(where.stdout.strip()).is_relative_to(release.venv), where.stdout
    version = tool(release, "--version")
    assert version.returncode == 0 and version.stdout.strip() == f"migration-lint {__version__} (distribution {DISTRIBUTION})"


def test_rules_from_the_wheel_are_the_whole_catalogue(release):
    listed = tool(release, "rules", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    names = {rule["name"] for rule in json.loads(listed.stdout)}
    assert len(names) == len(list((REPO / "rules").glob("*.yaml")))


def _docker_answers() -> bool:
    try:
        import docker  # noqa: F401  (the test extra installs it)

        return bool(docker.from_env(timeout=3).ping())
    except Exception:
        return False


def _local_postgres() -> bool:
    return bool(shutil.which("initdb") or list(Path("/usr/lib/postgresql").glob("*/bin/initdb")))


# Every command the README shows, with what it becomes here: the arguments, run in a copy of the
# bundled example, and the exit codes it may end with (the example has findings on purpose: 1).
# A command added to the README must be added here, so the suite runs it.
def readme_commands():
    docker = _docker_answers()
    return {
        "migration-lint check examples/blog --exit-zero": (["check", "../blog", "--exit-zero"], {0}),
        "cd my-flask-app && migration-lint check": (["check"], {1}),
        "migration-lint check path/to/migrations --format json": (["check", "migrations", "--format", "json"], {1}),
        "migration-lint check --dialect mysql --server-version 8.0": (["check", "--dialect", "mysql", "--server-version", "8.0"], {1}),
        "migration-lint explain create-index-not-concurrently": (["explain", "create-index-not-concurrently"], {0}),
        "migration-lint rules": (["rules"], {0}),
        "migration-lint check --roundtrip": (["check", "--roundtrip"], {1}),
        "migration-lint check --roundtrip --db local": (["check", "--roundtrip", "--db", "local"], {1} if _local_postgres() else {2}),
        # without the [docker] extra (as installed here) or an engine, a one-line error that names the right extra
        "migration-lint check --roundtrip --db docker": (["check", "--roundtrip", "--db", "docker"], {1} if docker else {2}),
        "migration-lint check --roundtrip --db postgresql://ci@dbhost/postgres": (["check", "--roundtrip", "--db", PG_URL], {1}),
        "migration-lint check --roundtrip --db sqlite": (["check", "--roundtrip", "--db", "sqlite"], {1}),
        "migration-lint check --format gitlab --output gl-code-quality-report.json --exit-zero": (["check", "--format", "gitlab", "--output", "gl-code-quality-report.json", "--exit-zero"], {0}),
        "migration-lint check": (["check"], {1}),
        "migration-lint check --roundtrip --trace --db postgresql://ci@dbhost/postgres": (["check", "--roundtrip", "--trace", "--db", PG_URL], {1}),
        # the example's env.py has no target_metadata: drift is not checked, and a note says so
        "migration-lint check --drift": (["check", "--drift"], {1}),
        "migration-lint check --roundtrip --drift --db sqlite": (["check", "--roundtrip", "--drift", "--db", "sqlite"], {1}),
        # the README's module is a placeholder: a module that cannot be imported is one line, exit 2,
        # unless the example's upgrade fails first (it does, on PostgreSQL: a note says drift was not checked)
        "migration-lint check --drift --metadata myapp.models:db.metadata": (["check", "--drift", "--metadata", "myapp.models:db.metadata"], {1, 2}),
        # the example is committed, origin/main is that commit: nothing changed, nothing to report
        "migration-lint check --diff-base origin/main": (["check", "--diff-base", "origin/main"], {0}),
        # placeholders for a project's own starting schema: the example has neither, so one line, exit 2
        "migration-lint check --roundtrip --base-schema schema/before-first-revision.sql": (["check", "--roundtrip", "--base-schema", "schema/before-first-revision.sql"], {2}),
        "migration-lint check --roundtrip --base-schema myapp.models:db --base-stamp ab12cd34ef56": (["check", "--roundtrip", "--base-schema", "myapp.models:db", "--base-stamp", "ab12cd34ef56"], {2}),
        "migration-lint baseline": (["baseline"], {0}),
        "migration-lint check --baseline .migration-lint-baseline.json": (["check", "--baseline", ".migration-lint-baseline.json"], {0}),
    }


def code_blocks(text: str):
    """(language, body) of each fenced block, fences read line by line (indented ones too)."""
    blocks, lang, body = [], None, []
    for line in text.splitlines():
        fence = re.match(r"^\s*```(\w*)\s*$", line)
        if fence and lang is None:
            lang, body = fence.group(1), []
        elif fence:
            blocks.append((lang, "\n".join(body)))
            lang = None
        elif lang is not None:
            body.append(line)
    return blocks


def commands_in_readme():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    found = []
    for lang, block in code_blocks(text):
        for line in block.splitlines():
            line = line.split(" #", 1)[0].strip()
            if lang == "yaml":
                line = line.removeprefix("- ").strip()
                if not line.startswith("migration-lint "):
                    continue
            elif lang != "sh" or "migration-lint " not in line:
                continue
            if line.startswith("python3 -m venv"):  # the Quickstart: the part after the install
                line = line.rsplit("&& .venv/bin/", 1)[1]
                if not line.startswith("migration-lint"):
                    continue
            found.append(line)
    return found


def test_every_readme_command_is_run_here():
    known = readme_commands()
    shown = commands_in_readme()
    assert shown, "no commands found in the README"
    missing = [c for c in shown if c not in known]
    assert not missing, f"README commands the suite does not run (add them to readme_commands): {missing}"


@pytest.mark.parametrize("command", sorted(readme_commands()))
def test_readme_command_works_from_the_wheel(release, command):
    args, codes = readme_commands()[command]
    if "--db" in args and args[args.index("--db") + 1] == PG_URL or "--trace" in args:
        require_server(PG_URL, "MIGRATION_LINT_TEST_PG_URL")
    if "--baseline" in args:  # the README's order: record the baseline first
        assert tool(release, "baseline").returncode == 0
    proc = tool(release, *args)
    assert proc.returncode in codes, f"{command}: exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert "Traceback" not in proc.stderr
    if proc.returncode == 2:  # an environment error: one line that says what to do, with this distribution's name
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("migration-lint: error:"), proc.stderr
        assert "migration-lint[" not in proc.stderr
        if "--db" in args and args[args.index("--db") + 1] == "docker":
            assert "alembic-lint[docker]" in proc.stderr or "Docker" in proc.stderr
    if "json" in args:
        assert json.loads(proc.stdout)["findings"]
    if "gitlab" in args:
        report = json.loads((release.project / "gl-code-quality-report.json").read_text())
        assert report and all(issue["location"]["path"].startswith("migrations/") for issue in report)
    if "--roundtrip" in args and proc.returncode == 1:
        assert "round trip:" in proc.stdout + proc.stderr
        assert "INFO  [alembic" not in proc.stdout + proc.stderr, "the project's Alembic logging floods the output"


def test_pytest_plugin_from_the_wheel(release):
    proc = _run(
        [str(release.bindir / "python"), "-m", "pytest", "--migration-lint", "-p", "no:cacheprovider", "-q", "-rA"],
        cwd=release.project,
        env=release.env,
        timeout=300,
    )
    # the example has errors: its one item (an environment) fails, and says why
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "migration-lint::migrations" in proc.stdout and "1 failed" in proc.stdout
    assert "create-index-not-concurrently" in proc.stdout


def test_the_action_comment_copy_runs_without_dependencies(release, tmp_path):
    """The comment step installs the wheel with --no-deps and runs it isolated (-I -B): it posts
    the sticky comment (to a local stand-in for the GitHub API) with nothing but the standard library."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    posted = []

    class API(BaseHTTPRequestHandler):
        def _answer(self, data, code=200):
            body = json.dumps(data).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):  # noqa: N802
            self._answer({"login": "github-actions[bot]"} if self.path == "/user" else [])

        def do_POST(self):  # noqa: N802
            posted.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self._answer({"id": 1, "html_url": "http://example.invalid/c/1"}, 201)

        def log_message(self, *args):
            pass

    venv = tmp_path / "comment"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    installed = _run([py, "-I", "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps", "--no-compile", str(release.wheel)], env=_clean_env())
    assert installed.returncode == 0, installed.stderr
    report = tool(release, "check", "--format", "json", "--output", str(tmp_path / "report.json"))
    assert report.returncode == 1, report.stderr
    (tmp_path / "event.json").write_text(json.dumps({"pull_request": {"number": 7}}))
    server = ThreadingHTTPServer(("127.0.0.1", 0), API)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = {k: v for k, v in _clean_env().items() if not k.startswith("GITHUB_")}
        env.update(
            GITHUB_API_URL=f"http://127.0.0.1:{server.server_address[1]}", GITHUB_TOKEN="t", GITHUB_REPOSITORY="o/r",
            GITHUB_EVENT_PATH=str(tmp_path / "event.json"), GITHUB_EVENT_NAME="pull_request", no_proxy="127.0.0.1", NO_PROXY="127.0.0.1",
        )
        proc = _run([py, "-I", "-B", "-m", "migration_lint.github_action", "comment", "--report", str(tmp_path / "report.json"), "--exit-code", "1"], cwd=tmp_path, env=env)
    finally:
        server.shutdown()
    assert proc.returncode == 0 and "pull request comment created" in proc.stdout, proc.stdout + proc.stderr
    (body,) = posted
    assert "<!-- migration-lint -->" in body["body"] and "create-index-not-concurrently" in body["body"]
    assert not list(venv.rglob("migration_lint/**/__pycache__")), "the comment copy must stay byte-identical to its digest"


def test_sdist_holds_what_the_wheel_and_the_suite_need(release):
    import tarfile

    names = tarfile.open(release.sdist).getnames()
    root = names[0].split("/", 1)[0]
    for needed in ("pyproject.toml", "README.md", "CHANGELOG.md", "LICENSE", "action.yml", ".pre-commit-hooks.yaml", "rules/add-foreign-key.yaml", "tests/conftest.py", "examples/blog/alembic.ini"):
        assert f"{root}/{needed}" in names, needed


# --- what does not need a build ------------------------------------------------------------------

TEXT_SUFFIXES = {".py", ".md", ".yml", ".yaml", ".toml", ".cfg", ".ini", ".txt", ".json", ""}
OTHER_DISTRIBUTION = re.compile(
    r"""migration-lint(\[|==|>=|~=)"""  # an extra or a version pin can only be a distribution name
    r"""|pip install (?:-\S+ )*['"]?migration-lint['"]?(?:\s|$)"""
    r"""|package=['"]?migration-lint\b"""
)


def _repo_text_files():
    skip = {".git", ".venv", "build", "dist", "__pycache__", ".pytest_cache", ".ruff_cache"}
    for path in REPO.rglob("*"):
        if any(part in skip or part.startswith(".venv") for part in path.relative_to(REPO).parts):
            continue
        if path.is_file() and (path.suffix in TEXT_SUFFIXES or path.name == "run"):
            yield path


def test_no_install_line_hint_or_input_names_the_other_distribution():
    """`migration-lint` on the package index is another project: installing it replaces this one."""
    offenders = []
    for path in _repo_text_files():
        if path == Path(__file__):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if OTHER_DISTRIBUTION.search(line):
                offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
    action = (REPO / "action.yml").read_text(encoding="utf-8")
    assert f'package="{DISTRIBUTION}"' in action


def test_the_pattern_catches_what_it_must():
    for bad in ("pip install 'migration-lint[docker]'", "pip install migration-lint", "pip install -U migration-lint==0.1", 'package="migration-lint"'):
        assert OTHER_DISTRIBUTION.search(bad), bad
    for fine in ("pip install alembic-lint", "migration-lint check", "pip install -e .  # then run migration-lint", "[tool.migration-lint]"):
        assert not OTHER_DISTRIBUTION.search(fine), fine


def test_one_version_everywhere():
    """The wheel's version, the newest CHANGELOG entry, the pre-commit example's rev and the
    Action's major tag in the README agree."""
    changelog = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    newest = re.search(r"^## (\d+\.\d+\.\d+\S*)", changelog, re.M)
    assert newest and newest.group(1) == __version__, "CHANGELOG.md's newest entry is not migration_lint.__version__"
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    revs = set(re.findall(r"^\s*rev: (\S+)", readme, re.M))
    assert revs == {f"v{__version__}"}, revs
    major = __version__.split(".")[0]
    uses = set(re.findall(r"uses: migration-lint/migration-lint@(\S+)", readme))
    assert uses == {f"v{major}"}, uses
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert f'name = "{DISTRIBUTION}"' in pyproject and 'path = "migration_lint/__init__.py"' in pyproject
