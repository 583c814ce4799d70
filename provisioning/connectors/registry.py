"""Which connector serves which kind of target, and what each kind can do."""

from __future__ import annotations

from provisioning.connectors.base import Connector, TargetConfig
from provisioning.connectors.scim import ScimConnector
from provisioning.connectors.webhooks import WebhookConnector

SCIM = "scim"
WEBHOOK = "webhook"
KINDS = (SCIM, WEBHOOK)

_BLOCKS_MODELS = frozenset({SCIM, WEBHOOK})
# Only a directory can say what it holds; a webhook receiver cannot be asked.
_RECONCILES = frozenset({SCIM})


class UnknownTargetKindError(ValueError):
    pass


def build_connector(config: TargetConfig) -> Connector:
    if config.kind == SCIM:
        return ScimConnector(config)
    if config.kind == WEBHOOK:
        return WebhookConnector(config)
    raise UnknownTargetKindError(f"Unknown target kind {config.kind!r}; expected one of {KINDS}.")


def supports_block_model(kind: str) -> bool:
    return kind in _BLOCKS_MODELS


def supports_reconciliation(kind: str) -> bool:
    return kind in _RECONCILES
