"""Codebooks: model, built-in versions, validation, diff, migration and export."""

from thoughtcode.taxonomy.diff import CodebookDiff, diff_codebooks
from thoughtcode.taxonomy.export import label_json_schema, to_json, to_markdown, to_yaml
from thoughtcode.taxonomy.migrate import (
    LabelOutcome,
    MigrationReport,
    MigrationResult,
    migrate_labels,
    migration_path,
    plan_migration,
)
from thoughtcode.taxonomy.model import Category, ChangelogEntry, Codebook, CodebookError, Example, Migration
from thoughtcode.taxonomy.registry import (
    builtin_codebooks,
    codebook_versions,
    load_codebook,
    load_codebook_file,
    parse_codebook,
)

__all__ = [
    "Category",
    "ChangelogEntry",
    "Codebook",
    "CodebookDiff",
    "CodebookError",
    "Example",
    "LabelOutcome",
    "Migration",
    "MigrationReport",
    "MigrationResult",
    "builtin_codebooks",
    "codebook_versions",
    "diff_codebooks",
    "label_json_schema",
    "load_codebook",
    "load_codebook_file",
    "migrate_labels",
    "migration_path",
    "parse_codebook",
    "plan_migration",
    "to_json",
    "to_markdown",
    "to_yaml",
]
