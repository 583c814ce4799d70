"""Let the one statement that makes change-log rows from its own ``UPDATE`` skip their check.

The credential writer (``provisioning.changelog.writer``) inserts its change-log rows from the
``RETURNING`` of the ``UPDATE`` of the same statement: each row names a credential that the
statement has just updated and holds locked until commit, so it cannot name one that does
not exist, nor one that a concurrent transaction deletes. Checking those rows again (an anti
join of up to 100,000 new rows against the credentials) was pure cost in a bulk suspend.

The writer vouches for its next ``INSERT`` by setting ``clearance.change_log_vouched`` to
``credential_update`` in its transaction (``set_config(…, true)``) just before the
statement. The check consumes the setting: the first ``INSERT`` into the change log after
it skips the check and clears it, so every later statement of the transaction is checked
again. Fail closed: without the setting (every other writer, a writer outside a transaction
where the setting does not hold, a rolled-back savepoint that set it) the check runs as in
0004; an ``UPDATE`` of the change log is always checked.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION change_log_check_credential() RETURNS trigger AS $$
DECLARE
    low bigint;
    high bigint;
    missing bigint;
BEGIN
    IF TG_OP = 'INSERT'
       AND current_setting('clearance.change_log_vouched', true) = 'credential_update' THEN
        PERFORM set_config('clearance.change_log_vouched', '', true);
        RETURN NULL;
    END IF;
    SELECT min(credential_id), max(credential_id) INTO low, high FROM change_log_new;
    IF low IS NULL THEN
        RETURN NULL;
    END IF;
    EXECUTE format(
        'SELECT count(*) FROM change_log_new n LEFT JOIN '
        '(SELECT id FROM credentials_credential WHERE id BETWEEN %s AND %s) c '
        'ON c.id = n.credential_id WHERE c.id IS NULL',
        low, high
    ) INTO missing;
    IF missing > 0 THEN
        RAISE EXCEPTION 'deliveries_change_log names a credential that does not exist'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""

# 0004's function, for going back.
PREVIOUS = """
CREATE OR REPLACE FUNCTION change_log_check_credential() RETURNS trigger AS $$
DECLARE
    low bigint;
    high bigint;
    missing bigint;
BEGIN
    SELECT min(credential_id), max(credential_id) INTO low, high FROM change_log_new;
    IF low IS NULL THEN
        RETURN NULL;
    END IF;
    EXECUTE format(
        'SELECT count(*) FROM change_log_new n LEFT JOIN '
        '(SELECT id FROM credentials_credential WHERE id BETWEEN %s AND %s) c '
        'ON c.id = n.credential_id WHERE c.id IS NULL',
        low, high
    ) INTO missing;
    IF missing > 0 THEN
        RAISE EXCEPTION 'deliveries_change_log names a credential that does not exist'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PREVIOUS, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("deliveries", "0004_change_log_check_by_range"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards),
    ]
