"""When a suspended key may come back: the one rule every restoring service applies.

A key returns to active only when nothing else holds it: no screening hold, no
credential-level reason left (a determination's person rule or a bulk action filtered by
person), and its grant is active and not past its expiry. Restoring a grant, releasing a
screening hold and restoring a person-filtered bulk action all go through this condition,
so lifting one reason can never bring back a key that another reason still suspends.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from provisioning.changelog.writer import CREDENTIAL_TABLE, ChangeSet, write_credential_changes

# The credential-level reason rows are written by provisioning.bulk (its CredentialReason
# model); they are read here by table name so that credentials need not import bulk.
CREDENTIAL_REASON_TABLE = "bulk_credentialreason"
GRANT_TABLE = "grants_grant"


def reactivatable_condition(now: dt.datetime) -> tuple[str, list[object]]:
    """SQL condition (over the credentials table) and its parameters."""
    # Only module constants are interpolated; the one value is a parameter.
    sql = (
        "state = 'suspended' AND NOT held "  # noqa: S608
        f"AND NOT EXISTS (SELECT 1 FROM {CREDENTIAL_REASON_TABLE} r "
        f"WHERE r.credential_id = {CREDENTIAL_TABLE}.id) "
        f"AND grant_id IN (SELECT id FROM {GRANT_TABLE} WHERE state = 'active' AND expires_at > %s)"
    )
    return sql, [now]


def write_reactivations(
    *, scope_sql: str, scope_params: Sequence[Any], cause: str, now: dt.datetime
) -> ChangeSet:
    """Bring back every key in scope that nothing holds any more at ``now``."""
    condition_sql, condition_params = reactivatable_condition(now)
    return write_credential_changes(
        scope_sql=scope_sql,
        scope_params=scope_params,
        condition_sql=condition_sql,
        condition_params=condition_params,
        set_sql="state = 'active'",
        cause=cause,
    )
