"""A Docker container via testcontainers (the optional extra ``alembic-lint[docker]``):
``postgres:<major>`` for PostgreSQL, ``mariadb:<x.y>`` (``mysql:<x.y>`` when the requested server
version is a MySQL one, i.e. major < 10) for MySQL; ``image`` overrides.  testcontainers' reaper
(Ryuk) removes a container whose client died."""

from __future__ import annotations

import os
import secrets
import time
from typing import Optional

from sqlalchemy.engine import make_url

from migration_lint.roundtrip.db.base import Database, DatabaseError, fmt_version, has_module, pick_driver
from migration_lint.roundtrip.db.cleanup import Cleanup
from migration_lint.roundtrip.db.dialect_sql import Scratch
from migration_lint.roundtrip.db.redact import one_line

DEFAULT_POSTGRES_IMAGE_MAJOR = 16
DEFAULT_MARIADB_IMAGE = "mariadb:11.4"


def docker_unavailable() -> Optional[str]:
    """None when a Docker engine answers, else why not (short, for notes)."""
    if not has_module("docker"):
        return "the Docker SDK is not installed (pip install 'alembic-lint[docker]')"
    try:
        import docker

        client = docker.from_env(timeout=2)
        try:
            client.ping()
        finally:
            try:
                client.close()
            except Exception:  # noqa: BLE001
                pass
    except Exception:  # noqa: BLE001 - DockerException, connection refused, missing socket, ...
        return "no Docker engine answered"
    return None


def default_image(dialect: str, server_version) -> str:
    if dialect == "postgresql":
        if not server_version:
            return f"postgres:{DEFAULT_POSTGRES_IMAGE_MAJOR}"
        version = tuple(server_version)
        return f"postgres:{fmt_version(version[:2] if version[0] < 10 else version[:1])}"  # 9.6, 10, 16
    if not server_version:
        return DEFAULT_MARIADB_IMAGE
    tag = fmt_version(tuple(server_version)[:2])
    return f"mariadb:{tag}" if server_version[0] >= 10 else f"mysql:{tag}"


def open_docker(dialect: str, server_version, image, notes: list, res: Cleanup) -> Database:
    from migration_lint.roundtrip.db.server_url import scratch_name

    if not (has_module("testcontainers") and has_module("docker")):
        raise DatabaseError("--db docker needs testcontainers: pip install 'alembic-lint[docker]'")
    why = docker_unavailable()
    if why is not None:
        raise DatabaseError(f"{why} (is Docker running? DOCKER_HOST={os.environ.get('DOCKER_HOST', 'unset')}); try --db local or a database URL")
    image = image or default_image(dialect, server_version)
    driver = pick_driver(dialect)
    password = secrets.token_hex(12)
    try:
        if dialect == "postgresql":
            try:
                from testcontainers.community.postgres import PostgresContainer
            except ImportError:
                from testcontainers.postgres import PostgresContainer
            container = PostgresContainer(image, username="postgres", password=password, dbname="postgres", driver=driver)
        else:
            try:
                from testcontainers.community.mysql import MySqlContainer
            except ImportError:
                from testcontainers.mysql import MySqlContainer
            container = MySqlContainer(image, dialect=driver, username="root", password=password, dbname="migration_lint")
    except Exception as exc:  # noqa: BLE001
        raise DatabaseError(f"cannot prepare container {image}: {one_line(exc, [password])}") from None
    started = time.monotonic()

    def stop() -> None:
        if getattr(container, "_container", None) is not None:  # started (or partly)
            container.stop()

    res.push(f"stop container {image}", stop)  # before the start: an interrupt during it still stops it
    try:
        container.start()
        url = make_url(container.get_connection_url())
    except Exception as exc:  # noqa: BLE001 - image pull failures, timeouts
        raise DatabaseError(f"cannot start container {image}: {one_line(exc, [password])}") from None
    name = scratch_name()
    scratch = Scratch(url, dialect, name)
    res.push(f"dispose the engine for {name}", scratch.close)
    deadline = time.monotonic() + 30
    while True:  # the log line can come slightly before the port is reachable
        try:
            scratch.create()
            break
        except DatabaseError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    startup = time.monotonic() - started
    return Database(
        dialect=dialect,
        url=url.set(database=name),
        description=f"throwaway Docker container {image}",
        backend="docker",
        startup_seconds=startup,
        _reset=scratch.reset,
    )
