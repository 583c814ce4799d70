"""The reference data the benchmark areas build, in set-based SQL on Django's connection.

The pieces several areas insert the same way (organisations, their people, an admin for each)
and the world the suspend benchmarks (``bulk``, ``provisioning``, ``certification``,
``notices``) measure on: one model, a grant per organisation and an active key per person.
Each piece takes the caller's cursor and ``now``, so an area's own seed can add its rows around
them in one go.
"""

from __future__ import annotations

from typing import Any


def insert_organisations(cursor: Any, now: object, count: int) -> None:
    """``count`` verified, trusted organisations ``org-1`` … ``org-<count>`` (registration
    ``R<g>``, email domain ``org<g>.example``)."""
    cursor.execute(
        "INSERT INTO partners_organisation (slug, legal_name, country, sector, "
        "registration_id, email_domain, verification_state, trusted, created_at) "
        "SELECT 'org-' || g, 'Organisation ' || g, 'US', 'cyber_defence', 'R' || g, "
        "'org' || g || '.example', 'verified', true, %s FROM generate_series(1, %s) g",
        [now, count],
    )


def insert_people(cursor: Any, now: object, per_organisation: int) -> None:
    """``per_organisation`` cleared US citizens in every organisation, inserted in
    organisation order (so row numbers can pair them with rows inserted the same way)."""
    cursor.execute(
        "INSERT INTO eligibility_person (organisation_id, legal_name, citizenships, "
        "residence_country, us_person_status, screening_state, attestation_version, "
        "aup_version, created_at, updated_at) "
        "SELECT o.id, 'Person ' || o.id || '-' || k, '[\"US\"]', 'US', 'citizen', 'clear', "
        "'', '', %s, %s FROM partners_organisation o, generate_series(1, %s) k "
        "ORDER BY o.id, k",
        [now, now, per_organisation],
    )


def insert_organisation_admins(cursor: Any, now: object) -> None:
    """One admin account per organisation (``admin-<slug>``, ``admin@<email domain>``), a
    member of it as its admin."""
    cursor.execute(
        "INSERT INTO accounts_user (password, is_superuser, username, first_name, "
        "last_name, is_staff, is_active, date_joined, email) "
        "SELECT '!', false, 'admin-' || slug, '', '', false, true, %s, "
        "'admin@' || email_domain FROM partners_organisation ORDER BY id",
        [now],
    )
    cursor.execute(
        "INSERT INTO partners_membership (role, created_at, user_id, organisation_id) "
        "SELECT 'admin', %s, u.id, o.id FROM partners_organisation o "
        "JOIN accounts_user u ON u.username = 'admin-' || o.slug",
        [now],
    )


def seed_model_keys(keys: int, organisations: int) -> int:
    """One model (``mythos-5``) and its stage, ``organisations`` organisations with one active
    grant each, and ``keys`` people spread over them, each holding an active key of their
    organisation's grant; returns the model's id."""
    from django.db import connection
    from django.utils import timezone

    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO catalog_coveredmodel (slug, name, capability_tier, four_eyes, created_at) "
            "VALUES ('mythos-5', 'Mythos 5', 1, false, %s) RETURNING id",
            [now],
        )
        model_id = cursor.fetchone()[0]
        cursor.execute(
            "INSERT INTO catalog_stage (covered_model_id, name, position, seats, "
            "rate_limit_per_minute, monthly_quota, max_duration_days) "
            "VALUES (%s, 'full', 1, 1000, 60, 100000, 365) RETURNING id",
            [model_id],
        )
        stage_id = cursor.fetchone()[0]
        insert_organisations(cursor, now, organisations)
        cursor.execute(
            "INSERT INTO grants_grant (organisation_id, covered_model_id, stage_id, seats, "
            "monthly_quota, rate_limit_per_minute, expires_at, state, created_at, updated_at) "
            "SELECT id, %s, %s, 1000, 100000, 60, %s, 'active', %s, %s "
            "FROM partners_organisation",
            [model_id, stage_id, now + timezone.timedelta(days=300), now, now],
        )
        insert_people(cursor, now, max(1, keys // organisations))
        cursor.execute(
            "INSERT INTO credentials_credential (person_id, grant_id, state, held, version, "
            "key_prefix, key_hash, previous_key_hash, created_at, updated_at) "
            "SELECT p.id, g.id, 'active', false, 1, 'k' || p.id, md5(p.id::text), '', %s, %s "
            "FROM eligibility_person p "
            "JOIN grants_grant g ON g.organisation_id = p.organisation_id",
            [now, now],
        )
        cursor.execute("ANALYZE")
    return model_id
