"""The check named by the round-trip rules: it hands the runner's results to the engine.

The round trip itself runs before rule evaluation (it needs a database); its results reach the
engine as ``run.roundtrip`` so that suppressions, severities and select/ignore apply to them
exactly as to static findings.  Without ``--roundtrip`` there are none.
"""

from __future__ import annotations

from migration_lint.engine import Hit


def reported_by_runner(rule, run):
    for hit in run.roundtrip or ():
        if hit.rule == rule.name:
            yield Hit(None, hit.line, hit.message, phase=hit.phase, path=hit.path, revision=hit.revision or None)
