from celery import shared_task

from foundation.audit.checkpoints import AuditLogError, checkpoint_make


@shared_task(name="audit.checkpoint", acks_late=True)
def checkpoint() -> int | None:
    """Check the log against the latest checkpoint, then sign its current tree.

    A failed check is an alert on the compliance dashboard (``AuditLogAlert``), not a retry.
    """
    try:
        return checkpoint_make().size
    except AuditLogError:
        return None
