"""Finding Alembic environments on disk, and reading their settings without running them.

A path may be a repository root, an ``alembic.ini``, a pyproject.toml with ``[tool.alembic]``, a
``migrations/`` folder (env.py + versions/) or a ``versions/`` folder.
"""

from __future__ import annotations

import configparser
import errno
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

from migration_lint import dialects
from migration_lint.errors import ConfigError, DiscoveryError
from migration_lint.envpy import transaction_facts
from migration_lint.safeio import load_toml, read_bytes, read_text

SKIP_DIRS = {".git", ".hg", ".tox", ".nox", "node_modules", "__pycache__", ".venv", "venv", "env", "site-packages", ".mypy_cache", ".pytest_cache", "build", "dist"}


@dataclass
class Environment:
    script_location: Path
    version_locations: List[Path]
    recursive: bool = False
    config_file: Optional[Path] = None
    url: Optional[str] = None
    url_dialect: Optional[str] = None
    env_py: Optional[Path] = None
    settings: dict = field(default_factory=dict)  # read statically from env.py
    kind: str = "alembic"  # 'alembic' | 'flask-migrate' | 'pyproject' | 'bare'
    project_root: Optional[Path] = None
    explicit_locations: bool = False  # version_locations was configured (else: script/versions)
    dialect_hint: str = "sqlalchemy.url"  # where url_dialect came from
    named: bool = True  # the path given named this environment (not a folder scanned for several)

    @property
    def name(self) -> str:
        if len(self.version_locations) == 1 and self.version_locations[0] != self.script_location / "versions":
            return _relative(self.version_locations[0])
        return _relative(self.script_location)

    def revision_files(self) -> List[Path]:
        """Every revision file of the history.  A versions folder that is missing, a file, a
        dangling or looping link is an error, never an empty history."""
        files = []
        seen = set()
        for location in self.version_locations:
            _check_folder(location, "versions folder")
            pending = [str(location)]
            while pending:
                folder = pending.pop(0)
                try:
                    entries = sorted(os.scandir(folder), key=lambda e: e.name)
                except OSError as exc:
                    raise DiscoveryError(f"{_relative(Path(folder))}: cannot read folder: {exc.strerror}") from None
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        if self.recursive and entry.name not in SKIP_DIRS and not entry.name.startswith("."):
                            pending.append(entry.path)
                    elif entry.name.endswith(".py") and entry.name != "__init__.py" and not entry.is_dir():
                        # regular files, and anything else named *.py (a dangling link, a FIFO):
                        # reading those fails loudly later instead of the revision going missing
                        key = os.path.realpath(entry.path) if len(self.version_locations) > 1 or entry.is_symlink() else entry.path
                        if key not in seen:
                            seen.add(key)
                            files.append(Path(entry.path))
        return files


def _check_folder(path: Path, what: str) -> None:
    """A DiscoveryError unless ``path`` is a folder (following links)."""
    try:
        info = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise DiscoveryError(f"{_relative(path)}: the {what} is a symbolic link that loops") from None
        if os.path.lexists(path):
            raise DiscoveryError(f"{_relative(path)}: the {what} is a dangling symbolic link") from None
        raise DiscoveryError(f"{_relative(path)}: the {what} does not exist") from None
    if not stat.S_ISDIR(info.st_mode):
        raise DiscoveryError(f"{_relative(path)}: the {what} is not a folder")


def display_path(path: Path) -> str:
    """A path as findings show it: relative to the working directory."""
    try:
        return os.path.relpath(path)
    except ValueError:  # pragma: no cover - another drive on Windows
        return str(path)


_relative = display_path


def discover(target: Path) -> List[Environment]:
    try:
        return [expanded for env in _discover(target) for expanded in _expand_nested(env)]
    except ConfigError as exc:  # a config-like file (alembic.ini, pyproject.toml, env.py) that cannot be read
        raise DiscoveryError(str(exc)) from None
    except OSError as exc:  # permissions, link loops, a folder vanishing while read
        raise DiscoveryError(f"{_relative(Path(exc.filename or target))}: {exc.strerror or exc}") from None


def _expand_nested(env: Environment) -> List[Environment]:
    """Nested folders under a default versions/ that env.py picks at run time.

    ``versions/postgresql/`` + ``versions/sqlite/`` (Prefect) are separate histories, one per
    dialect; other nested folders (Neutron's ``versions/<release>/expand``) are one history whose
    locations env.py lists in code, so they are read recursively.
    """
    if env.explicit_locations or len(env.version_locations) != 1 or env.recursive:
        return [env]
    location = env.version_locations[0]
    if not location.is_dir():
        return [env]
    subdirs = sorted(p for p in location.iterdir() if p.is_dir() and p.name not in SKIP_DIRS and not p.name.startswith("."))
    with_revisions = [d for d in subdirs if _has_python(d)]
    if not with_revisions:
        return [env]
    direct = [p for p in location.glob("*.py") if p.name != "__init__.py"]
    if not direct and all(dialects.from_sqlalchemy_name(d.name) for d in with_revisions):
        split = []
        for folder in with_revisions:
            clone = Environment(**{**env.__dict__, "version_locations": [folder], "recursive": True})
            clone.url_dialect = dialects.from_sqlalchemy_name(folder.name)
            clone.dialect_hint = "versions folder name"
            clone.kind = env.kind
            split.append(clone)
        return split
    env.recursive = True
    return [env]


def _has_python(folder: Path) -> bool:
    for _, _, names in os.walk(folder):  # os.walk does not follow links: no loops
        if any(n.endswith(".py") for n in names):
            return True
    return False


def _discover(target: Path) -> List[Environment]:
    if not target.exists():
        if os.path.lexists(target):
            raise DiscoveryError(f"{target}: a dangling or looping symbolic link")
        raise DiscoveryError(f"{target}: no such file or directory")
    target = target.resolve() if target.is_absolute() else Path(os.path.abspath(target))
    if target.is_file():
        if target.name == "pyproject.toml":
            envs = _from_pyproject(target)
            if not envs:
                raise DiscoveryError(f"{_relative(target)}: no [tool.alembic] table")
            return envs
        if target.suffix == ".ini":
            envs = _from_ini(target)
            if not envs:
                raise DiscoveryError(f"{_relative(target)}: no section with script_location")
            return envs
        raise DiscoveryError(f"{_relative(target)}: expected a folder, an alembic.ini or a pyproject.toml")
    # A migrations folder or a versions folder given directly: the alembic.ini that points at it
    # (usually one folder up) still says the URL and the version locations.
    if (target / "env.py").is_file() and not (target / "alembic.ini").is_file():
        return [_configured(target) or _bare(target)]
    if (target / "alembic.ini").is_file() and (target / "env.py").is_file():
        envs = _from_ini(target / "alembic.ini")  # Flask-Migrate keeps alembic.ini in migrations/
        if envs:
            return envs
    if target.parent.name == "versions" and (target.parent.parent / "env.py").is_file():
        # one history of several under versions/ (versions/postgresql, versions/liberty/...)
        env = _bare(target.parent.parent, versions=target)
        env.recursive = True
        if dialects.from_sqlalchemy_name(target.name):
            env.url_dialect, env.dialect_hint = dialects.from_sqlalchemy_name(target.name), "versions folder name"
        return [env]
    if target.name == "versions" or (not _has_subdirs(target) and any(target.glob("*.py")) and (target.parent / "env.py").is_file()):
        if (target.parent / "env.py").is_file():
            env = _configured(target.parent)
            if env is None:
                return [_bare(target.parent, versions=target)]
            env.version_locations = [target]  # the folder asked for, of the configured ones
            return [env]
        return [Environment(script_location=target, version_locations=[target], recursive=True, kind="bare", project_root=_project_root(target))]
    return _scan(target)


def _configured(script: Path) -> Optional[Environment]:
    """The environment an alembic.ini in a folder above ``script`` configures for it, if any
    (looking up to the repository root, at most four levels)."""
    wanted = script.resolve()
    for depth, folder in enumerate([script.parent, *script.parent.parents]):
        ini = folder / "alembic.ini"
        if ini.is_file() and _ini_has_alembic(ini):
            try:
                envs = _from_ini(ini)
            except DiscoveryError:  # somebody else's broken alembic.ini: not what was asked for
                envs = []
            for env in envs:
                if env.script_location.resolve() == wanted:
                    return env
        if depth >= 3 or (folder / ".git").exists():
            return None
    return None


def _has_subdirs(folder: Path) -> bool:
    return any(p.is_dir() for p in folder.iterdir())


def _scan(root: Path) -> List[Environment]:
    envs: List[Environment] = []
    seen = set()

    def add(found: List[Environment]) -> None:
        for env in found:
            key = env.script_location.resolve()
            if key not in seen:
                seen.add(key)
                envs.append(env)

    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        add(_from_pyproject(pyproject))
    env_dirs = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        for name in sorted(names):
            if name.endswith(".ini") and (name == "alembic.ini" or _ini_has_alembic(Path(folder, name))):
                add(_from_ini(Path(folder, name)))
        if "env.py" in names and "versions" in dirs:
            env_dirs.append(Path(folder))
        if "versions" in dirs:
            dirs.remove("versions")  # revision files are read per environment, not scanned here
    for folder in env_dirs:
        if folder.resolve() not in seen:
            add([_bare(folder)])
    for env in envs:
        env.named = False
    if not envs:
        raise DiscoveryError(f"{_relative(root)}: no Alembic environment found (looked for alembic.ini, [tool.alembic] in pyproject.toml, and env.py beside versions/)")
    return envs


def _ini_has_alembic(path: Path) -> bool:
    """Whether an .ini file configures Alembic (read: its first 20 kB; anything that is no regular
    file -- a FIFO, a device -- is not read at all)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        head = os.read(fd, 20000).decode("utf-8", errors="replace")
    except OSError:
        return False
    finally:
        os.close(fd)
    return "script_location" in head


def _read_ini(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(defaults={"here": str(path.parent)}, interpolation=configparser.BasicInterpolation())
    text = read_text(path, "alembic.ini")  # a regular file of sane size, or one line and exit 2
    try:
        parser.read_string(text, source=str(path))
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise DiscoveryError(f"{_relative(path)}: cannot read INI: {str(exc).splitlines()[0]}") from None
    return parser


def _get(parser, section, key) -> Optional[str]:
    try:
        value = parser.get(section, key, fallback=None)
    except (configparser.InterpolationError, configparser.Error):
        value = parser.get(section, key, raw=True, fallback=None)
    return value.strip() if isinstance(value, str) else None


def _from_ini(path: Path) -> List[Environment]:
    parser = _read_ini(path)
    envs = []
    sections = [s for s in parser.sections() if _get(parser, s, "script_location")]
    if not sections and parser.has_section("alembic") or (not sections and (path.parent / "env.py").is_file()):
        # Flask-Migrate: migrations/alembic.ini without script_location; the folder is the script dir.
        if (path.parent / "env.py").is_file():
            env = _bare(path.parent, config_file=path)
            section = "alembic" if parser.has_section("alembic") else None
            if section:
                _apply_ini(env, parser, section, path)
            return [env]
        return []
    for section in sections:
        script = _resolve_location(_get(parser, section, "script_location"), path.parent)
        if script is None:
            continue
        _check_folder(script, f"script_location of [{section}] in {path.name}")
        env = _bare(script, config_file=path)
        _apply_ini(env, parser, section, path)
        envs.append(env)
    return envs


def _apply_ini(env: Environment, parser, section: str, path: Path) -> None:
    locations = _get(parser, section, "version_locations")
    if locations:
        separator = _get(parser, section, "version_path_separator") or "legacy"
        env.version_locations = [_resolve_location(p, path.parent) for p in _split(locations, separator)]
        env.version_locations = [p for p in env.version_locations if p is not None]
        env.explicit_locations = True
    recursive = (_get(parser, section, "recursive_version_locations") or "").lower()
    env.recursive = recursive in ("true", "1", "yes", "on")
    url = _get(parser, section, "sqlalchemy.url")
    if url:
        env.url = url
        env.url_dialect = url_dialect(url)
        env.dialect_hint = f"{path.name} sqlalchemy.url"


def _split(value: str, separator: str) -> List[str]:
    seps = {"os": os.pathsep, "space": " ", "newline": "\n", ":": ":", ";": ";"}
    if separator in seps:
        return [p.strip() for p in value.split(seps[separator]) if p.strip()]
    return [p for p in re.split(r"[,\s]+", value) if p]


def _resolve_location(value: Optional[str], base: Path) -> Optional[Path]:
    if not value:
        return None
    if ":" in value and not re.match(r"^[A-Za-z]:[\\/]", value) and not value.startswith("/"):
        # A package resource: "myapp:migrations", "prefect:server:database:_migrations".
        package, _, sub = value.partition(":")
        package_path = Path(*package.split("."))
        sub_path = Path(*[p for p in re.split(r"[:/]", sub) if p])
        for folder in [base, *base.parents]:
            for candidate in (folder / package_path, folder / "src" / package_path):
                if candidate.is_dir() and (candidate / sub_path).is_dir():
                    return (candidate / sub_path).resolve()
        return (base / package_path / sub_path).resolve()
    path = Path(value)
    return (path if path.is_absolute() else base / path).resolve()


def _from_pyproject(path: Path) -> List[Environment]:
    data = load_toml(read_bytes(path, "pyproject.toml"), _relative(path))
    tool = data.get("tool", {})
    if not isinstance(tool, dict):
        raise DiscoveryError(f"{_relative(path)}: [tool] must be a table, not {type(tool).__name__}")
    table = tool.get("alembic")
    if not isinstance(table, dict) or not table.get("script_location"):
        return []
    where = f"{_relative(path)}: [tool.alembic]"
    location = table["script_location"]
    if not isinstance(location, str):
        raise DiscoveryError(f"{where} script_location must be a folder path")
    here = str(path.parent)
    script = _resolve_location(location.replace("%(here)s", here), path.parent)
    _check_folder(script, "script_location of [tool.alembic]")
    env = _bare(script, config_file=path)
    env.kind = "pyproject"
    locations = table.get("version_locations")
    if locations:
        if isinstance(locations, str):
            separator = table.get("path_separator", "legacy")
            locations = _split(locations, separator if isinstance(separator, str) else "legacy")
        if not isinstance(locations, list) or not all(isinstance(v, str) for v in locations):
            raise DiscoveryError(f"{where} version_locations must be a list of folder paths")
        env.version_locations = [p for p in (_resolve_location(v.replace("%(here)s", here), path.parent) for v in locations) if p]
        env.explicit_locations = True
    recursive = table.get("recursive_version_locations", False)
    if not isinstance(recursive, bool):
        raise DiscoveryError(f"{where} recursive_version_locations must be true or false")
    env.recursive = recursive
    return [env]


def _bare(script: Path, versions: Optional[Path] = None, config_file: Optional[Path] = None) -> Environment:
    env = Environment(
        script_location=script,
        version_locations=[versions or script / "versions"],
        config_file=config_file,
        kind="bare" if config_file is None else "alembic",
        project_root=_project_root(script),
    )
    env_py = script / "env.py"
    if env_py.is_file():
        env.env_py = env_py
        env.settings = read_env_settings(env_py)
        if env.settings.get("flask"):
            env.kind = "flask-migrate"
    return env


def _project_root(start: Path) -> Path:
    for candidate in [start, *start.parents]:
        if any((candidate / marker).exists() for marker in (".git", "pyproject.toml", "setup.py", "setup.cfg")):
            return candidate
    return start.parent


ENV_PY_LIMIT = 4 * 1024 * 1024
LOCK_TIMEOUT = re.compile(r"lock_timeout", re.I)
STATEMENT_TIMEOUT = re.compile(r"statement_timeout", re.I)


def read_env_settings(env_py: Path) -> dict:
    """Settings in env.py that change verdicts, found by reading (never running) it."""
    text = read_bytes(env_py, "env.py", limit=ENV_PY_LIMIT).decode("utf-8", errors="replace")
    code = "\n".join(line.split("#", 1)[0] if not line.lstrip().startswith("#") else "" for line in text.splitlines())
    return {
        "lock_timeout": bool(LOCK_TIMEOUT.search(code)),
        "statement_timeout": bool(STATEMENT_TIMEOUT.search(code)),
        "transaction_per_migration": bool(re.search(r"transaction_per_migration\s*=\s*True", code)),
        "transactional_ddl": not bool(re.search(r"transactional_ddl\s*=\s*False", code)),
        # the migrations' connection in AUTOCOMMIT isolation: Alembic's begin() is then no
        # transaction at all, and every statement commits by itself
        "autocommit_isolation": bool(re.search(r"""isolation_level\s*=\s*["']AUTOCOMMIT["']""", code)),
        "flask": "current_app" in code,
        # an asyncio engine (asyncpg): connection settings go in server_settings, not options
        "async_driver": bool(re.search(r"asyncpg|AsyncEngine|async_engine_from_config|create_async_engine|\.run_sync\(", code)),
        "version_table": _literal_option(code, "version_table"),
        # set, but computed at run time (ckan: '{}_alembic_version'.format(name)): unknown here
        "version_table_computed": bool(re.search(r"\bversion_table\s*=", code)) and _literal_option(code, "version_table") is None,
        "version_table_schema": _literal_option(code, "version_table_schema"),
        "naming_convention": _naming_convention(text),
        # env.py sets the URL itself: alembic.ini's sqlalchemy.url is not what runs
        "url_overridden": bool(re.search(r"set_main_option\(\s*['\"]sqlalchemy\.url['\"]", code)),
        "search_path": _search_path(code),
        "user_module_prefix": _literal_option(code, "user_module_prefix"),
        # where a lock_timeout belongs: the online configure (it gets a connection), not the
        # offline one every template has first
        "configure_line": _online_configure_line(text) or _line_of(text, r"context\.configure\(") or _line_of(text, r"run_migrations\("),
        # a statement on the connection before context.configure() (SQLAlchemy 2.x autobegin):
        # open_transaction, commits_after_run (envpy.py)
        **transaction_facts(text),
    }


def _online_configure_line(text: str) -> Optional[int]:
    """The line of the ``context.configure(...)`` call that is given a connection."""
    for match in re.finditer(r"context\.configure\(", text):
        depth, end = 1, match.end()
        while end < len(text) and depth:
            depth += {"(": 1, ")": -1}.get(text[end], 0)
            end += 1
        if re.search(r"\bconnection\s*=", text[match.end():end]):
            return text.count("\n", 0, match.start()) + 1
    return None


def _line_of(text: str, pattern: str) -> Optional[int]:
    match = re.search(pattern, text)
    return text.count("\n", 0, match.start()) + 1 if match else None


def _naming_convention(text: str) -> tuple:
    """A MetaData naming convention env.py states as a literal: (("ix", template), ...)."""
    import ast

    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return ()
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Dict):
            continue
        pairs = []
        for key, value in zip(node.keys, node.values):
            if isinstance(key, ast.Constant) and key.value in ("ix", "uq", "ck", "fk", "pk") and isinstance(value, ast.Constant) and isinstance(value.value, str):
                pairs.append((key.value, value.value))
        if len(pairs) >= 2:
            found.extend(pairs)
    return tuple(found)


_SEARCH_PATH = re.compile(r"search_path\s*(?:=|\s+to\s+)\s*['\"]?\s*([A-Za-z_][A-Za-z0-9_]*)", re.I)


def _search_path(code: str) -> Optional[str]:
    """The first schema of a search_path env.py sets (SET search_path ..., options='-csearch_path=...'),
    leaving "$user" aside."""
    for match in _SEARCH_PATH.finditer(code.replace('"$user",', "").replace("$user,", "")):
        return match.group(1)
    return None


def _literal_option(code: str, name: str) -> Optional[str]:
    """``version_table="x"`` given as a literal in env.py (computed values are not guessed)."""
    match = re.search(rf"\b{name}\s*=\s*['\"]([A-Za-z0-9_.]+)['\"]", code)
    return match.group(1) if match else None


def url_dialect(url: str) -> Optional[str]:
    match = re.match(r"^\s*([A-Za-z0-9_]+)(\+[A-Za-z0-9_]+)?://", url)
    if not match:
        return None
    return dialects.from_sqlalchemy_name(match.group(1))


def project_packages(root: Optional[Path]) -> set:
    """Top-level importable names of the project itself (for imports-application-code)."""
    names = set()
    if root is None or not root.is_dir():
        return names
    for base in (root, root / "src"):
        if not base.is_dir():
            continue
        for entry in base.iterdir():
            if entry.name.startswith(".") or entry.name in SKIP_DIRS or entry.name in ("tests", "test", "docs"):
                continue
            if entry.is_dir() and (entry / "__init__.py").is_file():
                names.add(entry.name)
            elif entry.suffix == ".py" and entry.stem not in ("setup", "conftest", "noxfile", "manage"):
                names.add(entry.stem)
    return names


# A pinned requirement: `name==1.2.0` (extras allowed; a pin under an environment marker holds
# only where the marker does, so it is not taken), not `==1.*`.  Each \s* stands where the one
# before cannot match a space: no two adjacent, so a line that fails, fails in linear time.
_PIN = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)(?:\s*\[[^\]]*\])?\s*===?\s*([0-9][^\s*,;#\\]*)(?:\s+(?:#.*|\\.*))?")
MAX_PIN_LINE = 400
# a lock file's packages: `[[package]]` blocks, their name, and where they come from
_LOCK_BLOCK = re.compile(r"^\[\[package\]\]\s*$", re.M)
_LOCK_NAME = re.compile(r'^name\s*=\s*"([A-Za-z0-9][A-Za-z0-9._-]*)"\s*$', re.M)
# the project itself or code beside it (uv: editable / virtual / directory / path sources;
# poetry: develop = true, [package.source] type = "directory" or "file"; pdm: editable or a path)
_LOCK_LOCAL = re.compile(r'^\s*(?:source\s*=\s*\{[^}\n]*\b(?:editable|virtual|directory|path)\s*=|develop\s*=\s*true|type\s*=\s*"(?:directory|file)"|editable\s*=\s*true|path\s*=)', re.M)
LOCK_FILES = ("uv.lock", "poetry.lock", "pdm.lock")
MAX_LOCK_BYTES = 16 * 1024 * 1024


def _module_name(distribution: str) -> str:
    return re.sub(r"[-.]+", "_", distribution).lower()


def _listed(value) -> list:
    """The strings of a TOML list (anything else: none)."""
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _inside(path: Path, root: Path) -> bool:
    """``path`` resolves inside ``root`` (a symlink out of the project is not read)."""
    try:
        return os.path.commonpath([os.path.realpath(path), os.path.realpath(root)]) == os.path.realpath(root)
    except ValueError:
        return False


def pinned_modules(root: Optional[Path]) -> frozenset:
    """Import names of the distributions the project fixes to one version: `name==version` in
    pyproject.toml or a requirements file at its root (or in requirements/), or a package of a
    lock file there (uv.lock, poetry.lock, pdm.lock) that comes from an index, not the project's
    own tree.  Read as text, never run; files that resolve outside the project are not read.  The
    import name is taken as the distribution's, normalised (sqlalchemy-searchable:
    sqlalchemy_searchable); one that differs (PyYAML: yaml) is simply not found."""
    from migration_lint.errors import MigrationLintError
    from migration_lint.safeio import load_toml, read_bytes, read_text

    found = set()
    if root is None or not root.is_dir():
        return frozenset()
    lines = []
    data = {}
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and _inside(pyproject, root):
        try:
            data = load_toml(read_bytes(pyproject, "pyproject.toml"), "pyproject.toml")
        except MigrationLintError:
            data = {}
    project = data.get("project") if isinstance(data.get("project"), dict) else {}
    lines.extend(_listed(project.get("dependencies")))
    optional = project.get("optional-dependencies")
    for group in optional.values() if isinstance(optional, dict) else ():
        lines.extend(_listed(group))
    tool = data.get("tool") if isinstance(data.get("tool"), dict) else {}
    poetry = tool.get("poetry") if isinstance(tool.get("poetry"), dict) else {}
    dependencies = poetry.get("dependencies")
    for name, spec in dependencies.items() if isinstance(dependencies, dict) else ():
        version = spec.get("version") if isinstance(spec, dict) else spec
        if isinstance(name, str) and isinstance(version, str):
            lines.append(f"{name}{version if version.startswith('=') else '==' + version}")
    for folder in (root, root / "requirements"):
        if not folder.is_dir() or not _inside(folder, root):
            continue
        try:
            entries = sorted(folder.iterdir())[:200]
        except OSError:
            continue
        for entry in entries:
            if entry.suffix in (".txt", ".in") and (folder != root or entry.name.startswith("requirements")) and entry.is_file() and _inside(entry, root):
                try:
                    lines.extend(read_text(entry, "requirements file").splitlines())
                except MigrationLintError:
                    continue
    for line in lines:
        line = line.strip()
        if len(line) > MAX_PIN_LINE:
            continue
        match = _PIN.fullmatch(line)
        if match:
            found.add(_module_name(match.group(1)))
    own = {_module_name(project["name"])} if isinstance(project.get("name"), str) else set()
    for name in LOCK_FILES:
        path = root / name
        if not (path.is_file() and _inside(path, root)):
            continue
        try:
            text = read_text(path, "lock file", limit=MAX_LOCK_BYTES)
        except MigrationLintError:
            continue
        for block in _LOCK_BLOCK.split(text)[1:]:
            named = _LOCK_NAME.search(block)
            if named and not _LOCK_LOCAL.search(block):
                found.add(_module_name(named.group(1)))
    return frozenset(found - own)


# What a migration may import from the project without depending on its models: SQLAlchemy
# types and SQL functions the project defines (autogenerate writes them into revisions).
TYPE_BASES = frozenset({
    "TypeDecorator", "TypeEngine", "UserDefinedType", "Variant", "FunctionElement", "GenericFunction",
    "ReturnTypeFromArgs", "Enum", "String", "Text", "Integer", "BigInteger", "Numeric", "DateTime",
    "Boolean", "JSON", "LargeBinary", "ARRAY", "JSONB", "UUID", "Uuid",
})


def project_type_names(root: Optional[Path], modules) -> frozenset:
    """"module.Name" of every SQLAlchemy type or SQL function class (or type value) the given
    project modules define at top level, read as text (the modules are never imported)."""
    import ast

    from migration_lint.errors import MigrationLintError

    found = set()
    if root is None:
        return frozenset()
    for module in sorted(set(modules)):
        path = _module_file(root, module)
        if path is None:
            continue
        try:
            tree = ast.parse(read_text(path, "project module"))
        except (MigrationLintError, SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and any(_base_name(b) in TYPE_BASES or (_base_name(b) or "").endswith("Type") for b in node.bases):
                found.add(f"{module}.{node.name}")
            elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
                callee = _base_name(node.value.func) or ""
                if callee in TYPE_BASES or callee == "with_variant" or (callee[:1].isupper() and callee.isupper()):
                    found.update(f"{module}.{t.id}" for t in node.targets if isinstance(t, ast.Name))
    return frozenset(found)


def _base_name(node) -> Optional[str]:
    import ast

    while isinstance(node, ast.Subscript):
        node = node.value
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return None


def _module_file(root: Path, module: str) -> Optional[Path]:
    parts = module.split(".")
    for base in (root, root / "src"):
        candidate = base.joinpath(*parts)
        for path in (candidate.with_suffix(".py"), candidate / "__init__.py"):
            if path.is_file():
                return path
    return None
