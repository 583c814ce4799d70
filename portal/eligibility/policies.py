"""The texts a person signs, versioned: a new version asks everyone to sign again."""

from __future__ import annotations

ATTESTATION_VERSION = "2026-11"
ATTESTATION_TEXT = (
    "I confirm that the facts in this profile (legal name, date of birth, every citizenship I "
    "hold, my country of residence and my US-person status) are true and complete, that I will "
    "tell my organisation at once if any of them changes, and that I will not let anyone else "
    "use access granted to me."
)

AUP_VERSION = "2026-11"
AUP_TEXT = (
    "I will use covered models only for the use case my organisation was approved for, will not "
    "try to extract model weights or circumvent safeguards or rate limits, will keep my "
    "credentials secret, and accept that access may be suspended or revoked at any time to "
    "comply with the law."
)
