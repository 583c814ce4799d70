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

from importlib import import_module

from django.db import migrations

# 0004's function, which this one extends (and restores going back).
PREVIOUS = import_module("provisioning.deliveries.migrations.0004_change_log_check_by_range").CREATE

VOUCHED = """BEGIN
    IF TG_OP = 'INSERT'
       AND current_setting('clearance.change_log_vouched', true) = 'credential_update' THEN
        PERFORM set_config('clearance.change_log_vouched', '', true);
        RETURN NULL;
    END IF;
"""

CREATE = PREVIOUS.replace("BEGIN\n", VOUCHED, 1)


def _on_postgresql(sql: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("deliveries", "0004_change_log_check_by_range"),
    ]

    operations = [
        migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(PREVIOUS)),
    ]
