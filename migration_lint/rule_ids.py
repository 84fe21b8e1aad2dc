"""Names of the rules whose findings code outside rules/ produces (front end, engine, round trip,
git).  Rule names are public interface: code refers to them only through these constants, and a
test checks that each names a rule of the catalogue."""

SYNTAX_ERROR = "syntax-error"
INVALID_REVISION_HEADER = "invalid-revision-header"
FILE_TOO_LARGE = "file-too-large"
UNUSED_SUPPRESSION = "unused-suppression"
MODIFIED_MERGED_MIGRATION = "modified-merged-migration"
DELETED_MIGRATION = "deleted-migration"
ROUNDTRIP_UPGRADE_FAILED = "roundtrip-upgrade-failed"
ROUNDTRIP_DOWNGRADE_FAILED = "roundtrip-downgrade-failed"
REUPGRADE_FAILED = "reupgrade-failed"
DOWNGRADE_LEAVES_TRACE = "downgrade-leaves-trace"
REUPGRADE_DIFFERS = "reupgrade-differs"
ROUNDTRIP_IRREVERSIBLE = "roundtrip-irreversible"
MODELS_DRIFT = "models-drift"
TRACE_STRONG_LOCK = "trace-strong-lock"
TRACE_TABLE_REWRITE = "trace-table-rewrite"

ALL = tuple(v for k, v in dict(globals()).items() if k.isupper() and isinstance(v, str))
