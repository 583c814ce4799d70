"""Seeds the demo story and prints, as JSON, a token per persona for the Schemathesis step:
a partner admin, a compliance officer and an ops user (API), the partner's SCIM token and a
gateway client (usage ingestion). Run with the same settings as the server under test."""

from __future__ import annotations

import io
import json
import os
import sys
from contextlib import redirect_stdout

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
sys.path.insert(0, os.getcwd())
django.setup()

from django.core.management import call_command  # noqa: E402

from portal.accounts.models import User  # noqa: E402
from portal.accounts.roles import Role  # noqa: E402
from portal.api.services import api_token_issue  # noqa: E402
from portal.partners.models import MemberRole, Membership  # noqa: E402
from portal.scim.services import scim_token_issue  # noqa: E402
from provisioning.introspection.services import gateway_client_create  # noqa: E402


def _token(user: User) -> str:
    issued = api_token_issue(
        actor=None, user=user, name="schemathesis", scopes=("read", "write"), expires_in_days=1
    )
    return issued.plaintext


def main() -> None:
    with redirect_stdout(io.StringIO()):  # the demo's e-mails go to the console backend
        call_command("seed_demo", "--allow-production")
    admin = Membership.objects.filter(role=MemberRole.ADMIN).order_by("pk").first()
    compliance = User.objects.filter(groups__name=Role.COMPLIANCE).order_by("pk").first()
    ops = User.objects.filter(groups__name=Role.OPS).order_by("pk").first()
    if admin is None or compliance is None or ops is None:
        raise SystemExit("The demo seed lacks a partner admin, a compliance or an ops user.")
    gateway = gateway_client_create(actor=None, name="schemathesis")
    sys.stdout.write(
        json.dumps(
            {
                "partner": _token(admin.user),
                "compliance": _token(compliance),
                "ops": _token(ops),
                "scim": scim_token_issue(
                    actor=None, organisation=admin.organisation, acting_user=admin.user
                ),
                "gateway_id": gateway.client.client_id,
                "gateway_secret": gateway.client_secret,
            }
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
