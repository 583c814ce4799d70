"""Let a suspend or restore update grant rows in place (HOT) on PostgreSQL.

A suspend writes ``state``, ``change_batch`` and ``updated_at`` of each grant. Both of the
first two were indexed, so every such write also inserted an entry into each of the
table's indexes. Neither index served a query: every read filters grants by organisation,
model or id first, "live" (active or suspended) matches nearly every row, and the service
finds a batch by its grant ids. Without them, and with free room on each page for the new
row version (fillfactor; a suspend rewrites every row of a page in one transaction), the
grant write of a 1,000,000-key suspend no longer touches an index. The credentials table
has had the same since credentials 0003.
"""

from django.db import migrations, models

FILLFACTOR = 50


def set_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"ALTER TABLE grants_grant SET (fillfactor = {FILLFACTOR})", params=None
        )


def reset_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE grants_grant RESET (fillfactor)", params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("grants", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="grant",
            name="state",
            field=models.CharField(
                choices=[
                    ("active", "Active"),
                    ("suspended", "Suspended"),
                    ("revoked", "Revoked"),
                    ("expired", "Expired"),
                ],
                default="active",
                max_length=12,
            ),
        ),
        migrations.AlterField(
            model_name="grant",
            name="change_batch",
            field=models.BigIntegerField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(set_fillfactor, reset_fillfactor),
    ]
