"""Errors that end a run with exit code 2 and one line on stderr (cli.py prints them)."""


class MigrationLintError(Exception):
    """Usage or environment problem: bad path, bad config, unknown rule."""


class ConfigError(MigrationLintError):
    pass


class DiscoveryError(MigrationLintError):
    pass


class RuleError(MigrationLintError):
    """A rule file (ours or a user's rule pack) is malformed."""
