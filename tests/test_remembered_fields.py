"""A filter form's fields rendered from the per-process cache read exactly as rendered afresh,
and a form that differs in anything its HTML shows is never served another form's HTML."""

from __future__ import annotations

from django import forms
from django.http import QueryDict
from django.template.loader import get_template

from portal.web.templatetags import fields


class Filters(forms.Form):
    q = forms.CharField(label="Search", required=False, max_length=5)
    colour = forms.ChoiceField(label="Colour", required=False, choices=[("", "Any")])

    def __init__(self, *args: object, colours: list[tuple[str, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["colour"].choices = [("", "Any"), *colours]  # type: ignore[attr-defined]


def _fresh(form: forms.Form) -> str:
    template = get_template("partners/_field.html")
    return "\n".join(template.render({"field": field}) for field in form)


def _remembered(form: forms.Form) -> str:
    return str(fields.remembered_fields(form, "partners/_field.html"))


def test_a_remembered_form_reads_as_one_rendered_afresh():
    fields._cache.clear()
    colours = [("red", "Red")]

    first = _remembered(Filters(colours=colours))
    again = _remembered(Filters(colours=colours))

    assert first == again == _fresh(Filters(colours=colours))
    assert len(fields._cache) == 1


def test_what_was_submitted_and_the_choices_each_give_their_own_html():
    fields._cache.clear()
    red = [("red", "Red")]

    searched = _remembered(Filters(QueryDict("q=<b>x"), colours=red))
    other = _remembered(Filters(QueryDict("q=y"), colours=red))
    too_long = _remembered(Filters(QueryDict("q=abcdefgh"), colours=red))
    more_colours = _remembered(Filters(colours=[*red, ("blue", "Blue")]))

    assert 'value="&lt;b&gt;x"' in searched  # escaped, as the template escapes it
    assert 'value="y"' in other
    assert "errorlist" in too_long and "errorlist" not in other
    assert "Blue" in more_colours and "Blue" not in searched
    assert too_long == _fresh(Filters(QueryDict("q=abcdefgh"), colours=red))


def test_a_form_whose_choices_come_from_a_queryset_is_not_remembered(db):
    from portal.partners.models import Organisation

    class Picker(forms.Form):
        organisation = forms.ModelChoiceField(queryset=Organisation.objects.all())

    fields._cache.clear()

    _remembered(Picker())

    assert len(fields._cache) == 0


def test_the_cache_keeps_the_latest_forms_only(monkeypatch):
    fields._cache.clear()
    monkeypatch.setattr(fields, "CACHE_SIZE", 2)

    for term in ("a", "b", "c"):
        _remembered(Filters(QueryDict(f"q={term}"), colours=[]))

    assert len(fields._cache) == 2
