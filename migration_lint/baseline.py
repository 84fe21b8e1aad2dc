"""Baselines: adopt migration-lint on an old history by recording today's findings.

A baseline file lists findings by fingerprint (rule, path, revision, phase and message without
line numbers), so entries survive lines shifting.  ``check --baseline FILE`` drops findings that
are in it and says which baseline entries no longer occur (fixed, or their file changed).
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Optional

from migration_lint import __version__
from migration_lint.errors import ConfigError
from migration_lint.model import fingerprints

FORMAT = 1


def configured_baseline(config, explicit: Optional[Path] = None) -> Optional[Path]:
    """The baseline to apply: --baseline, else ``baseline`` in the config (relative to it)."""
    if explicit is not None:
        return explicit
    if config is not None and config.baseline:
        root = Path(config.root) if config.root else Path.cwd()
        return root / config.baseline
    return None


def _anchored(findings, folder: Path) -> list:
    """Findings with paths relative to the baseline's folder, so that it matches from any cwd."""
    return [
        dataclasses.replace(f, path=Path(os.path.relpath(os.path.abspath(f.path), os.path.abspath(folder))).as_posix())
        for f in findings
    ]


def write_baseline(result, path: Path) -> int:
    entries = []
    for env in result.environments:  # numbered per environment, as apply_baseline does
        findings = _anchored(env.findings, path.parent)
        entries += [
            {"fingerprint": fp, "rule": f.rule, "path": f.path, "revision": f.revision, "message": f.message.split("\n")[0]}
            for f, fp in zip(findings, fingerprints(findings))
        ]
    data = {"format": FORMAT, "tool": f"migration-lint {__version__}", "findings": entries}
    try:
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write baseline: {exc.strerror}") from None
    return len(entries)


def read_baseline(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read baseline: {exc.strerror}") from None
    except ValueError as exc:
        raise ConfigError(f"{path}: not a baseline file (invalid JSON: {exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("findings"), list):
        raise ConfigError(f"{path}: not a migration-lint baseline (format {FORMAT})")
    return {entry["fingerprint"]: entry for entry in data["findings"] if isinstance(entry, dict) and "fingerprint" in entry}


def apply_baseline(result, path: Path) -> None:
    """Remove baselined findings from ``result``; note entries that no longer occur."""
    known = read_baseline(path)
    seen = set()
    matched = 0
    for env in result.environments:
        kept = []
        for finding, fp in zip(env.findings, fingerprints(_anchored(env.findings, path.parent))):
            if fp in known:
                seen.add(fp)
                matched += 1
            else:
                kept.append(finding)
        env.findings = kept
    gone = [entry for fp, entry in known.items() if fp not in seen]
    result.baseline = {"path": str(path), "matched": matched, "gone": gone}
    if result.environments:
        notes = result.environments[0].notes
        notes.append(f"baseline {path}: {matched} known finding(s) hidden" + (f"; {len(gone)} baseline {'entry no longer occurs' if len(gone) == 1 else 'entries no longer occur'} (remove {'it' if len(gone) == 1 else 'them'} with `migration-lint baseline`)" if gone else ""))
        for entry in gone[:20]:
            notes.append(f"  no longer occurs: {entry.get('rule')} in {entry.get('path')}: {entry.get('message')}")
