from django.apps import AppConfig


class VisitsConfig(AppConfig):
    name = "lonewatch.visits"
    label = "visits"

    def ready(self):
        # Register this app's due-row scanners with the worker.
        from lonewatch.visits import scanners  # noqa: F401
