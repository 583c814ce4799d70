"""Check a statement's change-log rows against the credentials of their id range only.

The set-based check of 0003 (every new row names a credential that exists) was planned as
a merge anti join over the credentials' primary key read from its first entry: the check
of a bulk suspend's last chunk read the whole index, so a 1,000,000-key suspend read
25,000,000 index entries in its 50 checks. The statement's lowest and highest credential
ids now bound the scan (they are read first and given to the planner as constants, so it
also sees how many keys the range holds and picks index probes when the ids are spread).
The guarantee is the same: a row whose credential does not exist fails the statement.
"""

from django.db import migrations

CREATE = """
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


class Migration(migrations.Migration):
    dependencies = [
        ("deliveries", "0003_change_log_statement_fk"),
    ]

    operations = [
        # Backwards keeps this function: it gives the same answer as 0003's, and 0003's own
        # backwards drops both triggers and the function.
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
