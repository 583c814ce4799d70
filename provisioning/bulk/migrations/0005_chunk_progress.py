"""What a chunk did, on its own row, and whether its action's progress counts it yet.

Until now a chunk added its progress to its action in its own transaction, so every chunk
done so far is already counted there: it is marked ``tallied`` here, with its digest taken
from the action's list (the other figures stay 0, since the action's totals hold them).
"""

from django.db import migrations, models


def count_done_chunks(apps, schema_editor):
    BulkChunk = apps.get_model("bulk", "BulkChunk")
    done = BulkChunk.objects.filter(done=True).select_related("action")
    for chunk in done.iterator(chunk_size=1000):
        digests = chunk.action.chunk_digests
        chunk.tallied = True
        chunk.digest = digests[chunk.number] if chunk.number < len(digests) else ""
        chunk.save(update_fields=["tallied", "digest"])


class Migration(migrations.Migration):
    dependencies = [
        ("bulk", "0004_bulk_chunks"),
    ]

    operations = [
        migrations.AddField(
            model_name="bulkchunk",
            name="changes",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="bulkchunk",
            name="digest",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddField(
            model_name="bulkchunk",
            name="first_change_id",
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="bulkchunk",
            name="items",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="bulkchunk",
            name="last_change_id",
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="bulkchunk",
            name="tallied",
            field=models.BooleanField(default=False),
        ),
        migrations.RunPython(count_done_chunks, migrations.RunPython.noop),
    ]
