"""Check the change log's reference to its credential once per statement, not once per row.

The row-level foreign key queued one deferred check per change-log row: 100,000 checks at
the commit of a bulk suspend, longer than the update of the credentials itself. On
PostgreSQL the same guarantee is now given by statement-level triggers over the
statement's transition table (one anti-join per statement):

* an ``INSERT`` (or an ``UPDATE`` of ``credential_id``) naming a credential that does not
  exist fails with ``foreign_key_violation``;
* a ``DELETE`` of credentials that have change-log rows fails the same way (PROTECT).

On SQLite (development, the demo) the ORM's PROTECT still refuses such deletes, and the
change log is only written by ``INSERT … SELECT`` from the credentials table.
"""

import django.db.models.deletion
from django.db import migrations, models

# Dynamic SQL (EXECUTE) on purpose: it is planned for each statement with the transition
# table's real size, so one new row costs one index probe and 100,000 rows one hash anti
# join. A cached plan would be wrong for one of the two (measured: 250 ms to check one row
# with the big plan, 1.3 s for 100,000 rows with the small one); EXISTS would also push the
# planner to a row-by-row plan, hence count(*).
CREATE = """
CREATE OR REPLACE FUNCTION change_log_check_credential() RETURNS trigger AS $$
DECLARE
    missing bigint;
BEGIN
    EXECUTE 'SELECT count(*) FROM change_log_new n '
            'LEFT JOIN credentials_credential c ON c.id = n.credential_id WHERE c.id IS NULL'
        INTO missing;
    IF missing > 0 THEN
        RAISE EXCEPTION 'deliveries_change_log names a credential that does not exist'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION credential_refuse_delete_with_changes() RETURNS trigger AS $$
DECLARE
    referenced bigint;
BEGIN
    EXECUTE 'SELECT count(*) FROM credential_old o '
            'JOIN deliveries_change_log l ON l.credential_id = o.id'
        INTO referenced;
    IF referenced > 0 THEN
        RAISE EXCEPTION 'a credential with change-log rows cannot be deleted'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER change_log_credential_inserted
    AFTER INSERT ON deliveries_change_log
    REFERENCING NEW TABLE AS change_log_new
    FOR EACH STATEMENT EXECUTE FUNCTION change_log_check_credential();
CREATE TRIGGER change_log_credential_updated
    AFTER UPDATE ON deliveries_change_log
    REFERENCING NEW TABLE AS change_log_new
    FOR EACH STATEMENT EXECUTE FUNCTION change_log_check_credential();
CREATE TRIGGER credential_deleted_with_changes
    AFTER DELETE ON credentials_credential
    REFERENCING OLD TABLE AS credential_old
    FOR EACH STATEMENT EXECUTE FUNCTION credential_refuse_delete_with_changes();
"""

DROP = """
DROP TRIGGER IF EXISTS change_log_credential_inserted ON deliveries_change_log;
DROP TRIGGER IF EXISTS change_log_credential_updated ON deliveries_change_log;
DROP TRIGGER IF EXISTS credential_deleted_with_changes ON credentials_credential;
DROP FUNCTION IF EXISTS change_log_check_credential();
DROP FUNCTION IF EXISTS credential_refuse_delete_with_changes();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("credentials", "0003_hot_updates"),
        ("deliveries", "0002_acknowledgement"),
    ]

    operations = [
        migrations.AlterField(
            model_name="change",
            name="credential",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="changes",
                to="credentials.credential",
            ),
        ),
        migrations.RunPython(forwards, backwards),
    ]
