from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "lonewatch.governance"
    label = "governance"

    def ready(self):
        from lonewatch.governance import permissions  # noqa: F401
