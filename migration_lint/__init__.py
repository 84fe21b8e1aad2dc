"""migration-lint: a CI/CD safety linter for Alembic migrations."""

__version__ = "0.1.0"

# The name on the package index. `migration-lint` there is another project (a SQL linter with the same
# command and import package): the two cannot be installed in one environment.
DISTRIBUTION = "alembic-lint"
