"""What a check returns: one result per history, and the run's result.  Plain data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Tuple

from migration_lint.model import Finding
from migration_lint.settings import Settings


@dataclass
class EnvironmentResult:
    name: str
    kind: str
    settings: Settings
    file_count: int
    revision_count: int
    heads: List[str]
    findings: List[Finding]
    notes: List[str] = field(default_factory=list)  # what was assumed or fell back
    roundtrip: Optional[object] = None  # RoundTripResult when --roundtrip ran
    drift: Optional[object] = None  # DriftResult when --drift ran

    @property
    def dialect(self) -> str:
        return self.settings.dialect

    @property
    def dialect_source(self) -> str:
        return self.settings.source_of("dialect")

    @property
    def server_version(self) -> Tuple[int, ...]:
        return self.settings.server_version

    @property
    def version_source(self) -> str:
        return self.settings.source_of("server_version")


@dataclass
class CheckResult:
    environments: List[EnvironmentResult] = field(default_factory=list)
    baseline: Optional[dict] = None  # {'path', 'matched', 'gone'} when a baseline was applied
    cleanup_failures: List[str] = field(default_factory=list)  # what the round trip could not remove (also in notes)

    @property
    def findings(self) -> List[Finding]:
        return [f for env in self.environments for f in env.findings]
