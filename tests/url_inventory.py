"""The portal's pages and API operations, listed from the URLconf and the generated schema.

The authorization matrices, the API parity map and the security checks walk the same lists,
so a new page or operation shows up in each of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator

METHODS = ("get", "post", "put", "patch", "delete")


def walk_urls(patterns: list[Any], ns: str | None = None) -> Iterator[tuple[str, URLPattern]]:
    for p in patterns:
        if isinstance(p, URLResolver):
            inner = ":".join(x for x in (ns, p.namespace) if x) if p.namespace else ns
            yield from walk_urls(p.url_patterns, inner)
        elif p.name:
            yield (f"{ns}:{p.name}" if ns else p.name), p


def covered_url_names() -> list[str]:
    """Our URL names; Django's admin and allauth's pages are tested on their own."""
    names = []
    for name, pattern in walk_urls(get_resolver().url_patterns):
        module = getattr(pattern.callback, "__module__", "")
        if name.startswith("admin:") or module.startswith("allauth"):
            continue
        if "format" in pattern.pattern.regex.groupindex:
            continue  # DRF's .json/.api suffix twins of the same view
        names.append(name)
    return sorted(set(names))


def schema_operations() -> list[str]:
    """``METHOD /path`` for every operation drf-spectacular publishes."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return sorted(
        f"{method.upper()} {path}"
        for path, item in schema["paths"].items()
        for method in item
        if method in METHODS
    )
