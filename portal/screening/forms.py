from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from portal.screening.errors import ScreeningError
from portal.screening.lists import list_file_check
from portal.screening.models import ListFormat


class ResolutionForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text="Kept in the audit trail: what evidence decided it.",
        error_messages={"required": "Give the reason for the decision."},
    )


class ListLoadForm(forms.Form):
    """A list file to load as the new version in force; checked here, loaded by a worker."""

    format = forms.ChoiceField(
        label="Format",
        choices=ListFormat.choices,
    )
    file = forms.FileField(
        label="List file", help_text="The CSL CSV, or OFAC's sdn.csv.", allow_empty_file=True
    )
    alt = forms.FileField(
        label="OFAC alias file (alt.csv)",
        required=False,
        help_text="Only with OFAC SDN.",
        allow_empty_file=True,
    )

    def _small_enough(self, name: str) -> UploadedFile | None:
        upload: UploadedFile | None = self.cleaned_data.get(name)
        limit = settings.SCREENING_LIST_MAX_BYTES
        if upload is not None and (upload.size or 0) > limit:
            raise forms.ValidationError(
                f"The file is {upload.size:,} bytes; the largest list accepted is {limit:,} bytes."
            )
        return upload

    def clean_file(self) -> UploadedFile | None:
        return self._small_enough("file")

    def clean_alt(self) -> UploadedFile | None:
        return self._small_enough("alt")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("alt") is not None and data.get("format") != ListFormat.OFAC_SDN:
            self.add_error("alt", "Only an OFAC SDN list has an alias file; leave it out for CSL.")
        elif data.get("file") is not None and data.get("format"):
            self._check_format(data)
        return data

    def _check_format(self, data: dict[str, Any]) -> None:
        """Read the files as the format says, as the worker will: a wrong file is refused
        here, with the loader's words, and nothing is queued."""
        with tempfile.TemporaryDirectory() as folder:
            paths = []
            for position, upload in enumerate(u for u in (data["file"], data.get("alt")) if u):
                path = Path(folder) / str(position) / (Path(upload.name or "").name or "list.csv")
                path.parent.mkdir()
                with path.open("wb") as out:
                    for chunk in upload.chunks():
                        out.write(chunk)
                paths.append(path)
            try:
                list_file_check(data["format"], paths[0], paths[1] if len(paths) > 1 else None)
            except ScreeningError as exc:
                self.add_error("file", str(exc))
