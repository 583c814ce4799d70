"""Signal receivers: each one only hands over to a service."""

from __future__ import annotations

from typing import Any

from portal.partners.services import organisations_verify_domains_for


def on_email_confirmed(sender: Any, request: Any, email_address: Any, **kwargs: Any) -> None:
    organisations_verify_domains_for(user=email_address.user)
