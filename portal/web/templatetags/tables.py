"""Pieces every table has (registered as template builtins).

``{% column_heads "Name" "Expires" hidden="Actions" %}`` is a table's head row: each column
header scoped to its column, and a last column (actions, details) whose header only a screen
reader reads.
"""

from __future__ import annotations

from django import template

register = template.Library()


@register.inclusion_tag("_components/column_heads.html")
def column_heads(*labels: object, hidden: str = "") -> dict[str, object]:
    return {"labels": labels, "hidden": hidden}
