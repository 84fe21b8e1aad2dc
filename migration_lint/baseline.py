"""Baselines: adopt migration-lint on an old history by recording today's findings.

A baseline file lists findings by fingerprint: rule, revision and the identity of the object
concerned (``model.fingerprint``), so entries survive lines shifting, files being renamed and
messages being reworded.  ``check --baseline FILE`` drops findings that are in it and says which
baseline entries no longer occur (fixed, or their object changed).

Format 2 (this one) stores each entry's object; format 1 (migration-lint 0.1: fingerprints of
rule, path, revision, phase and message) still loads: its entries match a finding with the same
legacy fingerprint, or the same rule, file and revision whose object's names all appear in the
entry's recorded message.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path
from typing import Dict, List, Optional

from migration_lint import __version__
from migration_lint.errors import ConfigError
from migration_lint.model import count_of, legacy_fingerprints
from migration_lint.safeio import read_text

FORMAT = 2
READABLE = (1, 2)


def configured_baseline(config, explicit: Optional[Path] = None) -> Optional[Path]:
    """The baseline to apply: --baseline, else ``baseline`` in the config (relative to it)."""
    if explicit is not None:
        return explicit
    if config is not None and config.baseline:
        root = Path(config.root) if config.root else Path.cwd()
        return root / config.baseline
    return None


def _anchored(path: str, folder: Path) -> str:
    """A finding's path relative to the baseline's folder, so that it matches from any cwd."""
    return Path(os.path.relpath(os.path.abspath(path), os.path.abspath(folder))).as_posix()


def write_baseline(result, path: Path) -> int:
    entries = []
    for env in result.environments:
        for f in env.findings:
            entries.append(
                {
                    "fingerprint": f.fingerprint,
                    "rule": f.rule,
                    "path": _anchored(f.path, path.parent),
                    "revision": f.revision,
                    "object": list(f.subject),
                    "message": f.message.split("\n")[0],
                }
            )
    data = {"format": FORMAT, "tool": f"migration-lint {__version__}", "findings": entries}
    try:
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write baseline: {exc.strerror}") from None
    return len(entries)


def read_baseline(path: Path) -> dict:
    """{'format': N, 'entries': [entry, ...]} of a baseline file."""
    text = read_text(path, "baseline")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{path}: not a baseline file (invalid JSON: {exc})") from None
    if not isinstance(data, dict) or data.get("format") not in READABLE or not isinstance(data.get("findings"), list):
        raise ConfigError(f"{path}: not a migration-lint baseline (formats {', '.join(map(str, READABLE))})")
    entries = [e for e in data["findings"] if isinstance(e, dict) and isinstance(e.get("fingerprint"), str)]
    return {"format": data["format"], "entries": entries}


def apply_baseline(result, path: Path) -> None:
    """Remove baselined findings from ``result``; note entries that no longer occur."""
    baseline = read_baseline(path)
    entries = baseline["entries"]
    by_fingerprint: Dict[str, List[int]] = {}
    for index, entry in enumerate(entries):
        by_fingerprint.setdefault(entry["fingerprint"], []).append(index)
    seen = set()
    matched = 0
    for env in result.environments:
        legacy = legacy_fingerprints([dataclasses.replace(f, path=_anchored(f.path, path.parent)) for f in env.findings]) if baseline["format"] == 1 else [None] * len(env.findings)
        kept = []
        for finding, old in zip(env.findings, legacy):
            index = _match(finding, old, entries, by_fingerprint, seen, path.parent, baseline["format"])
            if index is None:
                kept.append(finding)
            else:
                seen.add(index)
                matched += 1
        env.findings = kept
    gone = [entry for index, entry in enumerate(entries) if index not in seen]
    result.baseline = {"path": str(path), "format": baseline["format"], "matched": matched, "gone": gone}
    if result.environments:
        notes = result.environments[0].notes
        notes.append(f"baseline {path}: {count_of(matched, 'known finding')} hidden" + (f"; {len(gone)} baseline {'entry no longer occurs' if len(gone) == 1 else 'entries no longer occur'} (remove {'it' if len(gone) == 1 else 'them'} with `migration-lint baseline`)" if gone else ""))
        if baseline["format"] != FORMAT:
            notes.append(f"baseline {path} has format {baseline['format']}; `migration-lint baseline` rewrites it as format {FORMAT}")
        for entry in gone[:20]:
            notes.append(f"  no longer occurs: {entry.get('rule')} in {entry.get('path')}: {entry.get('message')}")


def _match(finding, legacy: Optional[str], entries, by_fingerprint, seen, folder: Path, version: int) -> Optional[int]:
    if version != 1:
        return next((i for i in by_fingerprint.get(finding.fingerprint, ()) if i not in seen), None)
    found = next((i for i in by_fingerprint.get(legacy, ()) if i not in seen), None)
    if found is not None:
        return found
    # a format-1 entry whose message was worded otherwise: the same rule, file and revision, and
    # every name of the finding's object in the message it recorded
    where = _anchored(finding.path, folder)
    names = [part for part in finding.subject[1:] if part and part not in _KIND_WORDS]
    for index, entry in enumerate(entries):
        if index in seen or entry.get("rule") != finding.rule or entry.get("path") != where or (entry.get("revision") or None) != (finding.revision or None):
            continue
        words = set(re.findall(r"[\w$]+", str(entry.get("message") or "").lower()))
        if not names or all(any(token in words for token in re.findall(r"[\w$]+", name.lower())) for name in names):
            return index
    return None


_KIND_WORDS = frozenset({"public", "main", "create_foreign_key", "create_unique_constraint", "create_check_constraint", "create_primary_key", "create_exclude_constraint", "drop_constraint", "validate_constraint", "upgrade", "downgrade"})
