"""Chunks as rows that the workers running an action share (``BulkChunk``).

Actions planned before this migration that may still run (planned, approved, running or
failed) get their chunk rows here. Until now one worker ran the chunks in order and the
cursor named the next one, so the chunks below the cursor are the ones done.
"""

import django.db.models.deletion
from django.db import migrations, models

UNFINISHED = ("planned", "approved", "running", "failed")


def open_chunks(apps, schema_editor):
    BulkAction = apps.get_model("bulk", "BulkAction")
    BulkChunk = apps.get_model("bulk", "BulkChunk")
    for action_id, count, cursor in BulkAction.objects.filter(state__in=UNFINISHED).values_list(
        "pk", "chunk_count", "chunk_cursor"
    ):
        BulkChunk.objects.bulk_create(
            (
                BulkChunk(action_id=action_id, number=number, done=number < cursor)
                for number in range(count)
            ),
            batch_size=1000,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("bulk", "0003_restore_plan_keys_and_one_stop_per_model"),
    ]

    operations = [
        migrations.CreateModel(
            name="BulkChunk",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("number", models.PositiveIntegerField()),
                ("done", models.BooleanField(default=False)),
                (
                    "action",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="chunks",
                        to="bulk.bulkaction",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("action", "number"), name="bulk_chunk_unique")
                ],
            },
        ),
        migrations.RunPython(open_chunks, migrations.RunPython.noop),
    ]
