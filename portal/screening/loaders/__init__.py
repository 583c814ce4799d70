"""Parsers for the published list layouts; they read files and never touch the database."""

from portal.screening.loaders.base import ParsedEntry, ParseResult, SkippedRow

__all__ = ["ParseResult", "ParsedEntry", "SkippedRow"]
