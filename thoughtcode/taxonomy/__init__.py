"""Codebooks: model, built-in versions, validation, diff, migration and export."""

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
    "CodebookError",
    "Example",
    "Migration",
    "builtin_codebooks",
    "codebook_versions",
    "load_codebook",
    "load_codebook_file",
    "parse_codebook",
]
