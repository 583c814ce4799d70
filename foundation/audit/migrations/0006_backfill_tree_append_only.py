"""Build the Merkle tree over the events already written, and make the tree and the
checkpoints append-only on PostgreSQL, like the events."""

from django.db import migrations

from foundation.audit.chain import event_bytes
from verifier.merkle import leaf_hash, node_hash

CREATE = """
CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only (% refused on %)', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_tree_append_only
    BEFORE UPDATE OR DELETE ON audit_audittreenode
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_checkpoint_append_only
    BEFORE UPDATE OR DELETE ON audit_auditcheckpoint
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
"""

DROP = """
DROP TRIGGER IF EXISTS audit_tree_append_only ON audit_audittreenode;
DROP TRIGGER IF EXISTS audit_checkpoint_append_only ON audit_auditcheckpoint;
DROP FUNCTION IF EXISTS audit_refuse_change();
"""


def backfill(apps, schema_editor):
    event_model = apps.get_model("audit", "AuditEvent")
    node_model = apps.get_model("audit", "AuditTreeNode")
    if node_model.objects.exists():
        return
    stack, rows, size = [], [], 0
    for event in event_model.objects.order_by("id").iterator(chunk_size=5000):
        node = leaf_hash(event_bytes(event))
        rows.append(node_model(level=0, index=size, hash=node, event_id=event.pk))
        n, level = size, 0
        while n & 1:
            node = node_hash(stack.pop(), node)
            n >>= 1
            level += 1
            rows.append(node_model(level=level, index=n, hash=node))
        stack.append(node)
        size += 1
        if len(rows) >= 5000:
            node_model.objects.bulk_create(rows)
            rows = []
    node_model.objects.bulk_create(rows)


def forwards(apps, schema_editor):
    backfill(apps, schema_editor)
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0005_merkle_tree_and_checkpoints")]
    operations = [migrations.RunPython(forwards, backwards)]
