from django.apps import AppConfig


class EscalationConfig(AppConfig):
    name = "lonewatch.escalation"
    label = "escalation"

    def ready(self):
        # Register this app's due-row scanners with the worker, its permission declarations
        # with the engine and its hook handlers with the lower layers (docs/architecture.md
        # lists them all).
        from lonewatch.core import team_facts
        from lonewatch.escalation import actions, figures, permissions, scanners  # noqa: F401
        from lonewatch.escalation import team_facts as escalation_facts
        from lonewatch.notify.hooks import delivery_outcomes
        from lonewatch.visits import hooks

        hooks.worker_back_in_contact.connect(actions.resolve_by_worker)
        delivery_outcomes.connect(actions.record_delivery_outcomes)
        # RSK-04: what a team's SOP reads live from this app.
        team_facts.register("escalation", title="When a check-in is missed", order=10,
                            lines=escalation_facts.escalation_steps)
