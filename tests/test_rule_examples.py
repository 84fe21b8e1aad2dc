"""Every example in every rule file of the catalogue runs as a test (Fixit/semgrep style)."""

import pytest

from conftest import MYSQL_URL, PG_URL, require_server
from migration_lint.catalogue import load_catalogue
from migration_lint.rule_examples import all_examples, needs_server, run_example

CATALOGUE = load_catalogue()
CASES = all_examples(CATALOGUE)


@pytest.mark.parametrize("rule,kind,index,item", CASES, ids=[f"{r.name}-{k}-{i}" for r, k, i, _ in CASES])
def test_rule_example(rule, kind, index, item):
    server = needs_server(item)
    if server:  # round-trip examples that need a server of the dialect (the lock trace: PostgreSQL)
        require_server(*((PG_URL, "MIGRATION_LINT_TEST_PG_URL") if server == "postgresql" else (MYSQL_URL, "MIGRATION_LINT_TEST_MYSQL_URL")))
    result = run_example(rule, item, valid=(kind == "valid"), catalogue=CATALOGUE, servers={"postgresql": PG_URL, "mysql": MYSQL_URL})
    assert result.ok, result.detail


def test_every_rule_has_invalid_and_valid_examples():
    for rule in CATALOGUE:
        assert rule.examples["invalid"], f"{rule.name} has no invalid example"
        assert rule.examples["valid"], f"{rule.name} has no valid example"


def test_rule_names_used_in_code_are_in_the_catalogue():
    from migration_lint import rule_ids

    assert rule_ids.ALL and all(name in CATALOGUE for name in rule_ids.ALL)


def test_an_expect_note_is_a_claim_the_finding_must_bear_out():
    # `# expect: warning, words`: the severity and the words are checked, not just the line
    from migration_lint.model import Finding
    from migration_lint.rule_examples import _judge

    sources = {"v.py": "x = 1\nop.drop_table('t')  # expect: warning, data is lost\n"}
    found = [Finding("drop-table", "v.py", 2, "drops table t: its data is lost for good", severity="warning")]
    assert _judge(sources, found, [("v.py", 2)], valid=False).ok
    louder = [Finding("drop-table", "v.py", 2, "drops table t: its data is lost for good", severity="error")]
    assert "expected a warning" in _judge(sources, louder, [("v.py", 2)], valid=False).detail
    other = [Finding("drop-table", "v.py", 2, "drops table t", severity="warning")]
    assert "'data is lost'" in _judge(sources, other, [("v.py", 2)], valid=False).detail
