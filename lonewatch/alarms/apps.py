from django.apps import AppConfig


class AlarmsConfig(AppConfig):
    name = "lonewatch.alarms"
    label = "alarms"

    def ready(self):
        # Register this app's due-row scanners with the worker, its permission declarations
        # with the engine and its hook handlers with the lower layers (docs/architecture.md
        # lists them all).
        from lonewatch.alarms import actions, figures, permissions, scanners  # noqa: F401
        from lonewatch.notify.hooks import delivery_outcomes
        from lonewatch.visits import hooks

        hooks.duress_at_checkout.connect(actions.raise_duress_from_checkout)
        delivery_outcomes.connect(actions.record_delivery_outcomes)
