from django.apps import AppConfig


class AlarmsConfig(AppConfig):
    name = "lonewatch.alarms"
    label = "alarms"

    def ready(self):
        # Register this app's due-row scanners with the worker.
        from lonewatch.alarms import scanners  # noqa: F401
