"""Check each new change-log row as it is inserted, so that the vouched statement copies nothing.

0005 let the credential writer's statement skip the anti-join, but its trigger still
declared ``REFERENCING NEW TABLE``: PostgreSQL copies every row of every ``INSERT`` into a
transition table before it knows that the trigger will return at once (~0.1 s of a
100,000-key chunk of a bulk suspend). On PostgreSQL an ``INSERT`` into the change log is
now checked by two triggers without a transition table:

* ``BEFORE INSERT … FOR EACH ROW WHEN (the statement is not vouched)``: a row naming a
  credential that does not exist fails with ``foreign_key_violation`` and the same message
  as before (one primary-key probe a row). For the writer's vouched statement the
  ``WHEN`` is false, the function is not called and nothing is copied;
* ``AFTER INSERT … FOR EACH STATEMENT``: clears the vouch, so exactly one ``INSERT``
  statement is vouched, as in 0005, including one that inserts no row.

Fail closed as before: without the setting (every other writer; outside a transaction; a
rolled-back savepoint that set it), with another value, or for the second ``INSERT`` after
it, every row is checked. An ``UPDATE`` of the log keeps its statement-level check over its
transition table (0004's function again: the vouch never applied to it), and the guard
against deleting a credential that has changes is unchanged. SQLite: nothing to do.
"""

from importlib import import_module

from django.db import migrations

_0004 = import_module("provisioning.deliveries.migrations.0004_change_log_check_by_range")
_0005 = import_module("provisioning.deliveries.migrations.0005_change_log_check_vouched")

# Static SQL in the row function: its plan is cached, one index probe a row.
CREATE = (
    _0004.CREATE
    + """
CREATE FUNCTION change_log_check_new_credential() RETURNS trigger AS $$
BEGIN
    PERFORM 1 FROM credentials_credential WHERE id = NEW.credential_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'deliveries_change_log names a credential that does not exist'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION change_log_consume_vouch() RETURNS trigger AS $$
BEGIN
    IF current_setting('clearance.change_log_vouched', true) = 'credential_update' THEN
        PERFORM set_config('clearance.change_log_vouched', '', true);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER change_log_credential_inserted ON deliveries_change_log;
CREATE TRIGGER change_log_credential_checked
    BEFORE INSERT ON deliveries_change_log
    FOR EACH ROW
    WHEN (current_setting('clearance.change_log_vouched', true)
          IS DISTINCT FROM 'credential_update')
    EXECUTE FUNCTION change_log_check_new_credential();
CREATE TRIGGER change_log_vouch_consumed
    AFTER INSERT ON deliveries_change_log
    FOR EACH STATEMENT EXECUTE FUNCTION change_log_consume_vouch();
"""
)

# Back to 0005: its function (with the vouch) serves both statement triggers again, and
# the INSERT trigger is 0003's.
DROP = (
    """
DROP TRIGGER change_log_credential_checked ON deliveries_change_log;
DROP TRIGGER change_log_vouch_consumed ON deliveries_change_log;
DROP FUNCTION change_log_check_new_credential();
DROP FUNCTION change_log_consume_vouch();
"""
    + _0005.CREATE
    + """
CREATE TRIGGER change_log_credential_inserted
    AFTER INSERT ON deliveries_change_log
    REFERENCING NEW TABLE AS change_log_new
    FOR EACH STATEMENT EXECUTE FUNCTION change_log_check_credential();
"""
)


def _on_postgresql(sql: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("deliveries", "0005_change_log_check_vouched"),
    ]

    operations = [
        migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP)),
    ]
