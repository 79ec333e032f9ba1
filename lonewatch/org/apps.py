from django.apps import AppConfig


class OrgConfig(AppConfig):
    name = "lonewatch.org"
    label = "org"
    verbose_name = "Organisation"
