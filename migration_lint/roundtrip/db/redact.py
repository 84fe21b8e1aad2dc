"""Passwords out of everything shown: URLs, descriptions, notes, error messages.

A password can be in a URL's userinfo (``postgresql://u:pw@h/db``) or in its query string
(``?password=pw``, ``?passwd=pw``, ``?sslpassword=pw``...).  :func:`url_secrets` lists both,
:func:`safe_url` renders a URL without them, :func:`scrub` removes them (in any quoting) from a
text.  Every message that may echo a URL or a driver error goes through these.
"""

from __future__ import annotations

from typing import Iterable, List, Optional
from urllib.parse import quote, quote_plus

from sqlalchemy.engine import URL

MASK = "***"
# query keys whose values are secrets: password, passwd, sslpassword, pwd, client_secret, token...
_SECRET_WORDS = ("password", "passwd", "pwd", "secret", "token")


def is_secret_key(key: str) -> bool:
    lowered = key.lower()
    return any(word in lowered for word in _SECRET_WORDS)


def _values(value) -> List[str]:
    return [str(v) for v in value] if isinstance(value, (tuple, list)) else [str(value)]


def url_secrets(url: Optional[URL]) -> List[str]:
    """Every secret in ``url``: the userinfo password and secret query-string values."""
    if url is None:
        return []
    found = [str(url.password)] if url.password else []
    for key, value in url.query.items():
        if is_secret_key(key):
            found.extend(v for v in _values(value) if v)
    return found


def safe_url(url: URL) -> str:
    """``url`` as text with every secret shown as ``***``."""
    placeholder = "MIGRATIONLINTMASKED"
    query = {key: (placeholder if is_secret_key(key) else value) for key, value in url.query.items()}
    text = url.set(query=query).render_as_string(hide_password=True) if query != dict(url.query) else url.render_as_string(hide_password=True)
    return text.replace(placeholder, MASK)


def scrub(text: str, secrets: Iterable[Optional[str]]) -> str:
    """``text`` with each secret (as given, URL-quoted or form-quoted) replaced by ``***``."""
    for secret in secrets:
        if not secret:
            continue
        for form in sorted({secret, quote(secret, safe=""), quote_plus(secret)}, key=len, reverse=True):
            if form:
                text = text.replace(form, MASK)
    return text


def one_line(exc: BaseException, secrets: Iterable[Optional[str]] = ()) -> str:
    """The first line of an exception's message (a driver's own message for SQLAlchemy errors), scrubbed."""
    orig = getattr(exc, "orig", None)  # sqlalchemy DBAPIError: the driver's message
    text = str(orig if orig is not None else exc) or type(exc).__name__
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    line = lines[0] if lines else type(exc).__name__
    return scrub(line, secrets)


def password_in_userinfo(url: URL, dialect: str) -> URL:
    """``?password=`` (and MySQL drivers' ``?passwd=``) moved into the userinfo, where every
    renderer hides it.

    The drivers take both the same way; SQLAlchemy passes the query after the userinfo, so the
    query's value wins, as it does here (``password`` over ``passwd``, as PyMySQL does).
    """
    keys = ("passwd", "password") if dialect == "mysql" else ("password",)
    for key in keys:
        if key in url.query:
            values = _values(url.query[key])
            query = {k: v for k, v in url.query.items() if k != key}
            url = url.set(password=values[-1], query=query)
    return url
