"""Forms for adding and editing downstream targets. Secrets are write-only fields."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.validators import URLValidator

from provisioning.catalog.models import CoveredModel
from provisioning.connectors.network import target_url_problem
from provisioning.connectors.webhooks import secret_key
from provisioning.deliveries.models import Target, TargetKind

KEEP_HELP = "Leave empty to keep the current secret"


def _target_network_rules(value: str) -> None:
    problem = target_url_problem(value)
    if problem is not None:
        raise forms.ValidationError(problem)


def _secret_field(label: str, help_text: str) -> forms.CharField:
    """A write-only secret: render_value=False, so a stored or submitted secret is never
    written back into the page."""
    return forms.CharField(
        label=label,
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=help_text,
    )


class TargetForm(forms.Form):
    kind = forms.ChoiceField(choices=TargetKind.choices)
    name = forms.CharField(max_length=100)
    url = forms.CharField(
        label="URL",
        max_length=500,
        validators=[URLValidator(schemes=["http", "https"]), _target_network_rules],
        help_text="https; not a private, loopback or link-local address.",
    )
    token = _secret_field("Bearer token (SCIM)", "Shown once: it is encrypted when saved.")
    secret = _secret_field(
        "Signing secret (webhook)",
        "whsec_ followed by base64. Shown once: it is encrypted when saved.",
    )
    enabled = forms.BooleanField(required=False, initial=True)
    covered_models = forms.ModelMultipleChoiceField(
        queryset=CoveredModel.objects.order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None selected: every model.",
    )

    def __init__(self, *args: Any, instance: Target | None = None, **kwargs: Any) -> None:
        self.instance = instance
        if instance is not None:
            kwargs.setdefault(
                "initial",
                {
                    "kind": instance.kind,
                    "name": instance.name,
                    "url": instance.url,
                    "enabled": instance.enabled,
                    "covered_models": list(instance.covered_models.all()),
                },
            )
        super().__init__(*args, **kwargs)
        if instance is not None:
            # The kind decides which credential the target holds; it is fixed once created.
            self.fields["kind"].disabled = True
            self.fields["token"].help_text = KEEP_HELP
            self.fields["secret"].help_text = KEEP_HELP

    def changes(self) -> dict[str, Any]:
        """What an edit passes to ``target_update``: every field but the kind, which is
        fixed once the target is created; the other names are the service's keywords."""
        return {name: value for name, value in self.cleaned_data.items() if name != "kind"}

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"]
        taken = Target.objects.filter(name=name)
        if self.instance is not None:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError("Another target already has this name.")
        return name

    def clean_secret(self) -> str:
        secret: str = self.cleaned_data["secret"]
        if secret:
            try:
                secret_key(secret)
            except ValueError as exc:
                raise forms.ValidationError(str(exc)) from None
        return secret

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        kind = cleaned.get("kind")
        if kind == TargetKind.SCIM and cleaned.get("secret"):
            self.add_error("secret", "A SCIM target takes a bearer token, not a signing secret.")
        if kind == TargetKind.WEBHOOK and cleaned.get("token"):
            self.add_error("token", "A webhook target takes a signing secret, not a token.")
        if self.instance is None and kind == TargetKind.WEBHOOK and not cleaned.get("secret"):
            self.add_error("secret", "A webhook target needs a signing secret.")
        return cleaned
