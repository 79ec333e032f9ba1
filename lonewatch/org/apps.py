from django.apps import AppConfig


class OrgConfig(AppConfig):
    name = "lonewatch.org"
    label = "org"
    verbose_name = "Organisation"

    def ready(self):
        # Declare this app's records, kinds and grants to the permission engine.
        from lonewatch.org import permissions  # noqa: F401
