"""Let a suspend or restore update credential rows in place (HOT) on PostgreSQL.

A bulk suspend changes ``state``, ``version``, ``updated_at`` and ``change_batch``. Before,
``state`` was in the predicate of the one-live-key index, so every such update inserted a
new entry into each of the table's nine indexes. Now:

* "live" is read from ``revoked_at`` (kept equivalent to ``state = 'revoked'`` by a check);
* the two prefix columns are unique through constraints, without the unused ``LIKE`` indexes;
* the table keeps free room on each page (fillfactor), so the new row version fits on the
  page of the old one, which HOT requires.
"""

from django.db import migrations, models

FILLFACTOR = 50


def backfill_revoked_at(apps, schema_editor):
    schema_editor.execute(
        "UPDATE credentials_credential SET revoked_at = updated_at "
        "WHERE state = 'revoked' AND revoked_at IS NULL",
        params=None,
    )
    schema_editor.execute(
        "UPDATE credentials_credential SET revoked_at = NULL "
        "WHERE state <> 'revoked' AND revoked_at IS NOT NULL",
        params=None,
    )


def set_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"ALTER TABLE credentials_credential SET (fillfactor = {FILLFACTOR})", params=None
        )


def reset_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE credentials_credential RESET (fillfactor)", params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("credentials", "0002_initial"),
    ]

    operations = [
        migrations.RunPython(backfill_revoked_at, migrations.RunPython.noop),
        migrations.RemoveConstraint(
            model_name="credential",
            name="credential_one_live_per_person_grant",
        ),
        migrations.AlterField(
            model_name="credential",
            name="key_prefix",
            field=models.CharField(max_length=24),
        ),
        migrations.AlterField(
            model_name="credential",
            name="previous_key_prefix",
            field=models.CharField(blank=True, max_length=24, null=True),
        ),
        migrations.AddConstraint(
            model_name="credential",
            constraint=models.UniqueConstraint(
                fields=("key_prefix",), name="credential_key_prefix_unique"
            ),
        ),
        migrations.AddConstraint(
            model_name="credential",
            constraint=models.UniqueConstraint(
                fields=("previous_key_prefix",), name="credential_previous_key_prefix_unique"
            ),
        ),
        migrations.AddConstraint(
            model_name="credential",
            constraint=models.UniqueConstraint(
                condition=models.Q(("revoked_at__isnull", True)),
                fields=("person", "grant"),
                name="credential_one_live_per_person_grant",
            ),
        ),
        migrations.AddConstraint(
            model_name="credential",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("revoked_at__isnull", False), ("state", "revoked")),
                    models.Q(
                        models.Q(("state", "revoked"), _negated=True),
                        ("revoked_at__isnull", True),
                    ),
                    _connector="OR",
                ),
                name="credential_revoked_iff_revoked_at",
            ),
        ),
        migrations.RunPython(set_fillfactor, reset_fillfactor),
    ]
