from django.db import migrations, models

#: The built-in scopes of the Management API resource as of this migration (issue 14).
BUILTIN_SCOPES = {
    "read:applications": "Read applications, their roles and their secrets' names.",
    "write:applications": "Create, change and delete applications (not their secrets or roles).",
    "write:application-secrets": "Add, rename and delete application secrets.",
    "read:resources": "Read API resources and their scopes.",
    "write:resources": "Create, change and delete API resources and their scopes.",
    "read:roles": "Read roles, their scopes and their applications.",
    "write:roles": "Create, change and delete roles and their scopes.",
    "write:role-assignments": "Assign roles to applications and remove them.",
    "read:logs": "Read the token request audit log.",
    "read:signing-keys": "Read the signing keys.",
    "write:signing-keys": "Rotate and delete signing keys.",
    "read:organizations": "Read organizations.",
    "write:organizations": "Create, change and delete organizations and their members.",
}


def add_builtin_scopes(apps, schema_editor):
    """A Management API resource created before these scopes existed gets them."""
    from logto_m2m_django.conf import m2m_settings

    Resource = apps.get_model("logto_m2m", "Resource")
    Scope = apps.get_model("logto_m2m", "Scope")
    alias = schema_editor.connection.alias
    resource = Resource.objects.using(alias).filter(indicator=m2m_settings.MANAGEMENT_API_INDICATOR).first()
    if resource is None:
        return
    existing = set(Scope.objects.using(alias).filter(resource=resource).values_list("name", flat=True))
    Scope.objects.using(alias).bulk_create(
        [
            Scope(resource=resource, name=name, description=description)
            for name, description in BUILTIN_SCOPES.items()
            if name not in existing
        ]
    )


class Migration(migrations.Migration):
    dependencies = [
        ("logto_m2m", "0006_application_custom_data"),
    ]

    operations = [
        migrations.AddField(
            model_name="tokenactivity",
            name="requested_scopes",
            field=models.CharField(blank=True, default="", max_length=2048, verbose_name="requested scopes"),
        ),
        migrations.AddField(
            model_name="tokenactivity",
            name="secret_name",
            field=models.CharField(blank=True, default="", max_length=256, verbose_name="secret"),
        ),
        migrations.AddField(
            model_name="tokenactivity",
            name="user_agent",
            field=models.CharField(blank=True, default="", max_length=256, verbose_name="user agent"),
        ),
        migrations.RunPython(add_builtin_scopes, migrations.RunPython.noop),
    ]
