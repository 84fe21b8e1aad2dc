"""``--app module:factory``: a Flask application context around the round trip, opt-in.

Flask-Migrate's ``env.py`` and some revisions read ``flask.current_app`` (its config, its
``extensions["migrate"]``), which exists only inside an application context.  With ``--app`` (or
config ``roundtrip-app``) the round trip builds the application itself, pointed at the scratch
database, and pushes its context around everything it runs for the history: loading the revision
files, ``env.py`` or the built-in environment, every step.  ``FLASK_APP`` is never read: only the
factory named here is used.

Pointing the application at the scratch database happens *before* the factory runs, because
factories read their database URL while they build the app (Flask-SQLAlchemy 3 creates its engines
in ``init_app``): each environment variable named with ``--app-url-env NAME`` (config
``roundtrip-app-url-env``) is set to the scratch database's URL for the duration of the history's
round trip and restored afterwards.  ``module:factory`` names a function called with no
arguments, or an application object itself.  After the factory returns, if the app's
``SQLALCHEMY_DATABASE_URI`` names another database the run stops (exit 2): the variable its
configuration reads was not named.  The factory runs under the guard (guard.py): a factory that
connects anywhere but the scratch database is refused.

Why process-wide: environment variables and Flask's context stack are the process's; both are
restored when the history's round trip ends, however it ends.
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Optional, Tuple

from migration_lint.errors import ConfigError, MigrationLintError

_TARGET = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*\Z")
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class AppUnusable(MigrationLintError):
    """The application named with --app could not be built against the scratch database (exit 2)."""


@dataclass(frozen=True)
class AppSpec:
    target: str  # module:factory
    url_env: Tuple[str, ...]  # variables set to the scratch database's URL before the factory runs
    source: str  # "--app" or "<config file>: roundtrip-app"


def parse(target: Optional[str], url_env, source: str) -> Optional[AppSpec]:
    target = (target or "").strip()
    names = tuple(url_env or ())
    bad = [name for name in names if not _VARIABLE.match(name)]
    if bad:
        raise ConfigError(f"{source}: {bad[0]!r} is not an environment variable name")
    if not target:
        if names:
            raise ConfigError(f"{source}: --app-url-env names variables for an app factory, but no --app is given")
        return None
    if not _TARGET.match(target):
        raise ConfigError(f"{source}: {target!r} is not module:factory (e.g. myapp:create_app)")
    return AppSpec(target, names, source)


@contextmanager
def _environment(names, value: str) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in names}
    try:
        for name in names:
            os.environ[name] = value
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


def _build(spec: AppSpec):
    import importlib

    module_name, _, attribute = spec.target.partition(":")
    obj = importlib.import_module(module_name)
    for part in attribute.split("."):
        obj = getattr(obj, part)
    app = obj if hasattr(obj, "app_context") else obj() if callable(obj) else obj
    if not hasattr(app, "app_context"):
        raise AppUnusable(f"{spec.source}: {spec.target} gave a {type(app).__name__}, not a Flask application (it has no app_context())")
    return app


@contextmanager
def app_context(spec: AppSpec, url, first_line) -> Iterator[object]:
    """Build the app with ``url`` in the named variables, under the guard; push its context."""
    from sqlalchemy.engine import make_url

    from migration_lint.roundtrip import guard
    from migration_lint.roundtrip.db.redact import safe_url

    rendered = url.render_as_string(hide_password=False)
    with _environment(spec.url_env, rendered):
        try:
            with guard.only(url):
                app = _build(spec)
        except AppUnusable:
            raise
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 - a factory may raise anything, SystemExit too
            raise AppUnusable(f"{spec.source}: building the app with {spec.target} failed: {first_line(exc)}") from None
        configured = getattr(app, "config", {}).get("SQLALCHEMY_DATABASE_URI")
        if configured:
            try:
                elsewhere = guard.target_of_url(make_url(str(configured))) != guard.target_of_url(url)
            except Exception:  # noqa: BLE001 - not a URL SQLAlchemy can read
                elsewhere = True
            if elsewhere:
                try:
                    shown = safe_url(make_url(str(configured)))
                except Exception:  # noqa: BLE001
                    shown = "a value that is not a database URL"
                hint = f" (set: {', '.join(spec.url_env)})" if spec.url_env else ""
                raise AppUnusable(
                    f"{spec.source}: the app built by {spec.target} uses {shown}, not the throwaway database{hint}: "
                    "name the environment variable its configuration reads the database URL from with --app-url-env NAME"
                )
        context = app.app_context()
        context.push()
        try:
            yield app
        finally:
            try:
                _dispose_engines(app)  # no pooled connection outlives the history's scratch database
            finally:
                context.pop()


def _dispose_engines(app) -> None:
    """Flask-SQLAlchemy's engines of this app (3.x: ``engines``; 2.x: ``get_engine()``)."""
    for extension in list(getattr(app, "extensions", {}).values()):
        db = getattr(extension, "db", extension)  # Flask-Migrate keeps the db on its state
        try:
            engines = getattr(db, "engines", None)
            if isinstance(engines, dict):
                for engine in engines.values():
                    engine.dispose()
            elif hasattr(db, "get_engine"):
                db.get_engine(app).dispose()
        except Exception:  # noqa: BLE001 - best effort: the scratch database is dropped anyway
            pass
