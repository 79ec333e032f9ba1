from django.apps import AppConfig


class RecordingsConfig(AppConfig):
    name = "lonewatch.recordings"
    label = "recordings"

    def ready(self):
        # Register this app's due-row scanners with the worker, its permission declarations
        # with the engine and its hook handlers with the lower layers (docs/architecture.md
        # lists them all).
        from lonewatch.alarms import hooks
        from lonewatch.recordings import actions, figures, permissions, scanners  # noqa: F401

        hooks.evidence_changed.connect(actions.evidence_changed)
