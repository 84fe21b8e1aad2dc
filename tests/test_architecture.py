"""The shape the code promises: settings decided once with one precedence, the graph and the scope
built once per history, one finding type with identity-based fingerprints."""

import dataclasses
import subprocess
from pathlib import Path

import pytest

from conftest import ENV_PY, RUNNABLE_ENV_PY, revision_file, runnable_revision, write_tree
from migration_lint import api, graph, scope
from migration_lint.config import config_from_mapping
from migration_lint.discovery import discover
from migration_lint.settings import Invocation, resolve

GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main"]


def project(root: Path, revisions: dict, ini: str = "[alembic]\nscript_location = %(here)s/migrations\n", env_py: str = ENV_PY) -> Path:
    write_tree(root, {"alembic.ini": ini, "migrations/env.py": env_py, **{f"migrations/versions/{n}": t for n, t in revisions.items()}})
    return root


HISTORY = {
    "a.py": revision_file("a", upgrade='op.create_table("t", sa.Column("id", sa.Integer(), primary_key=True))', downgrade='op.drop_table("t")'),
    "b.py": revision_file("b", "a", upgrade='op.create_index("ix_t_id", "t", ["id"])', downgrade='op.drop_index("ix_t_id", table_name="t")'),
}


@pytest.fixture
def counted(monkeypatch):
    """How often revision graphs and scopes are built."""
    counts = {"graph": 0, "scope": 0}
    real_build, real_scope = graph.RevisionGraph.build.__func__, scope.build_scope

    def build(cls, revisions):
        counts["graph"] += 1
        return real_build(cls, revisions)

    def build_scope(*args, **kwargs):
        counts["scope"] += 1
        return real_scope(*args, **kwargs)

    monkeypatch.setattr(graph.RevisionGraph, "build", classmethod(build))
    monkeypatch.setattr("migration_lint.history.build_scope", build_scope)
    return counts


def test_graph_and_scope_are_built_once_per_history(tmp_path, counted):
    project(tmp_path, HISTORY)
    result = api.check([tmp_path], use_cache=False, start_after="a")
    assert {f.rule for f in result.findings} >= {"create-index-not-concurrently"}
    assert counted == {"graph": 1, "scope": 1}


def test_changed_only_mode_builds_the_base_graph_as_a_second_one(tmp_path, counted):
    project(tmp_path, HISTORY)
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "base"]):
        subprocess.run(GIT + args, cwd=tmp_path, check=True, capture_output=True)
    write_tree(tmp_path, {"migrations/versions/c.py": revision_file("c", "b", upgrade='op.drop_column("t", "x")')})
    result = api.check([tmp_path], use_cache=False, diff_base="HEAD")
    assert {Path(f.path).name for f in result.findings} == {"c.py"}
    assert counted == {"graph": 2, "scope": 1}  # the history's graph, and the base branch's


def test_the_round_trip_uses_the_scope_it_is_given(tmp_path, counted):
    project(tmp_path, {
        "a.py": runnable_revision("a", None, 'op.create_table("t1", sa.Column("id", sa.Integer(), primary_key=True))', 'op.drop_table("t1")'),
        "b.py": runnable_revision("b", "a", 'op.create_table("t2", sa.Column("id", sa.Integer(), primary_key=True))', 'op.drop_table("t2")'),
    }, env_py=RUNNABLE_ENV_PY)
    result = api.check([tmp_path / "migrations"], use_cache=False, roundtrip=api.RoundTripOptions(db="sqlite"), start_after="a")
    assert result.environments[0].roundtrip.tested == 1  # only b: the scope says so
    assert counted == {"graph": 1, "scope": 1}


def _settings(tmp_path, config=None, **invocation):
    (env,) = discover(tmp_path)
    return resolve(env, config or config_from_mapping({}), Invocation(**invocation), inferred_dialect=("sqlite", "inferred (test)"))


def test_one_precedence_for_the_dialect(tmp_path):
    """flag > config > --db URL > alembic.ini URL > inferred > default, each saying where it came from."""
    project(tmp_path, HISTORY, ini="[alembic]\nscript_location = %(here)s/migrations\nsqlalchemy.url = mysql://u@h/db\n")
    config = config_from_mapping({"dialect": "postgresql"}, source="cfg.yaml")
    steps = [
        (dict(dialect="sqlite", db_url_dialect="postgresql"), config, ("sqlite", "--dialect")),
        (dict(db_url_dialect="sqlite"), config, ("postgresql", "config (cfg.yaml)")),
        (dict(db_url_dialect="postgresql"), None, ("postgresql", "--db URL")),
        ({}, None, ("mysql", "alembic.ini sqlalchemy.url")),
    ]
    for invocation, cfg, expected in steps:
        settings = _settings(tmp_path, cfg, **invocation)
        assert (settings.dialect, settings.source_of("dialect")) == expected
    (tmp_path / "alembic.ini").write_text("[alembic]\nscript_location = %(here)s/migrations\n")
    settings = _settings(tmp_path)
    assert (settings.dialect, settings.source_of("dialect")) == ("sqlite", "inferred (test)")
    (env,) = discover(tmp_path)
    settings = resolve(env, config_from_mapping({}), Invocation())
    assert (settings.dialect, settings.source_of("dialect"), settings.server_version) == ("postgresql", "default", (14,))


def test_settings_are_frozen_and_the_header_says_what_decided_them(tmp_path, capsys):
    from migration_lint.cli import main

    project(tmp_path, HISTORY, ini="[alembic]\nscript_location = %(here)s/migrations\nsqlalchemy.url = mysql://u@h/db\n")
    settings = _settings(tmp_path)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.dialect = "postgresql"
    with pytest.raises(dataclasses.FrozenInstanceError):
        config_from_mapping({}).dialect = "mysql"
    main(["check", str(tmp_path), "--no-cache", "--server-version", "10.11", "--exit-zero"])
    header = " ".join(capsys.readouterr().out.split("\n\n")[0].split())
    assert "checked for mysql 10.11 (dialect: alembic.ini sqlalchemy.url; server version: --server-version)" in header
    main(["check", str(tmp_path), "--no-cache", "--format", "json", "--exit-zero"])
    import json

    decided = json.loads(capsys.readouterr().out)["summary"]["environments"][0]["settings"]
    assert decided["dialect"] == {"value": "mysql", "source": "alembic.ini sqlalchemy.url"}
    assert decided["server_version"] == {"value": "8.0", "source": "default"}


def test_fingerprints_are_object_identity_not_text_or_lines(tmp_path):
    """The same object, moved lines and reworded: the same fingerprint; another object: another."""
    from migration_lint.model import Finding, with_fingerprints

    a = Finding("drop-column", "x/v.py", 10, "drops column t.c", revision="r1", subject=("column", "public", "t", "c"))
    moved = dataclasses.replace(a, line=30, message="removes t.c (reworded)", path="y/renamed.py")
    other = dataclasses.replace(a, subject=("column", "public", "t", "d"))
    (fa,), (fm,), (fo,) = with_fingerprints([a]), with_fingerprints([moved]), with_fingerprints([other])
    assert fa.fingerprint == fm.fingerprint != fo.fingerprint
    twice = with_fingerprints([a, dataclasses.replace(a, line=20)])
    assert len({f.fingerprint for f in twice}) == 2  # two findings on one object: numbered in line order
    assert twice[0].fingerprint == fa.fingerprint


def test_an_unqualified_object_keeps_its_fingerprint_when_its_schema_is_spelt_out(tmp_path):
    from migration_lint.api import lint_sources

    plain = lint_sources({"v.py": revision_file("r", upgrade='op.drop_column("t", "c")')})
    qualified = lint_sources({"v.py": revision_file("r", upgrade='op.drop_column("t", "c", schema="public")')})
    pick = lambda findings: [f.fingerprint for f in findings if f.rule == "drop-column"]  # noqa: E731
    assert pick(plain) and pick(plain) == pick(qualified)
