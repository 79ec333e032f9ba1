from django.apps import AppConfig


class EscalationConfig(AppConfig):
    name = "lonewatch.escalation"
    label = "escalation"

    def ready(self):
        # Register this app's due-row scanners with the worker.
        from lonewatch.escalation import scanners  # noqa: F401
