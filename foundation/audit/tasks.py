import logging

from celery import shared_task
from django.db import transaction

from foundation.audit.checkpoints import AuditLogError, checkpoint_make

logger = logging.getLogger("foundation.audit.checkpoints")


@shared_task(name="audit.checkpoint", acks_late=True)
def checkpoint() -> int | None:
    """Check the log against the latest checkpoint, then sign its current tree.

    A failed check is an alert on the compliance dashboard (``AuditLogAlert``), not a retry.
    """
    try:
        return checkpoint_make().size
    except AuditLogError:
        return None


def checkpoint_on_commit() -> None:
    """After the caller's transaction commits, sign a checkpoint (bulk actions, determinations)."""

    def _enqueue() -> None:
        try:
            checkpoint.delay()
        except Exception:  # a lost wake-up: beat signs within AUDIT_CHECKPOINT_SECONDS
            logger.warning("could not enqueue an audit checkpoint", exc_info=True)

    transaction.on_commit(_enqueue)
