"""Python checks for rules that a declarative match cannot express.

Each check is ``check(rule, run) -> Iterable[Hit]`` and is named by its rule's YAML file
(``check: migration_lint.checks.downgrade:incomplete_downgrade``); nothing registers it here.
"""
