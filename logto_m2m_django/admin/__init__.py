"""The Django admin: the M2M control plane. Importing this package registers every model admin."""

from django.contrib import admin

from ..models import M2MApplication, Resource, Role, SigningKey, TokenActivity
from .activity import TokenActivityAdmin
from .applications import M2MApplicationAdmin
from .dashboard import link_dashboard
from .keys import SigningKeyAdmin
from .oauth_application import hide_application_secret, hide_oauth_toolkit_admin
from .organizations import register as register_organizations
from .resources import ResourceAdmin
from .roles import RoleAdmin

admin.site.register(Resource, ResourceAdmin)
admin.site.register(Role, RoleAdmin)
admin.site.register(M2MApplication, M2MApplicationAdmin)
admin.site.register(SigningKey, SigningKeyAdmin)
admin.site.register(TokenActivity, TokenActivityAdmin)
register_organizations(admin.site)
# "M2M dashboard" on the index, in this app's section.
link_dashboard(admin.site)
# DOT's own Application change page would show the stored secret hash.
hide_application_secret(admin.site)
# DOT's own pages, unless LOGTO_M2M["OAUTH_TOOLKIT_ADMIN"] keeps them (again in AppConfig.ready,
# for projects that list oauth2_provider after this app).
hide_oauth_toolkit_admin(admin.site)

__all__ = ["M2MApplicationAdmin", "ResourceAdmin", "RoleAdmin", "SigningKeyAdmin", "TokenActivityAdmin"]
