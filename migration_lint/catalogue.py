"""The rule catalogue: YAML files, one per rule (ours in rules/, users' in rule packs).

A rule file holds the rule's name, severity, dialects, docs, examples and either a declarative
``match`` over normalised operations or the name of a Python ``check``.  This module loads and
validates them; ``matcher.py`` evaluates matches; the checks live in ``migration_lint/checks``.
"""

from __future__ import annotations

import importlib
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Optional, Tuple

from migration_lint.checks import REGISTRY
from migration_lint.errors import ConfigError, RuleError
from migration_lint.matcher import validate_match
from migration_lint.model import SEVERITIES
from migration_lint.safeio import load_yaml, read_text

NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
CATEGORIES = ("structure", "change", "downgrade", "destructive", "locking", "dialect", "hygiene", "roundtrip", "custom")
PHASES = ("upgrade", "downgrade", "any")
# What a finding's risk is.  lock: holds locks other sessions wait behind while it runs;
# running-code: breaks the application code still running while the migration runs; both are
# off when the project migrates with the application stopped (deploy = offline).
EFFECTS = ("lock", "running-code", "failure", "data-loss", "downgrade", "history", "hygiene")
OFFLINE_SAFE = frozenset({"lock", "running-code"})  # effects that need the old code running
KEYS = {"advice", "group", "opt_in", "messages", "fix_guarded", "name", "severity", "category", "effect", "dialects", "phase", "summary", "message", "fix", "docs", "examples", "match", "check", "produced_by", "since", "options", "scope", "aliases"}
# Where the findings of a rule without match or check come from (built-in rules only).
PRODUCERS = ("frontend", "git", "roundtrip", "engine")
DOC_KEYS = {"what", "why", "example", "use_instead", "notes", "references"}
# How the suite runs a rule's `use_instead` on real databases (tests/test_advice.py): the schema it
# starts from, the dialects it is for when narrower than the rule's, env.py snippets the docs show
# (files in rules/env/), data files it reads, queries that must return no row once it has run
# (expect); or runs: false with why it is not migration code.
ADVICE_KEYS = {"setup", "dialects", "env_py", "files", "runs", "why", "expect"}


@dataclass
class Rule:
    name: str
    severity: str
    category: str
    summary: str
    message: str
    fix: str
    docs: dict
    examples: dict
    dialects: Optional[Tuple[str, ...]] = None  # None: every dialect
    phase: str = "upgrade"
    effect: str = "hygiene"  # one of EFFECTS
    match: Optional[dict] = None
    check: Optional[str] = None  # built-in: a name in migration_lint.checks.REGISTRY; trusted pack: module:function
    produced_by: Optional[str] = None  # one of PRODUCERS: findings made outside rule evaluation
    options: dict = field(default_factory=dict)
    aliases: Tuple[str, ...] = ()  # former names
    # the fix written inside a dialect guard, for histories whose dialect is assumed, inferred or
    # one of several (advice that is PostgreSQL SQL must not run on the others)
    fix_guarded: str = ""
    # message variants: [{"when": match, "message": template}], the first that matches is used
    messages: Tuple[dict, ...] = ()
    advice: dict = field(default_factory=dict)  # see ADVICE_KEYS
    # one finding for several matches: {by: phase|table, item: template, message: template with
    # {count} and {items}} -- e.g. a revision that drops 29 tables is one finding, not 29
    group: dict = field(default_factory=dict)
    # runs only when named in select (judged not worth its findings by default; the docs say why)
    opt_in: bool = False
    path: str = ""
    builtin: bool = True
    _check_fn: Optional[Callable] = None

    def applies_to(self, dialect: str) -> bool:
        return self.dialects is None or dialect in self.dialects

    @property
    def check_function(self) -> Callable:
        if self._check_fn is None:
            if self.builtin:
                self._check_fn = REGISTRY[self.check]
            else:  # a trusted rule pack's own code (load_catalogue refused it without trust)
                module_name, _, attr = self.check.partition(":")
                try:
                    module = importlib.import_module(module_name)
                    self._check_fn = getattr(module, attr)
                except (ImportError, AttributeError) as exc:
                    raise RuleError(f"{self.path}: check {self.check!r} cannot be loaded: {exc}") from None
                except Exception as exc:  # the pack's module raised while importing
                    raise RuleError(f"{self.path}: check {self.check!r} failed to import: {type(exc).__name__}: {exc}") from None
        return self._check_fn

    def docs_url(self) -> Optional[str]:
        """The rule's page for built-in rules; rule-pack rules have none we could know."""
        return builtin_docs_url(self.name) if self.builtin else None


@dataclass
class Catalogue:
    rules: Dict[str, Rule]
    aliases: Dict[str, str] = field(default_factory=dict)  # former name -> current name

    def resolve(self, name: str) -> str:
        """The current name of a rule, given its name or a former one (renames are not silent:
        configs and suppressions written for the old name keep working)."""
        return self.aliases.get(name, name)

    def __iter__(self):
        return iter(sorted(self.rules.values(), key=lambda r: (CATEGORIES.index(r.category), r.name)))

    def __contains__(self, name: str) -> bool:
        return self.resolve(name) in self.rules

    def get(self, name: str) -> Rule:
        try:
            return self.rules[self.resolve(name)]
        except KeyError:
            import difflib

            wanted = name.replace("_", "-").lower()
            known = sorted({*self.rules, *self.aliases})
            close = difflib.get_close_matches(wanted, known, n=3, cutoff=0.6) or [n for n in known if n.startswith(wanted.split("-")[0])][:3]
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise RuleError(f"unknown rule {name!r}{hint}") from None


def builtin_rules_dir() -> Path:
    """rules/ inside the installed wheel, or at the top of a source checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "rules", here.parent / "rules"):
        if candidate.is_dir():
            return candidate
    raise RuleError("the built-in rule catalogue is missing (rules/ was not packaged)")


DOCS_BASE = "https://github.com/migration-lint/migration-lint/blob/main/rules/"


def builtin_rule_names() -> frozenset:
    """Names of the built-in rules, from the file names alone (no YAML read: the PR comment's
    copy of migration-lint is installed without dependencies)."""
    return frozenset(path.stem for path in builtin_rules_dir().glob("*.yaml"))


def builtin_docs_url(name: str) -> str:
    return f"{DOCS_BASE}{name}.yaml"


_CACHE: Dict[tuple, Catalogue] = {}


def catalogue_signature(packs: Tuple[str, ...] = ()) -> tuple:
    """What the catalogue is made of (names, sizes, mtimes), for cache keys; reads no YAML."""
    parts = []
    for folder in (builtin_rules_dir(), *(Path(p) for p in packs)):
        files = [folder] if folder.is_file() else sorted(folder.glob("*.y*ml")) if folder.is_dir() else []
        for path in files:
            try:
                stat = path.stat()
            except OSError:
                continue
            parts.append((str(path), stat.st_size, stat.st_mtime_ns))
    return tuple(parts)


def load_catalogue(packs: Tuple[str, ...] = (), trust: bool = False) -> Catalogue:
    """Built-in rules plus rule packs.  A pack's rule may name a Python check only with ``trust``,
    which comes from the invocation (``--trust-rule-packs``), never from a file in the checkout:
    static mode imports no project code unless whoever runs it says so.

    Loaded catalogues are kept for the life of the process, keyed by what their files are
    (names, sizes, mtimes): an edited rule file is read again."""
    key = (tuple(packs), trust, catalogue_signature(tuple(packs)))
    if key in _CACHE:
        return _CACHE[key]
    rules: Dict[str, Rule] = {}
    for path in sorted(builtin_rules_dir().glob("*.yaml")):
        rule = load_rule(path, builtin=True)
        rules[rule.name] = rule
    for pack in packs:
        pack_path = Path(pack)
        if not pack_path.exists():
            raise RuleError(f"{pack}: rule pack not found")
        files = sorted(pack_path.glob("*.yaml")) + sorted(pack_path.glob("*.yml")) if pack_path.is_dir() else [pack_path]
        if not files:
            raise RuleError(f"{pack}: rule pack holds no rule files (*.yaml, *.yml)")
        for path in files:
            rule = load_rule(path, builtin=False)
            if rule.check and not trust:
                # Any importable name, migration-lint's own included, is code a pull request could
                # choose to run: an untrusted pack may only match.
                raise RuleError(
                    f"{path}: check {rule.check!r} names Python code; rule packs may do so only when "
                    "migration-lint is invoked with --trust-rule-packs (or MIGRATION_LINT_TRUST_RULE_PACKS=1)"
                )
            if rule.name in rules:
                raise RuleError(f"{path}: rule {rule.name!r} is already defined by {rules[rule.name].path}")
            rules[rule.name] = rule
    aliases = {}
    for rule in rules.values():
        for alias in rule.aliases:
            if alias in rules or alias in aliases:
                raise RuleError(f"{rule.path}: alias {alias!r} is already the name of a rule")
            aliases[alias] = rule.name
    catalogue = Catalogue(rules, aliases)
    _CACHE.clear()  # one catalogue per process is the common case; never let stale ones pile up
    _CACHE[key] = catalogue
    return catalogue


def load_rule(path: Path, builtin: bool = False) -> Rule:
    try:
        data = load_yaml(read_text(path, "rule file"), str(path))
    except ConfigError as exc:
        raise RuleError(str(exc)) from None
    return rule_from_mapping(data, str(path), builtin)


def _variants(value, fail) -> list:
    """``messages:`` -- a message for each case a match tells apart, checked like a match."""
    if value is None:
        return []
    allowed = {"when", "message", "severity", "group", "fix"}
    if not isinstance(value, list) or not all(
        isinstance(v, dict) and {"when", "message"} <= set(v) <= allowed and all(isinstance(v[k], str) for k in ("message", "severity", "group", "fix") if k in v)
        for v in value
    ):
        fail("messages must be a list of {when: <match>, message: <text>[, severity: <level>][, group: <text>][, fix: <text>]}")
    for variant in value:
        problem = validate_match(variant["when"])
        if problem:
            fail(f"messages: when: {problem}")
        if variant.get("severity", SEVERITIES[0]) not in SEVERITIES:
            fail(f"messages: severity must be one of {', '.join(SEVERITIES)}")
        for key in ("message", "group"):
            try:
                list(string.Formatter().parse(variant.get(key, "")))
            except ValueError as exc:
                fail(f"messages: {exc}")
    # severity: the case's own (a reviewer weighs it lower); group: its message for several
    # operations of one group (without it, each is reported alone); fix: the case's own advice
    # where the rule's would be wrong for it
    return [{k: (v[k].strip() if k in ("message", "group", "fix") else v[k]) for k in v} for v in value]


def _opt_in(value, data: dict, fail) -> bool:
    if not isinstance(value, bool):
        fail("opt_in must be true or false")
    if value and "opt-in" not in str((data.get("docs") or {}).get("notes", "")):
        fail("an opt_in rule's docs notes must say why it is opt-in (mention 'opt-in')")
    return value


def _group(value, declarative: bool, fail) -> dict:
    if value is None:
        return {}
    if not declarative:
        fail("group: is for rules with a match (a check groups its own findings)")
    if not isinstance(value, dict) or set(value) != {"by", "item", "message"} or value["by"] not in ("phase", "table") or not all(isinstance(value[k], str) for k in ("item", "message")):
        fail("group must be {by: phase|table, item: <template>, message: <template with {count} and {items}>}")
    for key in ("item", "message"):
        try:
            list(string.Formatter().parse(value[key]))
        except ValueError as exc:
            fail(f"group: {key}: {exc}")
    return {"by": value["by"], "item": value["item"].strip(), "message": value["message"].strip()}


def env_snippet(name: str) -> Path:
    """An env.py snippet a rule's docs show: a whole env.py, in rules/env/, run by the suite."""
    return builtin_rules_dir() / "env" / f"{name}.py"


def _advice(value, dialects, fail) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict) or set(value) - ADVICE_KEYS:
        fail(f"advice may hold only {sorted(ADVICE_KEYS)}")
    if "setup" in value and not isinstance(value["setup"], str):
        fail("advice: setup is the body of an upgrade() that makes the schema the advice starts from")
    if value.get("runs", True) is not True and not (value.get("runs") is False and isinstance(value.get("why"), str) and value["why"].strip()):
        fail("advice: runs: false needs a why")
    narrowed = value.get("dialects")
    if narrowed is not None:
        if not isinstance(narrowed, list) or not narrowed or not all(d in (dialects or ("postgresql", "mysql", "sqlite")) for d in narrowed):
            fail("advice: dialects must be a non-empty list of the rule's dialects")
        if set(narrowed) != set(dialects or ("postgresql", "mysql", "sqlite")) and not value.get("why"):
            fail("advice: advice for fewer dialects than the rule's needs a why (and its docs must say so)")
    if not isinstance(value.get("env_py") or [], list):
        fail("advice: env_py must be a list of names of files in rules/env/")
    for name in value.get("env_py") or []:
        if not isinstance(name, str) or not NAME.match(name.replace("_", "-")) or not env_snippet(name).is_file():
            fail(f"advice: env_py {name!r} is not a file in rules/env/")
    expect = value.get("expect") or []
    if not isinstance(expect, list) or not all(isinstance(q, str) and q.strip() for q in expect):
        fail("advice: expect is a list of SQL queries that must return no row after the advice's upgrade")
    files = value.get("files") or {}
    if not isinstance(files, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
        fail("advice: files maps relative paths to their text")
    return value


def _names(value, key: str, fail) -> list:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and NAME.match(v) for v in value):
        fail(f"{key} must be a list of kebab-case rule names")
    return value


def rule_from_mapping(data, where: str, builtin: bool = False) -> Rule:
    def fail(message: str):
        raise RuleError(f"{where}: {message}")

    if not isinstance(data, dict):
        fail("a rule file must be a mapping")
    unknown = set(data) - KEYS
    if unknown:
        fail(f"unknown keys {sorted(unknown)}")
    for key in ("name", "severity", "summary", "message"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            fail(f"'{key}' is required")
    name = data["name"]
    if not NAME.match(name):
        fail(f"rule name {name!r} must be kebab-case")
    if Path(where).stem != name and Path(where).suffix in (".yaml", ".yml"):
        fail(f"the file must be named {name}.yaml")
    if data["severity"] not in SEVERITIES:
        fail(f"severity must be one of {', '.join(SEVERITIES)}")
    category = data.get("category", "custom")
    if category not in CATEGORIES:
        fail(f"category must be one of {', '.join(CATEGORIES)}")
    phase = data.get("phase", "upgrade")
    if phase not in PHASES:
        fail(f"phase must be one of {', '.join(PHASES)}")
    effect = data.get("effect", "hygiene" if not builtin else None)
    if effect not in EFFECTS:
        fail(f"effect must be one of {', '.join(EFFECTS)} (lock and running-code rules are off under deploy = offline)")
    given = [key for key in ("match", "check", "produced_by") if key in data]
    if len(given) != 1:
        fail("a rule has exactly one of a declarative 'match', a Python 'check' or (built-in rules) 'produced_by'")
    if "match" in data and not isinstance(data["match"], dict):
        fail("'match' must be a mapping")
    if "produced_by" in data:
        if not builtin:
            fail("'produced_by' is for built-in rules; a rule pack's rule has a 'match' (or a trusted 'check')")
        if data["produced_by"] not in PRODUCERS:
            fail(f"produced_by must be one of {', '.join(PRODUCERS)}")
    if "check" in data:
        check = data["check"]
        if builtin:
            if check not in REGISTRY:
                fail(f"check {check!r} is not a check of migration_lint.checks ({', '.join(sorted(REGISTRY))})")
        elif not isinstance(check, str) or not re.match(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$", check):
            fail("'check' must look like package.module:function")
    dialects = data.get("dialects")
    if dialects is not None:
        if isinstance(dialects, str):
            dialects = [dialects]
        if not isinstance(dialects, list) or not all(d in ("postgresql", "mysql", "sqlite") for d in dialects):
            fail("dialects must be a list of postgresql/mysql/sqlite")
        dialects = tuple(dialects)
    docs = data.get("docs") or {}
    if not isinstance(docs, dict) or set(docs) - DOC_KEYS:
        fail(f"docs may hold only {sorted(DOC_KEYS)}")
    if builtin:
        missing = {"what", "why"} - set(docs)
        if missing:
            fail(f"docs need {sorted(missing)}")
    advice = _advice(data.get("advice"), dialects, fail)
    examples = data.get("examples") or {}
    if not isinstance(examples, dict) or set(examples) - {"valid", "invalid"}:
        fail("examples must be a mapping with 'valid' and 'invalid' lists")
    if builtin and (not examples.get("invalid")):
        fail("a built-in rule needs at least one invalid example")
    try:
        list(string.Formatter().parse(data["message"]))
    except ValueError as exc:
        fail(f"message: {exc} (use {{name}} placeholders; write {{{{ and }}}} for braces)")
    if "match" in data:
        problem = validate_match(data["match"])
        if problem:
            fail(f"match: {problem}")
    return Rule(
        name=name,
        severity=data["severity"],
        category=category,
        summary=data["summary"].strip(),
        message=data["message"].strip(),
        fix=str(data.get("fix", "")).strip(),
        docs=docs,
        examples={"valid": list(examples.get("valid") or []), "invalid": list(examples.get("invalid") or [])},
        dialects=dialects,
        phase=phase,
        effect=effect,
        match=data.get("match"),
        check=data.get("check"),
        produced_by=data.get("produced_by"),
        options=data.get("options") or {},
        aliases=tuple(_names(data.get("aliases"), "aliases", fail)),
        fix_guarded=str(data.get("fix_guarded", "")).strip(),
        messages=tuple(_variants(data.get("messages"), fail)),
        advice=advice,
        group=_group(data.get("group"), "match" in data, fail),
        opt_in=_opt_in(data.get("opt_in", False), data, fail),
        path=where,
        builtin=builtin,
    )
