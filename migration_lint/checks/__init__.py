"""Python checks for rules that a declarative match cannot express.

Each check is ``check(rule, run) -> Iterable[Finding]`` (``run`` is ``engine.Run``).  A built-in
rule's YAML names its check by a key of REGISTRY (``check: downgrade.incomplete_downgrade``):
a fixed table, so that no string in a rule file is ever imported as code.
"""

from migration_lint.checks import destructive, downgrade, hygiene, locking, runtime, structure

REGISTRY = {
    f"{module.__name__.rsplit('.', 1)[-1]}.{name}": function
    for module in (destructive, downgrade, hygiene, locking, runtime, structure)
    for name, function in vars(module).items()
    if callable(function) and getattr(function, "__module__", None) == module.__name__ and name in getattr(module, "CHECKS", ())
}
