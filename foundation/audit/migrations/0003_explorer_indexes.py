"""Indexes behind the audit explorer's filters (portal/audit/selectors.py).

Each btree index ends in ``id`` so that "newest events of this actor / action /
organisation / object" is a backward index scan that stops after one page, whatever
the size of the table (action prefixes use the ``varchar_pattern_ops`` index that
Django already makes for ``action``). PostgreSQL also gets a GIN full-text index on
reasons (on the exact expression that ``SearchVector('reason', config='english')``
compiles to), and GIN indexes for the JSON containment checks of the model filter.

Raw SQL rather than ``Meta.indexes``: expression, operator-class and GIN indexes are
vendor-specific, and the model's state stays as it is. The PostgreSQL indexes are built
CONCURRENTLY (hence a non-atomic migration) so that deploying on a large trail does not
block audit writers.
"""

from django.db import migrations

BTREE = {
    "audit_evt_actor_id_idx": "(actor_label, id)",
    "audit_evt_action_id_idx": "(action, id)",
    "audit_evt_org_id_idx": "(organisation_id, id)",
    "audit_evt_object_id_idx": "(object_type, object_id, id)",
}

POSTGRESQL = {
    "audit_evt_reason_fts_idx": (
        "USING gin (to_tsvector('english'::regconfig, COALESCE(reason, '')))"
    ),
    "audit_evt_before_gin_idx": "USING gin (before jsonb_path_ops)",
    "audit_evt_after_gin_idx": "USING gin (after jsonb_path_ops)",
}


def forwards(apps, schema_editor):
    postgresql = schema_editor.connection.vendor == "postgresql"
    concurrently = "CONCURRENTLY " if postgresql else ""
    indexes = {**BTREE, **(POSTGRESQL if postgresql else {})}
    for name, definition in indexes.items():
        schema_editor.execute(
            f"CREATE INDEX {concurrently}IF NOT EXISTS {name} ON audit_auditevent {definition}",
            params=None,
        )


def backwards(apps, schema_editor):
    postgresql = schema_editor.connection.vendor == "postgresql"
    concurrently = "CONCURRENTLY " if postgresql else ""
    indexes = {**BTREE, **(POSTGRESQL if postgresql else {})}
    for name in indexes:
        schema_editor.execute(f"DROP INDEX {concurrently}IF EXISTS {name}", params=None)


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("audit", "0002_append_only_trigger")]
    operations = [migrations.RunPython(forwards, backwards)]
