"""Loading revision files one by one: a file that cannot be imported does not stop the others.

Alembic imports every revision file when it first needs its revision map, and one import error
ends the load.  While :func:`tolerant_loading` is active, a revision file that raises on import is
replaced by a stand-in module built from its statically read headers (``revision``,
``down_revision``, ``branch_labels``, ``depends_on``), so the graph stays whole; the stand-in's
``upgrade()`` and ``downgrade()`` raise :class:`RevisionNotImported`.  The round trip reports each
such revision once, with its cause (:func:`cause_of`), and goes on with every revision that does
not descend from it.

Why process-wide: Alembic loads each file through ``alembic.util.load_python_file``, looked up on
the module at every call; there is no per-directory hook.  It is replaced for the load only, and
only revision files the static parse knows get a stand-in: ``env.py`` and anything else fail as
they would.
"""

from __future__ import annotations

import os
import traceback
import types
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Dict, Iterator, Optional


class RevisionNotImported(Exception):
    """The stand-in's upgrade()/downgrade(): the revision file could not be imported."""


@dataclass
class ImportFailure:
    revision: str
    path: str  # the file's real path
    line: int  # where in that file the import failed (1 when not in the file itself)
    cause: str  # one line: what kind of failure, and what to do
    error: str  # the exception's own first line


def cause_of(exc: BaseException) -> str:
    """Why a revision file could not be imported, in words a user can act on."""
    text = str(exc)
    if isinstance(exc, ModuleNotFoundError) or (isinstance(exc, ImportError) and getattr(exc, "name", None)):
        return f"missing module {exc.name!r} (install what the revision imports where migration-lint runs)"
    if "application context" in text or "app context" in text or "current_app" in text:
        return "needs a Flask application context (pass --app module:factory, see README 'The round trip')"
    kind = type(exc).__name__
    parts = [
        part.lower()
        for frame, _ in traceback.walk_tb(exc.__traceback__)
        for part in os.path.normpath(frame.f_code.co_filename).split(os.sep)[-2:]  # the file and its package
    ]
    settings_file = any(part.startswith(("settings", "config", "conf.")) for part in parts)
    said = "environment variable" in text.lower() or ("must set" in text.lower() and "setting" in text.lower())
    if kind in ("ValidationError", "ImproperlyConfigured", "ConfigurationError") or "Config" in kind or "Setting" in kind or settings_file or said:
        return "a settings error: importing it reads the project's configuration (set what that needs, e.g. environment variables)"
    if isinstance(exc, ImportError):
        return "an import error"
    return "an error while importing it"


def _stand_in(file, failure: "ImportFailure") -> types.ModuleType:
    module = types.ModuleType(f"migration_lint_not_imported_{failure.revision}")
    down = tuple(file.down_revision or ())
    module.revision = failure.revision
    module.down_revision = None if not down else down[0] if len(down) == 1 else down
    module.branch_labels = tuple(file.branch_labels) or None
    module.depends_on = tuple(file.depends_on) or None
    module.__doc__ = None

    def not_imported():
        raise RevisionNotImported(f"{failure.revision} could not be imported: {failure.error}")

    module.upgrade = module.downgrade = not_imported
    module.migration_lint_import_failure = failure
    return module


def _line_in(exc: BaseException, path: str) -> int:
    line = 0
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if os.path.realpath(frame.f_code.co_filename) == path:
            line = lineno
    if not line and isinstance(exc, SyntaxError) and exc.filename and os.path.realpath(exc.filename) == path:
        line = exc.lineno or 0
    return line or 1


@contextmanager
def tolerant_loading(locate: Callable[[str], Optional[object]], first_line: Callable[[BaseException], str],
                     failures: Dict[str, ImportFailure]) -> Iterator[None]:
    """While active, revision files ``locate(real path)`` knows (a static MigrationFile with a
    revision id) that fail to import get a stand-in; each failure is added to ``failures``."""
    from alembic import util

    original = util.load_python_file

    def load(dir_, filename):
        try:
            return original(dir_, filename)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 - a revision file may raise anything on import, SystemExit too
            path = os.path.realpath(os.path.join(str(dir_), str(filename)))
            file = locate(path)
            if file is None or not getattr(file, "revision", None):
                raise
            failure = ImportFailure(file.revision, path, _line_in(exc, path), cause_of(exc), first_line(exc))
            failures[file.revision] = failure
            return _stand_in(file, failure)

    util.load_python_file = load
    try:
        yield
    finally:
        util.load_python_file = original
