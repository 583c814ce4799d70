"""Sending a model-wide block (an emergency stop's) to one target."""

from __future__ import annotations

from django.utils import timezone

from provisioning.connectors.base import ConnectorError
from provisioning.deliveries.models import ModelBlock, ModelBlockState
from provisioning.deliveries.relay import build_connector


def model_block_send(*, block_id: int) -> ModelBlock:
    """Send one model-wide block to its target (idempotent: the event id is stable)."""
    block = ModelBlock.objects.select_related("target", "covered_model").get(pk=block_id)
    if block.state != ModelBlockState.PENDING:
        return block
    connector = build_connector(block.target.to_config())
    try:
        connector.block_model(block.covered_model.slug, event_id=block.event_id)
    except NotImplementedError:
        block.state = ModelBlockState.UNSUPPORTED
    except ConnectorError as exc:
        block.last_error = str(exc)[:2000]
        if not exc.retryable:
            block.state = ModelBlockState.FAILED
        block.save(update_fields=["state", "last_error"])
        if exc.retryable:
            raise
        return block
    else:
        block.state = ModelBlockState.ACKNOWLEDGED
        block.acknowledged_at = timezone.now()
    finally:
        connector.close()
    block.save(update_fields=["state", "acknowledged_at", "last_error"])
    return block
