"""Witnessing: an auditor registers an Ed25519 cosigner key and countersigns checkpoints;
the cosignature is served with the checkpoint. Everyone else is refused."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.urls import reverse

from foundation.audit.checkpoints import checkpoint_make
from foundation.audit.models import AuditCosignature, AuditEvent, WitnessKey
from foundation.audit.services import audit_record
from tests.conftest import client_for
from verifier.note import (
    COSIGNATURE_V1,
    Signature,
    VerifierKey,
    cosign,
    parse_note,
    public_bytes,
    verify_cosignature,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("generated_signing_key")]


@pytest.fixture
def witness_private() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def witness_key(witness_private) -> VerifierKey:
    return VerifierKey(
        "auditor.example/w1", COSIGNATURE_V1, public_bytes(witness_private.public_key())
    )


@pytest.fixture
def checkpoint():
    audit_record(actor=None, action="test.event", object_type="test")
    return checkpoint_make()


def _post(user, url: str, body: str):
    return client_for(user).post(url, data=body, content_type="text/plain")


def _line(checkpoint, key: VerifierKey, private: Ed25519PrivateKey) -> str:
    body = parse_note(checkpoint.note).text
    return cosign(body, name=key.name, private_key=private, timestamp=1_800_000_000).line()


def test_an_auditor_registers_a_key_and_cosigns(auditor, checkpoint, witness_key, witness_private):
    registered = _post(auditor, "/audit/witness-keys/", str(witness_key))
    response = _post(
        auditor,
        f"/audit/checkpoints/{checkpoint.size}/cosign",
        _line(checkpoint, witness_key, witness_private),
    )

    assert registered.status_code == 201
    assert response.status_code == 201
    served = client_for(None).get("/audit/checkpoint").content.decode()
    note = parse_note(served)
    assert [s.name for s in note.signatures] == ["clearance.localhost/audit", "auditor.example/w1"]
    assert verify_cosignature(note.text, note.signatures[1], witness_key) == 1_800_000_000
    assert AuditEvent.objects.filter(action="audit.checkpoint_cosigned").count() == 1


def test_a_wrong_cosignature_is_refused(auditor, checkpoint, witness_key, witness_private):
    _post(auditor, "/audit/witness-keys/", str(witness_key))
    body = parse_note(checkpoint.note).text
    good = cosign(body, name=witness_key.name, private_key=witness_private, timestamp=1_800_000_000)
    bad = Signature(good.name, good.key_id, good.signature[:8] + bytes(64))

    response = _post(auditor, f"/audit/checkpoints/{checkpoint.size}/cosign", bad.line())

    assert response.status_code == 400
    assert "the cosignature by auditor.example/w1 is wrong" in response.json()["error"]
    assert not AuditCosignature.objects.exists()


def test_a_cosignature_by_an_unregistered_key_is_refused(
    auditor, checkpoint, witness_key, witness_private
):
    response = _post(
        auditor,
        f"/audit/checkpoints/{checkpoint.size}/cosign",
        _line(checkpoint, witness_key, witness_private),
    )

    assert response.status_code == 400
    assert "is registered on your account" in response.json()["error"]


def test_a_log_key_cannot_be_registered_as_a_witness(auditor, witness_private):
    log_type = VerifierKey("auditor.example/w1", 0x01, public_bytes(witness_private.public_key()))

    response = _post(auditor, "/audit/witness-keys/", str(log_type))

    assert response.status_code == 400
    assert not WitnessKey.objects.exists()


def test_cosigning_a_checkpoint_that_does_not_exist_is_refused(
    auditor, witness_key, witness_private
):
    _post(auditor, "/audit/witness-keys/", str(witness_key))

    response = _post(auditor, "/audit/checkpoints/99/cosign", "\u2014 x AAAA\n")

    assert response.status_code == 400
    assert "no checkpoint of size 99" in response.json()["error"]


@pytest.mark.parametrize("persona", ["outsider", "partner_admin", "compliance_officer", "ops_user"])
def test_only_auditors_witness(request, persona, checkpoint, witness_key):
    user = request.getfixturevalue(persona)

    assert _post(user, "/audit/witness-keys/", str(witness_key)).status_code == 403
    assert _post(user, f"/audit/checkpoints/{checkpoint.size}/cosign", "x").status_code == 403


def test_the_anonymous_are_sent_to_sign_in(checkpoint):
    response = _post(None, f"/audit/checkpoints/{checkpoint.size}/cosign", "x")

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
