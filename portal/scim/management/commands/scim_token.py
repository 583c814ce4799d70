"""Print a new SCIM bearer token for an organisation's identity provider (shown once)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.partners.models import MemberRole, Membership, Organisation
from portal.scim.errors import ScimError
from portal.scim.services import scim_token_issue


class Command(BaseCommand):
    help = "Issue a SCIM token for the organisation SLUG and print it once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, metavar="SLUG")
        parser.add_argument(
            "--acting-user",
            default="",
            help="Admin of the organisation the identity provider acts for "
            "(default: its longest-standing admin).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        organisation = Organisation.objects.filter(slug=options["org"]).first()
        if organisation is None:
            raise CommandError(f"No organisation has the slug {options['org']!r}.")
        admins = Membership.objects.filter(
            organisation=organisation, role=MemberRole.ADMIN
        ).select_related("user")
        if options["acting_user"]:
            admins = admins.filter(user__username=options["acting_user"])
        admin = admins.order_by("created_at", "pk").first()
        if admin is None:
            raise CommandError(f"{organisation.slug} has no such admin to act for.")
        try:
            plaintext = scim_token_issue(
                actor=None, organisation=organisation, acting_user=admin.user
            )
        except ScimError as error:
            raise CommandError(error.detail) from None
        # The only place the plaintext appears: the operator's terminal.
        self.stdout.write(plaintext)
