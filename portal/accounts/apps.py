from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "portal.accounts"
    label = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self) -> None:
        from portal.accounts import roles

        # Role groups are declared in code (roles.ROLE_PERMISSIONS) and brought in line
        # with it after every migrate. post_migrate fires once per app, and permissions
        # of later apps only exist by their turn, so it syncs on each (it is idempotent).
        post_migrate.connect(roles.sync_role_groups_after_migrate)
