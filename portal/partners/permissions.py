"""Object permissions a partner role holds on its organisation (guardian)."""

from portal.partners.models import MemberRole

ROLE_OBJECT_PERMISSIONS: dict[str, tuple[str, ...]] = {
    MemberRole.MEMBER: ("view_organisation",),
    MemberRole.ADMIN: ("view_organisation", "change_organisation", "manage_members"),
}
