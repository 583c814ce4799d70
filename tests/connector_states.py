"""Builders of connector inputs shared by the connector, reconciliation and relay tests."""

from __future__ import annotations

from provisioning.connectors.base import CredentialState, TargetConfig


def credential_state(
    credential_id: int,
    version: int = 1,
    *,
    active: bool = True,
    revoked: bool = False,
    model: str = "mythos-5",
    stage: str = "limited",
    organisation: str = "northwind",
) -> CredentialState:
    return CredentialState(
        credential_id=credential_id,
        version=version,
        active=active,
        revoked=revoked,
        user_name=f"person{credential_id}@northwind.example",
        display_name=f"Person {credential_id}",
        organisation=organisation,
        model=model,
        stage=stage,
        key_prefix=f"clr_{credential_id:06d}",
    )


def scim_config(url: str, token: str, *, timeout: float = 5.0) -> TargetConfig:
    return TargetConfig(
        kind="scim", name="directory", url=url, token=token, timeout_seconds=timeout
    )


def webhook_config(url: str, *secrets: str, timeout: float = 5.0) -> TargetConfig:
    return TargetConfig(
        kind="webhook", name="gateway", url=url, secrets=secrets, timeout_seconds=timeout
    )
