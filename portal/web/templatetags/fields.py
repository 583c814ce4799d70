"""A filter form's fields rendered once per distinct form, not on every request.

``{% load fields %}{% remembered_fields form "partners/_field.html" %}`` renders each field
of ``form`` through the field template, as ``{% for field in form %}{% include … %}`` would,
and keeps the HTML in a small per-process cache. The cache key is everything the HTML is made
of: the form's class and prefix, what was submitted for each field, and each field's label,
help text, choices, widget attributes and flags (errors follow from the submitted values and
the choices). A form whose HTML depends on anything else, or whose choices are read lazily
from a queryset, is rendered without the cache.

A list page's filters are the same few forms over and over (usually the empty one), and
their widgets (a select renders each option through a template) cost several milliseconds a
request: a sixth of the review queue's CPU before this.
"""

from __future__ import annotations

from collections import OrderedDict
from threading import Lock
from typing import Any

from django import forms, template
from django.template.loader import get_template
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

CACHE_SIZE = 256
_cache: OrderedDict[tuple[Any, ...], str] = OrderedDict()
_lock = Lock()


def _field_key(form: forms.Form, name: str, field: forms.Field) -> tuple[Any, ...] | None:
    choices = getattr(field, "choices", None)
    if choices is not None and not isinstance(choices, list | tuple):
        return None  # a queryset's choices: only reading them says what they are
    submitted = tuple(form.data.getlist(name)) if hasattr(form.data, "getlist") else None
    if form.is_bound and submitted is None:
        return None
    return (
        name,
        submitted,
        form.initial.get(name, field.initial) if not form.is_bound else None,
        str(field.label),
        str(field.help_text),
        repr(choices),
        repr(sorted(field.widget.attrs.items())),
        type(field.widget).__name__,
        field.required,
        field.disabled,
    )


def _form_key(form: forms.Form, template_name: str) -> tuple[Any, ...] | None:
    keys = []
    for name, field in form.fields.items():
        key = _field_key(form, name, field)
        if key is None:
            return None
        keys.append(key)
    return (type(form), form.prefix, form.auto_id, form.is_bound, template_name, *keys)


@register.simple_tag
def remembered_fields(form: forms.Form, template_name: str) -> SafeString:
    key = _form_key(form, template_name)
    if key is not None:
        with _lock:
            html = _cache.get(key)
            if html is not None:
                _cache.move_to_end(key)
                return mark_safe(html)  # noqa: S308 (rendered by the template, escaped there)
    field_template = get_template(template_name)
    html = "\n".join(field_template.render({"field": field}) for field in form)
    if key is not None:
        with _lock:
            _cache[key] = html
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
    return mark_safe(html)  # noqa: S308 (rendered by the template, escaped there)
