"""Issue (print once), list or revoke an organisation's SCIM bearer tokens."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.partners.models import MemberRole, Membership, Organisation
from portal.scim.errors import ScimError
from portal.scim.selectors import scim_tokens_of
from portal.scim.services import scim_token_issue, scim_token_revoke


class Command(BaseCommand):
    help = (
        "Issue a SCIM token for the organisation SLUG and print it once; "
        "or --list its tokens, or --revoke PREFIX."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, metavar="SLUG")
        parser.add_argument(
            "--acting-user",
            default="",
            help="Admin of the organisation the identity provider acts for "
            "(default: its longest-standing admin).",
        )
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--list", action="store_true", help="List the tokens (no secrets).")
        action.add_argument(
            "--revoke",
            metavar="PREFIX",
            default="",
            help="Revoke the token whose prefix is PREFIX (the part after clrs_).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        organisation = Organisation.objects.filter(slug=options["org"]).first()
        if organisation is None:
            raise CommandError(f"No organisation has the slug {options['org']!r}.")
        if options["list"]:
            self._list(organisation)
        elif options["revoke"]:
            self._revoke(organisation, options["revoke"])
        else:
            self._issue(organisation, options["acting_user"])

    def _list(self, organisation: Organisation) -> None:
        for token in scim_tokens_of(organisation):
            state = f"revoked {token.revoked_at:%Y-%m-%d %H:%M}" if token.revoked_at else "active"
            used = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never"
            self.stdout.write(
                f"clrs_{token.prefix}_…  acts for {token.acting_user.get_username()}  "
                f"created {token.created_at:%Y-%m-%d %H:%M}  last used {used}  {state}"
            )

    def _revoke(self, organisation: Organisation, prefix: str) -> None:
        prefix = prefix.removeprefix("clrs_").split("_", 1)[0]
        token = scim_tokens_of(organisation).filter(prefix=prefix).first()
        if token is None:
            raise CommandError(f"{organisation.slug} has no SCIM token with prefix {prefix!r}.")
        try:
            scim_token_revoke(actor=None, token=token, reason="Revoked with manage.py scim_token.")
        except ScimError as error:
            raise CommandError(error.detail) from None
        self.stdout.write(f"Revoked clrs_{token.prefix}_…: it no longer works.")

    def _issue(self, organisation: Organisation, acting_user: str) -> None:
        admins = Membership.objects.filter(
            organisation=organisation, role=MemberRole.ADMIN
        ).select_related("user")
        if acting_user:
            admins = admins.filter(user__username=acting_user)
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
