from django.apps import AppConfig


class PartnersConfig(AppConfig):
    name = "portal.partners"
    label = "partners"
    verbose_name = "Partner organisations"

    def ready(self) -> None:
        from allauth.account.signals import email_confirmed

        from foundation.access import register_organisation_ids
        from portal.partners.access import organisation_ids
        from portal.partners.receivers import on_email_confirmed

        # Which organisations a partner user may act on: what ``visible_to`` narrows by.
        register_organisation_ids(organisation_ids)

        # A newly verified address may prove an organisation's email domain.
        email_confirmed.connect(on_email_confirmed, dispatch_uid="partners.email_confirmed")
