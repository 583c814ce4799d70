"""Name the events stamped earlier than an event before them in the chain.

``created_at`` is taken inside the chain lock, so it follows ``id`` unless a writer's
clock was behind an earlier writer's. With the few exceptions named, the explorer's
date filter becomes an id range found through the ``created_at`` index instead of a
walk over every newer event (at 1,000,000 events a mid-year month walked 440,000 rows).

The backfill reads the whole trail once in id order (a window over the running latest
stamp); it writes nothing to the events, so their append-only trigger is untouched.
"""

from django.db import migrations, models

BACKFILL = """
INSERT INTO audit_auditoutoforder (event_id)
SELECT id FROM (
    SELECT id, created_at < MAX(created_at) OVER (
        ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
    ) AS early
    FROM audit_auditevent
) stamped
WHERE early
"""

APPEND_ONLY = """
CREATE TRIGGER audit_out_of_order_append_only
    BEFORE UPDATE OR DELETE ON audit_auditoutoforder
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
"""


def forwards(apps, schema_editor):
    schema_editor.execute(BACKFILL, params=None)
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(APPEND_ONLY, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "DROP TRIGGER IF EXISTS audit_out_of_order_append_only ON audit_auditoutoforder",
            params=None,
        )


class Migration(migrations.Migration):
    dependencies = [("audit", "0006_backfill_tree_append_only")]

    operations = [
        migrations.CreateModel(
            name="AuditOutOfOrder",
            fields=[("event_id", models.BigIntegerField(primary_key=True, serialize=False))],
            options={"ordering": ["event_id"]},
        ),
        migrations.RunPython(forwards, backwards),
    ]
