"""Reading the files a user (or a pull request) points migration-lint at, within bounds.

Config files, baselines, rule packs and alembic.ini must be regular files of a sane size: a
FIFO, ``/dev/zero`` or a device is refused, never read forever.  YAML and TOML are parsed only
after their nesting is bounded (the C YAML loader crashes the process at ~100k levels, which no
``except`` catches) and their documents are bounded in size after anchors are expanded.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

from migration_lint.errors import ConfigError

MAX_CONFIG_BYTES = 1024 * 1024  # config, baseline, rule and ini files; a baseline of ~5,000 findings is ~1 MB
MAX_BASELINE_BYTES = 64 * 1024 * 1024
MAX_NESTING = 64  # brackets or indentation levels in a YAML/TOML document
MAX_NODES = 200_000  # values in a loaded document, anchors expanded ("billion laughs")


def read_bytes(path: Path, what: str, limit: int = MAX_CONFIG_BYTES) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; anything else is a ConfigError."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer before we can see what it is
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"{path}: the {what} must be a regular file, not a {_kind(info.st_mode)}")
        if info.st_size > limit:
            raise ConfigError(f"{path}: the {what} is {info.st_size:,} bytes; more than {limit:,} is not read")
        chunks = []
        total = 0
        while True:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            total += len(chunk)
            if total > limit:  # grew while we read it
                raise ConfigError(f"{path}: the {what} is more than {limit:,} bytes; not read")
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def read_text(path: Path, what: str, limit: int = MAX_CONFIG_BYTES) -> str:
    data = read_bytes(path, what, limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: the {what} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "folder"
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "special file"


_QUOTED = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\'')
_COMMENT = re.compile(r"#[^\n]*")
_BRACKET = re.compile(r"[\[\]{}]")
_INDENT = re.compile(r"^([ \t-]*)\S", re.M)


def nesting_depth(text: str) -> int:
    """How deep brackets and block indentation nest in a YAML or TOML text (quoted strings and
    comments left out): an upper bound on the depth of what it loads into.  Linear, and it looks
    at brackets and line starts only, so a large file costs little."""
    text = _COMMENT.sub("", _QUOTED.sub("''", text))
    depth = deepest = 0
    for match in _BRACKET.finditer(text):
        depth = depth + 1 if match.group() in "[{" else max(depth - 1, 0)
        deepest = max(deepest, depth)
    indents = [0]
    for match in _INDENT.finditer(text):
        column = len(match.group(1))  # YAML's "- " sequence entries nest like indentation
        while indents[-1] > column:
            indents.pop()
        if column > indents[-1]:
            indents.append(column)
            deepest = max(deepest, len(indents) - 1)
    return deepest


def _bounded(value: Any, where: str) -> Any:
    """Refuse documents that expand (through YAML anchors) into more than MAX_NODES values."""
    count = 0
    stack = [value]
    while stack:
        item = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise ConfigError(f"{where}: the document expands to more than {MAX_NODES:,} values (YAML anchors?); not read")
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return value


def load_yaml(text: str, where: str) -> Any:
    """YAML text, safely: bounded nesting and expansion, one-line errors."""
    import yaml

    if nesting_depth(text) > MAX_NESTING:
        raise ConfigError(f"{where}: YAML nested more than {MAX_NESTING} levels deep; not read")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        data = yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: cannot read YAML: {' '.join(str(exc).split())[:300]}") from None
    except (RecursionError, MemoryError, ValueError, OverflowError) as exc:
        raise ConfigError(f"{where}: cannot read YAML: {type(exc).__name__}") from None
    return _bounded(data, where)


def load_toml(data: bytes, where: str) -> dict:
    """TOML bytes, safely: bounded nesting, one-line errors."""
    import sys

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{where}: cannot read TOML: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    if nesting_depth(text) > MAX_NESTING:
        raise ConfigError(f"{where}: TOML nested more than {MAX_NESTING} levels deep; not read")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: cannot read TOML: {' '.join(str(exc).split())[:300]}") from None
    except (RecursionError, MemoryError, ValueError) as exc:
        raise ConfigError(f"{where}: cannot read TOML: {type(exc).__name__}") from None
