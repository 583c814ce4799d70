"""FIELD_ENCRYPTION_KEYS (newest first) and `manage.py rotate_field_encryption`."""

from __future__ import annotations

import pytest
from allauth.mfa.models import Authenticator
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import CommandError, call_command

from foundation.audit.models import AuditEvent
from foundation.crypto import decrypt_text, encrypt_text, reencrypt_text
from portal import field_encryption
from provisioning.deliveries.models import Target
from provisioning.deliveries.services import target_create
from tests.factories import UserFactory, give_totp
from tests.workers import python_in_project

pytestmark = pytest.mark.django_db

OLD = Fernet.generate_key().decode()
NEW = Fernet.generate_key().decode()


def _opens(key: str, token: str) -> bool:
    try:
        Fernet(key.encode()).decrypt(token.encode())
    except InvalidToken:
        return False
    return True


@pytest.fixture
def stored_under_old(settings, db):
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    targets = [
        target_create(
            actor=None,
            kind="webhook",
            name=f"hook{n}",
            url=f"https://h{n}.example/",
            secrets=["whsec_" + "A" * 32],
        )
        for n in range(3)
    ]
    scim = target_create(
        actor=None, kind="scim", name="dir", url="https://dir.example/", token="t0ken"
    )
    give_totp(root)
    return [*targets, scim]


def _secrets() -> list[str]:
    values = [t.secrets_encrypted for t in Target.objects.all() if t.secrets_encrypted]
    values += [t.token_encrypted for t in Target.objects.all() if t.token_encrypted]
    values += [a.data["secret"] for a in Authenticator.objects.filter(type="totp")]
    return values


def test_a_new_key_first_still_reads_what_the_old_one_wrote(settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    token = encrypt_text("s3cret")
    settings.FIELD_ENCRYPTION_KEYS = [NEW, OLD]
    assert decrypt_text(token) == "s3cret"
    assert _opens(NEW, encrypt_text("fresh"))


def test_rotation_re_encrypts_every_secret_under_the_newest_key(settings, stored_under_old):
    # given
    settings.FIELD_ENCRYPTION_KEYS = [NEW, OLD]
    # when
    call_command("rotate_field_encryption", "--actor", "root")
    # then
    values = _secrets()
    assert len(values) == 5
    assert all(_opens(NEW, value) and not _opens(OLD, value) for value in values)
    settings.FIELD_ENCRYPTION_KEYS = [NEW]  # the old key can now go
    assert Target.objects.get(name="dir").token_encrypted
    assert decrypt_text(Target.objects.get(name="dir").token_encrypted) == "t0ken"
    events = AuditEvent.objects.filter(action="crypto.field_encryption_rotated")
    assert sum(event.after["count"] for event in events) == 5
    assert {event.actor.username for event in events} == {"root"}


def test_a_second_run_has_nothing_left_to_do(settings, stored_under_old):
    settings.FIELD_ENCRYPTION_KEYS = [NEW, OLD]
    call_command("rotate_field_encryption")
    before = AuditEvent.objects.count()

    result = field_encryption.field_encryption_rotate(actor=None)

    assert result.total_reencrypted == 0
    assert AuditEvent.objects.count() == before


def test_an_interrupted_run_resumes_where_it_stopped(settings, stored_under_old, monkeypatch):
    # given: the run dies part-way, after some batches have committed
    settings.FIELD_ENCRYPTION_KEYS = [NEW, OLD]
    real = field_encryption._rotate_batch
    calls = {"n": 0}

    def dying(**kwargs):
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt
        real(**kwargs)

    monkeypatch.setattr(field_encryption, "_rotate_batch", dying)
    with pytest.raises(KeyboardInterrupt):
        field_encryption.field_encryption_rotate(actor=None, batch_size=1)
    done = sum(_opens(NEW, value) for value in _secrets())
    assert 0 < done < 5
    monkeypatch.setattr(field_encryption, "_rotate_batch", real)
    # when
    result = field_encryption.field_encryption_rotate(actor=None, batch_size=1)
    # then
    assert result.total_reencrypted == 5 - done
    assert all(_opens(NEW, value) for value in _secrets())


def test_reading_or_re_encrypting_a_secret_no_key_opens_is_refused(settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    token = encrypt_text("s3cret")
    settings.FIELD_ENCRYPTION_KEYS = [NEW, OLD]
    assert decrypt_text(reencrypt_text(token)) == "s3cret"
    assert _opens(NEW, reencrypt_text(token))
    settings.FIELD_ENCRYPTION_KEYS = [NEW]
    for step in (decrypt_text, reencrypt_text):
        with pytest.raises(ValueError, match="cannot be decrypted with any key"):
            step(token)


def test_a_secret_no_key_opens_is_reported_and_the_command_fails(settings, stored_under_old):
    settings.FIELD_ENCRYPTION_KEYS = [NEW]  # the old key was dropped too early

    with pytest.raises(CommandError, match="No key in FIELD_ENCRYPTION_KEYS opens"):
        call_command("rotate_field_encryption")


def test_a_malformed_key_stops_start_up_naming_the_variable():
    import os

    env = {**os.environ, "FIELD_ENCRYPTION_KEYS": f"{NEW},not-a-key"}
    done = python_in_project("manage.py", "check", env=env)
    assert done.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS: key 2 is not a Fernet key" in done.stderr
