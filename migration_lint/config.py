"""Configuration: ``[tool.migration-lint]`` in pyproject.toml or ``.migration-lint.yaml``."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Optional, Tuple

from migration_lint import dialects
from migration_lint.errors import ConfigError
from migration_lint.model import SEVERITIES
from migration_lint.safeio import load_toml, load_yaml, read_bytes, read_text

TRUST_VARIABLE = "MIGRATION_LINT_TRUST_RULE_PACKS"
CONFIG_FILES = (".migration-lint.yaml", ".migration-lint.yml", "pyproject.toml")


@dataclass(frozen=True)
class Config:
    """A config file's settings, as written (validated, not yet resolved: see settings.py)."""

    dialect: Optional[str] = None
    # other databases the project supports: their failures are checked too (CTFd: MySQL, and
    # PostgreSQL and SQLite)
    also_dialects: Tuple[str, ...] = ()
    server_version: Optional[Tuple[int, ...]] = None
    default_schema: Optional[str] = None  # where unqualified names live (PostgreSQL: public)
    select: Tuple[str, ...] = ()
    ignore: Tuple[str, ...] = ()
    severity: dict = field(default_factory=dict, hash=False)
    start_after: Optional[str] = None
    exclude: Tuple[str, ...] = ()
    downgrades: Optional[str] = None  # 'required' | 'optional' (projects that never write downgrades)
    deploy: Optional[str] = None  # 'online' | 'offline' (migrations run with the application stopped)
    # the tables big or busy enough for a lock to hurt; when given, lock rules look only at these
    # (names or globs, optionally schema-qualified): GitLab's migration cops keep such a list
    large_tables: Optional[Tuple[str, ...]] = None
    # tables whose rows live only while work is in flight (uploads in progress, queue items deleted
    # when done, rows expired after hours or days): few rows at any time, however busy
    transient_tables: Optional[Tuple[str, ...]] = None
    # revision files (globs on their paths, e.g. '*/contract/*') migrated with the application
    # stopped while the rest are migrated online: OpenStack's expand/contract branches
    offline_paths: Optional[Tuple[str, ...]] = None
    rule_packs: Tuple[str, ...] = ()
    fail_on: str = "error"
    baseline: Optional[str] = None  # a baseline file (relative to the config's folder)
    max_file_size: Optional[int] = None  # bytes; larger revision files are read for their headers only
    # the project runs `alembic upgrade --sql` (DBA review, squawk): revisions must run without a database
    offline_sql: Optional[bool] = None
    # round trip: environment folder -> folders of environments upgraded to head first (a
    # plugin's history that builds on the core schema); paths relative to the config's folder
    roundtrip_requires: dict = field(default_factory=dict, hash=False)
    # round trip: the schema a fresh database starts from (a .sql file relative to the config's
    # folder, or module:attribute naming a MetaData), and the revision that schema is
    roundtrip_base_schema: Optional[str] = None
    roundtrip_base_stamp: Optional[str] = None
    # round trip: a Flask app factory (module:factory) whose app context wraps the run, and the
    # environment variables set to the scratch database's URL before it is called
    roundtrip_app: Optional[str] = None
    roundtrip_app_url_env: Tuple[str, ...] = ()
    warnings: Tuple[str, ...] = ()  # settings the file holds that were not taken, and why
    source: Optional[str] = None  # the file it came from
    root: Optional[str] = None  # the folder of that file: relative paths in it start there


# settings that are lists of names or globs: what the list holds, for the error message
GLOB_LISTS = {
    "large_tables": "table names (globs allowed, e.g. 'event_*')",
    "transient_tables": "table names (globs allowed, e.g. 'upload_*')",
    "offline_paths": "globs on revision file paths, e.g. '*/contract/*'",
}


def trust_from_environment(environ=None) -> bool:
    """Trust given by whoever runs migration-lint (a workflow's ``env:``), never by the checkout."""
    value = (os.environ if environ is None else environ).get(TRUST_VARIABLE, "")
    return value.strip().lower() in ("1", "true", "yes", "on")


def normalise_dialect(value: str, where: str = "dialect") -> str:
    dialect = dialects.canonical(value)
    if dialect is None:
        raise ConfigError(f"{where}: unknown dialect {value!r} (use one of {', '.join(dialects.DIALECTS)})")
    return dialect


def parse_version(value, where: str = "server_version") -> Tuple[int, ...]:
    try:
        parts = tuple(int(p) for p in str(value).strip().split("."))
    except ValueError:
        raise ConfigError(f"{where}: expected a version like 14 or 10.11, got {value!r}") from None
    if not parts:
        raise ConfigError(f"{where}: empty version")
    return parts


def parse_size(value, where: str) -> int:
    """A size in bytes: 524288, "512KB", "2 MB"."""
    import re

    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(B|KB|K|MB|M)?\s*", str(value), re.I) if isinstance(value, (str, int, float)) and not isinstance(value, bool) else None
    if not match or float(match.group(1)) <= 0:
        raise ConfigError(f"{where}: expected a size like 524288, 512KB or 2MB, got {value!r}")
    unit = (match.group(2) or "B").upper()[:1]
    return int(float(match.group(1)) * {"B": 1, "K": 1024, "M": 1024 * 1024}[unit])


def find_config(start: Path) -> Optional[Path]:
    """The nearest config file at or above ``start`` (a pyproject.toml only if it has our table).
    A config file that is there but is no regular file (a FIFO, a link to /dev/zero) is returned
    too: loading it then says what is wrong, instead of quietly using no config."""
    folder = start if start.is_dir() else start.parent
    for candidate in [folder, *folder.parents]:
        for name in CONFIG_FILES:
            path = candidate / name
            if not os.path.lexists(path):
                continue
            if name == "pyproject.toml":
                tool = _load_toml(path).get("tool", {})  # unreadable or no regular file: one line, exit 2
                if not isinstance(tool, dict):
                    raise ConfigError(f"{path}: [tool] must be a table, not {type(tool).__name__}")
                if "migration-lint" not in tool:
                    continue
            return path
        if (candidate / ".git").exists():
            break
    return None


def _load_toml(path: Path) -> dict:
    return load_toml(read_bytes(path, "config file"), str(path))


def load_config(path: Optional[Path]) -> Config:
    if path is None:
        return Config()
    if path.suffix == ".toml":
        tool = _load_toml(path).get("tool", {})
        if not isinstance(tool, dict):
            raise ConfigError(f"{path}: [tool] must be a table, not {type(tool).__name__}")
        data = tool.get("migration-lint", {})
    else:
        data = load_yaml(read_text(path, "config file"), str(path))
        data = {} if data is None else data
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings")
    return config_from_mapping(data, str(path), str(path.parent))


def config_from_mapping(data: dict, source: str = "<config>", root: Optional[str] = None) -> Config:
    known = {f.name.replace("_", "-") for f in fields(Config)} | {f.name for f in fields(Config)}
    values: dict = {"source": source, "root": root}
    warnings: list = []
    for key, value in data.items():
        name = str(key).replace("-", "_")
        if key not in known and name != "trust_rule_packs" or name in ("source", "root", "warnings"):
            raise ConfigError(f"{source}: unknown setting {key!r}")
        if name == "dialect":
            values["dialect"] = normalise_dialect(value, f"{source}: dialect")
        elif name == "also_dialects":
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{source}: also-dialects must be a list of dialects ({', '.join(dialects.DIALECTS)})")
            values["also_dialects"] = tuple(dict.fromkeys(normalise_dialect(v, f"{source}: also-dialects") for v in value))
        elif name == "server_version":
            values["server_version"] = parse_version(value, f"{source}: server_version")
        elif name == "default_schema":
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"{source}: default-schema must be a schema name")
            values["default_schema"] = value.strip()
        elif name in GLOB_LISTS:
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
                raise ConfigError(f"{source}: {name.replace('_', '-')} must be a list of {GLOB_LISTS[name]}")
            values[name] = tuple(v.strip() for v in value)
        elif name in ("select", "ignore", "exclude", "rule_packs"):
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{source}: {key} must be a list of strings")
            values[name] = tuple(value)
        elif name == "severity":
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: severity must map rule names to {'/'.join(SEVERITIES)}")
            for rule, level in value.items():
                if level not in SEVERITIES:
                    raise ConfigError(f"{source}: severity of {rule}: {level!r} is not one of {', '.join(SEVERITIES)}")
            values["severity"] = {str(rule): level for rule, level in value.items()}
        elif name == "trust_rule_packs":
            if value is not False:
                warnings.append(
                    f"{source}: trust-rule-packs is ignored here: a file in the repository cannot allow code to run; "
                    f"pass --trust-rule-packs (or set {TRUST_VARIABLE}=1) where you invoke migration-lint"
                )
        elif name == "offline_sql":
            if not isinstance(value, bool):
                raise ConfigError(f"{source}: offline-sql must be true or false (true: the project runs `alembic upgrade --sql`)")
            values["offline_sql"] = value
        elif name == "max_file_size":
            values["max_file_size"] = parse_size(value, f"{source}: max-file-size")
        elif name == "baseline":
            if value is not None and not isinstance(value, str):
                raise ConfigError(f"{source}: baseline must be a file path")
            values["baseline"] = value
        elif name == "start_after":
            if value is not None and not isinstance(value, (str, int)) or isinstance(value, bool):
                raise ConfigError(f"{source}: start-after must be a revision id")
            values["start_after"] = None if value is None else str(value)
        elif name == "deploy":
            if value not in ("online", "offline"):
                raise ConfigError(f"{source}: deploy must be 'online' (migrations run while the old code serves) or 'offline' (the application is stopped first)")
            values["deploy"] = value
        elif name == "downgrades":
            if value not in ("required", "optional", "unused"):
                raise ConfigError(f"{source}: downgrades must be 'required', 'optional' (not written) or 'unused' (never run)")
            values["downgrades"] = value
        elif name == "roundtrip_requires":
            if not isinstance(value, dict) or not all(
                isinstance(k, str) and (isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v)))
                for k, v in value.items()
            ):
                raise ConfigError(f"{source}: roundtrip-requires must map an environment folder to the folders it needs")
            values["roundtrip_requires"] = {k: [v] if isinstance(v, str) else list(v) for k, v in value.items()}
        elif name in ("roundtrip_base_schema", "roundtrip_base_stamp", "roundtrip_app"):
            if value is not None and (not isinstance(value, (str, int)) or isinstance(value, bool)):
                raise ConfigError(f"{source}: {key} must be a string")
            values[name] = None if value is None or not str(value).strip() else str(value).strip()
        elif name == "roundtrip_app_url_env":
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(v, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", v) for v in value):
                raise ConfigError(f"{source}: {key} must be a list of environment variable names")
            values[name] = tuple(value)
        elif name == "fail_on":
            if value not in SEVERITIES:
                raise ConfigError(f"{source}: fail-on must be one of {', '.join(SEVERITIES)}")
            values["fail_on"] = value
    return Config(**values, warnings=tuple(warnings))
