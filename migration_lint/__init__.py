"""migration-lint: a CI/CD safety linter for Alembic migrations."""

__version__ = "0.1.0"
