from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "lonewatch.notify"
    label = "notify"

    def ready(self):
        # Register this app's due-row scanners with the worker.
        from lonewatch.notify import scanners  # noqa: F401
