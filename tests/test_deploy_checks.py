"""`check --deploy` refuses a production portal on keys it would make for itself."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from portal.web.checks import audit_signing_key, field_encryption_keys


def test_an_unset_audit_signing_key_is_an_error(settings):
    settings.AUDIT_SIGNING_KEY_GENERATE = True

    assert [m.id for m in audit_signing_key(None)] == ["clearance.E001"]


def test_an_audit_signing_key_that_is_not_a_file_is_an_error(settings, tmp_path):
    settings.AUDIT_SIGNING_KEY_GENERATE = False
    settings.AUDIT_SIGNING_KEY = str(tmp_path / "missing.key")

    messages = audit_signing_key(None)

    assert [m.id for m in messages] == ["clearance.E002"]
    assert "missing.key" in messages[0].msg


def test_a_configured_audit_signing_key_passes(settings, tmp_path):
    key = tmp_path / "audit.key"
    call_command("audit_public_key", "--generate", "clearance.example/audit", "--out", str(key))
    settings.AUDIT_SIGNING_KEY_GENERATE = False
    settings.AUDIT_SIGNING_KEY = str(key)

    assert audit_signing_key(None) == []


def test_field_encryption_keys_derived_from_the_secret_key_are_a_warning(settings):
    settings.FIELD_ENCRYPTION_KEYS_SET = False
    assert [m.id for m in field_encryption_keys(None)] == ["clearance.W001"]

    settings.FIELD_ENCRYPTION_KEYS_SET = True
    assert field_encryption_keys(None) == []


def test_check_deploy_fails_on_them(settings):
    settings.AUDIT_SIGNING_KEY_GENERATE = True

    with pytest.raises(SystemCheckError, match=r"clearance\.E001"):
        call_command("check", deploy=True, fail_level="ERROR", tags=["security"])
