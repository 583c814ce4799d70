from django.contrib import admin

from foundation.readonly_admin import ReadOnlyAdmin
from portal.partners.models import Invitation, Membership, Organisation, OrganisationDocument


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("legal_name", "slug", "country", "sector", "verification_state", "trusted")
    list_filter = ("sector", "verification_state", "trusted")
    search_fields = ("legal_name", "slug", "email_domain")
    readonly_fields = ("trusted",)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("user", "organisation", "role")
    list_select_related = ("user", "organisation")


# Evidence and invitations change only through the audited services and pages.
@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdmin):
    list_display = ("email", "organisation", "role", "created_at", "expires_at", "accepted_at")
    list_select_related = ("organisation",)
    search_fields = ("email", "organisation__legal_name")
    exclude = ("token_hash",)


@admin.register(OrganisationDocument)
class OrganisationDocumentAdmin(ReadOnlyAdmin):
    list_display = ("organisation", "kind", "original_name", "content_type", "size", "uploaded_at")
    list_select_related = ("organisation",)
    # The file field is left out: documents are downloaded through the permission-checked view only.
    exclude = ("file",)
