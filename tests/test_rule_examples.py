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
